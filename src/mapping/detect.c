/* SPDX-License-Identifier: MIT */
/* This file implements family detection from array names, the inference
 * of HF config dimensions from array shapes, the user's config.KEY=VALUE
 * fields, and the matching of presets against a checkpoint. */
#include "mapping/detect.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
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

/* The full array name for template t, with {layers} as layer 0's container
 * (simple layouts only). */
static int name_for(const struct mapping *m, const char *t, int scanned,
		    struct ck_buf *out)
{
	const char *cont = simple_container(m, scanned);
	const char *p = strstr(t, "{layers}");
	int err;

	out->len = 0;
	if (p && !cont)
		return ck_err(-ENOTSUP, "mapping '%s': the layer layout is too complex "
			      "to infer from; pass hf_config= or model=", m->family);
	err = ck_buf_printf(out, "%s", m->prefix);
	if (!err && p) {
		err = ck_buf_printf(out, "%.*s", (int)(p - t), t);
		for (const char *s = cont; !err && *s; s++) {
			if (!strncmp(s, "{i}", 3)) {
				err = ck_buf_printf(out, "0");
				s += 2;
			} else {
				err = ck_buf_append(out, s, 1);
			}
		}
		if (!err)
			err = ck_buf_printf(out, "%s", p + 8);
	} else if (!err) {
		err = ck_buf_printf(out, "%s", t);
	}
	return err;
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

/* 1 if the checkpoint's layers are in m's scanned layout. */
static int is_scanned(const struct mapping *m, const struct orbax_ckpt *c)
{
	const char *cont = simple_container(m, 1);
	size_t plen = strlen(m->prefix), clen = cont ? strlen(cont) : 0;

	for (size_t i = 0; cont && i < c->narrays; i++) {
		const char *n = c->arrays[i].name;

		if (!strncmp(n, m->prefix, plen) && !strncmp(n + plen, cont, clen) &&
		    n[plen + clen] == '.')
			return 1;
	}
	return 0;
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
		     "pass model= or hf_config= to choose", c->item_dir,
		     names.data ? (char *)names.data : "");
	ck_buf_release(&names);
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
	v = cJSON_ParseWithOpts(text, &end, 1);
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
	double v[256];
};

static int lookup_inferred(void *ctx, const char *name, size_t len, double *v)
{
	const struct inferred *f = ctx;

	for (size_t i = f->n; i-- > 0;) {
		if (strlen(f->name[i]) == len && !strncmp(f->name[i], name, len)) {
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
		err = ck_buf_printf(&js, "{\"model_type\": \"%s\"",
				    m->nmodel_types ? m->model_types[0] : m->family);
	if (!err && m->narchs)
		err = ck_buf_printf(&js, ", \"architectures\": [\"%s\"]", m->architectures[0]);
	if (!err && m->layer_count) {
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
		const struct orbax_array *a;
		struct zarr_info info;
		unsigned axis = f->axis;
		uint64_t v;
		double d;

		err = name_for(m, f->array, scanned, &name);
		if (err)
			break;
		a = orbax_find(c, (char *)name.data);
		if (f->absent) {
			err = ck_buf_printf(&js, ", \"%s\": %s", f->field, a ? "false" : "true");
			if (!err)
				err = ck_buf_printf(&nt, "%s%s=%s", nt.len ? ", " : "",
						    f->field, a ? "false" : "true");
			remember(&got, f->field, a ? 0 : 1);
			continue;
		}
		if (!a) {
			err = ck_err(-EINVAL, "cannot infer %s: no array '%s'", f->field,
				     (char *)name.data);
			break;
		}
		if (scanned && strstr(f->array, "{layers}") && axis >= m->scan_axis)
			axis++;
		err = orbax_array_info(a, &info);
		if (!err && axis >= info.rank)
			err = ck_err(-EINVAL, "cannot infer %s: '%s' has rank %u", f->field,
				     a->name, info.rank);
		if (err)
			break;
		v = info.shape[axis];
		if (f->divide_by) {
			err = expr_eval(f->divide_by, lookup_inferred, &got, &d);
			if (err) {
				err = ck_err_ctx(err, "cannot infer %s", f->field);
				break;
			}
			if (!(d >= 1 && d < 9007199254740992.0) || d != (double)(uint64_t)d ||
			    v % (uint64_t)d) {
				err = ck_err(-EINVAL, "cannot infer %s: %llu (axis %u of "
					     "'%s') is not a multiple of %s = %g", f->field,
					     (unsigned long long)v, axis, a->name,
					     f->divide_by, d);
				break;
			}
			v /= (uint64_t)d;
		}
		err = ck_buf_printf(&js, ", \"%s\": %llu", f->field, (unsigned long long)v);
		if (!err)
			err = ck_buf_printf(&nt, "%s%s=%llu", nt.len ? ", " : "", f->field,
					    (unsigned long long)v);
		remember(&got, f->field, (double)v);
	}
	if (!err)
		err = check_needs(m, c, sets, nsets);
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
