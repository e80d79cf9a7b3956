/* SPDX-License-Identifier: MIT */
/* This file implements family detection from array names, the inference
 * of HF config dimensions from array shapes, the user's config.KEY=VALUE
 * fields, and the matching of presets against a checkpoint. */
#include "mapping/detect.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping/expr.h"
#include "mapping/plan.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_json.h"

#define DETECT_MAX_PRESETS 1024
#define DETECT_MAX_PRESET_BYTES ((size_t)16 << 20)

/*
 * A layout simple enough to infer from without a config: one placement, with
 * no condition, a container whose only placeholder is {i} (unscanned) or none
 * (scanned, stacked once on index i).
 */
static const char *simple_container(const struct mapping *m, int scanned)
{
	const struct map_place *pl = scanned ? m->scanned : m->unscanned;
	size_t n = scanned ? m->nscanned : m->nunscanned;

	if (n != 1 || pl->when)
		return NULL;
	if (scanned && (pl->nindex != 1 || strcmp(pl->index[0], "i") ||
			strchr(pl->container, '{')))
		return NULL;
	if (!scanned && strchr(strstr(pl->container, "{i}") ?
			       strstr(pl->container, "{i}") + 3 : pl->container, '{'))
		return NULL;
	return pl->container;
}

/* 1 if some array below the prefix matches the glob. */
static int has_glob(const struct mapping *m, const struct orbax_ckpt *c,
		    const char *glob)
{
	size_t plen = strlen(m->prefix);

	for (size_t i = 0; i < c->narrays; i++) {
		const char *n = c->arrays[i].name;

		if (!strncmp(n, m->prefix, plen) && !fnmatch(glob, n + plen, 0))
			return 1;
	}
	return 0;
}

static int matches(const struct mapping *m, const struct orbax_ckpt *c)
{
	if (!m->nrequire)
		return 0;
	for (size_t i = 0; i < m->nrequire; i++)
		if (!has_glob(m, c, m->require[i]))
			return 0;
	for (size_t i = 0; i < m->nforbid; i++)
		if (has_glob(m, c, m->forbid[i]))
			return 0;
	return 1;
}

/* Template t with {layers} as placement pl's container, each "{expr}" of
 * the container a "*": a glob over array names below the prefix. */
static int layer_glob(const char *t, const struct map_place *pl, struct ck_buf *out)
{
	const char *p = strstr(t, "{layers}");
	int err;

	out->len = 0;
	err = ck_buf_printf(out, "%.*s", (int)(p - t), t);
	for (const char *s = pl->container; !err && *s; s++) {
		const char *end = *s == '{' ? strchr(s, '}') : NULL;

		if (end) {
			err = ck_buf_printf(out, "*");
			s = end;
		} else {
			err = ck_buf_append(out, s, 1);
		}
	}
	if (!err)
		err = ck_buf_printf(out, "%s", p + 8);
	if (!err)
		err = ck_buf_append(out, "", 1);
	return err;
}

/* An array a template names, and how many stacked layer axes it has. */
struct hit {
	const struct orbax_array *a;
	unsigned nstack;
};

#define DETECT_MAX_HITS 4096

/*
 * The arrays template t (below the prefix; {layers} stands for any of the
 * layout's layer containers) names in c: at most cap of them in hits[],
 * their total count in *n.
 */
