/* SPDX-License-Identifier: MIT */
/*
 * This file implements plan_build(), which resolves a mapping against a
 * checkpoint and an HF config (how the tensors are then computed is
 * src/read/).
 *
 * Slicing: in the scanned layout an array under the layer container holds
 * every layer, stacked on the mapping's layer axis; a per-layer rule fixes
 * that axis to the layer.  A rule with experts fixes the expert axis too
 * (given in unscanned coordinates; in the scanned layout an expert axis at or
 * after the layer axis moves one to the right).  What is left is the slice
 * the hooks see.
 */
#include "mapping/plan.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping/expr.h"
#include "mapping/plan_impl.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_json.h"
#include "util/ck_log.h"

#define PLAN_MAX_TENSORS (1u << 22)
#define PLAN_MAX_LIST 8		/* names listed in an error message */
#define PLAN_MAX_FIXED 3	/* two stack axes and the expert axis */


/* plan_check_mt_always(): the command line's -o check_mt. */
static int check_mt_always;

void plan_check_mt_always(int on)
{
	check_mt_always = on;
}

/* --- values: let names first, then config fields (dotted paths) --- */

/* Element comp of JSON array a: comp is a decimal index, or i / e (the
 * current layer / expert).  NULL when out of range or not an index. */
static const cJSON *array_item(const struct plan_ctx *x, const cJSON *a, const char *comp)
{
	int64_t idx = -1;

	if (!strcmp(comp, "i") || !strcmp(comp, "e")) {
		idx = comp[0] == 'i' ? x->var_i : x->var_e;
	} else if (*comp && strspn(comp, "0123456789") == strlen(comp) &&
		   strlen(comp) < 10) {
		idx = atol(comp);
	}
	if (idx < 0 || idx >= cJSON_GetArraySize(a))
		return NULL;
	return cJSON_GetArrayItem(a, (int)idx);
}

/*
 * A name is a let name or a dotted path into the config.  A path component
 * after an array indexes it (a number, or i / e for the current layer /
 * expert), or is "len", its length; one after a string tests it: 1 when the
 * string equals that component, else 0
 * ("text_config.layer_types.i.full_attention").
 */
static int lookup(void *vctx, const char *name, size_t len, double *v)
{
	struct plan_ctx *x = vctx;
	const cJSON *node = x->config;
	char key[128];
	const char *p, *dot;

	if (len == 1 && (name[0] == 'i' || name[0] == 'e')) {
		int64_t var = name[0] == 'i' ? x->var_i : x->var_e;

		if (var < 0)
			return -ENOENT;
		*v = (double)var;
		return 0;
	}
	for (size_t i = 0; i < x->map->nlets; i++) {
		const struct map_let *l = &x->map->lets[i];

		if (strlen(l->name) != len || strncmp(l->name, name, len))
			continue;
		if (x->let_depth > 8)
			return ck_err(-EINVAL, "let '%s' refers to itself", l->name);
		x->let_depth++;
		for (size_t k = 0; k < l->nalts; k++) {
			int err = expr_eval(l->alts[k], lookup, x, v);

			if (err != -ENOENT) {
				x->let_depth--;
				return err;
			}
		}
		x->let_depth--;
		return -ENOENT;
	}
	if (len >= sizeof(key))
		return -ENOENT;
	memcpy(key, name, len);
	key[len] = '\0';
	for (p = key; node && p; p = dot ? dot + 1 : NULL) {
		dot = strchr(p, '.');
		if (dot)
			*(char *)dot = '\0';
		if (cJSON_IsString(node)) {
			if (dot || !node->valuestring)
				return -ENOENT;
			*v = !strcmp(node->valuestring, p);
			return 0;
		}
		if (cJSON_IsArray(node) && !dot && !strcmp(p, "len")) {
			*v = cJSON_GetArraySize(node);
			return 0;
		}
		node = cJSON_IsArray(node) ? array_item(x, node, p) : ck_json_get(node, p);
	}
	if (cJSON_IsBool(node)) {
		*v = cJSON_IsTrue(node);
		return 0;
	}
	if (!cJSON_IsNumber(node))
		return -ENOENT;
	*v = node->valuedouble;
	return 0;
}

