/* SPDX-License-Identifier: MIT */
/* This file implements the loading and validation of mapping files. */
#include "mapping/mapping.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_json.h"

#define MAPPING_MAX_BYTES ((size_t)4 << 20)
#define MAPPING_MAX_FILES 256

static char *dup_str(const char *s, int *err)
{
	char *p = strdup(s);

	if (!p && !*err)
		*err = ck_err(-ENOMEM, "out of memory");
	return p;
}

/* A string member (required unless optional). */
static int get_str(const cJSON *o, const char *key, int optional, char **out)
{
	const char *s;
	int err = ck_json_get_str(o, key, &s);

	*out = NULL;
	if (err == -ENOENT && optional) {
		ck_err_clear();
		return 0;
	}
	if (err == -ENOENT)
		return ck_err(-EINVAL, "missing member '%s'", key);
	if (err)
		return err;
	*out = dup_str(s, &err);
	return err;
}

/* The value a (member key): an array of strings (or a single string), at
 * most cap entries; none when a is NULL. */
static int strs_of(const cJSON *a, const char *key, size_t cap, char ***out,
		   size_t *n)
{
	const cJSON *e;
	size_t i = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (cJSON_IsString(a)) {
		*out = calloc(1, sizeof(char *));
		if (!*out)
			return ck_err(-ENOMEM, "out of memory");
		(*out)[0] = dup_str(a->valuestring, &err);
		*n = 1;
		return err;
	}
	if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) > cap)
		return ck_err(-EINVAL, "'%s' must be a string or a list of at most "
			      "%zu strings", key, cap);
	*out = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(char *));
	if (!*out)
		return ck_err(-ENOMEM, "out of memory");
	cJSON_ArrayForEach(e, a) {
		if (!cJSON_IsString(e))
			return ck_err(-EINVAL, "'%s' entries must be strings", key);
		(*out)[i++] = dup_str(e->valuestring, &err);
		*n = i;
		if (err)
			return err;
	}
	return 0;
}

/* Member key of o, as strs_of(). */
static int get_strs(const cJSON *o, const char *key, size_t cap, char ***out,
		    size_t *n)
{
	return strs_of(ck_json_get(o, key), key, cap, out, n);
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* A hook: "name" or ["name", "arg expr", ...]. */
static int parse_hook(const cJSON *h, struct map_hook *mh)
{
	const cJSON *name = cJSON_IsArray(h) ? cJSON_GetArrayItem(h, 0) : h;
	int err = 0, i = 0;
	const cJSON *a;

	if (!cJSON_IsString(name))
		return ck_err(-EINVAL, "a hook is \"name\" or [\"name\", args...]");
	mh->hook = hook_find(name->valuestring);
	if (!mh->hook)
		return ck_err(-ENOTSUP, "unknown hook '%s'", name->valuestring);
	if (cJSON_IsArray(h)) {
		cJSON_ArrayForEach(a, h) {
			if (i++ == 0)
				continue;
			if (mh->nargs >= HOOK_MAX_ARGS)
				return ck_err(-EINVAL, "hook '%s': too many arguments",
					      mh->hook->name);
			if (cJSON_IsNumber(a)) {
				char num[64];

				snprintf(num, sizeof(num), "%.17g", a->valuedouble);
				mh->args[mh->nargs++] = dup_str(num, &err);
			} else if (cJSON_IsString(a)) {
				mh->args[mh->nargs++] = dup_str(a->valuestring, &err);
			} else {
				return ck_err(-EINVAL, "hook '%s': arguments are "
					      "expressions", mh->hook->name);
			}
			if (err)
				return err;
		}
	}
	if (mh->nargs != mh->hook->nargs)
		return ck_err(-EINVAL, "hook '%s' takes %u argument%s, not %u",
			      mh->hook->name, mh->hook->nargs,
			      mh->hook->nargs == 1 ? "" : "s", mh->nargs);
	return 0;
}

/* A name that varies with the layer: {layers}, or an expression using i. */
static int uses_layer(const char *s)
{
	for (const char *p = s ? strchr(s, '{') : NULL; p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');

		if (!end)
			return 0;
		for (const char *q = p + 1; q < end; q++)
			if (*q == 'i' && (q == p + 1 || !isalnum((unsigned char)q[-1])) &&
			    (q + 1 == end || !isalnum((unsigned char)q[1])))
				return 1;
		if (!strncmp(p, "{layers}", 8))
			return 1;
	}
	return 0;
}

/* One shape: a list of expressions (strings or numbers), at most
 * ZARR_MAX_RANK; what names the member in messages. */
static int parse_exprs(const cJSON *a, const char *what, char ***out,
		       unsigned *n)
{
	const cJSON *e;
	int err = 0;

	if (!cJSON_IsArray(a))
		return ck_err(-EINVAL, "%s must be a list of expressions", what);
	if (cJSON_GetArraySize(a) > ZARR_MAX_RANK)
		return ck_err(-EINVAL, "%s has more than %d axes", what, ZARR_MAX_RANK);
	*out = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(char *));
	if (!*out)
		return ck_err(-ENOMEM, "out of memory");
	cJSON_ArrayForEach(e, a) {
		char num[64];
		const char *s = num;

		if (cJSON_IsNumber(e))
			snprintf(num, sizeof(num), "%.17g", e->valuedouble);
		else if (cJSON_IsString(e))
			s = e->valuestring;
		else
			return ck_err(-EINVAL, "%s entries are expressions", what);
		(*out)[(*n)++] = dup_str(s, &err);
		if (err)
			return err;
	}
	return 0;
}