static int find_arrays(const struct mapping *m, const struct orbax_ckpt *c,
		       int scanned, const char *t, struct hit *hits, size_t cap,
		       size_t *n)
{
	const struct map_place *pl = scanned ? m->scanned : m->unscanned;
	size_t np = scanned ? m->nscanned : m->nunscanned, plen = strlen(m->prefix);
	struct ck_buf g = CK_BUF_INIT;
	int err = 0;

	*n = 0;
	if (!strstr(t, "{layers}")) {
		err = ck_buf_printf(&g, "%s%s", m->prefix, t);
		if (!err && (hits[0].a = orbax_find(c, (char *)g.data))) {
			hits[0].nstack = 0;
			*n = 1;
		}
		ck_buf_release(&g);
		return err;
	}
	for (size_t k = 0; !err && k < np; k++) {
		err = layer_glob(t, &pl[k], &g);
		for (size_t i = 0; !err && i < c->narrays; i++) {
			const char *nm = c->arrays[i].name;
			size_t j;

			if (strncmp(nm, m->prefix, plen) || fnmatch((char *)g.data, nm + plen, 0))
				continue;
			for (j = 0; j < *n && j < cap; j++)
				if (hits[j].a == &c->arrays[i])
					break;
			if (j < *n)
				continue;
			if (*n < cap) {
				hits[*n].a = &c->arrays[i];
				hits[*n].nstack = scanned ? pl[k].nindex : 0;
			}
			(*n)++;
		}
	}
	ck_buf_release(&g);
	return err;
}

/* 1 if the checkpoint's layers are in m's scanned layout: some array is in
 * one of its stacked containers. */
static int is_scanned(const struct mapping *m, const struct orbax_ckpt *c)
{
	struct ck_buf g = CK_BUF_INIT;
	size_t plen = strlen(m->prefix);
	int yes = 0;

	for (size_t k = 0; !yes && k < m->nscanned; k++) {
		if (!m->scanned[k].nindex || layer_glob("{layers}.*", &m->scanned[k], &g))
			continue;
		for (size_t i = 0; !yes && i < c->narrays; i++)
			yes = !strncmp(c->arrays[i].name, m->prefix, plen) &&
			      !fnmatch((char *)g.data, c->arrays[i].name + plen, 0);
	}
	ck_buf_release(&g);
	return yes;
}

size_t detect_matches(struct mapping *const *maps, size_t n,
		      const struct orbax_ckpt *c, const struct mapping **out,
		      size_t cap)
{
	size_t hits = 0;

	for (size_t i = 0; i < n; i++) {
		if (!matches(maps[i], c))
			continue;
		if (hits < cap)
			out[hits] = maps[i];
		hits++;
	}
	return hits;
}

int detect_family(struct mapping *const *maps, size_t n, const struct orbax_ckpt *c,
		  const struct mapping **out)
{
	struct ck_buf names = CK_BUF_INIT;
	const struct mapping *found = NULL;
	size_t hits = detect_matches(maps, n, c, &found, 1);
	int err = 0;

	if (hits == 1) {
		*out = found;
		return 0;
	}
	if (hits == 0)
		return ck_err(-ENOENT, "%s: no mapping recognises the checkpoint's "
			      "arrays; pass hf_config= or model=", c->item_dir);
	for (size_t i = 0, k = 0; i < n; i++)
		if (matches(maps[i], c))
			ck_buf_printf(&names, "%s%s", k++ ? ", " : "", maps[i]->family);
	err = ck_err(-EINVAL, "%s: the arrays fit several families (%s); "
		     "pass model=, hf_config= or config.model_type= to choose", c->item_dir,
		     names.data ? (char *)names.data : "");
	ck_buf_release(&names);
	return err;
}

static const struct detect_set *find_set(const struct detect_set *sets, size_t n,
					 const char *key);

int detect_family_given(struct mapping *const *maps, size_t n,
			const struct orbax_ckpt *c, const struct detect_set *sets,
			size_t nsets, const struct mapping **out)
{
	const struct detect_set *mt = find_set(sets, nsets, "model_type");
	struct ck_buf v = CK_BUF_INIT;
	int err = detect_family(maps, n, c, out);

	if (err != -EINVAL || !mt)
		return err;
	/* The value may be JSON ("llama") or plain (llama). */
	err = ck_buf_printf(&v, "%s", mt->value);
	if (!err && v.len >= 2 && v.data[0] == '"' && v.data[v.len - 1] == '"') {
		memmove(v.data, v.data + 1, v.len - 2);
		v.data[v.len - 2] = '\0';
	}
	for (size_t i = 0; !err && i < n; i++) {
		for (size_t k = 0; k < maps[i]->nmodel_types; k++) {
			if (strcmp(maps[i]->model_types[k], (char *)v.data) || !matches(maps[i], c))
				continue;
			*out = maps[i];
			ck_buf_release(&v);
			ck_err_clear();
			return 0;
		}
	}
	if (!err)
		err = ck_err(-EINVAL, "%s: config.model_type=%s is not one of the families "
			     "the arrays fit", c->item_dir, (char *)v.data);
	ck_buf_release(&v);
	return err;
}

