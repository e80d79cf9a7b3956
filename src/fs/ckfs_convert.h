/* SPDX-License-Identifier: MIT */
/*
 * ckfs_convert.h - the view written to a directory (`ckptfs convert`):
 * every file byte-identical to what ckfs_read() serves, each tensor
 * computed once and written where the layout puts it, with at most a
 * budget of tensor bytes in memory (rd_export.h), whatever the model size.
 */
#ifndef CKFS_CONVERT_H
#define CKFS_CONVERT_H

#include <stdint.h>

#include "fs/ckfs.h"

/* After each file or tensor written: bytes done of total, and its name. */
typedef void (*ckfs_progress_fn)(void *ctx, uint64_t done, uint64_t total,
				 const char *name);

/*
 * Write every file of fs into the existing directory out (new files:
 * -EEXIST with a message when one is there), tensors computed in batches of
 * at most budget bytes.  progress may be NULL.  Errors name the file or the
 * tensor; the files written so far stay.
 */
int ckfs_convert(struct ckfs *fs, const char *out, uint64_t budget,
		 ckfs_progress_fn progress, void *ctx);

#endif
