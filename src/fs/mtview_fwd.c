/* SPDX-License-Identifier: MIT */
/*
 * This file implements the MaxText view of a MaxText checkpoint
 * (mtview_fwd_open()): its HF view is the HF side, so a scanned checkpoint
 * is served or written unscanned (and the converse) through the same
 * mappings, both ways.  The HF tensors are read through the HF view's read
 * engine, whose cache computes each group of siblings once.
 */
#include "fs/mtview.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/ckfs.h"
#include "util/ck_err.h"

struct fwd_ref {
	const char *name;
	uint32_t id;
};

static int cmp_ref(const void *pa, const void *pb)
{
	return strcmp(((const struct fwd_ref *)pa)->name,
		      ((const struct fwd_ref *)pb)->name);
}

/* Tensor t's bytes, copied out of the HF view's engine. */
static int fwd_get(void *ctx, const struct plan_tensor *t, const void **data,
		   enum ck_dtype *dtype)
{
	struct mtview *v = ctx;
	const struct hf_tensor *h = hf_dir_find(v->hf, t->name);
	const struct plan_tensor *ft;
	uint8_t *buf;
	uint64_t off = 0;
	uint32_t id;

	if (!h)
		return ck_err(-ENOENT, "%s: no tensor %s", v->hf->path, t->name);
	id = v->fwd_ids[h - v->hf->tensors];
	ft = &v->fwd->plan->tensors[id];
	buf = malloc((size_t)ft->nbytes + 1);
	if (!buf)
		return ck_err(-ENOMEM, "out of memory for %s", t->name);
	while (off < ft->nbytes) {
		ssize_t n = rd_copy(v->fwd->engine, id, off, buf + off,
				    (size_t)(ft->nbytes - off));

		if (n <= 0) {
			free(buf);
			return n < 0 ? (int)n : ck_err(-EIO, "%s: short read", t->name);
		}
		off += (uint64_t)n;
	}
	*data = buf;
	*dtype = ft->dtype;
	return 0;
}

/* get() hands out a copy; put() takes the data back to free it. */
static void fwd_put(void *ctx, const struct plan_tensor *t, const void *data)
{
	(void)ctx;
	(void)t;
	free((void *)data);
}

int mtview_fwd_open(struct mtview *v, const struct ckfs_opts *o)
{
	const struct ckfs_file *cf;
	struct fwd_ref *refs = NULL;
	struct hf_dir *hf = NULL;
	const struct plan *p;
	int err;

	err = ckfs_open(o, &v->fwd);
	if (err)
		return err;
	p = v->fwd->plan;
	cf = ckfs_find(v->fwd, "config.json");
	hf = calloc(1, sizeof(*hf));
	refs = calloc(p->ntensors + 1, sizeof(*refs));
	v->fwd_ids = calloc(p->ntensors + 1, sizeof(*v->fwd_ids));
	if (hf)
		hf->tensors = calloc(p->ntensors + 1, sizeof(*hf->tensors));
	if (!hf || !refs || !v->fwd_ids || !hf->tensors || !cf || cf->kind != CKFS_BYTES) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	hf->path = strdup(o->src);
	v->config = malloc((size_t)cf->size + 1);
	if (!hf->path || !v->config) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	memcpy(v->config, cf->bytes, (size_t)cf->size);
	v->config[cf->size] = '\0';
	v->config_len = (size_t)cf->size;
	for (size_t i = 0; i < p->ntensors; i++)
		refs[i] = (struct fwd_ref){ p->tensors[i].name, (uint32_t)i };
	qsort(refs, p->ntensors, sizeof(*refs), cmp_ref);
	for (size_t i = 0; i < p->ntensors; i++) {
		const struct plan_tensor *t = &p->tensors[refs[i].id];
		struct hf_tensor *h = &hf->tensors[i];

		h->name = t->name;	/* borrowed from the HF view's plan */
		h->dtype = t->dtype;
		h->rank = t->shape.rank;
		memcpy(h->shape, t->shape.d, sizeof(h->shape));
		h->nbytes = t->nbytes;
		v->fwd_ids[i] = refs[i].id;
	}
	hf->ntensors = p->ntensors;
	v->hf = hf;
	hf = NULL;
	v->source = (struct rv_source){ fwd_get, fwd_put, v };
out:
	free(refs);
	if (hf) {
		free(hf->tensors);
		free(hf->path);
		free(hf);
	}
	return err;
}

void mtview_fwd_close(struct mtview *v)
{
	if (v->hf) {
		free(v->hf->tensors);
		free(v->hf->path);
		free(v->hf);
	}
	v->hf = NULL;
	free(v->fwd_ids);
	ckfs_close(v->fwd);
	v->fwd = NULL;
}
