/* SPDX-License-Identifier: MIT */
/*
 * tcache.h - a byte-budgeted LRU cache of transformed tensors, shared by the
 * reader threads of the mount.
 *
 * Entries are keyed by tensor id and hold the tensor's served bytes.  They
 * are reference-counted: the cache holds one reference while the entry is
 * listed, each tcache_get() caller holds another until tcache_put().  An
 * evicted entry stays valid for the readers that still hold it.
 *
 * On a miss the first caller computes the tensor through the load callback
 * with no lock held; concurrent callers for the same tensor wait for that one
 * load instead of loading twice.  A failed load is not cached: its waiters
 * get the error, and the next get tries again.
 *
 * The budget counts the bytes of listed entries.  Eviction takes entries
 * already handed to a reader before those that were computed ahead (claimed
 * and fulfilled) and not read yet.  An entry larger than the whole budget is
 * never listed: the most recent one of at most TCACHE_BIG_MAX bytes is kept
 * beside the budget (so that reading it front to back computes it once)
 * until the room is needed (a reservation or an entry that would not fit
 * beside it), so that memory stays within the budget plus one tensor;
 * larger ones only reach the readers waiting for them.  The cache lock
 * guards only the index and the LRU list.
 */
#ifndef TCACHE_H
#define TCACHE_H

#include <stddef.h>
#include <stdint.h>

struct tcache;

/* The largest entry kept beyond the budget (one at a time). */
#define TCACHE_BIG_MAX ((uint64_t)64 << 20)

/* From a load callback: the tensor was computed but is kept elsewhere (the
 * disk tier), not in this cache.  Not an error: tcache_get() returns it to
 * the caller and to every reader that waited, and caches nothing. */
#define TCACHE_ELSEWHERE 1

/* Compute tensor id into a new buffer of exactly size bytes (the callback
 * allocates with malloc; the cache frees it).  0, TCACHE_ELSEWHERE or
 * -errno. */
typedef int (*tcache_load_fn)(void *ctx, uint32_t id, uint8_t **data,
			      uint64_t *size);

/* Counters, readable at any time (tcache_stats). */
struct tcache_stats {
	uint64_t hits, misses, evictions, loads_failed;
	uint64_t bytes;			/* bytes of listed entries now */
	uint64_t peak_bytes;		/* highest value of bytes */
};

/* One reference to a loaded tensor. */
struct tcache_ref {
	const uint8_t *data;		/* the tensor bytes */
	uint64_t size;
	void *entry;			/* private */
};

/*
 * A cache for tensor ids [0, ntensors) with a budget of budget bytes.
 * -ENOMEM.  Free with tcache_free() once no reference is left.
 */
int tcache_new(uint32_t ntensors, uint64_t budget, tcache_load_fn load,
	       void *ctx, struct tcache **out);

/* Get tensor id (loading it if needed).  On success (0) the caller owns
 * *ref until tcache_put(ref).  TCACHE_ELSEWHERE when the load kept it
 * elsewhere; errors from the load callback.  Thread-safe. */
int tcache_get(struct tcache *c, uint32_t id, struct tcache_ref *ref);

/*
 * Claim tensor id for a load done outside tcache_get (a sibling's load
 * computes several tensors at once): when its slot is empty, publish it as
 * being loaded, so that tcache_get callers wait for it instead of loading it
 * again, and return 1; else (cached or loading already) return 0.  Every
 * claim must be ended by tcache_fulfil.  Thread-safe.
 */
int tcache_claim(struct tcache *c, uint32_t id);

/*
 * End a claim: with err 0 the cache takes data (malloc'd, size bytes) and
 * lists it as most recent (when it fits the budget), waking the waiters;
 * with an error the waiters get it and data is ignored.  Thread-safe.
 */
void tcache_fulfil(struct tcache *c, uint32_t id, uint8_t *data, uint64_t size,
		   int err);

/* 1 if tensor id is cached or being loaded now (a hint: it may be evicted
 * the next moment). */
int tcache_has(struct tcache *c, uint32_t id);

/* 1 if tensor id is being loaded now, by a claim or a reader's miss (a
 * hint, as tcache_has). */
int tcache_loading(struct tcache *c, uint32_t id);

/*
 * Make room for bytes about to be computed outside the cache's lists (a
 * load's output buffers): evict least recently used entries until the
 * listed bytes plus every reservation fit the budget, and count bytes as
 * reserved until tcache_unreserve(bytes), which the loader calls before it
 * hands the buffers in.  So the cache and the buffers being filled stay
 * within the budget together.  While other reservations take the room
 * needed, it waits for them to end (one reservation alone may exceed the
 * budget).  Thread-safe.
 */
void tcache_reserve(struct tcache *c, uint64_t bytes);

void tcache_unreserve(struct tcache *c, uint64_t bytes);

/* The budget in bytes. */
uint64_t tcache_budget(const struct tcache *c);

/*
 * Call fn(ctx, id, data, size, used) for every entry evicted to make room
 * (used: a reader had it), after the eviction and with no cache lock held,
 * from the thread that evicted it; data is valid during the call.  So the
 * caller can keep it elsewhere (the disk tier) rather than compute it
 * again.  Set before the cache is shared; NULL turns it off.
 */
typedef void (*tcache_victim_fn)(void *ctx, uint32_t id, const uint8_t *data,
				 uint64_t size, int used);
void tcache_set_victim(struct tcache *c, tcache_victim_fn fn, void *ctx);

/* Drop a reference from tcache_get(). */
void tcache_put(struct tcache *c, struct tcache_ref *ref);

void tcache_stats(struct tcache *c, struct tcache_stats *st);

void tcache_free(struct tcache *c);

#endif