/* Copy of the rule's HF shape expressions, reversed or not. */
static int copy_shape(const struct map_rule *mr, int reversed, char ***out,
		      unsigned *n)
{
	int err = 0;

	*out = calloc(mr->rank + 1, sizeof(char *));
	if (!*out)
		return ck_err(-ENOMEM, "out of memory");
	for (unsigned i = 0; i < mr->rank && !err; i++)
		(*out)[(*n)++] = dup_str(mr->shape[reversed ? mr->rank - 1 - i : i], &err);
	return err;
}

/* Whether a hook keeps the shape: its shape() returns the input's shape
 * (identity, scale_query, scale_div, rope_to_halves) or reshapes it to the
 * target without moving an element (norm_offset).  A chain of them is taken
 * to have the HF shape as its MaxText slice shape (mapping.h); check_mt
 * verifies it. */
static int keeps_shape(const struct hook *h)
{
	static const char *const keep[] = {
		"identity", "norm_offset", "scale_query", "scale_div",
		"rope_to_halves",
	};

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (!strcmp(h->name, keep[i]))
			return 1;
	return 0;
}

/*
 * "mt": the MaxText slice shape of each source.  One source: a list of
 * expressions; several: a list of such lists, one per source.  Without it,
 * the default (mapping.h): the HF shape for a chain that keeps the shape, the
 * HF shape reversed for a lone "transpose", else none.
 */
