/* SPDX-License-Identifier: MIT */
/*
 * This file implements zarr_write_array() and zarr_write_array_cb(): zarr v3
 * (sharded, as Orbax) and zarr v2 arrays written chunk by chunk into a key
 * sink.
 *
 * The metadata text is printed by hand, not through cJSON, because the exact
 * bytes matter: TensorStore writes zarr.json compactly with its keys sorted,
 * and tests compare against that.  A chunk is filled by a callback into a
 * full-size buffer (zarr stores edge chunks at full shape, zero-padded);
 * zarr_write_array()'s callback copies it out of the caller's array.
 *
 * Threads (design note).  With several workers, chunk c (row-major number)
 * goes to slot c % nslots of a ring of 2 * workers slots.  A worker claims
 * the next chunk number only while it is less than put + nslots (put: the
 * next chunk the calling thread puts), so a slot is reused only after its
 * previous chunk was put.  Workers fill (into their own buffer, or straight
 * into the slot when nothing is compressed) and encode into the slot, then
 * mark it done; the calling thread waits for slot put % nslots, puts it, and
 * frees the slot.  The first error (a worker's, or the sink's, or the
 * progress callback's) stops everyone: workers finish the chunk in hand and
 * exit, and the calling thread joins them.  One mutex guards the counters
 * and the slots' done flags; the slots' buffers belong to whoever the
 * protocol above hands them to.
 */
#include "zarr/zarr_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_mem.h"
#include "util/ck_rd.h"
#include "zarr/zarr_meta.h"

/* The geometry of one array being written, and where its chunks come from. */
struct zw {
	const struct zarr_write_spec *s; /* the spec */
	const char *name;		 /* the array's name */
	size_t isz;			 /* bytes per element */
	uint64_t grid[ZARR_MAX_RANK];	 /* chunks per dimension */
	uint64_t cstride[ZARR_MAX_RANK]; /* chunk strides, in elements */
	size_t chunk_bytes;		 /* bytes of a full chunk */
	uint64_t nchunks;		 /* chunks in the grid */
	uint64_t nbytes;		 /* bytes of the array's elements */
	int raw;			 /* 1: chunks stored uncompressed */
	const struct zarr_stream *st;	 /* fill and progress */
};

int zarr_writer_check(const struct zarr_write_spec *s, uint64_t *nbytes)
{
	uint64_t n = 1, c = 1;
	size_t isz;

	if (s->zarr_format != 2 && s->zarr_format != 3)
		return ck_err(-EINVAL, "zarr writer: zarr_format %d is not 2 or 3",
			      s->zarr_format);
	isz = ck_dtype_size(s->dtype);
	if (!isz)
		return ck_err(-ENOTSUP, "zarr writer: invalid data type");
	if (s->rank > ZARR_MAX_RANK)
		return ck_err(-EINVAL, "zarr writer: rank %u exceeds %d",
			      s->rank, ZARR_MAX_RANK);
	for (unsigned i = 0; i < s->rank; i++) {
		if (!s->chunk[i])
			return ck_err(-EINVAL,
				      "zarr writer: chunk dimension %u is 0", i);
		if (__builtin_mul_overflow(n, s->shape[i], &n) ||
		    __builtin_mul_overflow(c, s->chunk[i], &c))
			return ck_err(-EOVERFLOW,
				      "zarr writer: shape or chunk element "
				      "count overflows");
	}
	if (__builtin_mul_overflow(n, (uint64_t)isz, &n) || n > SIZE_MAX ||
	    __builtin_mul_overflow(c, (uint64_t)isz, &c))
		return ck_err(-EOVERFLOW,
			      "zarr writer: array byte size overflows");
	if (c > ZARR_MAX_CHUNK_BYTES || c > SIZE_MAX)
		return ck_err(-EOVERFLOW,
			      "zarr writer: chunk of %llu bytes exceeds %llu",
			      (unsigned long long)c,
			      (unsigned long long)ZARR_MAX_CHUNK_BYTES);
	*nbytes = n;
	return 0;
}

