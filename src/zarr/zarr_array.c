/* SPDX-License-Identifier: MIT */
/* This file implements opening zarr arrays in a kvstore and reading boxes of
 * them (zarr_array.h). */
#include "zarr/zarr_array.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvstore/kvstore.h"
#include "util/ck_err.h"
#include "zarr/zarr_meta.h"
#include "zarr/zarr_shard.h"
#include "zarr/zarr_stream.h"

/*
 * Design note.  A read walks the outer chunk grid cells that intersect the
 * box.  Each cell's value is decoded by chunk_read_box(), which is given the
 * sub-box of the chunk that is wanted and where it goes in dst:
 *   - a chunk whose pipeline is exactly sharding_indexed (no transpose, no
 *     bytes->bytes codec around it, the Orbax and zarrs layout) is read in
 *     place: only the index and the inner chunks that intersect the sub-box
 *     are fetched, each with its own ranged kvstore_read();
 *   - anything else is fetched whole, decoded into a full-size chunk buffer
 *     (b2b codecs in reverse, then bytes/sharding, then the inverse
 *     transpose) and the sub-box is copied out; when the sub-box is the whole
 *     chunk and dst is laid out like it, the decode goes straight into dst.
 * Inner chunks recurse into chunk_read_box() with the shard's inner
 * pipeline.  All state lives on the stack of one call; the only shared
 * mutable fields are the atomic decode counters.  A large read over several
 * cells reads them on one thread per core: they write disjoint parts of
 * dst.
 */

/* Reads of at least this many bytes over several chunks use up to one
 * thread per core (per chunk from a remote store), at most
 * ZARR_MAX_THREADS. */
#define ZARR_PARALLEL_MIN_BYTES ((uint64_t)1 << 20)
#define ZARR_MAX_THREADS 16

/* Cap on one stored value (or an intermediate decoded buffer). */
#define ZARR_MAX_VALUE_BYTES (2 * ZARR_MAX_CHUNK_BYTES + ZARR_SHARD_MAX_INDEX_BYTES)

struct zarr_array {
	const struct kvstore *kv;	/* borrowed; outlives the array */
	char *prefix;			/* "<name>/" ("" for the root) */
	struct zarr_meta *meta;		/* owned */
	_Atomic uint64_t ndecodes;	/* chunk decodes so far (atomic) */
	_Atomic uint64_t ndecoded;	/* bytes those decodes produced
					   (atomic) */
};

/* Per-read context: which value the current chunk is in. */
struct zarr_rctx {
	const struct zarr_array *a;	/* the array being read */
	const struct kv_value *v;	/* the outer chunk's value */
};

/* Encoded bytes of one (inner) chunk. */
struct zarr_src {
	const uint8_t *mem;		/* non-NULL: the bytes are here */
	uint64_t off;			/* else: at this offset of rctx->v */
	uint64_t len;			/* length in bytes */
};

/* ------------------------------------------------------------------ */
/* N-d helpers */

static void cstrides(unsigned rank, const uint64_t *shape, size_t isz,
		     size_t *s)
{
	size_t acc = isz;
	unsigned i;

	for (i = rank; i-- > 0;) {
		s[i] = acc;
		acc *= (size_t)shape[i];
	}
}

static size_t box_offset(unsigned rank, const uint64_t *pos, const size_t *s)
{
	size_t o = 0;
	unsigned i;

	for (i = 0; i < rank; i++)
		o += (size_t)pos[i] * s[i];
	return o;
}

/*
 * Copy the box of shape n from src (byte strides ss) to dst (byte strides
 * ds); with fill non-NULL, write that element everywhere instead.
 */