static int parse_mt(const cJSON *r, struct map_rule *mr)
{
	const cJSON *mt = ck_json_get(r, "mt"), *e;
	unsigned k = 0, keep = 1;
	int err = 0;

	if (!mt) {
		if (mr->nsrc != 1)
			return 0;
		for (unsigned h = 0; h < mr->nhooks; h++)
			keep &= (unsigned)keeps_shape(mr->hooks[h].hook);
		if (keep) {
			err = copy_shape(mr, 0, &mr->mt[0], &mr->mt_rank[0]);
		} else if (mr->nhooks == 1 && !strcmp(mr->hooks[0].hook->name, "transpose") &&
			   mr->rank <= 2) {
			err = copy_shape(mr, 1, &mr->mt[0], &mr->mt_rank[0]);
		} else {
			return 0;
		}
		mr->mt_from = MAP_MT_DEFAULT;
		return err;
	}
	if (!cJSON_IsArray(mt))
		return ck_err(-EINVAL, "'mt' must be a list of expressions, or one "
			      "list per source");
	if (!cJSON_IsArray(cJSON_GetArrayItem(mt, 0))) {
		/* One source: the shape itself. */
		if (mr->nsrc != 1)
			return ck_err(-EINVAL, "'mt' must be a list of %u lists, one "
				      "per source in 'from'", mr->nsrc);
		mr->mt_from = MAP_MT_GIVEN;
		return parse_exprs(mt, "'mt'", &mr->mt[0], &mr->mt_rank[0]);
	}
	if ((unsigned)cJSON_GetArraySize(mt) != mr->nsrc)
		return ck_err(-EINVAL, "'mt' has %d lists but 'from' names %u "
			      "source%s", cJSON_GetArraySize(mt), mr->nsrc,
			      mr->nsrc == 1 ? "" : "s");
	mr->mt_from = MAP_MT_GIVEN;
	cJSON_ArrayForEach(e, mt) {
		char what[32];

		snprintf(what, sizeof(what), "'mt' list %u", k + 1);
		err = parse_exprs(e, what, &mr->mt[k], &mr->mt_rank[k]);
		k++;
		if (err)
			return err;
	}
	return 0;
}

static int parse_rule(const cJSON *r, struct map_rule *mr)
{
	const cJSON *from = ck_json_get(r, "from"), *shape, *hooks, *ex, *e;
	char **srcs = NULL;
	size_t nsrc = 0;
	int err, opt = 0;

	err = get_str(r, "hf", 0, &mr->hf);
	if (!err)
		err = get_str(r, "when", 1, &mr->when);
	if (!err)
		err = get_str(r, "count", 1, &mr->count);
	if (!err)
		err = get_str(r, "required_if_any", 1, &mr->required_if_any);
	if (err)
		return err;
	if (!from)
		return ck_err(-EINVAL, "missing 'from'");
	err = get_strs(r, "from", HOOK_MAX_INPUTS, &srcs, &nsrc);
	if (!err && nsrc == 0)
		err = ck_err(-EINVAL, "'from' is empty");
	for (size_t i = 0; i < nsrc; i++) {
		mr->src[i] = srcs[i];
		srcs[i] = NULL;
	}
	mr->nsrc = (unsigned)nsrc;
	free_strs(srcs, nsrc);
	if (err)
		return err;
	err = get_strs(r, "or_from", MAP_MAX_ALTS, &srcs, &nsrc);
	if (!err && nsrc && mr->nsrc != 1)
		err = ck_err(-EINVAL, "'or_from' needs a single 'from'");
	for (size_t i = 0; i < nsrc; i++) {
		mr->alt[i] = srcs[i];
		srcs[i] = NULL;
	}
	mr->nalt = (unsigned)nsrc;
	free_strs(srcs, nsrc);
	if (err)
		return err;
	mr->per_layer = uses_layer(mr->hf);
	for (unsigned i = 0; i < mr->nalt; i++)
		mr->per_layer |= uses_layer(mr->alt[i]);
	for (unsigned i = 0; i < mr->nsrc; i++) {
		mr->per_layer |= uses_layer(mr->src[i]);
		if (mr->count && strstr(mr->src[i], "{layers}"))
			return ck_err(-EINVAL, "a rule with 'count' runs over its own "
				      "index, not the layers: no {layers}");
	}
	if (mr->count && !mr->per_layer)
		return ck_err(-EINVAL, "a rule with 'count' needs {i}");
	shape = ck_json_get(r, "shape");
	if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > ZARR_MAX_RANK)
		return ck_err(-EINVAL, "'shape' must be a list of expressions");
	cJSON_ArrayForEach(e, shape) {
		char num[64];
		const char *s = num;

		if (cJSON_IsNumber(e))
			snprintf(num, sizeof(num), "%.17g", e->valuedouble);
		else if (cJSON_IsString(e))
			s = e->valuestring;
		else
			return ck_err(-EINVAL, "'shape' entries are expressions");
		mr->shape[mr->rank++] = dup_str(s, &err);
		if (err)
			return err;
	}
	hooks = ck_json_get(r, "hooks");
	if (hooks && (!cJSON_IsArray(hooks) || cJSON_GetArraySize(hooks) > MAP_MAX_HOOKS))
		return ck_err(-EINVAL, "'hooks' must be a list of at most %d hooks",
			      MAP_MAX_HOOKS);
	cJSON_ArrayForEach(e, hooks) {
		err = parse_hook(e, &mr->hooks[mr->nhooks]);
		mr->nhooks++;
		if (err)
			return err;
	}
	if (mr->nhooks && mr->hooks[0].hook->nin != mr->nsrc)
		return ck_err(-EINVAL, "hook '%s' takes %u input%s but 'from' names %u",
			      mr->hooks[0].hook->name, mr->hooks[0].hook->nin,
			      mr->hooks[0].hook->nin == 1 ? "" : "s", mr->nsrc);
	if (!mr->nhooks && mr->nsrc != 1)
		return ck_err(-EINVAL, "several sources need a hook that combines them");
	ex = ck_json_get(r, "experts");
	if (ex) {
		int64_t axis = 0;

		err = get_str(ex, "count", 0, &mr->experts);
		if (!err)
			err = ck_json_get_i64(ex, "axis", 0, ZARR_MAX_RANK - 1, &axis);
		if (err)
			return ck_err_ctx(err, "'experts'");
		mr->expert_axis = (unsigned)axis;
		if (!strstr(mr->hf, "{e}"))
			return ck_err(-EINVAL, "a rule with 'experts' needs {e} in 'hf'");
	}
	if (cJSON_IsString(ck_json_get(r, "optional"))) {
		/* "log": optional, and the plan logs what is absent */
		if (strcmp(ck_json_get(r, "optional")->valuestring, "log"))
			return ck_err(-EINVAL, "'optional' is true, false or \"log\"");
		opt = mr->log_absent = 1;
	} else {
		err = ck_json_get_bool(r, "optional", &opt);
		if (err && err != -ENOENT)
			return err;
	}
	mr->optional = opt || mr->required_if_any;
	ck_err_clear();
	return parse_mt(r, mr);
}