static int print_dims(struct ck_buf *b, const uint64_t *v, unsigned rank)
{
	int err = ck_buf_append(b, "[", 1);

	for (unsigned i = 0; i < rank && !err; i++)
		err = ck_buf_printf(b, "%s%llu", i ? "," : "",
				    (unsigned long long)v[i]);
	return err ? err : ck_buf_append(b, "]", 1);
}

static const char *fill_text(enum ck_dtype t)
{
	if (t == CK_DT_BOOL)
		return "false";
	if (t == CK_DT_C64 || t == CK_DT_C128)
		return "[0.0,0.0]";
	return ck_dtype_is_float(t) ? "0.0" : "0";
}

/* zarr.json exactly as TensorStore writes it for Orbax. */
static int meta_v3(const struct zarr_write_spec *s, struct ck_buf *b)
{
	const char *bytes = ck_dtype_size(s->dtype) > 1
		? "{\"configuration\":{\"endian\":\"little\"},\"name\":\"bytes\"}"
		: "{\"name\":\"bytes\"}";
	char zstd[80] = "";
	int err;

	if (s->zstd_level >= 0)
		snprintf(zstd, sizeof(zstd),
			 ",{\"configuration\":{\"checksum\":false,"
			 "\"level\":%d},\"name\":\"zstd\"}",
			 s->zstd_level);

	err = ck_buf_printf(b, "{\"chunk_grid\":{\"configuration\":"
			    "{\"chunk_shape\":");
	if (!err)
		err = print_dims(b, s->chunk, s->rank);
	if (!err)
		err = ck_buf_printf(b, "},\"name\":\"regular\"},"
				    "\"chunk_key_encoding\":{\"name\":"
				    "\"default\"},\"codecs\":[{"
				    "\"configuration\":{\"chunk_shape\":");
	if (!err)
		err = print_dims(b, s->chunk, s->rank);
	if (!err)
		err = ck_buf_printf(
			b,
			",\"codecs\":[%s%s],"
			"\"index_codecs\":[{\"configuration\":{\"endian\":"
			"\"little\"},\"name\":\"bytes\"},{\"name\":"
			"\"crc32c\"}]},\"name\":\"sharding_indexed\"}],"
			"\"data_type\":\"%s\",\"fill_value\":%s,"
			"\"node_type\":\"array\",\"shape\":",
			bytes, zstd, ck_dtype_name(s->dtype),
			fill_text(s->dtype));
	if (!err)
		err = print_dims(b, s->shape, s->rank);
	if (!err)
		err = ck_buf_printf(b, ",\"zarr_format\":3}");
	return err;
}

/* .zarray as TensorStore writes it for Orbax. */
static int meta_v2(const struct zarr_write_spec *s, struct ck_buf *b)
{
	const char *dt = s->dtype == CK_DT_BF16 ? "bfloat16"
						 : ck_dtype_numpy(s->dtype);
	int err;

	if (!dt)
		return ck_err(-ENOTSUP, "zarr writer: no zarr v2 name for %s",
			      ck_dtype_name(s->dtype));
	err = ck_buf_printf(b, "{\"chunks\":");
	if (!err)
		err = print_dims(b, s->chunk, s->rank);
	if (!err && s->zstd_level >= 0)
		err = ck_buf_printf(b, ",\"compressor\":{\"id\":\"zstd\","
				    "\"level\":%d}", s->zstd_level);
	else if (!err)
		err = ck_buf_printf(b, ",\"compressor\":null");
	if (!err)
		err = ck_buf_printf(b,
				    ",\"dimension_separator\":\".\","
				    "\"dtype\":\"%s\",\"fill_value\":null,"
				    "\"filters\":null,\"order\":\"C\","
				    "\"shape\":",
				    dt);
	if (!err)
		err = print_dims(b, s->shape, s->rank);
	if (!err)
		err = ck_buf_printf(b, ",\"zarr_format\":2}");
	return err;
}

/* Key "<name>/<rel>" (no '/' for a root array) into b. */
static int key_start(struct ck_buf *b, const char *name)
{
	b->len = 0;
	return *name ? ck_buf_printf(b, "%s/", name) : ck_buf_printf(b, "%s", "");
}

static int chunk_key(const struct zw *z, const char *name, const uint64_t *idx,
		     struct ck_buf *b)
{
	int v3 = z->s->zarr_format == 3;
	int err = key_start(b, name);