static int eval_u64(struct plan_ctx *x, const char *e, uint64_t *v)
{
	return expr_eval_u64(e, lookup, x, v);
}

/* --- names --- */

/* Whether r may be absent: optional, and (with required_if_any) no array
 * matches its glob. */
static int rule_optional(const struct plan_ctx *x, const struct map_rule *r)
{
	size_t plen = strlen(x->map->prefix);

	if (!r->optional)
		return 0;
	for (size_t i = 0; r->required_if_any && i < x->c->narrays; i++) {
		const char *n = x->c->arrays[i].name;

		if (!strncmp(n, x->map->prefix, plen) &&
		    !fnmatch(r->required_if_any, n + plen, 0))
			return 0;
	}
	return 1;
}

/* Evaluate a condition for layer i (NULL holds). */
static int holds(struct plan_ctx *x, const char *when, int64_t i, int *yes)
{
	double v;
	int64_t saved = x->var_i;
	int err;

	if (!when) {
		*yes = 1;
		return 0;
	}
	x->var_i = i;
	err = expr_eval(when, lookup, x, &v);
	x->var_i = saved;
	if (err)
		return ck_err_ctx(err, "condition \"%s\"", when);
	*yes = v != 0;
	return 0;
}

/* The placement of layer i in the current layout, or NULL. */
static const struct map_place *place_of(struct plan_ctx *x, int64_t i, int *err)
{
	const struct map_place *pl = x->scanned == 1 ? x->map->scanned : x->map->unscanned;
	size_t n = x->scanned == 1 ? x->map->nscanned : x->map->nunscanned;

	*err = 0;
	for (size_t k = 0; k < n; k++) {
		int yes = 0;

		*err = holds(x, pl[k].when, i, &yes);
		if (*err)
			return NULL;
		if (yes)
			return &pl[k];
	}
	return NULL;
}

/*
 * Expand t for layer i and expert e: "{layers}" is layer i's container,
 * any other "{expr}" is an integer expression over i, e and the config.
 */
static int expand(struct plan_ctx *x, const char *t, int64_t i, int64_t e,
		  struct ck_buf *out)
{
	int64_t si = x->var_i, se = x->var_e;
	int err = 0;

	out->len = 0;
	x->var_i = i;
	x->var_e = e;
	while (*t && !err) {
		const char *end;

		if (*t != '{') {
			err = ck_buf_append(out, t++, 1);
			continue;
		}
		end = strchr(t, '}');
		if (!end) {
			err = ck_err(-EINVAL, "unclosed '{' in \"%s\"", t);
			break;
		}
		if (end - t == 7 && !strncmp(t, "{layers}", 8)) {
			const struct map_place *pl = place_of(x, i, &err);
			struct ck_buf sub = CK_BUF_INIT;

			if (!err && !pl)
				err = ck_err(-EINVAL, "no placement for layer %lld",
					     (long long)i);
			if (!err)
				err = expand(x, pl->container, i, e, &sub);
			if (!err)
				err = ck_buf_append(out, sub.data, sub.len);
			ck_buf_release(&sub);
		} else {
			char expr[256];
			uint64_t v;

			if ((size_t)(end - t - 1) >= sizeof(expr)) {
				err = ck_err(-EINVAL, "placeholder too long");
				break;
			}
			memcpy(expr, t + 1, (size_t)(end - t - 1));
			expr[end - t - 1] = '\0';
			err = expr_eval_u64(expr, lookup, x, &v);
			if (!err)
				err = ck_buf_printf(out, "%llu", (unsigned long long)v);
		}
		t = end + 1;
	}
	if (!err)
		err = ck_buf_append(out, "", 1);
	if (!err)
		out->len--;
	x->var_i = si;
	x->var_e = se;
	return err;
}

