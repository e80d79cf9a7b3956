/* SPDX-License-Identifier: MIT */
/*
 * rd_engine_impl.h - the read engine's state, shared by its two files:
 * rd_engine.c (waves, caches, the bound on computations) and rd_tier.c
 * (the disk tier: where, how large, what goes in).
 *
 * Private to src/read.
 */
#ifndef RD_ENGINE_IMPL_H
#define RD_ENGINE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "read/rd_engine.h"

/* Wave locks: groups share one lock per this many. */
#define RD_WAVE_LOCKS 1024

struct rd_engine {
	const struct plan *plan;	/* borrowed */
	const struct plan_groups *groups;	/* borrowed */
	struct tcache *cache;
	struct dtier *dtier;		/* the disk tier, or NULL */
	char *tier_dir;			/* its directory (owned) */
	int tier_all;			/* 1: every tensor computed goes to
					   the tier (cache_dir= given); 0: only
					   what the RAM cache cannot keep */
	_Atomic uint64_t *served;	/* per tensor: bytes copied to readers
					   (with the default tier; owned) */
	_Atomic uint32_t *group_done;	/* per group: its tensors whose every
					   byte was copied once */
	_Atomic uint64_t tensor_loads;	/* tensors computed successfully */
	_Atomic(uint8_t *) *handoff;	/* per tensor: its bytes, computed by
					   a wave of its group while the reader
					   that claimed it waited for that
					   wave; taken by that reader (owned) */
	pthread_mutex_t wave_lock[RD_WAVE_LOCKS];	/* one wave of a group
					   at a time (group id modulo) */
	pthread_mutex_t load_lock;	/* bounds the loads running at once */
	pthread_cond_t load_done;
	unsigned loads_running, loads_max;
};

/* 1 when readers have had as many bytes of every tensor of t's group (t
 * alone, without one) as it holds; kept only with the default tier
 * (e->served). */
int rd_group_read_whole(struct rd_engine *e, uint32_t t);

#endif
