/* SPDX-License-Identifier: MIT */
/*
 * ckfs_load.h - how the view computes its tensors and where it keeps them:
 * the RAM cache (tcache), the disk tier (dtier, with cache_dir=), sibling
 * waves, and the bound on computations running at once.
 *
 * Private to src/fs.
 */
#ifndef CKFS_LOAD_H
#define CKFS_LOAD_H

#include <stdint.h>
#include <sys/types.h>

#include "fs/ckfs.h"

/* 1 when every tensor of t's group (t alone, without one) has been read
 * at least in part since the mount; kept only with the default tier. */
int ckfs_group_read_whole(struct ckfs *fs, uint32_t t);

/* Free what fs->handoff still holds, and it. */
void ckfs_handoff_release(struct ckfs *fs);

/* The tcache load callback of the view (ctx is the struct ckfs). */
int ckfs_load_tensor(void *ctx, uint32_t id, uint8_t **data, uint64_t *size);

/* Open the disk tier for fs (fs->dtier, ckfs_tier.c): o->cache_dir, or
 * the default one, or none (cache_dir=none, or a default tier that cannot
 * be had).  Errors of dtier_open() for o->cache_dir, naming it; -ENOMEM. */
int ckfs_tier_open(struct ckfs *fs, const struct ckfs_opts *o);

/*
 * Copy up to n bytes of tensor t from byte toff (inside it) to buf: from
 * the RAM cache, the disk tier, or computed now.  Returns the bytes copied
 * (at least 1) or -errno with the ck_err message set.
 */
ssize_t ckfs_tensor_copy(struct ckfs *fs, uint32_t t, uint64_t toff, uint8_t *buf,
			 size_t n);

#endif
