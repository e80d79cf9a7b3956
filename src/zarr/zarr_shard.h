/* SPDX-License-Identifier: MIT */
/*
 * zarr_shard.h - the zarr v3 sharding_indexed codec: its configuration and
 * the decoder of a shard's index.
 *
 * A shard holds the encoded inner chunks of one outer chunk, in any order,
 * and an index of k = prod(outer / inner) entries (inner chunks in C order of
 * the inner grid), each an (offset, nbytes) pair of u64 relative to the shard
 * start; (2^64-1, 2^64-1) marks an inner chunk that is not stored (it reads as
 * the fill value).  The index is encoded by its own codecs: "bytes" (little or
 * big endian) optionally followed by "crc32c", which appends the CRC-32C (u32
 * LE) of the 16*k index bytes.  It sits at the start or at the end of the
 * shard.
 *
 * Everything here is pure and thread-safe; the configuration is immutable
 * once parsed (zarr_meta.c fills it).
 */
#ifndef ZARR_SHARD_H
#define ZARR_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "zarr/zarr_array.h"

struct zarr_pipeline;

/* Cap on the encoded index of one shard (k <= 2^24 inner chunks). */
#define ZARR_SHARD_MAX_INDEX_BYTES ((uint64_t)16 << 24)

/* Marker of a missing inner chunk (both fields). */
#define ZARR_SHARD_MISSING UINT64_MAX

/* One sharding_indexed codec, for an outer chunk of a known shape. */
struct zarr_shard {
	unsigned rank;			/* rank of outer and inner chunks */
	uint64_t chunk[ZARR_MAX_RANK];	/* inner chunk shape */
	uint64_t grid[ZARR_MAX_RANK];	/* inner chunks per dimension */
	uint64_t k;			/* prod(grid): index entries */
	uint64_t index_bytes;		/* 16*k, +4 with crc32c */
	int index_at_start;		/* 1: index_location "start" */
	int index_big_endian;		/* index "bytes" codec endian */
	int index_crc;			/* 1: index ends with a CRC-32C */
	struct zarr_pipeline *inner;	/* owned: codecs of inner chunks */
};

/*
 * Where the index of a shard of shard_len bytes lies: *index_off is its
 * offset, and inner chunks must lie within [*data_lo, *data_hi).  -EIO if the
 * shard is shorter than its index.  Out-params are written only on success.
 */
int zarr_shard_index_locate(const struct zarr_shard *s, uint64_t shard_len,
			    uint64_t *index_off, uint64_t *data_lo,
			    uint64_t *data_hi);

/*
 * Decode the encoded index enc[0..enc_len) (enc_len must be s->index_bytes)
 * into entries[0..2k): entries[2i] = offset, entries[2i+1] = nbytes of inner
 * chunk i.  Checks the CRC-32C, that each entry is either missing (both
 * fields 2^64-1) or lies within [data_lo, data_hi), and fails with -EIO and a
 * message naming the bad entry otherwise.  entries is the caller's buffer of
 * 2k slots; its contents are unspecified after a failure.
 */
int zarr_shard_index_decode(const struct zarr_shard *s, const uint8_t *enc,
			    size_t enc_len, uint64_t data_lo, uint64_t data_hi,
			    uint64_t *entries);

#endif
