/* SPDX-License-Identifier: MIT */
/* This file implements ck_mem.h. */
#include "util/ck_mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Buffers from this size on are worth huge pages. */
#define CK_BIG_MIN ((size_t)4 << 20)
#define CK_HUGE ((uintptr_t)2 << 20)

void *ck_big_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);
#ifdef MADV_HUGEPAGE
	if (p && n >= CK_BIG_MIN) {
		uintptr_t lo = ((uintptr_t)p + CK_HUGE - 1) & ~(CK_HUGE - 1);
		uintptr_t hi = ((uintptr_t)p + n) & ~(CK_HUGE - 1);

		/* Advice only: where it is refused, pages come 4 KiB at a
		 * time as usual. */
		if (hi > lo)
			(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
	}
#endif
	return p;
}