	if (!err && z->s->rank == 0)
		return ck_buf_printf(b, "%s", v3 ? "c" : "0");
	if (!err && v3)
		err = ck_buf_printf(b, "c");
	for (unsigned i = 0; i < z->s->rank && !err; i++)
		err = ck_buf_printf(b, "%s%llu", v3 ? "/" : (i ? "." : ""),
				    (unsigned long long)idx[i]);
	return err;
}

static int check_name(const char *name)
{
	size_t n = strlen(name);

	if (!n)
		return 0;
	if (name[n - 1] == '/' || ck_path_check_relative(name, n))
		return ck_err(-EINVAL, "zarr writer: bad array name '%s'", name);
	return 0;
}

/* From write_parallel(): no worker could be started. */
#define ZW_NO_THREADS 1

/* Chunk number c (row-major in the grid): its index, box, and whether it
 * is an edge chunk.  Returns the bytes of its elements inside the array. */
static uint64_t chunk_box(const struct zw *z, uint64_t c, uint64_t *idx,
			  uint64_t *start, uint64_t *count, int *edge)
{
	const struct zarr_write_spec *s = z->s;
	uint64_t n = z->isz;

	*edge = 0;
	for (int i = (int)s->rank - 1; i >= 0; i--) {
		idx[i] = c % z->grid[i];
		c /= z->grid[i];
		start[i] = idx[i] * s->chunk[i];
		count[i] = s->shape[i] - start[i];
		if (count[i] >= s->chunk[i])
			count[i] = s->chunk[i];
		else
			*edge = 1;
		n *= count[i];
	}
	return n;
}

#define IDX_TEXT_MAX (3 + 22 * ZARR_MAX_RANK)

/* "(i0, i1, ...)" of a chunk index, for messages. */
static const char *idx_text(const struct zw *z, const uint64_t *idx,
			    char text[IDX_TEXT_MAX])
{
	size_t n = 0;

	text[n++] = '(';
	for (unsigned i = 0; i < z->s->rank; i++)
		n += (size_t)snprintf(text + n, IDX_TEXT_MAX - n, "%s%llu",
				      i ? ", " : "",
				      (unsigned long long)idx[i]);
	snprintf(text + n, IDX_TEXT_MAX - n, ")");
	return text;
}

/*
 * Make chunk c into out: fill it (into tmp, or straight into out when
 * nothing is compressed) and encode it, with the shard index for v3.
 * Runs on any thread.
 */
static int chunk_make(const struct zw *z, uint64_t c, uint8_t *tmp,
		      struct ck_buf *out)
{
	uint64_t idx[ZARR_MAX_RANK], start[ZARR_MAX_RANK], count[ZARR_MAX_RANK];
	uint8_t *buf = tmp, trailer[ZARR_SHARD_INDEX_BYTES];
	char text[IDX_TEXT_MAX];
	int edge, err;

	chunk_box(z, c, idx, start, count, &edge);
	out->len = 0;
	if (z->raw) {
		err = ck_buf_grow(out, z->chunk_bytes + sizeof(trailer));
		if (err)
			return err;
		buf = out->data;
	}
	if (edge)
		memset(buf, 0, z->chunk_bytes);
	err = z->st->fill(z->st->ctx, idx, start, count, buf);
	if (err)
		return ck_err_ctx(err, "chunk %s", idx_text(z, idx, text));
	if (z->raw)
		out->len = z->chunk_bytes;
	else
		err = codec_zstd_encode_level(buf, z->chunk_bytes,
					      z->s->zstd_level, out);
	if (err || z->s->zarr_format == 2)
		return err;
	zarr_shard_index((uint64_t)out->len, trailer);
	return ck_buf_append(out, trailer, sizeof(trailer));
}

