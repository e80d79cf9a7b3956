/* SPDX-License-Identifier: MIT */
/*
 * This file implements the lazily computed MaxText checkpoint of
 * mtview_image.h.
 *
 * Design note.  The arrays of the view go into an orbax_image in the order
 * of v->target, with their index as id, so a read of a data file comes back
 * here (fill()) as (array, chunk number, byte range of the raw chunk).  Each
 * chunk of the view has a cache id, base[array] + chunk; the chunk cache
 * (tcache) computes a missing chunk through load(), whole, with no lock
 * held, while other readers of it wait, and the range is copied out of the
 * cached chunk.  A chunk being computed holds a reservation of its size in
 * the cache (tcache_reserve()), so the chunks cached and those being
 * computed by concurrent readers stay within the budget together.  A chunk is read by FUSE in pieces of 128 KiB or so, so
 * without the cache a 100 MiB chunk would be computed hundreds of times.
 */
#include "fs/mtview_image.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orbax/orbax_image.h"
#include "util/ck_err.h"
#include "util/ck_log.h"

#define MI_STEP_PREFIX "0/"
#define MI_DESCRIBE_MAX 60000u		/* bytes of a description, about */
#define MI_DESCRIBE_TENSORS 4u		/* HF tensors named per array */
/* The cache holds at least this many of the largest pieces (the kernel
 * reads ahead over a few at once). */
#define MI_MIN_PIECES_CACHED 8u

/* One array of the view: its chunks' geometry and how they are cut into
 * pieces (see the design note). */
struct mi_array {
	unsigned rank;			/* dimensions */
	uint64_t shape[ZARR_MAX_RANK];	/* array shape */
	uint64_t chunk[ZARR_MAX_RANK];	/* chunk shape */
	uint64_t grid[ZARR_MAX_RANK];	/* chunks per dimension */
	uint64_t nchunks;		/* chunks in the grid */
	uint64_t raw;			/* bytes of a full chunk */
	unsigned split;			/* pieces cut along this axis */
	uint64_t rows;			/* rows of it per piece (the last
					   piece of a run may have fewer) */
	uint64_t inner;			/* bytes of one row: the axes after
					   split, whole */
	uint64_t nq;			/* pieces along split:
					   ceil(chunk[split] / rows) */
	uint64_t per_chunk;		/* pieces per chunk */
	uint64_t base;			/* cache id of chunk 0's piece 0 */
};

struct mtview_image {
	struct mtview *v;		/* the view (borrowed) */
	struct orbax_image *img;	/* the checkpoint's files */
	char **names;			/* per file: MI_STEP_PREFIX + its
					   name in img (owned) */
	size_t nfiles;
	struct mi_array *a;		/* per array of v->target (owned) */
	uint64_t piece_bytes;		/* the pieces' target size */
	uint64_t npieces;		/* of every chunk of every array */
	uint64_t largest;		/* bytes of the largest piece */
	struct tcache *cache;		/* computed pieces, by cache id */
	uint64_t budget;		/* the cache's budget */
	_Atomic uint64_t served;	/* counters (relaxed) */
	_Atomic uint64_t computed;
	_Atomic uint64_t computed_bytes;
};

/* ---- pieces -------------------------------------------------------------- */

/* Cut a's chunks into pieces of at most `target` bytes where a row of the
 * innermost axes allows: split is the outermost axis whose rows (the axes
 * after it, whole) fit. */
static void pieces_plan(struct mi_array *a, size_t isz, uint64_t target)
{
	unsigned s = a->rank ? a->rank - 1 : 0;
	uint64_t inner = isz, outer = 1;

	if (!a->rank) {
		a->inner = isz;
		a->rows = a->nq = a->per_chunk = 1;
		return;
	}
	while (s > 0 && a->chunk[s] <= target / inner)
		inner *= a->chunk[s--];
	a->split = s;
	a->inner = inner;
	a->rows = target / inner;
	if (a->rows < 1)
		a->rows = 1;
	if (a->rows > a->chunk[s])
		a->rows = a->chunk[s];
	a->nq = (a->chunk[s] + a->rows - 1) / a->rows;
	for (unsigned i = 0; i < s; i++)
		outer *= a->chunk[i];
	a->per_chunk = outer * a->nq;
}

