/* SPDX-License-Identifier: MIT */
/*
 * This file implements the streaming decode of large chunks
 * (zarr_stream.h).
 *
 * The decoded chunk arrives in C order, so the window is cut into "units":
 * the rows of one axis k (every index of the axes before it fixed), k the
 * outermost axis whose rows fit in a window.  A window holds whole units,
 * and each run of units with the same indices before k is one box of the
 * chunk: a piece for the visitor, cut to the wanted sub-box.
 */
#include "zarr/zarr_stream.h"

#include <errno.h>
#include <string.h>

#include "codec/codec.h"
#include "util/ck_err.h"
#include "zarr/zarr_shard.h"

/* The pipeline holding the zstd stream: m's own, or its single-chunk
 * shard's inner one.  NULL when the chunk is not one zstd stream. */
static const struct zarr_pipeline *stream_pipeline(const struct zarr_meta *m)
{
	const struct zarr_pipeline *p = m->codecs;

	if (p->shard) {
		if (p->transposed || p->nb2b || p->shard->k != 1)
			return NULL;
		p = p->shard->inner;
	}
	if (p->shard || p->transposed || (p->big_endian && m->itemsize > 1) ||
	    p->nb2b != 1 || strcmp(p->b2b[0].codec->name, "zstd"))
		return NULL;
	return p;
}

int zarr_stream_applies(const struct zarr_meta *m)
{
	return m->chunk_bytes >= ZARR_STREAM_MIN_BYTES && stream_pipeline(m) != NULL &&
	       m->dtype != CK_DT_C64 && m->dtype != CK_DT_C128;
}

/* One streaming decode. */
struct zstream {
	const struct zarr_meta *m;
	const struct kvstore *kv;
	const struct kv_value *v;
	uint64_t base;			/* the zstd stream's offset in v */
	const uint64_t *sublo, *subn, *dpos;
	unsigned k;			/* the unit axis */
	uint64_t unit;			/* bytes of one unit */
	uint64_t stride[ZARR_MAX_RANK];	/* the chunk's element strides */
	zarr_visit_fn fn;
	void *ctx;
};

static int zs_read(void *ctx, uint64_t off, void *buf, size_t n)
{
	const struct zstream *z = ctx;

	return kvstore_read(z->kv, z->v, z->base + off, buf, n);
}

/* Hand the visitor the wanted part of units [u, u + nu) of axis k, which
 * share their indices before k (idx), starting at p. */
static int zs_run(const struct zstream *z, const uint64_t *idx, uint64_t a,
		  uint64_t na, const uint8_t *p)
{
	const struct zarr_meta *m = z->m;
	uint64_t pos[ZARR_MAX_RANK], n[ZARR_MAX_RANK], lo, hi, off = 0;
	unsigned k = z->k;

	for (unsigned j = 0; j < k; j++) {
		if (idx[j] < z->sublo[j] || idx[j] >= z->sublo[j] + z->subn[j])
			return 0;
		pos[j] = z->dpos[j] + idx[j] - z->sublo[j];
		n[j] = 1;
	}
	lo = a > z->sublo[k] ? a : z->sublo[k];
	hi = a + na < z->sublo[k] + z->subn[k] ? a + na : z->sublo[k] + z->subn[k];
	if (lo >= hi)
		return 0;
	pos[k] = z->dpos[k] + lo - z->sublo[k];
	n[k] = hi - lo;
	off = (lo - a) * z->stride[k];
	for (unsigned j = k + 1; j < m->rank; j++) {
		pos[j] = z->dpos[j];
		n[j] = z->subn[j];
		off += z->sublo[j] * z->stride[j];
	}
	return z->fn(z->ctx, pos, n, p + off * m->itemsize, z->stride);
}

/* codec_zstd_stream's emit: a window of whole units. */
static int zs_emit(void *ctx, uint64_t out_off, const uint8_t *p, size_t len)
{
	const struct zstream *z = ctx;
	const struct zarr_meta *m = z->m;
	uint64_t u = out_off / z->unit, end = u + len / z->unit;

	while (u < end) {
		uint64_t idx[ZARR_MAX_RANK], rem = u, a, na;
		int err;

		/* unit u: index a on axis k, idx[] on the axes before it */
		a = rem % m->chunk[z->k];
		rem /= m->chunk[z->k];
		for (unsigned j = z->k; j-- > 0;) {
			idx[j] = rem % m->chunk[j];
			rem /= m->chunk[j];
		}
		na = m->chunk[z->k] - a < end - u ? m->chunk[z->k] - a : end - u;
		err = zs_run(z, idx, a, na, p + (u * z->unit - out_off));
		if (err)
			return err;
		u += na;
	}
	return 0;
}

/* Where the zstd stream of v lies: all of it, or the shard's one inner
 * chunk.  ZARR_NOT_STREAMED when that chunk is missing. */
static int locate(const struct zarr_meta *m, const struct kvstore *kv,
		  const struct kv_value *v, uint64_t *off, uint64_t *len)
{
	const struct zarr_shard *sh = m->codecs->shard;
	uint64_t ioff, dlo, dhi, entries[2];
	uint8_t enc[20];
	int err;

	if (!sh) {
		*off = 0;
		*len = v->length;
		return 0;
	}
	if (sh->index_bytes > sizeof(enc))
		return ZARR_NOT_STREAMED;
	err = zarr_shard_index_locate(sh, v->length, &ioff, &dlo, &dhi);
	if (!err)
		err = kvstore_read(kv, v, ioff, enc, (size_t)sh->index_bytes);
	if (!err)
		err = zarr_shard_index_decode(sh, enc, (size_t)sh->index_bytes, dlo, dhi,
					      entries);
	if (err)
		return err;
	if (entries[0] == ZARR_SHARD_MISSING)
		return ZARR_NOT_STREAMED;
	*off = entries[0];
	*len = entries[1];
	return 0;
}

int zarr_stream_chunk(const struct zarr_meta *m, const struct kvstore *kv,
		      const struct kv_value *v, const uint64_t *sublo,
		      const uint64_t *subn, const uint64_t *dpos, zarr_visit_fn fn,
		      void *ctx)
{
	struct zstream z = { m, kv, v, 0, sublo, subn, dpos, 0, m->itemsize, { 0 }, fn,
			     ctx };
	struct codec_zstd_stream s = { 0 };
	uint64_t len;
	unsigned k;
	int err;

	if (!stream_pipeline(m) || m->rank == 0)
		return ZARR_NOT_STREAMED;
	err = locate(m, kv, v, &z.base, &len);
	if (err)
		return err;
	kvstore_prefetch(kv, v, z.base, len);	/* on its way while we decode */
	/* k: the outermost axis whose rows fit a window. */
	for (k = m->rank; k-- > 0;) {
		z.stride[k] = k + 1 < m->rank ? z.stride[k + 1] * m->chunk[k + 1] : 1;
		if (z.stride[k] * m->itemsize <= ZARR_STREAM_WINDOW)
			z.k = k;
	}
	z.unit = z.stride[z.k] * m->itemsize;
	s.in_len = len;
	s.out_len = m->chunk_bytes;
	s.win = (size_t)(ZARR_STREAM_WINDOW / z.unit * z.unit);
	s.read = zs_read;
	s.emit = zs_emit;
	s.ctx = &z;
	return codec_zstd_decode_stream(&s);
}