/* Layers: the scanned arrays' layer axis, or the count of layers_{i}. */
static int count_layers(const struct mapping *m, const struct orbax_ckpt *c,
			int scanned, uint64_t *layers)
{
	const char *cont = simple_container(m, scanned);
	struct ck_buf b = CK_BUF_INIT;
	uint64_t n = 0;
	int err = 0;

	if (!cont)
		return ck_err(-ENOTSUP, "mapping '%s': cannot count layers in its "
			      "layout; pass hf_config= or model=", m->family);
	if (scanned) {
		size_t plen = strlen(m->prefix), clen = strlen(cont);

		for (size_t i = 0; i < c->narrays; i++) {
			const char *nm = c->arrays[i].name;
			struct zarr_info info;

			if (strncmp(nm, m->prefix, plen) || strncmp(nm + plen, cont, clen) ||
			    nm[plen + clen] != '.' || orbax_array_info(&c->arrays[i], &info) ||
			    info.rank <= m->scan_axis)
				continue;
			*layers = info.shape[m->scan_axis];
			return 0;
		}
		return ck_err(-EINVAL, "no stacked layer arrays to count");
	}
	for (;; n++) {
		size_t i;

		b.len = 0;
		err = ck_buf_printf(&b, "%s", m->prefix);
		for (const char *s = cont; !err && *s; s++) {
			if (!strncmp(s, "{i}", 3)) {
				err = ck_buf_printf(&b, "%llu", (unsigned long long)n);
				s += 2;
			} else {
				err = ck_buf_append(&b, s, 1);
			}
		}
		if (!err)
			err = ck_buf_printf(&b, ".");
		if (err)
			break;
		for (i = 0; i < c->narrays; i++)
			if (!strncmp(c->arrays[i].name, (char *)b.data, b.len))
				break;
		if (i == c->narrays)
			break;
	}
	ck_buf_release(&b);
	if (!err && n == 0)
		err = ck_err(-EINVAL, "no layer arrays to count");
	if (!err)
		*layers = n;
	return err;
}

/* --- the user's config.KEY=VALUE fields --- */

static int key_ok(const char *k)
{
	if (!*k)
		return 0;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_')
			return 0;
	return 1;
}

int detect_set_value(const char *key, const char *text, cJSON **out)
{
	const char *end = NULL, *dot = key ? strchr(key, '.') : NULL;
	cJSON *v;

	if (!key || !*key)
		return ck_err(-EINVAL, "config.=%s: no field name (use config.KEY=VALUE)",
			      text ? text : "");
	if (dot)
		return ck_err(-EINVAL, "config.%s: nested fields are set as a whole "
			      "object (config.%.*s={...})", key, (int)(dot - key), key);
	if (!key_ok(key))
		return ck_err(-EINVAL, "config.%s: a field name is letters, digits "
			      "and _ (use config.KEY=VALUE)", key);
	if (!out)
		return 0;
	if (!text || !*text)
		return ck_err(-EINVAL, "config.%s: no value (use config.%s=VALUE)",
			      key, key);
	ck_json_alloc_reset();
	v = cJSON_ParseWithOpts(text, &end, 1);
	if (!v && ck_json_alloc_failed())
		return ck_err(-ENOMEM, "out of memory");
	if (!v && strchr("{[\"", text[0]))
		return ck_err(-EINVAL, "config.%s=%s: not valid JSON (at byte %zu)",
			      key, text, end && end >= text ? (size_t)(end - text) : 0);
	if (!v)
		v = cJSON_CreateString(text);
	if (!v)
		return ck_err(-ENOMEM, "out of memory");
	*out = v;
	return 0;
}

