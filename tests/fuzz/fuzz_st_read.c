/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the safetensors header reader (st_read), the input
 * being a whole file; an accepted header must keep the promises of
 * st_read.h, checked here, or the target traps. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "layout/st_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The invariants of an accepted header over a file of size bytes. */
static void check(const struct st_header *h, uint64_t size)
{
	size_t i, k;

	if (h->data_start < 8 || h->data_start > size)
		__builtin_trap();
	for (i = 0; i < h->n; i++) {
		const struct st_entry *e = &h->e[i];
		uint64_t nb = ck_dtype_size(e->dtype);
		unsigned d;

		if (!e->name || !e->name[0] || e->rank > ZARR_MAX_RANK || !nb)
			__builtin_trap();
		if (i && strcmp(h->e[i - 1].name, e->name) >= 0)
			__builtin_trap();
		if (e->begin < h->data_start || e->begin > e->end || e->end > size)
			__builtin_trap();
		for (d = 0; d < e->rank; d++)
			if (__builtin_mul_overflow(nb, e->shape[d], &nb))
				__builtin_trap();
		if (nb != e->end - e->begin)
			__builtin_trap();
		/* Pairwise overlap check, for small headers only. */
		for (k = 0; h->n <= 64 && k < i; k++) {
			const struct st_entry *f = &h->e[k];

			if (e->begin < e->end && f->begin < f->end &&
			    e->begin < f->end && f->begin < e->end)
				__builtin_trap();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_header h;
	uint64_t hsize;

	if (size >= 8 && st_header_size(data, 8, size, "fuzz", &hsize) == 0 &&
	    (hsize < 8 || hsize > size))
		__builtin_trap();
	if (st_header_parse(data, size, size, "fuzz", &h) == 0) {
		check(&h, size);
		st_header_release(&h);
	}
	return 0;
}