/* Put chunk c's value; then tell the progress callback.  Calling thread. */
static int chunk_put(const struct zw *z, const struct kv_sink *sink,
		     uint64_t c, const struct ck_buf *val, struct ck_buf *key,
		     uint64_t *done)
{
	uint64_t idx[ZARR_MAX_RANK], start[ZARR_MAX_RANK], count[ZARR_MAX_RANK];
	int edge, err;

	*done += chunk_box(z, c, idx, start, count, &edge);
	err = chunk_key(z, z->name, idx, key);
	if (!err)
		err = sink->put(sink->ctx, key->data, key->len, val->data,
				val->len);
	if (!err && z->st->progress)
		err = z->st->progress(z->st->progress_ctx, *done, z->nbytes);
	return err;
}

/* All chunks, one after the other, on the calling thread. */
static int write_serial(const struct zw *z, const struct kv_sink *sink)
{
	struct ck_buf key = CK_BUF_INIT, val = CK_BUF_INIT;
	uint8_t *tmp = NULL;
	uint64_t done = 0;
	int err = 0;

	if (!z->raw) {
		tmp = ck_big_alloc(z->chunk_bytes);
		if (!tmp)
			err = ck_err(-ENOMEM, "zarr writer: out of memory");
	}
	for (uint64_t c = 0; c < z->nchunks && !err; c++) {
		err = chunk_make(z, c, tmp, &val);
		if (!err)
			err = chunk_put(z, sink, c, &val, &key, &done);
	}
	free(tmp);
	ck_buf_release(&key);
	ck_buf_release(&val);
	return err;
}

/* One encoded chunk between a worker and the calling thread. */
struct zw_slot {
	struct ck_buf val;	/* the encoded chunk */
	int done;		/* 1: val holds chunk (its number) for the
				   calling thread; under the lock */
};

/* Shared state of a threaded write. */
struct zw_par {
	const struct zw *z;
	pthread_mutex_t lock;
	pthread_cond_t work;	/* a worker may claim, or stop */
	pthread_cond_t ready;	/* a slot is done, or stop */
	struct zw_slot *slots;	/* nslots of them */
	uint64_t nslots;
	uint64_t claim;		/* next chunk to hand out; under the lock */
	uint64_t put;		/* next chunk to put; under the lock */
	int stop;		/* 1: everyone stops; under the lock */
	int err;		/* the first error, or 0; under the lock */
	char msg[512];		/* its message, when a worker had it */
};

/* Stop everyone (under the lock), recording err (0: none) if it is the
 * first error. */
static void par_stop(struct zw_par *p, int err, int copy_msg)
{
	if (err && !p->err) {
		p->err = err;
		if (copy_msg)
			snprintf(p->msg, sizeof(p->msg), "%s", ck_err_msg());
	}
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->ready);
}

/* One worker: the shared state, and its own chunk buffer (NULL when
 * nothing is compressed: it fills the slots directly). */
struct zw_worker {
	struct zw_par *p;
	uint8_t *tmp;
};

static void *par_worker(void *arg)
{
	struct zw_par *p = ((struct zw_worker *)arg)->p;
	uint8_t *tmp = ((struct zw_worker *)arg)->tmp;
	const struct zw *z = p->z;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		uint64_t c;
		struct zw_slot *slot;
		int err;

		while (!p->stop && p->claim < z->nchunks &&
		       p->claim >= p->put + p->nslots)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop || p->claim >= z->nchunks)
			break;
		c = p->claim++;
		slot = &p->slots[c % p->nslots];
		pthread_mutex_unlock(&p->lock);
		ck_err_clear();
		err = chunk_make(z, c, tmp, &slot->val);
		pthread_mutex_lock(&p->lock);
		if (err) {
			par_stop(p, err, 1);
			break;
		}
		slot->done = 1;
		pthread_cond_broadcast(&p->ready);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* The calling thread's part: put the chunks in order as they get done. */
static int par_put_all(struct zw_par *p, const struct kv_sink *sink)
{
	const struct zw *z = p->z;
	struct ck_buf key = CK_BUF_INIT;
	uint64_t done = 0;
	int err = 0;

	for (uint64_t c = 0; c < z->nchunks; c++) {
		struct zw_slot *slot = &p->slots[c % p->nslots];

		pthread_mutex_lock(&p->lock);
		while (!p->stop && !slot->done)
			pthread_cond_wait(&p->ready, &p->lock);
		err = p->err;
		pthread_mutex_unlock(&p->lock);
		if (err)
			break;
		err = chunk_put(z, sink, c, &slot->val, &key, &done);
		pthread_mutex_lock(&p->lock);
		if (err) {
			par_stop(p, err, 0);
		} else {
			slot->done = 0;
			p->put = c + 1;
			pthread_cond_broadcast(&p->work);
		}
		pthread_mutex_unlock(&p->lock);
		if (err)
			break;
	}
	ck_buf_release(&key);
	return err;
}