static void rule_release(struct map_rule *r)
{
	free(r->count);
	free(r->required_if_any);
	free(r->hf);
	free(r->when);
	for (unsigned i = 0; i < r->nsrc; i++)
		free(r->src[i]);
	for (unsigned i = 0; i < r->nalt; i++)
		free(r->alt[i]);
	free(r->experts);
	for (unsigned i = 0; i < r->rank; i++)
		free(r->shape[i]);
	for (unsigned i = 0; i < r->nhooks; i++)
		for (unsigned k = 0; k < r->hooks[i].nargs; k++)
			free(r->hooks[i].args[k]);
	for (unsigned k = 0; k < HOOK_MAX_INPUTS; k++)
		free_strs(r->mt[k], r->mt_rank[k]);
}

static int parse_lets(const cJSON *lets, struct mapping *m)
{
	const cJSON *e;
	int err = 0;

	if (!lets)
		return 0;
	if (!cJSON_IsObject(lets))
		return ck_err(-EINVAL, "'let' must be an object");
	m->lets = calloc((size_t)cJSON_GetArraySize(lets) + 1, sizeof(*m->lets));
	if (!m->lets)
		return ck_err(-ENOMEM, "out of memory");
	cJSON_ArrayForEach(e, lets) {
		struct map_let *l = &m->lets[m->nlets++];

		l->name = dup_str(e->string, &err);
		if (!err)
			err = strs_of(e, e->string, 16, &l->alts, &l->nalts);
		if (!err && !l->nalts)
			err = ck_err(-EINVAL, "let '%s' is empty", e->string);
		if (err)
			return ck_err_ctx(err, "let '%s'", e->string);
	}
	return 0;
}