/* Bytes of piece j of a chunk of a. */
static uint64_t piece_len(const struct mi_array *a, uint64_t j)
{
	uint64_t left;

	if (!a->rank)
		return a->raw;
	left = a->chunk[a->split] - j % a->nq * a->rows;
	return (left < a->rows ? left : a->rows) * a->inner;
}

/* The piece of a chunk holding byte off: its number, first byte and
 * length. */
static void piece_at(const struct mi_array *a, uint64_t off, uint64_t *j,
		     uint64_t *poff, uint64_t *plen)
{
	uint64_t run = a->rank ? a->chunk[a->split] * a->inner : a->raw;
	uint64_t o = off / run, q = off % run / (a->rows * a->inner);

	*j = o * a->nq + q;
	*poff = o * run + q * a->rows * a->inner;
	*plen = piece_len(a, *j);
}

/*
 * Piece j of chunk c of a: the box of the array it holds,
 * [start, start + count), and its own shape pc (ones before split, its rows,
 * then the chunk's); 1 when the box fills it, 0 when the box is partly or
 * wholly outside the array (an edge chunk's padding).
 */
static int piece_box(const struct mi_array *a, uint64_t c, uint64_t j,
		     uint64_t *start, uint64_t *count, uint64_t *pc)
{
	uint64_t o = j / a->nq, q = j % a->nq;
	int whole = 1;

	for (unsigned i = a->rank; i-- > 0;) {
		uint64_t cs = c % a->grid[i] * a->chunk[i], rel = 0;

		c /= a->grid[i];
		if (i < a->split) {
			rel = o % a->chunk[i];
			o /= a->chunk[i];
			pc[i] = 1;
		} else if (i == a->split) {
			rel = q * a->rows;
			pc[i] = a->chunk[i] - rel < a->rows ? a->chunk[i] - rel : a->rows;
		} else {
			pc[i] = a->chunk[i];
		}
		start[i] = cs + rel;
		count[i] = start[i] >= a->shape[i] ? 0
			   : a->shape[i] - start[i] < pc[i] ? a->shape[i] - start[i]
							    : pc[i];
		whole &= count[i] == pc[i];
	}
	return whole;
}

/* Copy a dense box of count into a zeroed buffer of shape pc (a piece of an
 * edge chunk, zero-padded as zarr stores it). */
static void place(unsigned rank, const uint64_t *pc, const uint64_t *count,
		  const uint8_t *box, size_t isz, uint8_t *out)
{
	uint64_t idx[ZARR_MAX_RANK] = { 0 }, rows = 1;
	size_t row = (size_t)count[rank - 1] * isz;

	for (unsigned i = 0; i + 1 < rank; i++)
		rows *= count[i];
	for (uint64_t r = 0; r < rows && row; r++) {
		uint64_t off = 0;

		for (unsigned i = 0; i + 1 < rank; i++)
			off = off * pc[i] + idx[i];
		memcpy(out + off * pc[rank - 1] * isz, box + r * row, row);
		for (unsigned i = rank - 1; i-- > 0;) {
			if (++idx[i] < count[i])
				break;
			idx[i] = 0;
		}
	}
}

/* The array holding cache id (the last whose base is at most id: arrays
 * without chunks share the next one's base). */
static size_t array_of(const struct mtview_image *m, uint64_t id)
{
	size_t lo = 0, hi = m->v->target->narrays;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->a[mid].base <= id)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Compute piece j of chunk c of array ai into buf (len bytes). */
