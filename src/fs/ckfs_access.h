/* SPDX-License-Identifier: MIT */
/*
 * ckfs_access.h - the owner, group and modes of the view's files (internal
 * to src/fs/).
 *
 * Each file of the view may be read by no one who could not read what it is
 * made of at the source (ck_access.h): the safetensors files and the index
 * from the checkpoint's item (every file of it, the directories down to it,
 * the step's metadata); config.json from those and the hf_config= file; a
 * tokenizer file from itself and the directories down to it.  The view's
 * directory is the checkpoint's, searchable where readable.  The kernel
 * enforces the modes for every user (default_permissions, fs_ops.c);
 * -o uid=,gid=,umask= replace them explicitly.
 */
#ifndef CKFS_ACCESS_H
#define CKFS_ACCESS_H

#include "fs/ckfs.h"

/* Set uid, gid and mode of every file of fs, and of its directory.
 * Returns 0, or -ENOMEM / -errno of a stat (with a message). */
int ckfs_access_view(struct ckfs *fs, const struct ckfs_opts *o);

#endif