static int parse_place(const cJSON *j, struct map_place *pl, int scanned)
{
	const cJSON *idx;
	int err = 0;

	if (cJSON_IsString(j)) {
		/* The simple forms: "decoder.layers" (stacked, index i) and
		 * "decoder.layers_{i}" (one container per layer). */
		pl->container = dup_str(j->valuestring, &err);
		if (scanned && !err) {
			pl->nindex = 1;
			pl->index[0] = dup_str("i", &err);
		}
		return err;
	}
	err = get_str(j, "container", 0, &pl->container);
	if (!err)
		err = get_str(j, "when", 1, &pl->when);
	idx = ck_json_get(j, "index");
	if (!err && cJSON_IsString(idx)) {
		pl->nindex = 1;
		pl->index[0] = dup_str(idx->valuestring, &err);
	} else if (!err && cJSON_IsArray(idx) && cJSON_GetArraySize(idx) >= 1 &&
		   cJSON_GetArraySize(idx) <= 2) {
		const cJSON *e;

		cJSON_ArrayForEach(e, idx) {
			if (!cJSON_IsString(e))
				return ck_err(-EINVAL, "'index' entries are expressions");
			pl->index[pl->nindex++] = dup_str(e->valuestring, &err);
		}
	} else if (!err && idx) {
		err = ck_err(-EINVAL, "'index' is an expression or a list of two");
	}
	return err;
}

static int parse_places(const cJSON *j, int scanned, struct map_place **out,
			size_t *n)
{
	const cJSON *e;
	size_t cnt = cJSON_IsArray(j) ? (size_t)cJSON_GetArraySize(j) : 1;
	int err = 0;

	if (!j)
		return 0;
	if (!cJSON_IsString(j) && !cJSON_IsArray(j))
		return ck_err(-EINVAL, "a layout is a container name or a list of "
			      "placements");
	*out = calloc(cnt + 1, sizeof(**out));
	if (!*out)
		return ck_err(-ENOMEM, "out of memory");
	if (cJSON_IsString(j)) {
		*n = 1;
		return parse_place(j, &(*out)[0], scanned);
	}
	cJSON_ArrayForEach(e, j) {
		err = parse_place(e, &(*out)[*n], scanned);
		(*n)++;
		if (err)
			return err;
	}
	return *n ? 0 : ck_err(-EINVAL, "empty list of placements");
}

static void places_free(struct map_place *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++) {
		free(p[i].when);
		free(p[i].container);
		free(p[i].index[0]);
		free(p[i].index[1]);
	}
	free(p);
}

static int parse_layers(const cJSON *ly, struct mapping *m)
{
	int64_t axis = 1;
	int err;

	if (!ly)
		return 0;
	err = get_str(ly, "count", 0, &m->layer_count);
	if (!err)
		err = parse_places(ck_json_get(ly, "scanned"), 1, &m->scanned, &m->nscanned);
	if (!err)
		err = parse_places(ck_json_get(ly, "unscanned"), 0, &m->unscanned,
				   &m->nunscanned);
	if (!err && !m->nunscanned)
		err = ck_err(-EINVAL, "missing 'unscanned'");
	if (!err) {
		err = ck_json_get_i64(ly, "axis", 0, ZARR_MAX_RANK - 1, &axis);
		if (err == -ENOENT)
			err = 0;
	}
	m->scan_axis = (unsigned)axis;
	ck_err_clear();
	return err ? ck_err_ctx(err, "'layers'") : 0;
}