/* The chunks made by nthreads workers, put by the calling thread.  Returns
 * ZW_NO_THREADS when no worker could be started (the caller writes
 * serially). */
static int write_parallel(const struct zw *z, const struct kv_sink *sink,
			  unsigned nthreads)
{
	pthread_t th[ZARR_WRITER_MAX_THREADS];
	struct zw_worker wk[ZARR_WRITER_MAX_THREADS];
	struct zw_par p;
	unsigned started = 0;
	int err = 0;

	memset(&p, 0, sizeof(p));
	memset(wk, 0, sizeof(wk));
	p.z = z;
	p.nslots = 2 * (uint64_t)nthreads;
	p.slots = calloc((size_t)p.nslots, sizeof(*p.slots));
	for (unsigned i = 0; i < nthreads && p.slots; i++) {
		wk[i].p = &p;
		if (!z->raw && !(wk[i].tmp = ck_big_alloc(z->chunk_bytes)))
			break;
	}
	if (!p.slots || (!z->raw && !wk[nthreads - 1].tmp)) {
		for (unsigned i = 0; i < nthreads; i++)
			free(wk[i].tmp);
		free(p.slots);
		return ck_err(-ENOMEM, "zarr writer: out of memory");
	}
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.work, NULL);
	pthread_cond_init(&p.ready, NULL);
	while (started < nthreads &&
	       !pthread_create(&th[started], NULL, par_worker, &wk[started]))
		started++;
	if (started) {
		err = par_put_all(&p, sink);
		pthread_mutex_lock(&p.lock);
		/* the calling thread's own error carries its message here */
		if (err && err == p.err && !p.msg[0])
			snprintf(p.msg, sizeof(p.msg), "%s", ck_err_msg());
		par_stop(&p, 0, 0);
		pthread_mutex_unlock(&p.lock);
		for (unsigned i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		/* the first error, from whichever thread it came */
		err = p.err ? ck_err(p.err, "%s", p.msg) : 0;
	} else {
		err = ZW_NO_THREADS;
	}
	pthread_cond_destroy(&p.ready);
	pthread_cond_destroy(&p.work);
	pthread_mutex_destroy(&p.lock);
	for (uint64_t i = 0; i < p.nslots; i++)
		ck_buf_release(&p.slots[i].val);
	for (unsigned i = 0; i < nthreads; i++)
		free(wk[i].tmp);
	free(p.slots);
	return err;
}

int zarr_fill_whole(void *ctx, const uint64_t *idx, const uint64_t *start,
		    const uint64_t *count, void *out)
{
	const struct zarr_whole *wh = ctx;
	const struct zarr_write_spec *s = wh->s;
	const uint8_t *data = wh->data;
	size_t isz = ck_dtype_size(s->dtype);
	uint64_t j[ZARR_MAX_RANK] = {0};
	unsigned r = s->rank;
	uint8_t *buf = out;

	(void)idx;
	if (r == 0) {
		memcpy(buf, data, isz);
		return 0;
	}
	for (;;) {
		uint64_t so = 0, d = 0;
		int ax;

		/* row j[0..r-2] of the box: its offsets in array and chunk */
		for (unsigned i = 0; i < r; i++) {
			uint64_t ji = i + 1 < r ? j[i] : 0;

			so = so * s->shape[i] + start[i] + ji;
			d = d * s->chunk[i] + ji;
		}
		memcpy(buf + d * isz, data + so * isz,
		       (size_t)count[r - 1] * isz);
		/* Next row: odometer over axes 0..r-2. */
		for (ax = (int)r - 2; ax >= 0 && ++j[ax] == count[ax]; ax--)
			j[ax] = 0;
		if (ax < 0)
			return 0;
	}
}