int detect_config_apply(const char *json, size_t len, const struct detect_set *sets,
			size_t nsets, char **out, size_t *outlen)
{
	cJSON *doc = NULL;
	char *text;
	int err = ck_json_parse(json, len, &doc);

	if (!err && !cJSON_IsObject(doc))
		err = ck_err(-EINVAL, "the config is not a JSON object");
	for (size_t i = 0; !err && i < nsets; i++) {
		const char *k = sets[i].key;
		cJSON *v = NULL;

		err = detect_set_value(k, sets[i].value, &v);
		if (err)
			break;
		/* Every copy goes: a key given twice keeps the set value. */
		while (cJSON_GetObjectItemCaseSensitive(doc, k))
			cJSON_DeleteItemFromObjectCaseSensitive(doc, k);
		if (!cJSON_AddItemToObject(doc, k, v)) {
			cJSON_Delete(v);
			err = ck_err(-ENOMEM, "out of memory");
		}
	}
	if (!err) {
		text = cJSON_PrintUnformatted(doc);
		if (!text) {
			err = ck_err(-ENOMEM, "out of memory");
		} else {
			*outlen = strlen(text);
			*out = text;
		}
	}
	cJSON_Delete(doc);
	return err;
}

static const struct detect_set *find_set(const struct detect_set *sets, size_t n,
					 const char *key)
{
	const struct detect_set *found = NULL;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(sets[i].key, key))
			found = &sets[i];
	return found;
}

/* --- inference --- */

/* The fields inferred so far, for divide_by expressions. */
struct inferred {
	size_t n;
	const char *name[256];
	double v[256];		/* NAN for a non-numeric value */
	double x;		/* the size read, for a "value" expression */
	int has_x;
};

static int lookup_inferred(void *ctx, const char *name, size_t len, double *v)
{
	const struct inferred *f = ctx;

	if (len == 1 && name[0] == 'x' && f->has_x) {
		*v = f->x;
		return 0;
	}
	for (size_t i = f->n; i-- > 0;) {
		if (strlen(f->name[i]) == len && !strncmp(f->name[i], name, len)) {
			if (isnan(f->v[i]))
				return -ENOENT;
			*v = f->v[i];
			return 0;
		}
	}
	return -ENOENT;
}

static void remember(struct inferred *f, const char *name, double v)
{
	if (f->n < sizeof(f->v) / sizeof(f->v[0])) {
		f->name[f->n] = name;
		f->v[f->n++] = v;
	}
}

/* Refuse unless every field of m's "needs" is among sets. */
static int check_needs(const struct mapping *m, const struct orbax_ckpt *c,
		       const struct detect_set *sets, size_t nsets)
{
	struct ck_buf names = CK_BUF_INIT, opts = CK_BUF_INIT;
	size_t missing = 0;
	int err = 0;

	for (size_t i = 0; !err && i < m->nneeds; i++) {
		if (find_set(sets, nsets, m->needs[i]))
			continue;
		err = ck_buf_printf(&names, "%s%s", missing ? ", " : "", m->needs[i]);
		if (!err)
			err = ck_buf_printf(&opts, "%sconfig.%s=VALUE", missing ? "," : "",
					    m->needs[i]);
		missing++;
	}
	if (!err && missing)
		err = ck_err(-EINVAL, "%s: cannot infer %s from the checkpoint; pass "
			     "model=NAME, hf_config=FILE or %s (family %s)", c->item_dir,
			     (char *)names.data, (char *)opts.data, m->family);
	ck_buf_release(&names);
	ck_buf_release(&opts);
	return err;
}

/* A model_type set by the user must be one this mapping serves. */
static int check_model_type(const struct mapping *m, const struct detect_set *sets,
			    size_t nsets)
{
	const struct detect_set *s = find_set(sets, nsets, "model_type");
	cJSON *v = NULL;
	int err, ok = 0;

	if (!s)
		return 0;
	err = detect_set_value(s->key, s->value, &v);
	if (err)
		return err;
	for (size_t i = 0; cJSON_IsString(v) && i < m->nmodel_types; i++)
		ok |= !strcmp(v->valuestring, m->model_types[i]);
	cJSON_Delete(v);
	if (!ok)
		return ck_err(-EINVAL, "config.model_type=%s: the checkpoint's arrays "
			      "are family %s (model_type %s); pass hf_config= or model= "
			      "for another", s->value, m->family,
			      m->nmodel_types ? m->model_types[0] : m->family);
	return 0;
}

