/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: zarr v3 shard index decoding.  The first two bytes pick
 * the configuration (inner chunk count, index location, endian, crc32c); the
 * rest is the shard value.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zarr/zarr_shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zarr_shard s;
	uint64_t ioff, lo, hi, *entries;
	const uint8_t *shard;
	size_t len, i;

	if (size < 2)
		return 0;
	memset(&s, 0, sizeof(s));
	s.rank = 1;
	s.k = (uint64_t)(data[0] & 0x3f) + 1;
	s.index_at_start = (data[1] >> 0) & 1;
	s.index_big_endian = (data[1] >> 1) & 1;
	s.index_crc = !((data[1] >> 2) & 1);
	s.index_bytes = 16 * s.k + (s.index_crc ? 4 : 0);
	shard = data + 2;
	len = size - 2;
	if (zarr_shard_index_locate(&s, len, &ioff, &lo, &hi) != 0)
		return 0;
	entries = malloc(16 * s.k);
	if (!entries)
		return 0;
	if (zarr_shard_index_decode(&s, shard + ioff, (size_t)s.index_bytes, lo, hi,
				    entries) == 0) {
		/* Every present entry must lie within the data area. */
		for (i = 0; i < s.k; i++) {
			uint64_t off = entries[2 * i], n = entries[2 * i + 1];

			if (off == ZARR_SHARD_MISSING)
				continue;
			if (off < lo || off + n > hi || off + n < off)
				__builtin_trap();
			if (n)
				(void)shard[off + n - 1];
		}
	}
	free(entries);
	return 0;
}
