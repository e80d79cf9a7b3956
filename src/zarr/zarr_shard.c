/* SPDX-License-Identifier: MIT */
/* This file implements the shard index decoder of zarr_shard.h. */
#include "zarr/zarr_shard.h"

#include <errno.h>

#include "codec/codec.h"
#include "util/ck_err.h"
#include "util/ck_rd.h"

int zarr_shard_index_locate(const struct zarr_shard *s, uint64_t shard_len,
			    uint64_t *index_off, uint64_t *data_lo,
			    uint64_t *data_hi)
{
	if (shard_len < s->index_bytes)
		return ck_err(-EIO, "shard of %llu bytes is shorter than its %llu-byte index",
			      (unsigned long long)shard_len,
			      (unsigned long long)s->index_bytes);
	if (s->index_at_start) {
		*index_off = 0;
		*data_lo = s->index_bytes;
		*data_hi = shard_len;
	} else {
		*index_off = shard_len - s->index_bytes;
		*data_lo = 0;
		*data_hi = shard_len - s->index_bytes;
	}
	return 0;
}

static uint64_t load_u64be(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int check_entry(uint64_t i, uint64_t off, uint64_t len, uint64_t lo,
		       uint64_t hi)
{
	uint64_t end;

	if (off == ZARR_SHARD_MISSING && len == ZARR_SHARD_MISSING)
		return 0;
	if (off == ZARR_SHARD_MISSING || len == ZARR_SHARD_MISSING)
		return ck_err(-EIO, "shard index entry %llu is half missing",
			      (unsigned long long)i);
	if (__builtin_add_overflow(off, len, &end) || off < lo || end > hi)
		return ck_err(-EIO,
			      "shard index entry %llu (offset %llu, %llu bytes) lies outside the shard data [%llu, %llu)",
			      (unsigned long long)i, (unsigned long long)off,
			      (unsigned long long)len, (unsigned long long)lo,
			      (unsigned long long)hi);
	return 0;
}

int zarr_shard_index_decode(const struct zarr_shard *s, const uint8_t *enc,
			    size_t enc_len, uint64_t data_lo, uint64_t data_hi,
			    uint64_t *entries)
{
	uint64_t i, n = s->k * 2;
	int err;

	if (enc_len != s->index_bytes || s->index_bytes < 16 * s->k)
		return ck_err(-EIO, "shard index is %zu bytes, expected %llu", enc_len,
			      (unsigned long long)s->index_bytes);
	if (s->index_crc) {
		uint32_t want = ck_load_u32le(enc + 16 * s->k);
		uint32_t got = crc32c(0, enc, (size_t)(16 * s->k));

		if (want != got)
			return ck_err(-EIO, "shard index crc32c mismatch (stored %08x, computed %08x)",
				      want, got);
	}
	for (i = 0; i < n; i++)
		entries[i] = s->index_big_endian ? load_u64be(enc + 8 * i)
						 : ck_load_u64le(enc + 8 * i);
	for (i = 0; i < s->k; i++) {
		err = check_entry(i, entries[2 * i], entries[2 * i + 1], data_lo,
				  data_hi);
		if (err)
			return err;
	}
	return 0;
}