static int parse_infer(const cJSON *inf, struct mapping *m)
{
	const cJSON *e;
	int err;

	if (!inf)
		return 0;
	if (!cJSON_IsArray(inf))
		return ck_err(-EINVAL, "'infer' must be a list");
	m->infer = calloc((size_t)cJSON_GetArraySize(inf) + 1, sizeof(*m->infer));
	if (!m->infer)
		return ck_err(-ENOMEM, "out of memory");
	cJSON_ArrayForEach(e, inf) {
		struct map_infer *f = &m->infer[m->ninfer++];
		int64_t axis;

		err = get_str(e, "field", 0, &f->field);
		if (!err && ck_json_get(e, "absent")) {
			f->absent = 1;
			err = get_str(e, "absent", 0, &f->array);
			axis = 0;
		} else if (!err && ck_json_get(e, "layers")) {
			f->count_layers = 1;
			err = get_str(e, "layers", 0, &f->array);
			axis = 0;
		} else if (!err) {
			err = get_str(e, "array", 0, &f->array);
			if (!err)
				err = ck_json_get_i64(e, "axis", 0, ZARR_MAX_RANK - 1, &axis);
		}
		if (!err)
			err = get_str(e, "divide_by", 1, &f->divide_by);
		if (!err)
			err = get_str(e, "value", 1, &f->value);
		if (!err && cJSON_IsTrue(ck_json_get(e, "optional")))
			f->optional = 1;
		if (!err && ck_json_get(e, "default")) {
			f->deflt = cJSON_PrintUnformatted(ck_json_get(e, "default"));
			if (!f->deflt)
				err = ck_err(-ENOMEM, "out of memory");
		}
		if (err)
			return ck_err_ctx(err, "'infer' entry %zu", m->ninfer);
		f->axis = (unsigned)axis;
	}
	return 0;
}

static int parse_doc(const cJSON *doc, struct mapping *m)
{
	const cJSON *rules = ck_json_get(doc, "tensors"), *det, *e;
	int err;

	err = get_str(doc, "family", 0, &m->family);
	if (!err)
		err = get_strs(doc, "model_types", 64, &m->model_types, &m->nmodel_types);
	if (!err)
		err = get_strs(doc, "architectures", 64, &m->architectures, &m->narchs);
	if (!err)
		err = get_str(doc, "prefix", 0, &m->prefix);
	if (!err)
		err = parse_lets(ck_json_get(doc, "let"), m);
	if (!err)
		err = parse_layers(ck_json_get(doc, "layers"), m);
	if (!err)
		err = parse_infer(ck_json_get(doc, "infer"), m);
	if (!err)
		err = get_strs(doc, "needs", 64, &m->needs, &m->nneeds);
	if (!err)
		err = get_strs(doc, "ignore", 256, &m->ignore, &m->nignore);
	det = ck_json_get(doc, "detect");
	if (!err && det)
		err = get_strs(det, "require", 256, &m->require, &m->nrequire);
	if (!err && det)
		err = get_strs(det, "forbid", 256, &m->forbid, &m->nforbid);
	if (err)
		return err;
	if (!cJSON_IsArray(rules) || cJSON_GetArraySize(rules) == 0)
		return ck_err(-EINVAL, "'tensors' must be a non-empty list");
	m->rules = calloc((size_t)cJSON_GetArraySize(rules), sizeof(*m->rules));
	if (!m->rules)
		return ck_err(-ENOMEM, "out of memory");
	cJSON_ArrayForEach(e, rules) {
		struct map_rule *r = &m->rules[m->nrules++];

		err = parse_rule(e, r);
		if (!err && r->per_layer && !r->count && !m->layer_count)
			err = ck_err(-EINVAL, "uses {i} or {layers} but the mapping "
				     "has no 'layers'");
		if (!err && r->when && !r->per_layer)
			err = ck_err(-EINVAL, "'when' needs a per-layer rule");
		if (err) {
			const char *hf = cJSON_IsString(ck_json_get(e, "hf")) ?
				ck_json_get(e, "hf")->valuestring : "?";

			return ck_err_ctx(err, "tensor %zu ('%s')", m->nrules, hf);
		}
	}
	return 0;
}

int mapping_parse(const char *text, size_t n, const char *path,
		  struct mapping **out)
{
	struct mapping *m = calloc(1, sizeof(*m));
	cJSON *doc = NULL;
	int err;

