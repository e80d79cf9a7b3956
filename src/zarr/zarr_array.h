/* SPDX-License-Identifier: MIT */
/*
 * zarr_array.h - open a zarr v2 or v3 array stored in a kvstore and read any
 * box of it.
 *
 * An array named N is found by its metadata key "N/zarr.json" (v3) or
 * "N/.zarray" (v2).  Its chunks are fetched through the kvstore, decoded
 * through the codec chain, and copied into the caller's buffer.  Only chunks
 * that intersect the requested box are read.  Missing chunks (and missing
 * inner chunks of a shard) read as the fill value.
 *
 * Supported:
 *   v3: all integer/float/bool/complex data types incl. bfloat16 and float16;
 *       regular chunk grid; "default" and "v2" chunk key encodings with "/"
 *       or "." separators; codecs transpose, bytes (little or big endian),
 *       zstd, gzip, blosc, crc32c, and sharding_indexed (index at start or
 *       end, with its own index codecs, inner chunks in any order, empty inner
 *       chunks, nested sharding).
 *   v2: numpy typestrs and bfloat16; compressors zstd, blosc, gzip, zlib, lz4
 *       and none; C and F order; dimension_separator; fill_value.
 *
 * A struct zarr_array is immutable once opened and safe to read from many
 * threads at once.  It borrows the kvstore, which must outlive it.
 */
#ifndef ZARR_ARRAY_H
#define ZARR_ARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "zarr/zarr_dtype.h"

struct kvstore;
struct zarr_array;

#define ZARR_MAX_RANK 32

/* What `inspect` shows of an array. */
struct zarr_info {
	int zarr_format;		/* 2 or 3 */
	enum ck_dtype dtype;
	unsigned rank;
	uint64_t shape[ZARR_MAX_RANK];
	uint64_t chunk[ZARR_MAX_RANK];	/* outer chunk (shard) shape */
	uint64_t nchunks;		/* number of grid cells */
	uint64_t nbytes;		/* decoded size: prod(shape) * itemsize */
	uint64_t stored_bytes;		/* sum of stored chunk value lengths */
	uint64_t stored_chunks;		/* chunks actually present */
};

/*
 * Open array `name` (no trailing '/') of kv.  -ENOENT if neither metadata key
 * exists; -EISDIR if "N/zarr.json" describes a group, not an array;
 * -EINVAL/-ENOTSUP/-EOVERFLOW with a message naming the metadata key
 * for bad or unsupported metadata (unknown codec, absurd shape whose byte size
 * overflows, ...).  Caller frees with zarr_array_free().
 */
int zarr_array_open(const struct kvstore *kv, const char *name,
		    struct zarr_array **out);

/* Fill *info (stored_* fields are computed by listing the chunk keys). */
int zarr_array_info(const struct zarr_array *a, struct zarr_info *info);

/*
 * Read the box [start, start+count) into dst, C order, little-endian, dense
 * with shape count.  dst must hold prod(count) * itemsize bytes.  Touches
 * only the chunks that intersect the box.  -EINVAL if the box is out of
 * bounds; -EIO/-ENOTSUP on bad chunk data, with a message naming the chunk
 * key and the file.  Thread-safe.
 */
int zarr_array_read(const struct zarr_array *a, const uint64_t *start,
		    const uint64_t *count, void *dst);

/*
 * Called by zarr_array_visit() with one decoded piece of the box: the
 * sub-box [pos, pos + n) of it (pos relative to the box's start), whose
 * element at index i (relative to the piece) is at data + sum(i[a] *
 * stride[a]) elements, little-endian, in the array's dtype.  Calls come from
 * several threads at once, for disjoint pieces; data is valid only during
 * the call.  0 goes on; an error stops the visit and is returned by it.
 */
typedef int (*zarr_visit_fn)(void *ctx, const uint64_t *pos, const uint64_t *n,
			     const void *data, const uint64_t *stride);

/*
 * Hand the box [start, start+count) to fn piece by piece, each chunk decoded
 * once.  The caller needs no buffer for the whole box.  A chunk is handed
 * over whole, or, when it is large and stored as one zstd stream (the
 * Orbax layout), decoded streaming, in windows of about a MiB, so that
 * the memory a visit needs does not grow with the chunk size.  Errors as
 * zarr_array_read(), or fn's.  Thread-safe.
 */
int zarr_array_visit(const struct zarr_array *a, const uint64_t *start,
		     const uint64_t *count, zarr_visit_fn fn, void *ctx);

/* Number of chunk (or inner chunk) decodes done by this array so far. */
uint64_t zarr_array_decode_count(const struct zarr_array *a);

/* Bytes those decodes produced so far: the decoded size of each (inner)
 * chunk decoded, whatever part of it the read wanted.  Thread-safe. */
uint64_t zarr_array_decoded_bytes(const struct zarr_array *a);

/* Free the array.  NULL is allowed. */
void zarr_array_free(struct zarr_array *a);

#endif