static const struct orbax_array *find_array(struct plan_ctx *x, const char *rel,
					    size_t *idx)
{
	char full[1024];
	const struct orbax_array *a;

	if ((size_t)snprintf(full, sizeof(full), "%s%s", x->map->prefix, rel) >=
	    sizeof(full))
		return NULL;
	a = orbax_find(x->c, full);
	if (a)
		*idx = (size_t)(a - x->c->arrays);
	return a;
}

/* Add a missing array's name (relative to the prefix) to the error list,
 * once. */
static int note_missing(struct plan_ctx *x, const char *what)
{
	const char *list = x->missing.data ? (const char *)x->missing.data : "";
	char full[1024];
	size_t n;

	n = (size_t)snprintf(full, sizeof(full), "%s%s", x->map->prefix, what);
	for (const char *p = strstr(list, full); p; p = strstr(p + 1, full))
		if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return 0;
	if (x->nmissing++ < PLAN_MAX_LIST)
		return ck_buf_printf(&x->missing, "%s%s", x->nmissing > 1 ? ", " : "",
				     full);
	return 0;
}

/* 1 if some checkpoint array starts with prefix + rel + ".". */
static int have_container(struct plan_ctx *x, const char *rel)
{
	char p[1024];
	int n = snprintf(p, sizeof(p), "%s%s.", x->map->prefix, rel);

	for (size_t i = 0; n > 0 && (size_t)n < sizeof(p) && i < x->c->narrays; i++)
		if (!strncmp(x->c->arrays[i].name, p, (size_t)n))
			return 1;
	return 0;
}

/* --- layout and layers --- */

static int pick_layout(struct plan_ctx *x, uint64_t *layers)
{
	const struct mapping *m = x->map;
	struct ck_buf b = CK_BUF_INIT, u = CK_BUF_INIT;
	int scan = 0, unscan, err;

	err = eval_u64(x, m->layer_count, layers);
	if (err)
		return ck_err_ctx(err, "layer count");
	/* The first layer whose container differs between the layouts
	 * (layer 0, unless both keep the first layers unstacked). */
	for (uint64_t l = 0; !err && (l == 0 || l < *layers); l++) {
		if (m->nscanned) {
			x->scanned = 1;
			err = expand(x, "{layers}", (int64_t)l, -1, &b);
		}
		x->scanned = 0;
		if (!err)
			err = expand(x, "{layers}", (int64_t)l, -1, &u);
		if (err || !m->nscanned || b.len != u.len || memcmp(b.data, u.data, b.len))
			break;
	}
	scan = !err && m->nscanned && have_container(x, (const char *)b.data);
	unscan = !err && have_container(x, (const char *)u.data);
	if (scan && unscan && b.len == u.len && !memcmp(b.data, u.data, b.len))
		scan = 0;	/* the layouts agree on every layer */
	if (!err && scan && unscan)
		err = ck_err(-EINVAL, "the checkpoint has both scanned '%s.*' and "
			     "unscanned '%s.*' layers", (char *)b.data, (char *)u.data);
	if (!err && !scan && !unscan)
		err = ck_err(-EINVAL, "the checkpoint has no '%s%s.*' layer arrays%s%s%s",
			     m->prefix, (char *)u.data, b.len ? " and no '" : "",
			     b.len ? (char *)b.data : "", b.len ? ".*'" : "");
	if (!err && unscan) {
		/* One past the last layer must not exist. */
		int e2 = expand(x, "{layers}", (int64_t)*layers, -1, &u);

		if (!e2 && have_container(x, (const char *)u.data))
			err = ck_err(-EINVAL, "the checkpoint has more than the %llu "
				     "layers the config says ('%s%s' exists)",
				     (unsigned long long)*layers, m->prefix,
				     (char *)u.data);
		else
			ck_err_clear();	/* e2's message, if any */
	}
	x->scanned = scan;
	ck_buf_release(&b);
	ck_buf_release(&u);
	return err;
}

/* --- one tensor --- */

/*
 * The fixed axes of source k: the stack indices of the layer's placement
 * (on scan_axis, scan_axis+1) and the expert index (its axis given in
 * unscanned coordinates, moved right past the stack axes).  Sorted.
 */