	if (!m)
		return ck_err(-ENOMEM, "out of memory");
	m->scan_axis = 1;
	m->path = strdup(path ? path : "(mapping)");
	err = m->path ? ck_json_parse(text, n, &doc) : ck_err(-ENOMEM, "out of memory");
	if (!err)
		err = parse_doc(doc, m);
	cJSON_Delete(doc);
	if (err) {
		err = ck_err_ctx(err, "%s", path ? path : "mapping");
		mapping_free(m);
		return err;
	}
	*out = m;
	return 0;
}

int mapping_load(const char *path, struct mapping **out)
{
	uint8_t *text = NULL;
	size_t n;
	int err = ck_read_file(path, MAPPING_MAX_BYTES, &text, &n);

	if (!err)
		err = mapping_parse((const char *)text, n, path, out);
	free(text);
	return err;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mapping_load_dir(const char *dir, struct mapping ***out, size_t *n)
{
	char *names[MAPPING_MAX_FILES];
	struct mapping **maps = NULL;
	size_t cnt = 0, nm = 0;
	struct dirent *e;
	DIR *d = opendir(dir);
	int err = 0;

	if (!d)
		return ck_err(-errno, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, ".json") || e->d_name[0] == '.')
			continue;
		if (cnt == MAPPING_MAX_FILES) {
			err = ck_err(-EOVERFLOW, "%s: more than %d mapping files", dir,
				     MAPPING_MAX_FILES);
			break;
		}
		names[cnt] = ck_path_join(dir, e->d_name);
		if (!names[cnt]) {
			err = ck_err(-ENOMEM, "out of memory");
			break;
		}
		cnt++;
	}
	closedir(d);
	if (!err && cnt)
		qsort(names, cnt, sizeof(*names), cmp_name);
	if (!err) {
		maps = calloc(cnt + 1, sizeof(*maps));
		if (!maps)
			err = ck_err(-ENOMEM, "out of memory");
	}
	for (size_t i = 0; !err && i < cnt; i++) {
		err = mapping_load(names[i], &maps[nm]);
		if (!err)
			nm++;
	}
	for (size_t i = 0; i < cnt; i++)
		free(names[i]);
	if (err) {
		for (size_t i = 0; i < nm; i++)
			mapping_free(maps[i]);
		free(maps);
		return err;
	}
	*out = maps;
	*n = nm;
	return 0;
}

const struct mapping *mapping_for_model_type(struct mapping *const *maps,
					     size_t n, const char *model_type)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < maps[i]->nmodel_types; k++)
			if (!strcmp(maps[i]->model_types[k], model_type))
				return maps[i];
	return NULL;
}

void mapping_free(struct mapping *m)
{
	if (!m)
		return;
	free(m->path);
	free(m->family);
	free_strs(m->model_types, m->nmodel_types);
	free_strs(m->architectures, m->narchs);
	free(m->prefix);
	for (size_t i = 0; m->lets && i < m->nlets; i++) {
		free(m->lets[i].name);
		free_strs(m->lets[i].alts, m->lets[i].nalts);
	}
	free(m->lets);
	free(m->layer_count);
	places_free(m->scanned, m->nscanned);
	places_free(m->unscanned, m->nunscanned);
	free_strs(m->require, m->nrequire);
	free_strs(m->forbid, m->nforbid);
	for (size_t i = 0; m->infer && i < m->ninfer; i++) {
		free(m->infer[i].field);
		free(m->infer[i].array);
		free(m->infer[i].divide_by);
		free(m->infer[i].value);
		free(m->infer[i].deflt);
	}
	free(m->infer);
	free_strs(m->needs, m->nneeds);
	free_strs(m->ignore, m->nignore);
	for (size_t i = 0; m->rules && i < m->nrules; i++)
		rule_release(&m->rules[i]);
	free(m->rules);
	free(m);
}