static int piece_fill(struct mtview_image *m, size_t ai, uint64_t c, uint64_t j,
		      uint8_t *buf, uint64_t len)
{
	const struct mi_array *a = &m->a[ai];
	uint64_t start[ZARR_MAX_RANK], count[ZARR_MAX_RANK], pc[ZARR_MAX_RANK];
	size_t isz = ck_dtype_size(m->v->dtype);
	uint64_t n = isz;
	uint8_t *box;
	int err;

	if (!a->rank || piece_box(a, c, j, start, count, pc))
		return mtview_fill(m->v, ai, start, count, buf);
	memset(buf, 0, len);
	for (unsigned i = 0; i < a->rank; i++)
		n *= count[i];
	if (!n)
		return 0;	/* all padding */
	box = malloc(n);
	if (!box)
		return ck_err(-ENOMEM, "out of memory");
	err = mtview_fill(m->v, ai, start, count, box);
	if (!err)
		place(a->rank, pc, count, box, isz, buf);
	free(box);
	return err;
}

/* tcache_load_fn: compute piece `id`. */
static int load(void *ctx, uint32_t id, uint8_t **data, uint64_t *size)
{
	struct mtview_image *m = ctx;
	size_t ai = array_of(m, id);
	const struct mi_array *a = &m->a[ai];
	uint64_t rel = id - a->base, c = rel / a->per_chunk;
	uint64_t j = rel % a->per_chunk, len = piece_len(a, j);
	uint8_t *buf;
	int err;

	/* the pieces being computed count against the budget too */
	tcache_reserve(m->cache, len);
	buf = malloc(len ? len : 1);
	err = buf ? piece_fill(m, ai, c, j, buf, len)
		  : ck_err(-ENOMEM, "out of memory for %llu bytes",
			   (unsigned long long)len);
	tcache_unreserve(m->cache, len);
	if (err) {
		free(buf);
		return err;
	}
	atomic_fetch_add_explicit(&m->computed, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->computed_bytes, len, memory_order_relaxed);
	*data = buf;
	*size = len;
	return 0;
}

/* orbax_image_fill_fn: bytes [off, off + len) of chunk `chunk` of array
 * `id`, piece by piece from the cache. */