static int inferred_has(const struct inferred *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->name[i], name))
			return 1;
	return 0;
}

/* 1 if an infer entry after i gives field too (an alternative). */
static int later_entry(const struct mapping *m, size_t i, const char *field)
{
	while (++i < m->ninfer)
		if (!strcmp(m->infer[i].field, field))
			return 1;
	return 0;
}

/* 1 if m has an infer entry for field. */
static int has_infer(const struct mapping *m, const char *field)
{
	return later_entry(m, (size_t)-1, field);
}

/*
 * Infer field f from the n arrays its template names (hits[]): a boolean
 * (1 when there are none), the number of layers holding the array (the
 * product of each array's stacked axes, or one per unstacked array), or the
 * size of one axis (in unscanned coordinates).  Then divide_by and value
 * (over x) apply.  -ENOENT (no message) when there is no array.
 */
static int infer_hits(const struct mapping *m, const struct map_infer *f,
		      const struct hit *hits, size_t n, struct inferred *got, double *out)
{
	struct zarr_info info;
	unsigned axis = f->axis;
	uint64_t v = 0;
	double d;
	int err;

	if (f->absent) {
		*out = n == 0;
		return 0;
	}
	if (n == 0)
		return -ENOENT;
	if (n > DETECT_MAX_HITS)
		return ck_err(-E2BIG, "cannot infer %s: more than %d arrays match '%s'",
			      f->field, DETECT_MAX_HITS, f->array);
	for (size_t k = 0; k < (f->count_layers ? n : 1); k++) {
		uint64_t layers = 1;

		err = orbax_array_info(hits[k].a, &info);
		if (err)
			return err;
		if (hits[k].nstack && info.rank < m->scan_axis + hits[k].nstack)
			return ck_err(-EINVAL, "cannot infer %s: '%s' has rank %u", f->field,
				      orbax_array_path(hits[k].a), info.rank);
		for (unsigned j = 0; j < hits[k].nstack; j++)
			layers *= info.shape[m->scan_axis + j];
		v += layers;
	}
	if (!f->count_layers) {
		if (axis >= m->scan_axis)
			axis += hits[0].nstack;
		if (axis >= info.rank)
			return ck_err(-EINVAL, "cannot infer %s: '%s' has rank %u", f->field,
				      orbax_array_path(hits[0].a), info.rank);
		v = info.shape[axis];
	}
	if (f->divide_by) {
		err = expr_eval(f->divide_by, lookup_inferred, got, &d);
		if (err)
			return ck_err_ctx(err, "cannot infer %s", f->field);
		if (!(d >= 1 && d < 9007199254740992.0) || d != (double)(uint64_t)d ||
		    v % (uint64_t)d)
			return ck_err(-EINVAL, "cannot infer %s: %llu (from '%s') is not a "
				      "multiple of %s = %g", f->field, (unsigned long long)v,
				      orbax_array_path(hits[0].a), f->divide_by, d);
		v /= (uint64_t)d;
	}
	*out = (double)v;
	if (f->value) {
		got->x = (double)v;
		got->has_x = 1;
		err = expr_eval(f->value, lookup_inferred, got, out);
		got->has_x = 0;
		if (err == -ENOENT)
			return ck_err(-EINVAL, "cannot infer %s: \"%s\" names a value neither "
				      "inferred nor given", f->field, f->value);
		if (err)
			return ck_err_ctx(err, "cannot infer %s", f->field);
	}
	return 0;
}