static int fix_axes(struct plan_ctx *x, const struct map_rule *r, unsigned k,
		    int64_t layer, int64_t expert, struct plan_src *s)
{
	const struct map_place *pl = NULL;
	unsigned nstack = 0;
	int err = 0;

	if (strstr(r->src[k], "{layers}")) {
		pl = place_of(x, layer, &err);
		if (err)
			return err;
		nstack = pl ? pl->nindex : 0;
	}
	for (unsigned j = 0; j < nstack; j++) {
		uint64_t v;
		int64_t saved = x->var_i;

		x->var_i = layer;
		err = eval_u64(x, pl->index[j], &v);
		x->var_i = saved;
		if (err)
			return ck_err_ctx(err, "stack index");
		s->fixed_axis[s->nfixed] = x->map->scan_axis + j;
		s->fixed_idx[s->nfixed++] = v;
	}
	if (r->experts) {
		unsigned ax = r->expert_axis;

		if (nstack && ax >= x->map->scan_axis)
			ax += nstack;
		if (s->nfixed == PLAN_MAX_FIXED)
			return ck_err(-EINVAL, "too many fixed axes");
		s->fixed_axis[s->nfixed] = ax;
		s->fixed_idx[s->nfixed++] = (uint64_t)expert;
	}
	/* Insertion sort by axis (at most three). */
	for (unsigned a = 1; a < s->nfixed; a++)
		for (unsigned b = a; b > 0 && s->fixed_axis[b - 1] > s->fixed_axis[b]; b--) {
			unsigned ta = s->fixed_axis[b];
			uint64_t ti = s->fixed_idx[b];

			s->fixed_axis[b] = s->fixed_axis[b - 1];
			s->fixed_idx[b] = s->fixed_idx[b - 1];
			s->fixed_axis[b - 1] = ta;
			s->fixed_idx[b - 1] = ti;
		}
	return 0;
}

static int set_src(struct plan_ctx *x, const struct map_rule *r, unsigned k,
		   int64_t layer, int64_t expert, struct plan_src *s,
		   const char *hfname)
{
	struct ck_buf name = CK_BUF_INIT;
	const struct orbax_array *a;
	struct zarr_info info;
	unsigned j = 0;
	size_t idx = 0;
	int err;

	err = expand(x, r->src[k], layer, expert, &name);
	if (err)
		goto out;
	a = find_array(x, (const char *)name.data, &idx);
	for (unsigned k2 = 0; !a && !err && k2 < r->nalt; k2++) {
		/* "or_from": a full name, outside the prefix */
		struct ck_buf alt = CK_BUF_INIT;

		err = expand(x, r->alt[k2], layer, expert, &alt);
		a = err ? NULL : orbax_find(x->c, (const char *)alt.data);
		if (a)
			idx = (size_t)(a - x->c->arrays);
		ck_buf_release(&alt);
	}
	if (!a) {
		err = err ? err : -ENOENT;
		goto out;
	}
	err = orbax_array_info(a, &info);
	if (err)
		goto out;
	if (!ck_dtype_is_float(info.dtype)) {
		err = ck_err(-EINVAL, "'%s' is %s, not a float array", orbax_array_path(a),
			     ck_dtype_name(info.dtype));
		goto out;
	}
	x->used[idx] = 1;
	s->array = a;
	s->dtype = info.dtype;
	s->rank = info.rank;
	memcpy(s->shape, info.shape, sizeof(s->shape));
	s->nfixed = 0;
	err = fix_axes(x, r, k, layer, expert, s);
	if (err)
		goto out;
	s->slice.rank = 0;
	for (unsigned ax = 0; ax < info.rank; ax++) {
		if (j < s->nfixed && s->fixed_axis[j] == ax) {
			if (s->fixed_idx[j] >= info.shape[ax]) {
				err = ck_err(-EINVAL, "'%s' has %llu entries on axis %u, "
					     "%s needs index %llu", orbax_array_path(a),
					     (unsigned long long)info.shape[ax], ax, hfname,
					     (unsigned long long)s->fixed_idx[j]);
				goto out;
			}
			j++;
			continue;
		}
		s->slice.d[s->slice.rank++] = info.shape[ax];
	}
	if (j != s->nfixed)
		err = ck_err(-EINVAL, "'%s' has rank %u, too small to slice for %s",
			     orbax_array_path(a), info.rank, hfname);
out:
	if (err == -ENOENT && !rule_optional(x, r))
		err = note_missing(x, (const char *)name.data) ? -ENOMEM : -ENOENT;
	ck_buf_release(&name);
	return err;
}

