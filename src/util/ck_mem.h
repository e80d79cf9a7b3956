/* SPDX-License-Identifier: MIT */
/*
 * ck_mem.h - allocation of large buffers that are written once, all over
 * (served tensors, decoded chunks).
 *
 * A fresh multi-megabyte buffer costs one page fault per 4 KiB page on its
 * first write, which showed up as a sixth of the daemon's time.  Where the
 * kernel offers transparent huge pages on request ("madvise" mode, the
 * common default), ck_big_alloc() asks for them on the buffer's 2 MiB-aligned
 * interior, so that it faults in 2 MiB at a time.  Elsewhere it is malloc().
 */
#ifndef CK_MEM_H
#define CK_MEM_H

#include <stddef.h>

/* malloc(n), with huge pages requested for large n.  Free with free(). */
void *ck_big_alloc(size_t n);

#endif
