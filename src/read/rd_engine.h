/* SPDX-License-Identifier: MIT */
/*
 * rd_engine.h - the read engine: the part between the mapping (which
 * tensors come from which slices, plan.h) and the view (which bytes of
 * which file, ckfs.h).  Given a tensor and a byte range of it, it finds the
 * bytes in the RAM cache (tcache) or the disk tier (dtier), or computes the
 * tensor now, together with its siblings (rd_tensor.h), and copies the range
 * out.  It bounds the computations running at once and keeps every counter
 * of how bytes were made.
 *
 * FUSE-free; thread-safe after rd_engine_tier().  docs/read-path.md follows
 * one read through it.
 */
#ifndef RD_ENGINE_H
#define RD_ENGINE_H

#include <stdint.h>
#include <sys/types.h>

#include "cache/dtier.h"
#include "cache/tcache.h"
#include "mapping/plan.h"

struct rd_engine;

#define RD_DEFAULT_TIER_SIZE ((uint64_t)64 << 30)

/*
 * An engine computing the tensors of p, with g its sibling groups, keeping
 * them in a RAM cache of cache_size bytes.  Borrows p and g, which must
 * outlive it.  -ENOMEM.  Free with rd_engine_free().
 */
int rd_engine_new(const struct plan *p, const struct plan_groups *g,
		  uint64_t cache_size, struct rd_engine **out);

/* Where the disk tier is (rd_tier.c says what goes into it). */
struct rd_tier_opts {
	const char *dir;		/* the user's tier (cache_dir=), every
					   tensor computed goes there; NULL =
					   the default tier */
	int none;			/* no tier at all */
	uint64_t size;			/* the user's tier's budget in bytes,
					   0 = RD_DEFAULT_TIER_SIZE */
	int keep;			/* leave the user's tier's files at the
					   end, for the next engine to adopt */
	const char *tag;		/* identity of what is computed (the
					   view), checked when adopting */
};

/*
 * Open the engine's disk tier, once, before sharing the engine.  A default
 * tier that cannot be had is no tier (the reason is logged at debug level);
 * for o->dir, the errors of dtier_open() naming it; -ENOMEM.
 */
int rd_engine_tier(struct rd_engine *e, const struct rd_tier_opts *o);

/*
 * Copy up to n bytes of tensor t from byte toff (inside it) to buf: from
 * the RAM cache, the disk tier, or computed now.  Returns the bytes copied
 * (at least 1) or -errno with the ck_err message set.
 */
ssize_t rd_copy(struct rd_engine *e, uint32_t t, uint64_t toff, uint8_t *buf,
		size_t n);

/* Counters (each read on its own, not as one snapshot). */
struct rd_stats {
	struct tcache_stats cache;
	struct dtier_stats tier;	/* zero without a tier */
	uint64_t tensor_loads;		/* tensors computed successfully */
};

void rd_engine_stats(struct rd_engine *e, struct rd_stats *st);

/* Free e once no copy is in flight (its tier's files go unless kept).
 * NULL is a no-op. */
void rd_engine_free(struct rd_engine *e);

#endif
