/* SPDX-License-Identifier: MIT */
/*
 * This file implements mtview_write(): the MaxText view written as the
 * checkpoint to_maxtext.py writes, one array at a time, each chunk computed
 * and compressed on worker threads as soon as it is asked for.  Memory: the
 * chunks in flight, the computed-slice cache, and the pages of the HF
 * tensors feeding the array being written (dropped once it is done).
 */
#include "fs/mtview.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orbax/orbax_writer.h"
#include "util/ck_err.h"

/* Orbax's zstd level for zarr v3 chunks (orbax-format.md §3). */
#define MTVIEW_ZSTD_LEVEL 3

struct wctx {
	struct mtview *v;
	size_t array;
	unsigned rank;
	uint64_t chunk[ZARR_MAX_RANK];
	mtview_progress_fn progress;
	void *pctx;
	uint64_t base;			/* bytes of the arrays before this one */
};

/* Copy a dense box of count into a chunk buffer of chunk's shape. */
static void place(const uint8_t *box, const uint64_t *count, const uint64_t *chunk,
		  unsigned rank, size_t isz, uint8_t *buf)
{
	uint64_t idx[ZARR_MAX_RANK] = { 0 }, rows = 1, row = count[rank - 1] * isz;

	for (unsigned a = 0; a + 1 < rank; a++)
		rows *= count[a];
	for (uint64_t r = 0; r < rows; r++) {
		uint64_t off = 0;

		for (unsigned a = 0; a + 1 < rank; a++)
			off = off * chunk[a] + idx[a];
		memcpy(buf + off * chunk[rank - 1] * isz, box + r * row, (size_t)row);
		for (unsigned a = rank - 1; a-- > 0;) {
			if (++idx[a] < count[a])
				break;
			idx[a] = 0;
		}
	}
}

static int fill(void *ctx, const uint64_t *chunk_idx, const uint64_t *start,
		const uint64_t *count, void *buf)
{
	struct wctx *w = ctx;
	size_t isz = ck_dtype_size(w->v->dtype);
	uint64_t n = isz;
	uint8_t *box;
	int whole = 1, err;

	(void)chunk_idx;
	for (unsigned a = 0; a < w->rank; a++) {
		n *= count[a];
		whole &= count[a] == w->chunk[a];
	}
	if (whole || !w->rank)
		return mtview_fill(w->v, w->array, start, count, buf);
	box = malloc((size_t)n + 1);
	if (!box)
		return ck_err(-ENOMEM, "out of memory");
	err = mtview_fill(w->v, w->array, start, count, box);
	if (!err && n)
		place(box, count, w->chunk, w->rank, isz, buf);
	free(box);
	return err;
}

static int progress(void *ctx, const char *name, uint64_t done, uint64_t total)
{
	struct wctx *w = ctx;

	(void)total;
	if (w->progress)
		w->progress(w->pctx, w->base + done, w->v->total_bytes, name);
	return 0;
}

static unsigned ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

int mtview_write(struct mtview *v, const char *out, unsigned threads,
		 mtview_progress_fn prog, void *ctx)
{
	struct orbax_writer_opts o = ORBAX_WRITER_OPTS_INIT;
	struct wctx w = { v, 0, 0, { 0 }, prog, ctx, 0 };
	struct orbax_writer *ow = NULL;
	int err;

	o.layout = ORBAX_LAYOUT_OCDBT_MULTIHOST;
	o.ocdbt.data_base_db = 1;
	o.scan_layers = v->scanned;
	o.progress = progress;
	o.progress_ctx = &w;
	o.sharding_device = "cpu:0";
	err = orbax_writer_open(out, 0, &o, &ow);
	if (err)
		return ck_err_ctx(err, "%s", out);
	for (size_t i = 0; i < v->target->narrays && !err; i++) {
		const struct orbax_array *a = &v->target->arrays[i];
		struct zarr_write_spec s = { 0 };
		struct zarr_info info;

		err = orbax_array_info(a, &info);
		if (err)
			break;
		s.zarr_format = 3;
		s.dtype = v->dtype;
		s.rank = info.rank;
		memcpy(s.shape, info.shape, sizeof(s.shape));
		mtview_chunk_shape(v, i, s.chunk);
		s.zstd_level = MTVIEW_ZSTD_LEVEL;
		w.array = i;
		w.rank = info.rank;
		memcpy(w.chunk, s.chunk, sizeof(w.chunk));
		err = orbax_writer_add_cb(ow, a->name, &s, fill, &w,
					  threads ? threads : ncpus());
		if (err)
			err = ck_err_ctx(err, "%s", a->name);
		mtview_release(v, i);
		w.base += info.nbytes;
	}
	if (!err)
		err = orbax_writer_add_param_only_leaves(ow, MTVIEW_ZSTD_LEVEL);
	if (!err)
		err = orbax_writer_commit(ow);
	orbax_writer_free(ow);
	return err;
}
