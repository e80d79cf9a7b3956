/* SPDX-License-Identifier: MIT */
/*
 * zarr_writer.h - write one array as zarr v3 (the way Orbax/MaxText write it
 * through TensorStore) or zarr v2 into a key sink: from the whole array in
 * memory (zarr_write_array()), or chunk by chunk from a callback, filled and
 * compressed on worker threads (zarr_write_array_cb()).
 *
 * zarr v3 (orbax-format.md §3.1): "<name>/zarr.json" with the keys sorted as
 * TensorStore writes them; every chunk is a sharding_indexed shard holding
 * exactly one inner chunk of the same shape: the encoded full-size chunk
 * (edge chunks zero-padded; a zstd frame, or the raw bytes when zstd_level
 * < 0) || u64 LE offset 0 || u64 LE nbytes || u32 LE CRC-32C of those 16
 * bytes (zarr_shard_index()), under "<name>/c/<i0>/<i1>/..." ("c" for
 * rank 0).
 * zarr v2 (§3.2): "<name>/.zarray" (compressor zstd, or null when
 * zstd_level < 0; fill_value null, order C) and chunks "<name>/<i0>.<i1>..."
 * ("0" for rank 0), each one zstd frame (or the raw bytes).
 *
 * Every chunk is written, also when it equals the fill value, as Orbax does
 * (store_array_data_equal_to_fill_value), the metadata key first, then the
 * chunks in row-major order of the chunk grid: the keys and values put are
 * the same whatever the number of threads.  Stateless; each call puts from
 * the calling thread only.
 */
#ifndef ZARR_WRITER_H
#define ZARR_WRITER_H

#include <stdint.h>

#include "kvstore/kv_sink.h"
#include "util/ck_buf.h"
#include "zarr/zarr_array.h"
#include "zarr/zarr_dtype.h"

struct zarr_write_spec {
	int zarr_format;		/* 3 (Orbax/MaxText default) or 2 */
	enum ck_dtype dtype;		/* element type */
	unsigned rank;			/* dimensions, <= ZARR_MAX_RANK */
	uint64_t shape[ZARR_MAX_RANK];	/* array shape */
	uint64_t chunk[ZARR_MAX_RANK];	/* chunk (shard) shape, all >= 1 */
	int zstd_level;			/* chunk compression level (Orbax: 3
					   for v3; TensorStore's v2 default
					   is 1); < 0: no compression (v3
					   inner codecs [bytes] only, v2
					   compressor null), as Orbax's
					   use_compression=False */
};

/*
 * Write array `name` ("" for a root array; no leading or trailing '/') with
 * the whole array's elements data (C order, little-endian,
 * prod(shape) * itemsize bytes, borrowed for the call) into sink, on the
 * calling thread (zarr_write_array_cb() with one thread).
 * Errors: -EINVAL bad spec or name; -ENOTSUP dtype; -EOVERFLOW shape or
 * chunk size does not fit (prod(shape) * itemsize overflows, a chunk above
 * ZARR_MAX_CHUNK_BYTES); the sink's errors (-EINVAL duplicate key, -EEXIST,
 * -EIO); -ENOMEM.
 */
int zarr_write_array(const struct kv_sink *sink, const char *name,
		     const struct zarr_write_spec *s, const void *data);

/*
 * Fill one chunk: write the elements [start, start+count) of the array into
 * buf, which has the full chunk shape (prod(chunk) * itemsize bytes, C order,
 * the spec's dtype, little-endian): element start+j goes to the offset of j
 * in the chunk, j in the box [0, count).  count is the chunk shape except at
 * the array's upper edge.  chunk_idx is the chunk's grid index
 * (start = chunk_idx * chunk); for rank 0 all three arrays are empty and buf
 * holds the one element.
 * The writer zeroes buf before the call for an edge chunk (count < chunk
 * on some axis), so the padding beyond count is zero; fill writes exactly
 * the box and must leave the rest of buf alone.  For any other chunk buf
 * holds whatever the previous chunk left there: every element must be
 * written.
 * Called from the worker threads (the calling thread when there are none),
 * concurrently for different chunks, each chunk exactly once, in no
 * particular order; buf and the arrays are valid for the call only.
 * Returns 0, or -errno (with a ck_err message) to stop the write, which
 * then returns that error and message.
 */
typedef int (*zarr_fill_fn)(void *ctx, const uint64_t *chunk_idx,
			    const uint64_t *start, const uint64_t *count,
			    void *buf);