static void nd_copy(unsigned rank, const uint64_t *n, const uint8_t *src,
		    const size_t *ss, uint8_t *dst, const size_t *ds, size_t isz,
		    const uint8_t *fill)
{
	uint64_t idx[ZARR_MAX_RANK] = { 0 };
	size_t so = 0, doff = 0, j, zero = 1, last;
	int d;

	if (rank == 0) {
		memcpy(dst, fill ? fill : src, isz);
		return;
	}
	for (d = 0; d < (int)rank; d++)
		if (n[d] == 0)
			return;
	if (fill)
		for (j = 0; j < isz; j++)
			zero &= fill[j] == 0;
	last = rank - 1;
	for (;;) {
		if (fill && zero && ds[last] == isz)
			memset(dst + doff, 0, (size_t)n[last] * isz);
		else if (fill)
			for (j = 0; j < n[last]; j++)
				memcpy(dst + doff + j * ds[last], fill, isz);
		else if (ss[last] == isz && ds[last] == isz)
			memcpy(dst + doff, src + so, (size_t)n[last] * isz);
		else
			for (j = 0; j < n[last]; j++)
				memcpy(dst + doff + j * ds[last], src + so + j * ss[last],
				       isz);
		for (d = (int)last - 1; d >= 0; d--) {
			so += fill ? 0 : ss[d];
			doff += ds[d];
			if (++idx[d] < n[d])
				break;
			so -= fill ? 0 : ss[d] * (size_t)n[d];
			doff -= ds[d] * (size_t)n[d];
			idx[d] = 0;
		}
		if (d < 0)
			return;
	}
}

typedef int (*grid_cell_cb)(void *ctx, const uint64_t *cell,
			    const uint64_t *sublo, const uint64_t *subn,
			    const uint64_t *dpos);

/*
 * Call cb for each cell of a grid of cells of shape `chunk` that intersects
 * the box [lo, lo+n) (n all > 0), with the intersection relative to the cell
 * (sublo, subn) and its position relative to lo (dpos).
 */
static int grid_walk(unsigned rank, const uint64_t *chunk, const uint64_t *lo,
		     const uint64_t *n, grid_cell_cb cb, void *ctx)
{
	uint64_t c0[ZARR_MAX_RANK], c1[ZARR_MAX_RANK], cell[ZARR_MAX_RANK];
	uint64_t sublo[ZARR_MAX_RANK] = { 0 }, subn[ZARR_MAX_RANK] = { 0 },
		 dpos[ZARR_MAX_RANK] = { 0 };
	unsigned i;
	int d, err;

	for (i = 0; i < rank; i++) {
		c0[i] = lo[i] / chunk[i];
		c1[i] = (lo[i] + n[i] - 1) / chunk[i];
		cell[i] = c0[i];
	}
	for (;;) {
		for (i = 0; i < rank; i++) {
			uint64_t org = cell[i] * chunk[i];
			uint64_t a = lo[i] > org ? lo[i] : org;
			uint64_t b = lo[i] + n[i] < org + chunk[i] ? lo[i] + n[i]
								    : org + chunk[i];

			sublo[i] = a - org;
			subn[i] = b - a;
			dpos[i] = a - lo[i];
		}
		err = cb(ctx, cell, sublo, subn, dpos);
		if (err)
			return err;
		for (d = (int)rank - 1; d >= 0; d--) {
			if (++cell[d] <= c1[d])
				break;
			cell[d] = c0[d];
		}
		if (d < 0)
			return 0;
	}
}

static void byteswap(uint8_t *p, size_t nbytes, size_t unit)
{
	size_t i, j;

	if (unit < 2)
		return;
	for (i = 0; i + unit <= nbytes; i += unit)
		for (j = 0; j < unit / 2; j++) {
			uint8_t t = p[i + j];

			p[i + j] = p[i + unit - 1 - j];
			p[i + unit - 1 - j] = t;
		}
}

/* ------------------------------------------------------------------ */
/* Sources */

static int src_read(const struct zarr_rctx *rc, const struct zarr_src *s,
		    uint64_t off, void *buf, size_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(off, (uint64_t)len, &end) || end > s->len)
		return ck_err(-EIO, "read of %zu bytes at %llu past the end of a %llu-byte value",
			      len, (unsigned long long)off, (unsigned long long)s->len);
	if (s->mem) {
		memcpy(buf, s->mem + off, len);
		return 0;
	}
	return kvstore_read(rc->a->kv, rc->v, s->off + off, buf, len);
}