static int fill(void *ctx, uint64_t id, uint64_t chunk, uint64_t off,
		void *buf, size_t len)
{
	struct mtview_image *m = ctx;
	const struct mi_array *a = &m->a[id];
	uint8_t *out = buf;

	while (len) {
		struct tcache_ref ref;
		uint64_t j, poff, plen;
		size_t n;
		int err;

		piece_at(a, off, &j, &poff, &plen);
		err = tcache_get(m->cache, (uint32_t)(a->base + chunk * a->per_chunk + j),
				 &ref);
		if (err)	/* TCACHE_ELSEWHERE: load() never says it */
			return err < 0 ? err : ck_err(-EIO, "piece not cached");
		n = poff + plen - off < len ? (size_t)(poff + plen - off) : len;
		memcpy(out, ref.data + (off - poff), n);
		tcache_put(m->cache, &ref);
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* ---- new ----------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Add array i of the view to the image, and record its geometry. */
static int add_array(struct mtview_image *m, size_t i)
{
	const struct orbax_array *oa = &m->v->target->arrays[i];
	struct mi_array *a = &m->a[i];
	struct zarr_write_spec s;
	struct zarr_info info;
	int err = orbax_array_info(oa, &info);

	if (err)
		return err;
	memset(&s, 0, sizeof(s));
	s.zarr_format = 3;
	s.dtype = m->v->dtype;
	s.rank = info.rank;
	memcpy(s.shape, info.shape, sizeof(s.shape));
	mtview_chunk_shape(m->v, i, s.chunk);
	s.zstd_level = -1;
	err = orbax_image_add_array(m->img, oa->name, &s, i);
	if (err)
		return err;
	a->rank = s.rank;
	memcpy(a->shape, s.shape, sizeof(a->shape));
	memcpy(a->chunk, s.chunk, sizeof(a->chunk));
	a->raw = ck_dtype_size(s.dtype);
	a->nchunks = 1;
	for (unsigned k = 0; k < s.rank; k++) {
		a->grid[k] = (s.shape[k] + s.chunk[k] - 1) / s.chunk[k];
		a->nchunks *= a->grid[k];
		a->raw *= s.chunk[k];
	}
	pieces_plan(a, ck_dtype_size(s.dtype), m->piece_bytes);
	a->base = m->npieces;
	if (a->nchunks > (UINT32_MAX - m->npieces) / a->per_chunk)
		return ck_err(-EOVERFLOW, "%s: more than 2^32 pieces of chunks",
			      oa->name);
	m->npieces += a->nchunks * a->per_chunk;
	if (a->nchunks && piece_len(a, 0) > m->largest)
		m->largest = piece_len(a, 0);
	return 0;
}

static int build_image(struct mtview_image *m)
{
	struct orbax_image_opts o = ORBAX_IMAGE_OPTS_INIT;
	size_t n = m->v->target->narrays;
	int err;

	o.scan_layers = m->v->scanned;
	o.sharding_device = "cpu:0";
	o.init_ns = o.commit_ns = now_ns();
	m->a = calloc(n + 1, sizeof(*m->a));
	if (!m->a)
		return ck_err(-ENOMEM, "out of memory");
	err = orbax_image_new(&o, &m->img);
	for (size_t i = 0; i < n && !err; i++)
		err = add_array(m, i);
	if (!err)
		err = orbax_image_add_param_only_leaves(m->img);
	if (!err)
		err = orbax_image_commit(m->img);
	return err;
}

static int name_files(struct mtview_image *m)
{
	m->nfiles = orbax_image_nfiles(m->img);
	m->names = calloc(m->nfiles + 1, sizeof(*m->names));
	if (!m->names)
		return ck_err(-ENOMEM, "out of memory");
	for (size_t i = 0; i < m->nfiles; i++) {
		const char *n = orbax_image_file_name(m->img, i);
		size_t len = strlen(MI_STEP_PREFIX) + strlen(n) + 1;

		m->names[i] = malloc(len);
		if (!m->names[i])
			return ck_err(-ENOMEM, "out of memory");
		snprintf(m->names[i], len, "%s%s", MI_STEP_PREFIX, n);
	}
	return 0;
}

int mtview_image_new(struct mtview *v, uint64_t cache_bytes,
		     uint64_t piece_bytes, struct mtview_image **out)
{
	struct mtview_image *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return ck_err(-ENOMEM, "out of memory");
	m->v = v;
	m->piece_bytes = piece_bytes ? piece_bytes : MTVIEW_IMAGE_PIECE_BYTES;
	err = build_image(m);
	if (!err)
		err = name_files(m);
	if (err) {
		mtview_image_free(m);
		return err;
	}
	m->budget = cache_bytes;
	if (m->budget / MI_MIN_PIECES_CACHED < m->largest) {
		m->budget = m->largest * MI_MIN_PIECES_CACHED;
		ck_log(CK_LOG_INFO, "cache_size raised to %llu bytes: %u times the "
		       "largest piece of a chunk", (unsigned long long)m->budget,
		       MI_MIN_PIECES_CACHED);
	}
	err = tcache_new((uint32_t)m->npieces, m->budget, load, m, &m->cache);
	if (err) {
		mtview_image_free(m);
		return err;
	}
	*out = m;
	return 0;
}

/* ---- files --------------------------------------------------------------- */

size_t mtview_image_nfiles(const struct mtview_image *m)
{
	return m->nfiles;
}

const char *mtview_image_file_name(const struct mtview_image *m, size_t i)
{
	return i < m->nfiles ? m->names[i] : NULL;
}

uint64_t mtview_image_file_size(const struct mtview_image *m, size_t i)
{
	return orbax_image_file_size(m->img, i);
}

int mtview_image_read(struct mtview_image *m, size_t i, uint64_t off,
		      void *buf, size_t len, size_t *got)
{
	int err;

	if (i >= m->nfiles)
		return ck_err(-EINVAL, "no file %zu in the MaxText view", i);
	err = orbax_image_read(m->img, i, off, buf, len, got, fill, m);
	if (err)
		return err;
	atomic_fetch_add_explicit(&m->served, *got, memory_order_relaxed);
	return 0;
}

/* ---- describe and stats -------------------------------------------------- */

struct mi_desc {
	const struct mtview_image *m;
	struct ck_buf *out;
};

/* orbax_image_chunks_fn: one line for an array's chunks in a data file. */
static int describe_chunks(void *ctx, uint64_t id, const char *name,
			   uint64_t first, uint64_t n)
{
	struct mi_desc *d = ctx;
	const struct mtview *v = d->m->v;
	const struct orbax_array *oa = &v->target->arrays[id];
	unsigned listed = 0;
	int err;

	if (d->out->len > MI_DESCRIBE_MAX)
		return ck_buf_printf(d->out, "...\n") ? -ENOMEM : 1;
	err = ck_buf_printf(d->out, "%s chunks %llu-%llu of %llu <-", name,
			    (unsigned long long)first,
			    (unsigned long long)(first + n - 1),
			    (unsigned long long)d->m->a[id].nchunks);
	for (size_t t = 0; t < v->plan->ntensors && !err; t++) {
		const struct plan_tensor *pt = &v->plan->tensors[t];

		for (unsigned k = 0; k < pt->nsrc; k++)
			if (pt->src[k].array == oa) {
				if (listed++ < MI_DESCRIBE_TENSORS)
					err = ck_buf_printf(d->out, "%s %s",
							    listed > 1 ? "," : "",
							    pt->name);
				break;
			}
	}
	if (!err && listed > MI_DESCRIBE_TENSORS)
		err = ck_buf_printf(d->out, ", ... (%u tensors)", listed);
	return err ? err : ck_buf_printf(d->out, "\n");
}

int mtview_image_describe(const struct mtview_image *m, size_t i,
			  struct ck_buf *out)
{
	struct mi_desc d = { m, out };
	int err;

	switch (orbax_image_file_kind(m->img, i)) {
	case ORBAX_IMAGE_DATA:
		err = orbax_image_file_chunks(m->img, i, describe_chunks, &d);
		return err < 0 ? err : 0;
	case ORBAX_IMAGE_DATABASE:
		return ck_buf_printf(out, "OCDBT %s of the MaxText view, generated "
				     "by ckptfs: %s\n",
				     strstr(m->names[i], "manifest") ? "manifest"
								     : "B+tree nodes",
				     m->v->summary);
	case ORBAX_IMAGE_METADATA:
		break;
	}
	return ck_buf_printf(out, "generated by ckptfs: %s\n", m->v->summary);
}

void mtview_image_stats(struct mtview_image *m, struct mtview_image_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->bytes_served = atomic_load_explicit(&m->served, memory_order_relaxed);
	st->pieces = m->npieces;
	st->pieces_computed = atomic_load_explicit(&m->computed,
						   memory_order_relaxed);
	st->bytes_computed = atomic_load_explicit(&m->computed_bytes,
						  memory_order_relaxed);
	tcache_stats(m->cache, &st->cache);
	st->cache_budget = m->budget;
}

void mtview_image_free(struct mtview_image *m)
{
	if (!m)
		return;
	tcache_free(m->cache);
	orbax_image_free(m->img);
	for (size_t i = 0; m->names && i < m->nfiles; i++)
		free(m->names[i]);
	free(m->names);
	free(m->a);
	free(m);
}
