/* SPDX-License-Identifier: MIT */
/*
 * zarr_meta.h - zarr array metadata (v3 zarr.json, v2 .zarray) parsed into a
 * typed struct, with the codec pipeline resolved against the codec table.
 *
 * A pipeline is the zarr v3 codec chain in encode order: array->array codecs
 * (transposes, composed into one permutation), one array->bytes codec
 * ("bytes" with an endian, or sharding_indexed), then bytes->bytes codecs
 * (zstd, gzip, blosc, crc32c; v2 also zlib, lz4).  A v2 .zarray is mapped
 * onto the same shape: order "F" is a reversing transpose, the typestr's byte
 * order is the bytes codec's endian, and the compressor is the one
 * bytes->bytes codec.
 *
 * All limits are enforced here, so the reader can trust the struct: rank <=
 * ZARR_MAX_RANK, chunk dims >= 1, prod(shape) * itemsize fits in uint64,
 * every (inner) chunk is at most ZARR_MAX_CHUNK_BYTES decoded, sharding
 * nests at most ZARR_MAX_SHARD_DEPTH deep, and inner chunks divide the outer
 * chunk.
 *
 * A parsed struct zarr_meta is immutable and may be shared between threads.
 */
#ifndef ZARR_META_H
#define ZARR_META_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "zarr/zarr_array.h"
#include "zarr/zarr_dtype.h"
#include "zarr/zarr_shard.h"

#define ZARR_MAX_CHUNK_BYTES ((uint64_t)4 << 30)	/* decoded (inner) chunk */
#define ZARR_MAX_B2B 8				/* bytes->bytes codecs */
#define ZARR_MAX_SHARD_DEPTH 4			/* nested sharding levels */
#define ZARR_MAX_META_BYTES ((size_t)16 << 20)	/* zarr.json / .zarray */

/* One bytes->bytes codec. */
struct zarr_b2b {
	const struct codec *codec;	/* borrowed from the codec table */
	struct codec_params params;	/* level, typesize (encode only) */
};

/* A codec chain for chunks of one shape. */
struct zarr_pipeline {
	int transposed;			/* 1: perm is not the identity */
	unsigned perm[ZARR_MAX_RANK];	/* encoded dim i = decoded dim perm[i] */
	int big_endian;			/* "bytes" codec endian */
	struct zarr_shard *shard;	/* owned; non-NULL: sharding_indexed */
	size_t nb2b;			/* bytes->bytes codecs in b2b */
	struct zarr_b2b b2b[ZARR_MAX_B2B]; /* in encode order */
};

struct zarr_meta {
	int zarr_format;		/* 2 or 3 */
	enum ck_dtype dtype;		/* element type */
	size_t itemsize;		/* bytes per element */
	unsigned rank;			/* number of dimensions */
	uint64_t shape[ZARR_MAX_RANK];	/* array shape */
	uint64_t chunk[ZARR_MAX_RANK];	/* outer chunk shape, all >= 1 */
	uint64_t grid[ZARR_MAX_RANK];	/* chunks per dimension */
	uint64_t nchunks;		/* prod(grid) */
	uint64_t nbytes;		/* prod(shape) * itemsize */
	uint64_t chunk_bytes;		/* prod(chunk) * itemsize */
	uint8_t fill[16];		/* fill value, little-endian, itemsize bytes */
	int has_fill;			/* 0: fill_value null (reads as zeros) */
	char key_sep;			/* chunk key separator, '/' or '.' */
	int key_c_prefix;		/* 1: v3 "default" keys ("c/0/1") */
	struct zarr_pipeline *codecs;	/* owned: the outer chunk's codecs */
};

/*
 * Parse n bytes of metadata text: a zarr.json when zarr_format is 3, a
 * .zarray when it is 2.  -EINVAL malformed, -ENOTSUP unknown codec / data type
 * / chunk grid / key encoding, -EOVERFLOW shape or chunk too large, -ENOMEM.
 * Every failure has a message naming the offending member.  Caller frees *out
 * with zarr_meta_free().  A v3 document whose node_type is "group" is
 * -EISDIR.  Pure (no I/O); safe to call from any thread, but
 * cJSON's error pointer is global, so parse at open time.
 */
int zarr_meta_parse(const char *text, size_t n, int zarr_format,
		    struct zarr_meta **out);

/* Free a parsed struct.  NULL is allowed. */
void zarr_meta_free(struct zarr_meta *m);

/* Free a pipeline (and its nested shard configs).  NULL is allowed. */
void zarr_pipeline_free(struct zarr_pipeline *p);

/*
 * Write the key of chunk idx[0..rank) relative to "<array>/" ("c/0/1",
 * "0.1", "c" or "0" for rank 0) into buf[0..cap) with a NUL.  Returns the
 * length, or -EOVERFLOW if it does not fit.
 */
int zarr_meta_chunk_key(const struct zarr_meta *m, const uint64_t *idx,
			char *buf, size_t cap);

/*
 * Parse a relative key as a chunk key of m: 0 and idx filled if it names a
 * grid cell, -ENOENT otherwise (metadata keys, foreign keys, out of grid).
 */
int zarr_meta_parse_chunk_key(const struct zarr_meta *m, const char *key,
			      size_t len, uint64_t *idx);

#endif