/* Borrow the bytes of s, or read them into *owned. */
static int src_load(const struct zarr_rctx *rc, const struct zarr_src *s,
		    const uint8_t **p, uint8_t **owned)
{
	uint8_t *b;
	int err;

	if (s->mem) {
		*p = s->mem;
		*owned = NULL;
		return 0;
	}
	if (s->len > ZARR_MAX_VALUE_BYTES)
		return ck_err(-EOVERFLOW, "stored chunk of %llu bytes is too large",
			      (unsigned long long)s->len);
	b = malloc(s->len ? (size_t)s->len : 1);
	if (!b)
		return -ENOMEM;
	err = src_read(rc, s, 0, b, (size_t)s->len);
	if (err) {
		free(b);
		return err;
	}
	*p = b;
	*owned = b;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Decoding */

static int chunk_read_box(const struct zarr_rctx *rc,
			  const struct zarr_pipeline *p, const uint64_t *shape,
			  const struct zarr_src *src, const uint64_t *lo,
			  const uint64_t *n, uint8_t *dst, const size_t *ds);

/* Decode with an output size that is not known in advance. */
static int b2b_decode_grow(const struct zarr_b2b *b, const uint8_t *in,
			   size_t inlen, uint8_t **out, size_t *outlen)
{
	size_t cap = inlen > ((size_t)16 << 10) ? inlen * 4 : (size_t)64 << 10;
	uint8_t *buf;
	int err;

	for (;;) {
		if (cap > ZARR_MAX_VALUE_BYTES)
			cap = ZARR_MAX_VALUE_BYTES;
		buf = malloc(cap);
		if (!buf)
			return -ENOMEM;
		err = b->codec->decode(&b->params, in, inlen, buf, cap, outlen);
		if (!err) {
			*out = buf;
			return 0;
		}
		free(buf);
		if (err != -EOVERFLOW || cap >= ZARR_MAX_VALUE_BYTES)
			return err;
		cap *= 2;
	}
}

/*
 * Run the bytes->bytes codecs of p backwards over in.  The last decode goes
 * into final (final_len bytes, which must come out exactly) when final is
 * non-NULL.  *res, *reslen is the result: final, or *owned (caller frees).
 */
static int b2b_decode(const struct zarr_pipeline *p, const uint8_t *in,
		      size_t inlen, uint8_t *final, size_t final_len,
		      const uint8_t **res, size_t *reslen, uint8_t **owned)
{
	const uint8_t *cur = in;
	uint8_t *cur_own = NULL, *next;
	size_t curlen = inlen, got;
	size_t i;
	int err;

	for (i = p->nb2b; i-- > 0;) {
		const struct zarr_b2b *b = &p->b2b[i];

		if (i == 0 && final) {
			err = b->codec->decode(&b->params, cur, curlen, final,
					       final_len, &got);
			if (err == -EOVERFLOW)
				err = ck_err(-EIO, "%s: chunk decodes to more than %zu bytes",
					     b->codec->name, final_len);
			else if (!err && got != final_len)
				err = ck_err(-EIO, "%s: chunk decodes to %zu bytes, expected %zu",
					     b->codec->name, got, final_len);
			free(cur_own);
			if (err)
				return err;
			*res = final;
			*reslen = got;
			*owned = NULL;
			return 0;
		}
		err = b2b_decode_grow(b, cur, curlen, &next, &got);
		free(cur_own);
		if (err)
			return err;
		cur = cur_own = next;
		curlen = got;
	}
	*res = cur;
	*reslen = curlen;
	*owned = cur_own;
	return 0;
}

static int shard_read_box(const struct zarr_rctx *rc,
			  const struct zarr_shard *sh, const struct zarr_src *src,
			  const uint64_t *lo, const uint64_t *n, uint8_t *dst,
			  const size_t *ds);

/* Decode a whole chunk of the given shape into out (C order, LE). */
static int chunk_decode_full(const struct zarr_rctx *rc,
			     const struct zarr_pipeline *p, const uint64_t *shape,
			     const struct zarr_src *src, uint8_t *out)
{
	const struct zarr_meta *m = rc->a->meta;
	uint64_t enc_shape[ZARR_MAX_RANK], zero[ZARR_MAX_RANK] = { 0 };
	size_t es[ZARR_MAX_RANK], ss[ZARR_MAX_RANK], os[ZARR_MAX_RANK];
	size_t bytes = m->itemsize, curlen = 0;
	const uint8_t *in = NULL, *cur;
	uint8_t *in_own = NULL, *b2b_own = NULL, *enc = out, *tmp = NULL;
	unsigned i;
	int err;

	for (i = 0; i < m->rank; i++) {
		enc_shape[i] = shape[p->perm[i]];
		bytes *= (size_t)shape[i];
	}
	if (p->transposed) {
		tmp = malloc(bytes ? bytes : 1);
		if (!tmp)
			return -ENOMEM;
		enc = tmp;
	}
	err = src_load(rc, src, &in, &in_own);
	if (err)
		goto out;
	cur = in;
	curlen = (size_t)src->len;
	if (p->nb2b) {
		err = b2b_decode(p, in, curlen, p->shard ? NULL : enc, bytes, &cur,
				 &curlen, &b2b_own);
		if (err)
			goto out;
	}
	if (p->shard) {
		struct zarr_src ms = { .mem = cur, .off = 0, .len = curlen };

		cstrides(m->rank, enc_shape, m->itemsize, es);
		err = shard_read_box(rc, p->shard, &ms, zero, enc_shape, enc, es);
		if (err)
			goto out;
	} else {
		if (cur != enc) {
			if (curlen != bytes) {
				err = ck_err(-EIO, "chunk is %zu bytes, expected %zu", curlen,
					     bytes);
				goto out;
			}
			memcpy(enc, cur, bytes);
		}
		if (p->big_endian)
			byteswap(enc, bytes, m->dtype == CK_DT_C64 || m->dtype == CK_DT_C128
						     ? m->itemsize / 2 : m->itemsize);
		atomic_fetch_add_explicit(&((struct zarr_array *)rc->a)->ndecodes, 1,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&((struct zarr_array *)rc->a)->ndecoded,
					  (uint64_t)bytes, memory_order_relaxed);
	}
	if (p->transposed) {
		/* Output dim perm[i] is encoded dim i. */
		cstrides(m->rank, enc_shape, m->itemsize, es);
		for (i = 0; i < m->rank; i++)
			ss[p->perm[i]] = es[i];
		cstrides(m->rank, shape, m->itemsize, os);
		nd_copy(m->rank, shape, tmp, ss, out, os, m->itemsize, NULL);
	}
out:
	free(b2b_own);
	free(in_own);
	free(tmp);
	return err;
}

static int chunk_read_box(const struct zarr_rctx *rc,
			  const struct zarr_pipeline *p, const uint64_t *shape,
			  const struct zarr_src *src, const uint64_t *lo,
			  const uint64_t *n, uint8_t *dst, const size_t *ds)
{
	const struct zarr_meta *m = rc->a->meta;
	size_t cs[ZARR_MAX_RANK], bytes = m->itemsize;
	uint8_t *buf;
	int whole = 1, err;
	unsigned i;

	if (p->shard && !p->transposed && p->nb2b == 0)
		return shard_read_box(rc, p->shard, src, lo, n, dst, ds);
	cstrides(m->rank, shape, m->itemsize, cs);
	for (i = 0; i < m->rank; i++) {
		bytes *= (size_t)shape[i];
		whole &= lo[i] == 0 && n[i] == shape[i] &&
			 (ds[i] == cs[i] || (i == 0 && n[0] == 1));
	}
	if (whole)
		return chunk_decode_full(rc, p, shape, src, dst);
	buf = malloc(bytes ? bytes : 1);
	if (!buf)
		return -ENOMEM;
	err = chunk_decode_full(rc, p, shape, src, buf);
	if (!err)
		nd_copy(m->rank, n, buf + box_offset(m->rank, lo, cs), cs, dst, ds,
			m->itemsize, NULL);
	free(buf);
	return err;
}

/* State of one shard_read_box() walk over the inner grid. */
struct zarr_shard_walk {
	const struct zarr_rctx *rc;	/* the read */
	const struct zarr_shard *sh;	/* the shard codec */
	const struct zarr_src *src;	/* the shard's bytes */
	const uint64_t *entries;	/* decoded index, 2 per inner chunk */
	uint8_t *dst;			/* where the box starts */
	const size_t *ds;		/* dst byte strides */
};

static int shard_cell(void *ctx, const uint64_t *cell, const uint64_t *sublo,
		      const uint64_t *subn, const uint64_t *dpos)
{
	const struct zarr_shard_walk *w = ctx;
	const struct zarr_meta *m = w->rc->a->meta;
	uint64_t lin = 0, off, len;
	uint8_t *d = w->dst + box_offset(m->rank, dpos, w->ds);
	struct zarr_src sub;
	unsigned i;
	int err;

	for (i = 0; i < w->sh->rank; i++)
		lin = lin * w->sh->grid[i] + cell[i];
	off = w->entries[2 * lin];
	len = w->entries[2 * lin + 1];
	if (off == ZARR_SHARD_MISSING) {
		nd_copy(m->rank, subn, NULL, NULL, d, w->ds, m->itemsize, m->fill);
		return 0;
	}
	sub.mem = w->src->mem ? w->src->mem + off : NULL;
	sub.off = w->src->mem ? 0 : w->src->off + off;
	sub.len = len;
	err = chunk_read_box(w->rc, w->sh->inner, w->sh->chunk, &sub, sublo, subn,
			     d, w->ds);
	if (err)
		return ck_err_ctx(err, "inner chunk %llu", (unsigned long long)lin);
	return 0;
}

static int shard_read_box(const struct zarr_rctx *rc,
			  const struct zarr_shard *sh, const struct zarr_src *src,
			  const uint64_t *lo, const uint64_t *n, uint8_t *dst,
			  const size_t *ds)
{
	struct zarr_shard_walk w = { rc, sh, src, NULL, dst, ds };
	uint64_t ioff, dlo, dhi, *entries = NULL;
	uint8_t *enc = NULL;
	int err;

	err = zarr_shard_index_locate(sh, src->len, &ioff, &dlo, &dhi);
	if (err)
		return err;
	enc = malloc((size_t)sh->index_bytes);
	entries = malloc((size_t)sh->k * 16);
	if (!enc || !entries) {
		err = -ENOMEM;
		goto out;
	}
	err = src_read(rc, src, ioff, enc, (size_t)sh->index_bytes);
	if (err)
		goto out;
	err = zarr_shard_index_decode(sh, enc, (size_t)sh->index_bytes, dlo, dhi,
				      entries);
	if (err)
		goto out;
	w.entries = entries;
	err = grid_walk(sh->rank, sh->chunk, lo, n, shard_cell, &w);
out:
	free(enc);
	free(entries);
	return err;
}

/* ------------------------------------------------------------------ */
/* Public API */

static char *str_cat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

static int load_meta(const struct kvstore *kv, const char *key, int fmt,
		     struct zarr_meta **out)
{
	struct kv_value v;
	char *text = NULL;
	int err = kvstore_get(kv, key, strlen(key), &v);

	if (err)
		return err;
	if (v.length > ZARR_MAX_META_BYTES) {
		err = ck_err(-EOVERFLOW, "metadata is %llu bytes, more than %zu",
			     (unsigned long long)v.length, ZARR_MAX_META_BYTES);
		goto out;
	}
	text = malloc((size_t)v.length + 1);
	if (!text) {
		err = -ENOMEM;
		goto out;
	}
	err = kvstore_read(kv, &v, 0, text, (size_t)v.length);
	if (!err)
		err = zarr_meta_parse(text, (size_t)v.length, fmt, out);
out:
	free(text);
	if (err)
		return ck_err_ctx(err == -ENOENT ? -EIO : err, "%s: key '%s'", v.file,
				  key);
	return 0;
}

int zarr_array_open(const struct kvstore *kv, const char *name,
		    struct zarr_array **out)
{
	struct zarr_array *a = NULL;
	char *key = NULL;
	int err;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->kv = kv;
	atomic_init(&a->ndecodes, 0);
	atomic_init(&a->ndecoded, 0);
	a->prefix = str_cat(name, name[0] ? "/" : "");
	key = a->prefix ? str_cat(a->prefix, "zarr.json") : NULL;
	if (!key) {
		err = -ENOMEM;
		goto out;
	}
	err = load_meta(kv, key, 3, &a->meta);
	if (err == -ENOENT) {
		free(key);
		key = str_cat(a->prefix, ".zarray");
		err = key ? load_meta(kv, key, 2, &a->meta) : -ENOMEM;
		if (err == -ENOENT)
			err = ck_err(-ENOENT, "no zarr array '%s' (neither '%szarr.json' nor '%s.zarray')",
				     name, a->prefix, a->prefix);
	}
	if (err)
		goto out;
	*out = a;
	a = NULL;
out:
	free(key);
	zarr_array_free(a);
	return err;
}

/* Accumulator of zarr_array_info(). */
struct zarr_info_walk {
	const struct zarr_array *a;	/* the array */
	size_t plen;			/* length of a->prefix */
	struct zarr_info *info;		/* stored_* fields accumulate here */
};

static int info_key(void *ctx, const char *key, size_t keylen,
		    const struct kv_value *v)
{
	struct zarr_info_walk *w = ctx;
	uint64_t idx[ZARR_MAX_RANK];

	if (zarr_meta_parse_chunk_key(w->a->meta, key + w->plen, keylen - w->plen,
				      idx) == 0) {
		w->info->stored_chunks++;
		w->info->stored_bytes += v->length;
	}
	return 0;
}

int zarr_array_info(const struct zarr_array *a, struct zarr_info *info)
{
	const struct zarr_meta *m = a->meta;
	struct zarr_info tmp = { 0 };
	struct zarr_info_walk w = { a, strlen(a->prefix), &tmp };
	int err;

	tmp.zarr_format = m->zarr_format;
	tmp.dtype = m->dtype;
	tmp.rank = m->rank;
	memcpy(tmp.shape, m->shape, sizeof(m->shape));
	memcpy(tmp.chunk, m->chunk, sizeof(m->chunk));
	tmp.nchunks = m->nchunks;
	tmp.nbytes = m->nbytes;
	err = kvstore_list(a->kv, a->prefix, w.plen, info_key, &w);
	if (err)
		return ck_err_ctx(err, "listing chunks of '%s'", a->prefix);
	*info = tmp;
	return 0;
}

/* State of one zarr_array_read() walk over the outer grid. */
struct zarr_read_walk {
	const struct zarr_array *a;	/* the array */
	uint8_t *dst;			/* caller's buffer (a read) */
	size_t ds[ZARR_MAX_RANK];	/* its byte strides */
	zarr_visit_fn visit;		/* or the visitor (a visit) */
	void *vctx;
	uint8_t *piece;			/* a visit's cell buffer, per thread */
	size_t piececap;
	char *key;			/* key buffer, prefix already in place */
	size_t plen;			/* length of the prefix */
	size_t keycap;			/* size of key */
};

/* A visit: where read_cell decodes a cell's part of the box, dense.
 * NULL with -ENOMEM or -EOVERFLOW. */
static uint8_t *piece_buf(struct zarr_read_walk *w, const uint64_t *subn,
			  size_t *ds, int *err)
{
	const struct zarr_meta *m = w->a->meta;
	size_t bytes = m->itemsize;

	for (unsigned i = 0; i < m->rank; i++)
		if (__builtin_mul_overflow(bytes, (size_t)subn[i], &bytes)) {
			*err = ck_err(-EOVERFLOW, "chunk too large");
			return NULL;
		}
	cstrides(m->rank, subn, m->itemsize, ds);
	if (w->piececap < bytes) {
		free(w->piece);
		w->piece = malloc(bytes);
		w->piececap = w->piece ? bytes : 0;
		if (!w->piece) {
			*err = ck_err(-ENOMEM, "out of memory");
			return NULL;
		}
	}
	return w->piece;
}

static int read_cell(void *ctx, const uint64_t *cell, const uint64_t *sublo,
		     const uint64_t *subn, const uint64_t *dpos)
{
	struct zarr_read_walk *w = ctx;
	const struct zarr_meta *m = w->a->meta;
	size_t pds[ZARR_MAX_RANK];
	uint64_t es[ZARR_MAX_RANK];
	const size_t *ds = w->ds;
	uint8_t *d;
	struct zarr_rctx rc;
	struct zarr_src src;
	struct kv_value v;
	int len, err = 0;

	len = zarr_meta_chunk_key(m, cell, w->key + w->plen, w->keycap - w->plen);
	if (len < 0)
		return ck_err(len, "chunk key too long");
	err = kvstore_get(w->a->kv, w->key, w->plen + (size_t)len, &v);
	if (!err && w->visit && zarr_stream_applies(m)) {
		/* A large chunk: decoded a window at a time, never whole. */
		err = zarr_stream_chunk(m, w->a->kv, &v, sublo, subn, dpos, w->visit, w->vctx);
		if (!err) {
			atomic_fetch_add_explicit(&((struct zarr_array *)w->a)->ndecodes, 1,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&((struct zarr_array *)w->a)->ndecoded,
						  m->chunk_bytes, memory_order_relaxed);
		}
		if (err != ZARR_NOT_STREAMED)
			return err ? ck_err_ctx(err, "%s: key '%s'", v.file, w->key) : 0;
		err = 0;
	}
	if (w->visit) {
		d = piece_buf(w, subn, pds, &err);
		if (!d)
			return err;
		ds = pds;
	} else {
		d = w->dst + box_offset(m->rank, dpos, w->ds);
	}
	if (err == -ENOENT) {
		nd_copy(m->rank, subn, NULL, NULL, d, ds, m->itemsize, m->fill);
		err = 0;
	} else if (err) {
		return ck_err_ctx(err, "key '%s'", w->key);
	} else {
		rc.a = w->a;
		rc.v = &v;
		src.mem = NULL;
		src.off = 0;
		src.len = v.length;
		err = chunk_read_box(&rc, m->codecs, m->chunk, &src, sublo, subn, d, ds);
		if (err)
			return ck_err_ctx(err, "%s: key '%s'", v.file, w->key);
	}
	if (!w->visit)
		return 0;
	for (unsigned i = 0; i < m->rank; i++)
		es[i] = pds[i] / m->itemsize;
	return w->visit(w->vctx, dpos, subn, d, es);
}

/* One outer cell of a read, collected for the threads. */
struct zarr_cell {
	uint64_t cell[ZARR_MAX_RANK], sublo[ZARR_MAX_RANK], subn[ZARR_MAX_RANK],
		 dpos[ZARR_MAX_RANK];
};

struct zarr_cells {
	struct zarr_cell *v;
	size_t n, cap;
};

static int collect_cell(void *ctx, const uint64_t *cell, const uint64_t *sublo,
			const uint64_t *subn, const uint64_t *dpos)
{
	struct zarr_cells *c = ctx;
	struct zarr_cell *e;

	if (c->n == c->cap)
		return -E2BIG;	/* caller falls back to the serial walk */
	e = &c->v[c->n++];
	memcpy(e->cell, cell, sizeof(e->cell));
	memcpy(e->sublo, sublo, sizeof(e->sublo));
	memcpy(e->subn, subn, sizeof(e->subn));
	memcpy(e->dpos, dpos, sizeof(e->dpos));
	return 0;
}

/* Threads reading the collected cells: each takes the next cell. */
struct zarr_par {
	const struct zarr_read_walk *proto;	/* dst, strides, prefix */
	const struct zarr_cells *cells;
	_Atomic size_t next;
	_Atomic int err;
	pthread_mutex_t lock;
	char msg[1024];				/* the first error's message */
};

static void *par_worker(void *arg)
{
	struct zarr_par *p = arg;
	struct zarr_read_walk w = *p->proto;
	size_t i;

	w.piece = NULL;
	w.piececap = 0;
	w.key = malloc(w.keycap);
	if (w.key)
		memcpy(w.key, p->proto->key, w.plen);
	while ((i = atomic_fetch_add(&p->next, 1)) < p->cells->n) {
		const struct zarr_cell *c = &p->cells->v[i];
		int err = atomic_load(&p->err) ? 0 :
			  !w.key ? ck_err(-ENOMEM, "out of memory") :
			  read_cell(&w, c->cell, c->sublo, c->subn, c->dpos);

		if (err) {
			pthread_mutex_lock(&p->lock);
			if (!atomic_load(&p->err)) {
				snprintf(p->msg, sizeof(p->msg), "%s", ck_err_msg());
				atomic_store(&p->err, err);
			}
			pthread_mutex_unlock(&p->lock);
		}
	}
	free(w.key);
	free(w.piece);
	return NULL;
}

/*
 * Tell the store which chunks the box needs, in the order they will be
 * read, so that their bytes are on their way (the disk reading at its own
 * queue depth) while the first ones decode.  Whole values only: for a
 * sharded array the value is a shard, most of which a box may not need.
 */
static void prefetch_cells(struct zarr_read_walk *w, const struct zarr_cells *cells)
{
	const struct zarr_meta *m = w->a->meta;
	struct kv_value v;

	if (m->codecs->shard)
		return;
	for (size_t i = 0; i < cells->n; i++) {
		int len = zarr_meta_chunk_key(m, cells->v[i].cell, w->key + w->plen,
					      w->keycap - w->plen);

		if (len >= 0 && kvstore_get(w->a->kv, w->key, w->plen + (size_t)len, &v) == 0)
			kvstore_prefetch(w->a->kv, &v, 0, v.length);
	}
	ck_err_clear();
}

/* From read_parallel(): not worth it (or no threads), read serially. */
#define READ_SERIALLY 1

/*
 * Read the box's cells on several threads, when it spans several chunks and
 * is large enough to be worth it: 0, READ_SERIALLY, or -errno.
 */
static int read_parallel(struct zarr_read_walk *w, const uint64_t *start,
			 const uint64_t *count)
{
	const struct zarr_meta *m = w->a->meta;
	struct zarr_cells cells = { 0 };
	struct zarr_par p;
	pthread_t th[ZARR_MAX_THREADS];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t bytes = m->itemsize;
	unsigned want, started = 0;
	int err;

	for (unsigned i = 0; i < m->rank; i++)
		bytes *= count[i];
	/* A remote store's reads wait on the network: as many threads as
	 * chunks (at most ZARR_MAX_THREADS), whatever the cores. */
	if (kvstore_is_remote(w->a->kv))
		cpus = ZARR_MAX_THREADS;
	if (cpus < 2 || bytes < ZARR_PARALLEL_MIN_BYTES)
		return READ_SERIALLY;
	cells.cap = 4096;
	cells.v = malloc(cells.cap * sizeof(*cells.v));
	if (!cells.v)
		return READ_SERIALLY;
	err = grid_walk(m->rank, m->chunk, start, count, collect_cell, &cells);
	if (err || cells.n < 2) {
		free(cells.v);
		return READ_SERIALLY;
	}
	prefetch_cells(w, &cells);
	memset(&p, 0, sizeof(p));
	p.proto = w;
	p.cells = &cells;
	pthread_mutex_init(&p.lock, NULL);
	want = cpus > ZARR_MAX_THREADS ? ZARR_MAX_THREADS : (unsigned)cpus;
	if (want > cells.n)
		want = (unsigned)cells.n;
	while (started + 1 < want && !pthread_create(&th[started], NULL, par_worker, &p))
		started++;
	par_worker(&p);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&p.lock);
	free(cells.v);
	err = atomic_load(&p.err);
	return err ? ck_err(err, "%s", p.msg) : 0;
}

