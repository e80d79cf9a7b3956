/* SPDX-License-Identifier: MIT */
/*
 * ckfs_mt.h - the view=maxtext side of ckfs (internal to src/fs/): the
 * files of the MaxText image of a Hugging Face directory
 * (mtview_image.h), who may read them, and their counters.
 */
#ifndef CKFS_MT_H
#define CKFS_MT_H

#include <stddef.h>

#include "fs/ckfs.h"

/*
 * Open the MaxText view of o->src into fs (fs->mt, fs->mimg, the files,
 * their owners and modes, mtime, summary); fs's directories are left to
 * the caller.  Errors: -EINVAL an option that does not apply (dtype=
 * float16, tokenizer=, step=); mtview_open()'s and mtview_image_new()'s
 * (one line naming the file and the tensor); -errno of a stat; -ENOMEM.
 * On failure fs holds what was made, for ckfs_close().
 */
int ckfs_mt_open(struct ckfs *fs, const struct ckfs_opts *o);

/* ckfs_stats_json() for view=maxtext. */
int ckfs_mt_stats_json(struct ckfs *fs, char **json, size_t *len);

#endif