int zarr_write_array(const struct kv_sink *sink, const char *name,
		     const struct zarr_write_spec *s, const void *data)
{
	struct zarr_whole wh = {s, data};
	struct zarr_stream st = {zarr_fill_whole, &wh, 1, NULL, NULL};
	uint64_t nbytes;
	int err;

	err = zarr_writer_check(s, &nbytes);
	if (!err && nbytes && !data)
		err = ck_err(-EINVAL, "zarr writer: no data for '%s'", name);
	return err ? err : zarr_write_array_stream(sink, name, s, &st);
}

int zarr_write_array_stream(const struct kv_sink *sink, const char *name,
			    const struct zarr_write_spec *s,
			    const struct zarr_stream *st)
{
	struct ck_buf meta = CK_BUF_INIT, key = CK_BUF_INIT;
	struct zw z;
	unsigned nthreads;
	int err;

	memset(&z, 0, sizeof(z));
	err = zarr_writer_check(s, &z.nbytes);
	if (!err)
		err = check_name(name);
	if (!err && (!st || !st->fill))
		err = ck_err(-EINVAL, "zarr writer: no fill callback for '%s'",
			     name);
	if (err)
		return err;
	z.s = s;
	z.name = name;
	z.st = st;
	z.raw = s->zstd_level < 0;
	z.isz = ck_dtype_size(s->dtype);
	z.chunk_bytes = z.isz;
	z.nchunks = 1;
	for (int i = (int)s->rank - 1; i >= 0; i--) {
		z.cstride[i] = i + 1 < (int)s->rank
				       ? z.cstride[i + 1] * s->chunk[i + 1]
				       : 1;
		z.grid[i] = s->shape[i] / s->chunk[i] +
			    (s->shape[i] % s->chunk[i] != 0);
		z.chunk_bytes *= (size_t)s->chunk[i];
		z.nchunks *= z.grid[i]; /* <= prod(shape): no overflow */
	}
	err = s->zarr_format == 3 ? meta_v3(s, &meta) : meta_v2(s, &meta);
	if (!err)
		err = key_start(&key, name);
	if (!err)
		err = ck_buf_printf(&key, "%s", s->zarr_format == 3
							? "zarr.json"
							: ".zarray");
	if (!err)
		err = sink->put(sink->ctx, key.data, key.len, meta.data,
				meta.len);
	if (!err) {
		nthreads = st->threads < ZARR_WRITER_MAX_THREADS
				   ? st->threads
				   : ZARR_WRITER_MAX_THREADS;
		if (nthreads > z.nchunks)
			nthreads = (unsigned)z.nchunks;
		err = nthreads > 1 ? write_parallel(&z, sink, nthreads)
				   : ZW_NO_THREADS;
		if (err == ZW_NO_THREADS)
			err = write_serial(&z, sink);
	}
	if (err)
		err = ck_err_ctx(err, "array '%s'", name);
	ck_buf_release(&meta);
	ck_buf_release(&key);
	return err;
}

int zarr_write_array_cb(const struct kv_sink *sink, const char *name,
			const struct zarr_write_spec *s, zarr_fill_fn fill,
			void *ctx, unsigned threads)
{
	struct zarr_stream st = {fill, ctx, threads, NULL, NULL};

	return zarr_write_array_stream(sink, name, s, &st);
}

int zarr_v3_meta(const struct zarr_write_spec *s, struct ck_buf *out)
{
	struct zarr_write_spec t = *s;
	uint64_t n;
	int err;

	t.zarr_format = 3;
	err = zarr_writer_check(&t, &n);
	return err ? err : meta_v3(&t, out);
}

int zarr_v2_meta(const struct zarr_write_spec *s, struct ck_buf *out)
{
	struct zarr_write_spec t = *s;
	uint64_t n;
	int err;

	t.zarr_format = 2;
	err = zarr_writer_check(&t, &n);
	return err ? err : meta_v2(&t, out);
}

void zarr_shard_index(uint64_t inner_nbytes,
		      uint8_t out[ZARR_SHARD_INDEX_BYTES])
{
	ck_store_u64le(out, 0);
	ck_store_u64le(out + 8, inner_nbytes);
	ck_store_u32le(out + 16, crc32c(0, out, 16));
}