static void format_shape(char *buf, size_t cap, const struct hook_shape *s)
{
	size_t n = (size_t)snprintf(buf, cap, "[");

	for (unsigned i = 0; i < s->rank && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? "," : "",
				      (unsigned long long)s->d[i]);
	if (n < cap)
		snprintf(buf + n, cap - n, "]");
}

/* Run the hook chain's shape functions; the result must hold the HF shape. */
static int chain_shapes(struct plan_ctx *x, struct plan_tensor *t)
{
	const struct map_rule *r = t->rule;
	struct hook_shape in[HOOK_MAX_INPUTS];
	unsigned nin = t->nsrc;
	char a[256], b[256];
	int err;

	for (unsigned k = 0; k < nin; k++)
		in[k] = t->src[k].slice;
	for (unsigned h = 0; h < r->nhooks; h++) {
		const struct map_hook *mh = &r->hooks[h];

		t->args[h].n = mh->nargs;
		for (unsigned k = 0; k < mh->nargs; k++) {
			err = expr_eval(mh->args[k], lookup, x, &t->args[h].v[k]);
			if (err)
				return ck_err_ctx(err, "hook '%s'", mh->hook->name);
		}
		err = mh->hook->shape(&t->args[h], in, nin, &t->shape, &t->out[h]);
		if (err)
			return ck_err_ctx(err, "hook '%s'", mh->hook->name);
		in[0] = t->out[h];
		nin = 1;
	}
	if (hook_shape_numel(&in[0]) != hook_shape_numel(&t->shape)) {
		format_shape(a, sizeof(a), &in[0]);
		format_shape(b, sizeof(b), &t->shape);
		return ck_err(-EINVAL, "'%s' gives %s but the config says %s",
			      orbax_array_path(t->src[0].array), a, b);
	}
	return 0;
}

/*
 * Source k's MaxText slice shape from rule r's "mt" (or its default), for
 * layer and expert (-1: none).  -ENOENT (no message) when the rule has no
 * MaxText shape; -EINVAL when an expression cannot be evaluated (a name the
 * config lacks included).
 */
static int rule_mt(struct plan_ctx *x, const struct map_rule *r, unsigned k,
		   int64_t layer, int64_t expert, struct hook_shape *mt)
{
	int64_t si = x->var_i, se = x->var_e;
	int err = 0;

	if (r->mt_from == MAP_MT_NONE || k >= r->nsrc)
		return -ENOENT;
	x->var_i = layer;
	x->var_e = expert;
	mt->rank = r->mt_rank[k];
	for (unsigned d = 0; d < r->mt_rank[k] && !err; d++) {
		err = eval_u64(x, r->mt[k][d], &mt->d[d]);
		if (err == -ENOENT)
			err = ck_err(-EINVAL, "\"mt\": \"%s\" names a value the config "
				     "does not have", r->mt[k][d]);
		else if (err)
			err = ck_err_ctx(err, "\"mt\"");
	}
	x->var_i = si;
	x->var_e = se;
	return err;
}

/*
 * Tensor t's sources' MaxText slice shapes (t->mt, t->has_mt).  Unknown
 * ones (no "mt", or an expression that cannot be evaluated) leave has_mt 0,
 * which is no error unless x->check_mt.  With x->check_mt, -EINVAL naming
 * the tensor, the array and both shapes unless every source's mt is known
 * and is its slice.
 */