/* Infer one field (see infer_hits()). */
static int infer_one(const struct mapping *m, const struct orbax_ckpt *c, int scanned,
		     const struct map_infer *f, struct inferred *got, double *out)
{
	struct hit *hits = calloc(DETECT_MAX_HITS, sizeof(*hits));
	size_t n = 0;
	int err;

	if (!hits)
		return ck_err(-ENOMEM, "out of memory");
	err = find_arrays(m, c, scanned, f->array, hits, DETECT_MAX_HITS, &n);
	if (!err)
		err = infer_hits(m, f, hits, n, got, out);
	free(hits);
	return err;
}

int detect_infer_config(const struct mapping *m, const struct orbax_ckpt *c,
			const struct detect_set *sets, size_t nsets,
			char **json, size_t *len, char **note)
{
	struct ck_buf js = CK_BUF_INIT, nt = CK_BUF_INIT, name = CK_BUF_INIT;
	struct inferred got = { 0 };
	int scanned = is_scanned(m, c);
	uint64_t layers = 0;
	char *full = NULL;
	size_t full_len = 0;
	int err = 0;

	if (!m->ninfer)
		return ck_err(-EINVAL, "%s: the arrays are family %s, but %s has no "
			      "'infer' list to read the dims from; pass model=NAME or "
			      "hf_config=FILE", c->item_dir, m->family, m->path);
	err = check_model_type(m, sets, nsets);
	if (!err)
		err = check_needs(m, c, sets, nsets);
	/* The user's numeric values take part in "value" expressions. */
	for (size_t i = 0; !err && i < nsets; i++) {
		char *end;
		double d = strtod(sets[i].value, &end);

		if (end != sets[i].value && !*end)
			remember(&got, sets[i].key, d);
	}
	if (!err)
		err = ck_buf_printf(&js, "{\"model_type\": \"%s\"",
				    m->nmodel_types ? m->model_types[0] : m->family);
	if (!err && m->narchs)
		err = ck_buf_printf(&js, ", \"architectures\": [\"%s\"]", m->architectures[0]);
	if (!err && m->layer_count && !has_infer(m, "num_hidden_layers")) {
		err = count_layers(m, c, scanned, &layers);
		if (!err)
			err = ck_buf_printf(&js, ", \"num_hidden_layers\": %llu",
					    (unsigned long long)layers);
		if (!err)
			err = ck_buf_printf(&nt, "num_hidden_layers=%llu (%s)",
					    (unsigned long long)layers,
					    scanned ? "scanned" : "unscanned");
		remember(&got, "num_hidden_layers", (double)layers);
	}
	for (size_t i = 0; !err && i < m->ninfer; i++) {
		const struct map_infer *f = &m->infer[i];
		double d;

		if (inferred_has(&got, f->field) || find_set(sets, nsets, f->field))
			continue;	/* an earlier alternative, or the user, gave it */
		err = infer_one(m, c, scanned, f, &got, &d);
		if (err == -ENOENT) {
			/* The array is absent: the field's default, a later
			 * alternative, or a refusal. */
			err = 0;
			if (f->deflt) {
				err = ck_buf_printf(&js, ", \"%s\": %s", f->field, f->deflt);
				if (!err)
					err = ck_buf_printf(&nt, "%s%s=%s", nt.len ? ", " : "",
							    f->field, f->deflt);
				remember(&got, f->field, NAN);
			} else if (!f->optional && !later_entry(m, i, f->field)) {
				err = ck_err(-EINVAL, "cannot infer %s: no array '%s%s' (%s "
					     "layout); pass model=NAME, hf_config=FILE or "
					     "config.%s=VALUE", f->field, m->prefix, f->array,
					     scanned ? "scanned" : "unscanned", f->field);
			}
			continue;
		}
		if (err)
			break;
		if (f->absent)
			err = ck_buf_printf(&js, ", \"%s\": %s", f->field, d ? "true" : "false");
		else
			err = ck_buf_printf(&js, ", \"%s\": %.17g", f->field, d);
		if (!err && f->absent)
			err = ck_buf_printf(&nt, "%s%s=%s", nt.len ? ", " : "", f->field,
					    d ? "true" : "false");
		else if (!err)
			err = ck_buf_printf(&nt, "%s%s=%.17g", nt.len ? ", " : "", f->field, d);
		remember(&got, f->field, d);
	}
	for (size_t i = 0; !err && i < nsets; i++)
		err = ck_buf_printf(&nt, "%s%s=%s", i ? ", " : "; given ", sets[i].key,
				    sets[i].value);
	if (!err)
		err = ck_buf_printf(&js, "}\n");
	if (!err && nsets)
		err = detect_config_apply((char *)js.data, js.len, sets, nsets, &full,
					  &full_len);
	if (!err && !full) {
		full_len = js.len;
		full = (char *)ck_buf_detach(&js, NULL);
	}
	if (err) {
		ck_buf_release(&nt);
	} else {
		*len = full_len;
		*json = full;
		*note = (char *)ck_buf_detach(&nt, NULL);
	}
	ck_buf_release(&js);
	ck_buf_release(&name);
	return err;
}

