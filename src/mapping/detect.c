/* SPDX-License-Identifier: MIT */
/* This file implements family detection from array names and the inference
 * of HF config dimensions from array shapes. */
#include "mapping/detect.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"

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

int detect_family(struct mapping *const *maps, size_t n, const struct orbax_ckpt *c,
		  const struct mapping **out)
{
	struct ck_buf names = CK_BUF_INIT;
	const struct mapping *found = NULL;
	size_t hits = 0;
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		if (!matches(maps[i], c))
			continue;
		hits++;
		found = maps[i];
		ck_buf_printf(&names, "%s%s", hits > 1 ? ", " : "", maps[i]->family);
	}
	if (hits == 0)
		err = ck_err(-ENOENT, "%s: no mapping recognises the checkpoint's "
			     "arrays; pass hf_config= or model=", c->item_dir);
	else if (hits > 1)
		err = ck_err(-EINVAL, "%s: the arrays fit several families (%s); "
			     "pass model= or hf_config= to choose", c->item_dir,
			     (char *)names.data);
	else
		*out = found;
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

int detect_infer_config(const struct mapping *m, const struct orbax_ckpt *c,
			char **json, size_t *len, char **note)
{
	struct ck_buf js = CK_BUF_INIT, nt = CK_BUF_INIT, name = CK_BUF_INIT;
	int scanned = is_scanned(m, c);
	uint64_t layers = 0;
	int err = 0;

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
	}
	for (size_t i = 0; !err && i < m->ninfer; i++) {
		const struct map_infer *f = &m->infer[i];
		const struct orbax_array *a;
		struct zarr_info info;
		unsigned axis = f->axis;

		err = name_for(m, f->array, scanned, &name);
		if (err)
			break;
		a = orbax_find(c, (char *)name.data);
		if (f->absent) {
			err = ck_buf_printf(&js, ", \"%s\": %s", f->field, a ? "false" : "true");
			if (!err)
				err = ck_buf_printf(&nt, ", %s=%s", f->field, a ? "false" : "true");
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
		if (!err)
			err = ck_buf_printf(&js, ", \"%s\": %llu", f->field,
					    (unsigned long long)info.shape[axis]);
		if (!err)
			err = ck_buf_printf(&nt, ", %s=%llu", f->field,
					    (unsigned long long)info.shape[axis]);
	}
	if (!err)
		err = ck_buf_printf(&js, "}\n");
	if (err) {
		ck_buf_release(&js);
		ck_buf_release(&nt);
	} else {
		*len = js.len;
		*json = (char *)ck_buf_detach(&js, NULL);
		*note = (char *)ck_buf_detach(&nt, NULL);
	}
	ck_buf_release(&name);
	return err;
}
