/* SPDX-License-Identifier: MIT */
/* libFuzzer target: zarr.json / .zarray parsing (first byte picks v2 or v3). */
#include <stddef.h>
#include <stdint.h>

#include "zarr/zarr_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zarr_meta *m = NULL;
	uint64_t idx[ZARR_MAX_RANK];
	char key[1024];
	int len;

	if (size < 1)
		return 0;
	if (zarr_meta_parse((const char *)data + 1, size - 1, data[0] & 1 ? 3 : 2,
			    &m) != 0)
		return 0;
	/* Round-trip the key of the last grid cell. */
	for (unsigned i = 0; i < m->rank; i++)
		idx[i] = m->grid[i] ? m->grid[i] - 1 : 0;
	len = zarr_meta_chunk_key(m, idx, key, sizeof(key));
	if (len >= 0 && m->nchunks > 0 &&
	    zarr_meta_parse_chunk_key(m, key, (size_t)len, idx) != 0)
		__builtin_trap();
	zarr_meta_free(m);
	return 0;
}