static int mt_shapes(struct plan_ctx *x, struct plan_tensor *t)
{
	const struct map_rule *r = t->rule;
	char why[512] = "", a[256], b[256];
	unsigned k;
	int err = 0;

	for (k = 0; k < t->nsrc && !err; k++)
		err = rule_mt(x, r, k, t->layer, t->expert, &t->mt[k]);
	t->has_mt = !err;
	if (err) {
		k--;
		snprintf(why, sizeof(why), "%s", ck_err_msg());
	}
	ck_err_clear();	/* also what a let's failed alternative left */
	if (!x->check_mt)
		return 0;
	if (!t->has_mt) {
		format_shape(b, sizeof(b), &t->src[k].slice);
		if (err == -ENOENT)
			return ck_err(-EINVAL, "%s: no MaxText shape for '%s' (the "
				      "slice %s): its rule needs \"mt\"", t->name,
				      orbax_array_path(t->src[k].array), b);
		return ck_err(-EINVAL, "%s: the MaxText shape of '%s' (the slice "
			      "%s) cannot be evaluated: %s", t->name,
			      orbax_array_path(t->src[k].array), b, why);
	}
	for (k = 0; k < t->nsrc; k++) {
		const struct hook_shape *m = &t->mt[k], *s = &t->src[k].slice;

		if (m->rank == s->rank && !memcmp(m->d, s->d, m->rank * sizeof(m->d[0])))
			continue;
		format_shape(a, sizeof(a), m);
		format_shape(b, sizeof(b), s);
		return ck_err(-EINVAL, "%s: its MaxText shape %s (%s) is not the slice "
			      "%s of '%s'", t->name, a, r->mt_from == MAP_MT_DEFAULT ?
			      "by default, from its HF shape" : "its rule's \"mt\"", b,
			      orbax_array_path(t->src[k].array));
	}
	return 0;
}

static int add_tensor(struct plan_ctx *x, struct plan *p, const struct map_rule *r,
		      int64_t layer, int64_t expert, const struct plan_opts *o)
{
	struct plan_tensor t = { 0 };
	struct ck_buf name = CK_BUF_INIT;
	struct plan_tensor *nt;
	uint64_t nbytes;
	int err;

	t.rule = r;
	t.layer = layer;
	t.expert = expert;
	err = expand(x, r->hf, layer, expert, &name);
	if (err)
		return err;
	t.name = (char *)ck_buf_detach(&name, NULL);
	/* Sources first: an optional tensor whose array is absent may have a
	 * shape the config cannot give (q_lora_rank null, say). */
	t.nsrc = r->nsrc;
	for (unsigned k = 0; k < r->nsrc; k++) {
		err = set_src(x, r, k, layer, expert, &t.src[k], t.name);
		if (err)
			break;
	}
	if (err == -ENOENT) {
		/* Optional and absent (e.g. a tied head), or collected for the
		 * error reported after every rule ran. */
		if (r->log_absent && rule_optional(x, r))
			x->absent[r - x->map->rules]++;
		err = 0;
		goto out;
	}
	t.shape.rank = r->rank;
	for (unsigned i = 0; !err && i < r->rank; i++) {
		int64_t si = x->var_i, se = x->var_e;

		x->var_i = layer;
		x->var_e = expert;
		err = eval_u64(x, r->shape[i], &t.shape.d[i]);
		x->var_i = si;
		x->var_e = se;
		if (err == -ENOENT)	/* the arrays are there: never skip */
			err = ck_err(-EINVAL, "shape of %s: \"%s\" names a value the "
				     "config does not have", t.name, r->shape[i]);
		else if (err)
			err = ck_err_ctx(err, "shape of %s", t.name);
	}
	if (!err)
		err = chain_shapes(x, &t);
	if (err) {
		err = ck_err_ctx(err, "%s (from '%s')", t.name, t.src[0].array ?
				 orbax_array_path(t.src[0].array) : r->src[0]);
		goto out;
	}
	err = mt_shapes(x, &t);
	if (err)
		goto out;
	t.dtype = o->dtype != CK_DT_INVALID ? o->dtype : t.src[0].dtype;
	nbytes = ck_dtype_size(t.dtype);
	for (unsigned i = 0; i < t.shape.rank; i++)
		if (__builtin_mul_overflow(nbytes, t.shape.d[i], &nbytes)) {
			err = ck_err(-EOVERFLOW, "%s: size overflows", t.name);
			goto out;
		}
	t.nbytes = nbytes;
	if (p->ntensors >= PLAN_MAX_TENSORS) {
		err = ck_err(-EOVERFLOW, "more than %u tensors", PLAN_MAX_TENSORS);
		goto out;
	}
	nt = realloc(p->tensors, (p->ntensors + 1) * sizeof(*nt));
	if (!nt) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	p->tensors = nt;
	nt[p->ntensors++] = t;
	return 0;
out:
	free(t.name);
	return err;
}

