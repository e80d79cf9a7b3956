/* SPDX-License-Identifier: MIT */
/*
 * This file implements mtview_open() and the chunk arithmetic of the MaxText
 * view (mtview.h): the HF directory, the mapping resolved backwards, and the
 * checks that the directory holds exactly what the mapping needs.
 */
#include "fs/mtview.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/ckfs.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_json.h"

#define MTVIEW_MAX_CONFIG_BYTES ((size_t)16 << 20)
#define MTVIEW_MAX_LIST 8

/* --- the HF tensors, read through the directory's mmap --- */

static int hf_get(void *ctx, const struct plan_tensor *t, const void **data,
		  enum ck_dtype *dtype)
{
	const struct hf_dir *hf = ctx;
	const struct hf_tensor *h = hf_dir_find(hf, t->name);

	if (!h)
		return ck_err(-ENOENT, "%s: no tensor %s", hf->path, t->name);
	*data = hf_dir_data(hf, h);
	*dtype = h->dtype;
	return *data ? 0 : ck_err(-EIO, "%s: cannot map %s", hf->path, t->name);
}

static void hf_put(void *ctx, const struct plan_tensor *t, const void *data)
{
	(void)ctx;
	(void)t;
	(void)data;
}

/* 1 if dir looks like an HF model directory. */
static int is_hf_dir(const char *dir)
{
	char p[4096];
	struct stat st;

	snprintf(p, sizeof(p), "%s/config.json", dir);
	if (stat(p, &st))
		return 0;
	snprintf(p, sizeof(p), "%s/model.safetensors", dir);
	if (!stat(p, &st))
		return 1;
	snprintf(p, sizeof(p), "%s/model.safetensors.index.json", dir);
	return !stat(p, &st);
}

/* --- the config --- */

static int read_config(const struct mtview_opts *o, const struct hf_dir *hf,
		       char **text, size_t *len)
{
	const char *dir = ckfs_mappings_dir(o->mappings);
	char path[4096];
	uint8_t *data = NULL;
	const char *what = hf->path;
	size_t n;
	int err;

	if (o->hf_config || o->model) {
		if (o->model)
			snprintf(path, sizeof(path), "%s/presets/%s.json", dir, o->model);
		what = o->hf_config ? o->hf_config : path;
		err = ck_read_file(what, MTVIEW_MAX_CONFIG_BYTES, &data, &n);
		if (err == -ENOENT && o->model)
			return ck_err(-EINVAL, "model=%s: no such preset (the presets "
				      "are %s/presets/*.json)", o->model, dir);
		if (err)
			return err;
	} else {
		data = malloc(hf->config_len + 1);
		if (!data)
			return ck_err(-ENOMEM, "out of memory");
		memcpy(data, hf->config, hf->config_len + 1);
		n = hf->config_len;
	}
	err = detect_config_apply((char *)data, n, o->sets, o->nsets, text, len);
	free(data);
	return err ? ck_err_ctx(err, "%s", what) : 0;
}

/* maxtext_vocab_size, read by the mappings' vocab_mt, when vocab_rows= is
 * given. */
static int set_vocab_rows(struct mtview *v, uint64_t rows)
{
	struct detect_set s;
	char num[32], *out = NULL;
	size_t len;
	int err;

	if (!rows)
		return 0;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)rows);
	s.key = "maxtext_vocab_size";
	s.value = num;
	err = detect_config_apply(v->config, v->config_len, &s, 1, &out, &len);
	if (err)
		return err;
	free(v->config);
	v->config = out;
	v->config_len = len;
	return 0;
}

static int pick_mapping(struct mtview *v)
{
	const char *mt;
	cJSON *doc = NULL;
	int err;

	err = ck_json_parse(v->config, v->config_len, &doc);
	if (!err)
		err = ck_json_get_str(doc, "model_type", &mt);
	if (!err) {
		v->map = mapping_for_model_type(v->maps, v->nmaps, mt);
		if (!v->map)
			err = ck_err(-ENOTSUP, "no mapping for model_type '%s'", mt);
	}
	cJSON_Delete(doc);
	return err ? ck_err_ctx(err, "%s: config.json", v->hf->path) : 0;
}

/* --- checks --- */

static int have_hf(void *ctx, const char *name)
{
	return hf_dir_find(ctx, name) != NULL;
}