/* Check the box and walk its cells, on several threads when it is worth
 * it: they write disjoint parts of dst (or visit disjoint pieces). */
static int walk_box(struct zarr_read_walk *w, const uint64_t *start,
		    const uint64_t *count)
{
	const struct zarr_meta *m = w->a->meta;
	uint64_t end;
	unsigned i;
	int err;

	for (i = 0; i < m->rank; i++)
		if (__builtin_add_overflow(start[i], count[i], &end) ||
		    end > m->shape[i])
			return ck_err(-EINVAL,
				      "box [%llu, +%llu) of dimension %u is out of bounds of shape %llu",
				      (unsigned long long)start[i],
				      (unsigned long long)count[i], i,
				      (unsigned long long)m->shape[i]);
	for (i = 0; i < m->rank; i++)
		if (count[i] == 0)
			return 0;
	cstrides(m->rank, count, m->itemsize, w->ds);
	w->plen = strlen(w->a->prefix);
	w->keycap = w->plen + 8 + 21 * ZARR_MAX_RANK;
	w->key = malloc(w->keycap);
	if (!w->key)
		return -ENOMEM;
	memcpy(w->key, w->a->prefix, w->plen);
	err = read_parallel(w, start, count);
	if (err == READ_SERIALLY)
		err = grid_walk(m->rank, m->chunk, start, count, read_cell, w);
	free(w->key);
	free(w->piece);
	return err;
}

int zarr_array_read(const struct zarr_array *a, const uint64_t *start,
		    const uint64_t *count, void *dst)
{
	struct zarr_read_walk w = { .a = a, .dst = dst };

	return walk_box(&w, start, count);
}

int zarr_array_visit(const struct zarr_array *a, const uint64_t *start,
		     const uint64_t *count, zarr_visit_fn fn, void *ctx)
{
	struct zarr_read_walk w = { .a = a, .visit = fn, .vctx = ctx };

	return walk_box(&w, start, count);
}

uint64_t zarr_array_decode_count(const struct zarr_array *a)
{
	return atomic_load_explicit(&((struct zarr_array *)a)->ndecodes,
				    memory_order_relaxed);
}

uint64_t zarr_array_decoded_bytes(const struct zarr_array *a)
{
	return atomic_load_explicit(&((struct zarr_array *)a)->ndecoded,
				    memory_order_relaxed);
}

void zarr_array_free(struct zarr_array *a)
{
	if (!a)
		return;
	zarr_meta_free(a->meta);
	free(a->prefix);
	free(a);
}