static int add_rule(struct plan_ctx *x, struct plan *p, const struct map_rule *r,
		    const struct plan_opts *o)
{
	uint64_t nl = r->per_layer ? p->layers : 1, ne = 1;
	int err = 0;

	if (r->count) {
		err = eval_u64(x, r->count, &nl);
		if (!err && nl > PLAN_MAX_TENSORS)
			err = ck_err(-EINVAL, "%llu is too many", (unsigned long long)nl);
		if (err)
			return ck_err_ctx(err, "count of '%s'", r->hf);
	}
	if (r->experts) {
		err = eval_u64(x, r->experts, &ne);
		if (err)
			return ck_err_ctx(err, "expert count of '%s'", r->hf);
	}
	for (uint64_t l = 0; l < nl && !err; l++) {
		int yes = 1;

		if (r->per_layer)
			err = holds(x, r->when, (int64_t)l, &yes);
		for (uint64_t e = 0; e < ne && !err && yes; e++)
			err = add_tensor(x, p, r, r->per_layer ? (int64_t)l : -1,
					 r->experts ? (int64_t)e : -1, o);
	}
	return err;
}

/* 1 if name (below the prefix) matches one of the mapping's "ignore"
 * globs: an array no tensor serves. */
static int ignored(const struct mapping *m, const char *name)
{
	for (size_t i = 0; i < m->nignore; i++)
		if (!fnmatch(m->ignore[i], name, 0))
			return 1;
	return 0;
}

/* One log line naming the tensors of "optional": "log" rules that were
 * skipped because their source is absent (none: nothing logged). */
static void log_absent(const struct plan_ctx *x)
{
	struct ck_buf b = CK_BUF_INIT;
	int err = 0;

	for (size_t i = 0; !err && i < x->map->nrules; i++)
		if (x->absent[i])
			err = ck_buf_printf(&b, "%s%s (%zu)", b.len ? ", " : "",
					    x->map->rules[i].hf, x->absent[i]);
	if (!err && b.len)
		ck_log(CK_LOG_WARN, "%s: the checkpoint holds no %s; the mount "
		       "serves the rest without them", x->map->family, (char *)b.data);
	ck_buf_release(&b);
}

/* Arrays under the prefix that no rule consumed. */
static int check_consumed(struct plan_ctx *x, struct plan *p)
{
	struct ck_buf list = CK_BUF_INIT;
	size_t plen = strlen(x->map->prefix), left = 0;
	int err = 0;

	for (size_t i = 0; i < x->c->narrays; i++) {
		const char *n = x->c->arrays[i].name;

		if (strncmp(n, x->map->prefix, plen)) {
			p->nignored++;
			continue;
		}
		if (x->used[i] || ignored(x->map, n + plen))
			continue;
		if (left++ < PLAN_MAX_LIST)
			err = ck_buf_printf(&list, "%s%s", left > 1 ? ", " : "",
					    orbax_array_path(&x->c->arrays[i]));
		if (err)
			break;
	}
	if (!err && left)
		err = ck_err(-EINVAL, "mapping '%s' does not use %zu checkpoint "
			     "array%s: %s%s", x->map->family, left, left == 1 ? "" : "s",
			     (char *)list.data, left > PLAN_MAX_LIST ? ", ..." : "");
	ck_buf_release(&list);
	return err;
}