static void shape_str(char *buf, size_t cap, unsigned rank, const uint64_t *d)
{
	size_t n = (size_t)snprintf(buf, cap, "[");

	for (unsigned i = 0; i < rank && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? "," : "",
				      (unsigned long long)d[i]);
	if (n < cap)
		snprintf(buf + n, cap - n, "]");
}

static int is_float(enum ck_dtype t)
{
	return t == CK_DT_BF16 || t == CK_DT_F16 || t == CK_DT_F32;
}

/* Every tensor of the plan is in the directory with its shape; every
 * tensor of the directory is in the plan. */
static int check_tensors(struct mtview *v)
{
	const struct hf_dir *hf = v->hf;
	struct ck_buf list = CK_BUF_INIT;
	uint8_t *used = calloc(hf->ntensors + 1, 1);
	size_t unused = 0;
	int err = 0;

	if (!used)
		return ck_err(-ENOMEM, "out of memory");
	for (size_t i = 0; i < v->plan->ntensors && !err; i++) {
		const struct plan_tensor *t = &v->plan->tensors[i];
		const struct hf_tensor *h = hf_dir_find(hf, t->name);
		char a[256], b[256];

		if (!h) {
			err = ck_err(-EINVAL, "%s: tensor %s is missing (the %s mapping "
				     "needs it)", hf->path, t->name, v->map->family);
			break;
		}
		used[h - hf->tensors] = 1;
		if (!is_float(h->dtype)) {
			err = ck_err(-EINVAL, "%s%s%s: tensor %s is %s, not a float "
				     "tensor", hf->path, hf->files ? "/" : "",
				     hf->files ? hf->files[h->file].name : "", t->name,
				     ck_dtype_name(h->dtype));
			break;
		}
		if (h->rank != t->shape.rank ||
		    memcmp(h->shape, t->shape.d, h->rank * sizeof(*h->shape))) {
			shape_str(a, sizeof(a), h->rank, h->shape);
			shape_str(b, sizeof(b), t->shape.rank, t->shape.d);
			err = ck_err(-EINVAL, "%s%s%s: tensor %s has shape %s, the "
				     "config gives %s", hf->path, hf->files ? "/" : "",
				     hf->files ? hf->files[h->file].name : "",
				     t->name, a, b);
		}
	}
	for (size_t i = 0; i < hf->ntensors && !err; i++) {
		if (used[i])
			continue;
		if (unused++ < MTVIEW_MAX_LIST)
			err = ck_buf_printf(&list, "%s%s", unused > 1 ? ", " : "",
					    hf->tensors[i].name);
	}
	if (!err && unused)
		err = ck_err(-EINVAL, "%s: %zu tensor%s the %s mapping does not use: "
			     "%s%s", hf->path, unused, unused == 1 ? "" : "s",
			     v->map->family, (char *)list.data,
			     unused > MTVIEW_MAX_LIST ? ", ..." : "");
	ck_buf_release(&list);
	free(used);
	return err;
}

/* --- open --- */

static int build_target(struct mtview *v)
{
	struct plan_skel sk = { 0 };
	struct plan_opts po = { 0 };
	int err;

	err = plan_skeleton(v->map, v->config, v->config_len, v->scanned, v->dtype,
			    have_hf, v->hf, &sk);
	if (!err)
		err = orbax_virtual(v->hf->path, sk.arrays, sk.narrays, &v->target);
	plan_skel_release(&sk);
	if (err)
		return err;
	po.dtype = CK_DT_INVALID;
	err = plan_build(v->map, v->target, v->config, v->config_len, &po, &v->plan);
	if (err)
		return ck_err_ctx(err, "%s mapping, backwards", v->map->family);
	return 0;
}

void mtview_opts_from(const struct ckfs_opts *o, struct ckfs_opts *fwd,
		      struct mtview_opts *mo)
{
	memset(mo, 0, sizeof(*mo));
	*fwd = *o;
	fwd->view_maxtext = 0;		/* a MaxText source: its HF view, */
	fwd->dtype = CK_DT_INVALID;	/* as stored */
	mo->src = o->src;
	mo->fwd = fwd;
	mo->mappings = o->mappings;
	mo->hf_config = o->hf_config;
	mo->model = o->model;
	mo->scan_layers = o->scan_layers;
	mo->dtype = o->dtype;
	mo->chunks = o->chunks;
	mo->vocab_rows = o->vocab_rows;
	mo->nsets = o->nsets;
	mo->sets = o->sets;
}