/*
 * Progress: called on the calling thread after each chunk is put, with the
 * bytes of the array's elements written so far (the part of each chunk put
 * that lies inside the array) and their total, prod(shape) * itemsize;
 * done == total after the last chunk.  Not called for an array without
 * elements.  Returns 0, or -errno to stop the write with that error.
 */
typedef int (*zarr_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* How zarr_write_array_stream() gets its chunks. */
struct zarr_stream {
	zarr_fill_fn fill;		/* fills each chunk (required) */
	void *ctx;			/* fill's first argument (borrowed) */
	unsigned threads;		/* workers filling and encoding
					   chunks; 0 or 1: on the calling
					   thread, no worker; capped at the
					   chunk count and
					   ZARR_WRITER_MAX_THREADS */
	zarr_progress_fn progress;	/* NULL or called after each put */
	void *progress_ctx;		/* progress's first argument */
};

#define ZARR_WRITER_MAX_THREADS 256u

/*
 * Write array `name` (as zarr_write_array()) with its chunks made by
 * st->fill.  With threads > 1, that many workers fill and encode chunks in
 * parallel while the calling thread puts them into sink in row-major chunk
 * order (the sink is only ever used by the calling thread).  Memory: a
 * chunk buffer per worker (compressed mode only) and at most 2 * threads
 * encoded chunks waiting to be put; with threads <= 1 one chunk and its
 * encoded form.  The output is the same, key for key and byte for byte, as
 * zarr_write_array() given the same elements, whatever the thread count.
 * Errors: zarr_write_array()'s; fill's and progress's own errors; -ENOMEM.
 * On an error the keys put so far stay in the sink (an incomplete array:
 * the caller must not commit it).
 */
int zarr_write_array_stream(const struct kv_sink *sink, const char *name,
			    const struct zarr_write_spec *s,
			    const struct zarr_stream *st);

/* zarr_write_array_stream() without a progress callback. */
int zarr_write_array_cb(const struct kv_sink *sink, const char *name,
			const struct zarr_write_spec *s, zarr_fill_fn fill,
			void *ctx, unsigned threads);

/*
 * A zarr_fill_fn copying each chunk out of a whole array in memory: ctx is
 * a struct zarr_whole (s the spec written, data its prod(shape) * itemsize
 * bytes, C order, little-endian; both borrowed).  zarr_write_array() is
 * zarr_write_array_stream() with this fill and one thread.
 */
struct zarr_whole {
	const struct zarr_write_spec *s;
	const void *data;
};

int zarr_fill_whole(void *ctx, const uint64_t *chunk_idx,
		    const uint64_t *start, const uint64_t *count, void *buf);

/*
 * Check a spec and compute the array's byte size into *nbytes.  Same
 * -EINVAL / -ENOTSUP / -EOVERFLOW as zarr_write_array().
 */
int zarr_writer_check(const struct zarr_write_spec *s, uint64_t *nbytes);

/*
 * Append to out the metadata text exactly as the writer stores it: the
 * zarr.json of s as zarr v3 (zarr_v3_meta(), whatever s->zarr_format says),
 * or the .zarray of s as zarr v2 (zarr_v2_meta()).  No NUL is counted in
 * out->len (one is kept after it).  Errors: zarr_writer_check()'s; -ENOTSUP
 * a dtype without a zarr v2 name; -ENOMEM.
 */
int zarr_v3_meta(const struct zarr_write_spec *s, struct ck_buf *out);
int zarr_v2_meta(const struct zarr_write_spec *s, struct ck_buf *out);

/*
 * The 20-byte trailer of a zarr v3 shard holding one inner chunk of
 * inner_nbytes bytes at offset 0 (what follows every chunk value the writer
 * stores as zarr v3): u64 LE 0 || u64 LE inner_nbytes || u32 LE CRC-32C of
 * those 16 bytes.  Uncompressed (zstd_level < 0), a v3 chunk value is the
 * raw full-size chunk (prod(chunk) * itemsize bytes, edge chunks
 * zero-padded) followed by zarr_shard_index() of that size; a v2 chunk
 * value is the raw chunk alone.
 */
#define ZARR_SHARD_INDEX_BYTES 20
void zarr_shard_index(uint64_t inner_nbytes,
		      uint8_t out[ZARR_SHARD_INDEX_BYTES]);

#endif