static void pick_torch_dtype(struct plan *p)
{
	uint64_t bytes[CK_DT_COUNT] = { 0 };
	unsigned best = CK_DT_BF16;

	for (size_t i = 0; i < p->ntensors; i++)
		bytes[p->tensors[i].dtype] += p->tensors[i].nbytes;
	for (unsigned d = 0; d < CK_DT_COUNT; d++)
		if (bytes[d] > bytes[best])
			best = d;
	p->torch_dtype = (enum ck_dtype)best;
}

int plan_build(const struct mapping *map, const struct orbax_ckpt *c,
	       const char *config, size_t config_len, const struct plan_opts *o,
	       struct plan **out)
{
	struct plan_opts def = { CK_DT_INVALID, 0 };
	struct plan_ctx x = { map, c, NULL, 0, -1, -1, -1, NULL, CK_BUF_INIT, 0, NULL, 0 };
	struct plan *p = calloc(1, sizeof(*p));
	char first[1024] = "";
	int err;

	if (!o)
		o = &def;
	x.check_mt = o->check_mt || check_mt_always;
	x.used = calloc(c->narrays + 1, 1);
	x.absent = calloc(map->nrules + 1, sizeof(*x.absent));
	if (!p || !x.used || !x.absent) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	p->map = map;
	p->scanned = -1;
	err = ck_json_parse(config, config_len, &x.config);
	if (err) {
		err = ck_err_ctx(err, "HF config");
		goto out;
	}
	if (map->layer_count) {
		err = pick_layout(&x, &p->layers);
		if (err)
			goto out;
		p->scanned = x.scanned;
	}
	/* Run every rule: missing arrays say more about a wrong family than
	 * the first shape that does not fit, so they are reported first. */
	for (size_t i = 0; i < map->nrules && err != -ENOMEM; i++) {
		int e = add_rule(&x, p, &map->rules[i], o);

		if (e && !err) {
			err = e;
			snprintf(first, sizeof(first), "%s", ck_err_msg());
		}
	}
	if (err && !x.nmissing) {
		ck_err(err, "%s", first);
		goto out;
	}
	err = 0;
	if (x.nmissing)
		err = ck_err(-EINVAL, "mapping '%s' needs %zu array%s the checkpoint "
			     "lacks: %s%s", map->family, x.nmissing,
			     x.nmissing == 1 ? "" : "s", (char *)x.missing.data,
			     x.nmissing > PLAN_MAX_LIST ? ", ..." : "");
	if (!err)
		err = check_consumed(&x, p);
	if (err)
		goto out;
	log_absent(&x);
	pick_torch_dtype(p);
	*out = p;
	p = NULL;
out:
	cJSON_Delete(x.config);
	free(x.used);
	free(x.absent);
	ck_buf_release(&x.missing);
	plan_free(p);
	return err;
}

void plan_free(struct plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->ntensors; i++)
		free(p->tensors[i].name);
	free(p->tensors);
	free(p);
}

/* --- for plan_skel.c (plan_impl.h) --- */

void plan_ctx_init(struct plan_ctx *x, const struct mapping *m,
		   const struct orbax_ckpt *c)
{
	memset(x, 0, sizeof(*x));
	x->map = m;
	x->c = c;
	x->var_i = -1;
	x->var_e = -1;
	x->scanned = -1;
	x->missing = (struct ck_buf)CK_BUF_INIT;
}

int plan_eval_u64(struct plan_ctx *x, const char *e, uint64_t *v)
{
	return eval_u64(x, e, v);
}

int plan_holds(struct plan_ctx *x, const char *when, int64_t i, int *yes)
{
	return holds(x, when, i, yes);
}

int plan_expand(struct plan_ctx *x, const char *t, int64_t i, int64_t e,
		struct ck_buf *out)
{
	return expand(x, t, i, e, out);
}

int plan_fix_axes(struct plan_ctx *x, const struct map_rule *r, unsigned k,
		  int64_t layer, int64_t expert, struct plan_src *s)
{
	return fix_axes(x, r, k, layer, expert, s);
}

int plan_rule_mt(struct plan_ctx *x, const struct map_rule *r, unsigned k,
		 int64_t layer, int64_t expert, struct hook_shape *mt)
{
	return rule_mt(x, r, k, layer, expert, mt);
}