int mtview_open(const struct mtview_opts *o, struct mtview **out)
{
	struct mtview *v = calloc(1, sizeof(*v));
	struct ck_buf sum = CK_BUF_INIT;
	int err;

	*out = NULL;
	if (!v)
		return ck_err(-ENOMEM, "out of memory");
	v->scanned = o->scan_layers == 0 ? 0 : 1;
	v->dtype = o->dtype == CK_DT_INVALID ? CK_DT_BF16 : o->dtype;
	v->chunks = o->chunks ? o->chunks : MTVIEW_DEFAULT_CHUNKS;
	if (!is_float(v->dtype) || v->chunks > MTVIEW_MAX_CHUNKS) {
		free(v);
		return ck_err(-EINVAL, "dtype must be bfloat16, float16 or float32 and "
			      "chunks at most %u", MTVIEW_MAX_CHUNKS);
	}
	if (o->fwd && !is_hf_dir(o->src)) {
		err = mtview_fwd_open(v, o->fwd);
	} else {
		err = hf_dir_open(o->src, &v->hf);
		if (!err)
			err = read_config(o, v->hf, &v->config, &v->config_len);
		v->source = (struct rv_source){ hf_get, hf_put, v->hf };
	}
	if (!err)
		err = mapping_load_dir(ckfs_mappings_dir(o->mappings), &v->maps, &v->nmaps);
	if (!err)
		err = set_vocab_rows(v, o->vocab_rows);
	if (!err)
		err = pick_mapping(v);
	if (!err)
		err = build_target(v);
	if (!err)
		err = check_tensors(v);
	if (!err)
		err = rv_plan_build(v->plan, v->target, 0, &v->rv);
	if (err)
		goto fail;
	v->total_bytes = orbax_total_bytes(v->target);
	err = ck_buf_printf(&sum, "%s, %s, %zu arrays from %zu tensors, %s",
			    v->map->family, v->scanned ? "scanned" : "unscanned",
			    v->target->narrays, v->plan->ntensors,
			    ck_dtype_name(v->dtype));
	if (err)
		goto fail;
	v->summary = (char *)ck_buf_detach(&sum, NULL);
	*out = v;
	return 0;
fail:
	ck_buf_release(&sum);
	mtview_close(v);
	return err;
}

void mtview_chunk_shape(const struct mtview *v, size_t i, uint64_t *chunk)
{
	struct zarr_info info;

	if (orbax_array_info(&v->target->arrays[i], &info))
		return;
	for (unsigned a = 0; a < info.rank; a++)
		chunk[a] = info.shape[a] ? info.shape[a] : 1;
	if (info.rank && info.shape[0] >= v->chunks && info.shape[0] % v->chunks == 0)
		chunk[0] = info.shape[0] / v->chunks;
}

int mtview_fill(struct mtview *v, size_t i, const uint64_t *start,
		const uint64_t *count, void *buf)
{
	return rv_fill(v->rv, i, start, count, v->dtype, buf, &v->source);
}

void mtview_release(struct mtview *v, size_t i)
{
	if (v->fwd)
		return;	/* the forward engine's cache holds them */
	for (size_t t = 0; t < v->plan->ntensors; t++) {
		const struct plan_tensor *pt = &v->plan->tensors[t];

		for (unsigned k = 0; k < pt->nsrc; k++)
			if (pt->src[k].array == &v->target->arrays[i]) {
				const struct hf_tensor *h = hf_dir_find(v->hf, pt->name);

				if (h)
					hf_dir_drop(v->hf, h);
				break;
			}
	}
}

void mtview_close(struct mtview *v)
{
	if (!v)
		return;
	rv_plan_free(v->rv);
	plan_free(v->plan);
	orbax_close(v->target);
	for (size_t i = 0; i < v->nmaps; i++)
		mapping_free(v->maps[i]);
	free(v->maps);
	free(v->config);
	free(v->summary);
	if (v->fwd)
		mtview_fwd_close(v);
	else
		hf_dir_close(v->hf);
	free(v);
}