/* --- presets --- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 if the preset text fits c under one of fams. */
static int preset_fits(const struct mapping *const *fams, size_t nfams,
		       const struct orbax_ckpt *c, const char *text, size_t len)
{
	const struct mapping *m = NULL;
	struct plan *p = NULL;
	const char *mt;
	cJSON *doc = NULL;
	int fits = 0;

	if (ck_json_parse(text, len, &doc) || ck_json_get_str(doc, "model_type", &mt))
		goto out;
	for (size_t i = 0; !m && i < nfams; i++)
		for (size_t k = 0; k < fams[i]->nmodel_types; k++)
			if (!strcmp(fams[i]->model_types[k], mt))
				m = fams[i];
	if (m && plan_build(m, c, text, len, NULL, &p) == 0)
		fits = 1;
	plan_free(p);
out:
	cJSON_Delete(doc);
	ck_err_clear();
	return fits;
}

int detect_presets(const struct mapping *const *fams, size_t nfams,
		   const struct orbax_ckpt *c, const char *dir, char ***names,
		   size_t *n)
{
	char **files = NULL;
	size_t nfiles = 0, nfit = 0;
	struct dirent *e;
	DIR *d = opendir(dir);
	int err = 0;

	*names = NULL;
	*n = 0;
	if (!d && errno == ENOENT)
		return 0;
	if (!d)
		return ck_err(-errno, "%s: %s", dir, strerror(errno));
	files = calloc(DETECT_MAX_PRESETS, sizeof(*files));
	if (!files)
		err = ck_err(-ENOMEM, "out of memory");
	while (!err && (e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (l < 6 || strcmp(e->d_name + l - 5, ".json") || e->d_name[0] == '.')
			continue;
		if (nfiles == DETECT_MAX_PRESETS) {
			err = ck_err(-EOVERFLOW, "%s: more than %d presets", dir,
				     DETECT_MAX_PRESETS);
			break;
		}
		files[nfiles] = strndup(e->d_name, l - 5);	/* NAME of NAME.json */
		if (!files[nfiles])
			err = ck_err(-ENOMEM, "out of memory");
		else
			nfiles++;
	}
	closedir(d);
	if (!err && nfiles)
		qsort(files, nfiles, sizeof(*files), cmp_str);
	for (size_t i = 0; !err && i < nfiles; i++) {
		struct ck_buf path = CK_BUF_INIT;
		uint8_t *text = NULL;
		size_t len = 0;

		err = ck_buf_printf(&path, "%s/%s.json", dir, files[i]);
		if (err) {
			ck_buf_release(&path);
			break;
		}
		if (ck_read_file((char *)path.data, DETECT_MAX_PRESET_BYTES, &text, &len) == 0 &&
		    preset_fits(fams, nfams, c, (char *)text, len)) {
			char *keep = files[i];

			files[i] = NULL;
			files[nfit++] = keep;
		} else {
			free(files[i]);
			files[i] = NULL;
		}
		ck_err_clear();
		free(text);
		ck_buf_release(&path);
	}
	for (size_t i = nfit; i < nfiles; i++)
		free(files[i]);
	if (err) {
		for (size_t i = 0; i < nfit; i++)
			free(files[i]);
		free(files);
		return err;
	}
	*names = files;
	*n = nfit;
	return 0;
}
