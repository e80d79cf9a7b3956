/* SPDX-License-Identifier: MIT */
/*
 * This file implements the refcounted, byte-budgeted LRU tensor cache.
 *
 * Design: a slot per tensor id points to its current entry (or NULL).  An
 * entry is LOADING (one thread computing it, others waiting on the cache's
 * condition variable), READY, or FAILED.  READY entries are on a doubly
 * linked LRU list, most recent at the head, while they are listed; eviction
 * unlinks from the tail until the budget holds, dropping the cache's
 * reference.  The last reference frees the data.  Entries no reader has had
 * yet (siblings a wave computed ahead of their reader) are evicted only when
 * the ones already read do not make enough room.
 */
#include "cache/tcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_err.h"

enum entry_state { LOADING, READY, FAILED };

struct entry {
	uint32_t id;
	enum entry_state state;
	int err;			/* FAILED: the load's error, or
					   TCACHE_ELSEWHERE */
	char *msg;			/* FAILED: its message, or NULL */
	uint8_t *data;
	uint64_t size;
	unsigned refs;			/* protected by tcache.lock */
	int listed;			/* on the LRU list, counted in bytes */
	int used;			/* handed to a reader at least once */
	struct entry *prev, *next;	/* LRU links, protected by lock */
};

struct tcache {
	pthread_mutex_t lock;
	pthread_cond_t loaded;		/* broadcast when a load ends */
	pthread_cond_t room;		/* broadcast when a reservation ends */
	struct entry **slots;		/* per id: current entry or NULL */
	uint32_t n;
	uint64_t budget;
	uint64_t reserved;		/* bytes being loaded (tcache_reserve) */
	struct entry *big;		/* the one entry kept beyond the budget */
	struct entry *head, *tail;	/* LRU list */
	struct entry *victims;		/* evicted unread, to hand to victim
					   (linked by next; a reference each) */
	tcache_victim_fn victim;	/* or NULL */
	void *vctx;
	tcache_load_fn load;
	void *ctx;
	struct tcache_stats st;
};

int tcache_new(uint32_t ntensors, uint64_t budget, tcache_load_fn load,
	       void *ctx, struct tcache **out)
{
	struct tcache *c = calloc(1, sizeof(*c));

	if (!c)
		return ck_err(-ENOMEM, "out of memory");
	c->slots = calloc((size_t)ntensors + 1, sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		return ck_err(-ENOMEM, "out of memory");
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->loaded, NULL);
	pthread_cond_init(&c->room, NULL);
	c->n = ntensors;
	c->budget = budget;
	c->load = load;
	c->ctx = ctx;
	*out = c;
	return 0;
}

static void unlink_lru(struct tcache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void push_front(struct tcache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

/* Drop one reference (lock held); frees the entry at zero. */
/* Mark e failed with err and the calling thread's message, which every
 * reader that waited for it then reports as its own. */
static void fail_locked(struct tcache *c, struct entry *e, int err)
{
	const char *msg = ck_err_msg();

	e->state = FAILED;
	e->err = err;
	if (err == TCACHE_ELSEWHERE)
		return;		/* not a failure: nothing to report */
	e->msg = *msg ? strdup(msg) : NULL;
	c->st.loads_failed++;
}

/* A waiter's copy of the failure of e: err, and the loader's message. */
static int failed_err(const struct entry *e)
{
	if (e->err == TCACHE_ELSEWHERE)
		return TCACHE_ELSEWHERE;
	if (e->msg)
		return ck_err(e->err, "%s", e->msg);
	return ck_err(e->err, "loading tensor %u failed", e->id);
}

static void unref_locked(struct entry *e)
{
	if (--e->refs == 0) {
		free(e->data);
		free(e->msg);
		free(e);
	}
}

/* Unlist an entry: off the LRU, out of its slot, cache reference dropped.
 * With a victim callback it goes to the victim list instead and stays in
 * its slot until the callback is done with it (drain_victims): a reader
 * asking for it meanwhile gets these bytes, instead of computing them again
 * while the callback is still storing them elsewhere. */
static void evict_locked(struct tcache *c, struct entry *e)
{
	unlink_lru(c, e);
	e->listed = 0;
	c->st.bytes -= e->size;
	c->st.evictions++;
	if (c->victim) {
		e->next = c->victims;
		c->victims = e;
		return;
	}
	if (c->slots[e->id] == e)
		c->slots[e->id] = NULL;
	unref_locked(e);
}

/* Hand the victims to the victim callback, with no lock held. */
static void drain_victims(struct tcache *c)
{
	for (;;) {
		struct entry *e;
		uint64_t size = 0;
		uint32_t id = 0;
		int used = 0;

		/* A reader still holding the entry may mark it used meanwhile:
		 * what the callback gets is read under the lock.  The bytes do
		 * not change once loaded, and the victim list's reference keeps
		 * them. */
		pthread_mutex_lock(&c->lock);
		e = c->victims;
		if (e) {
			c->victims = e->next;
			id = e->id;
			size = e->size;
			used = e->used;
		}
		pthread_mutex_unlock(&c->lock);
		if (!e)
			return;
		c->victim(c->vctx, id, e->data, size, used);
		pthread_mutex_lock(&c->lock);
		e->next = NULL;
		if (c->slots[id] == e && !e->listed)
			c->slots[id] = NULL;
		unref_locked(e);
		pthread_mutex_unlock(&c->lock);
	}
}

void tcache_set_victim(struct tcache *c, tcache_victim_fn fn, void *ctx)
{
	c->victim = fn;
	c->vctx = ctx;
}

static void make_room_locked(struct tcache *c, uint64_t need)
{
	struct entry *e = c->tail, *prev;

	/* Those already read first, least recent first; then any. */
	for (; e && c->st.bytes + c->reserved + need > c->budget; e = prev) {
		prev = e->prev;
		if (e->used)
			evict_locked(c, e);
	}
	while (c->tail && c->st.bytes + c->reserved + need > c->budget)
		evict_locked(c, c->tail);
	/* The entry kept beyond the budget stays only while nothing else
	 * needs the room: memory stays within the budget plus one tensor. */
	if (c->big && c->st.bytes + c->reserved + need > c->budget) {
		struct entry *big = c->big;

		c->big = NULL;
		if (c->slots[big->id] == big)
			c->slots[big->id] = NULL;
		unref_locked(big);
	}
}

/* A reader has the entry. */
static void mark_used_locked(struct entry *e)
{
	e->used = 1;
}


void tcache_reserve(struct tcache *c, uint64_t bytes)
{
	pthread_mutex_lock(&c->lock);
	/* Loads in flight hold reservations that cannot be evicted: wait for
	 * them rather than go past the budget (alone, a load may). */
	while (c->reserved && c->reserved + bytes > c->budget)
		pthread_cond_wait(&c->room, &c->lock);
	make_room_locked(c, bytes);
	c->reserved += bytes;
	pthread_mutex_unlock(&c->lock);
	drain_victims(c);
}

void tcache_unreserve(struct tcache *c, uint64_t bytes)
{
	pthread_mutex_lock(&c->lock);
	c->reserved -= bytes < c->reserved ? bytes : c->reserved;
	pthread_cond_broadcast(&c->room);
	pthread_mutex_unlock(&c->lock);
}

/* A load ended with data: the entry is READY, and listed as most recent
 * when it fits the budget (returns 1), else not listed (returns 0). */
static int ready_locked(struct tcache *c, struct entry *e, uint8_t *data,
			uint64_t size)
{
	e->data = data;
	e->size = size;
	e->state = READY;
	if (size > c->budget)
		return 0;
	make_room_locked(c, size);
	e->listed = 1;
	c->st.bytes += size;
	if (c->st.bytes > c->st.peak_bytes)
		c->st.peak_bytes = c->st.bytes;
	push_front(c, e);
	return 1;
}

/*
 * e is READY but too large for the budget: keep it as the one big entry
 * (its slot's reference becomes that one; the previous big entry is
 * dropped) when it is at most TCACHE_BIG_MAX bytes, and return 1; else
 * take it out of its slot and return 0 (its readers keep their references,
 * the caller drops the slot's).
 */
static int keep_big_locked(struct tcache *c, struct entry *e)
{
	struct entry *old = c->big;

	if (e->size > TCACHE_BIG_MAX) {
		if (c->slots[e->id] == e)
			c->slots[e->id] = NULL;
		return 0;
	}
	c->big = e;
	if (old) {
		if (c->slots[old->id] == old)
			c->slots[old->id] = NULL;
		unref_locked(old);
	}
	return 1;
}

static void hand_out(struct entry *e, struct tcache_ref *ref)
{
	ref->data = e->data;
	ref->size = e->size;
	ref->entry = e;
}

int tcache_get(struct tcache *c, uint32_t id, struct tcache_ref *ref)
{
	struct entry *e;
	uint8_t *data = NULL;
	uint64_t size = 0;
	int err;

	if (id >= c->n)
		return ck_err(-EINVAL, "tensor id %u out of range", id);
	pthread_mutex_lock(&c->lock);
	for (;;) {
		e = c->slots[id];
		if (!e)
			break;
		if (e->state == READY) {
			e->refs++;
			if (e->listed) {
				unlink_lru(c, e);
				push_front(c, e);
			}
			mark_used_locked(e);
			c->st.hits++;
			pthread_mutex_unlock(&c->lock);
			hand_out(e, ref);
			return 0;
		}
		if (e->state == FAILED) {
			err = failed_err(e);
			pthread_mutex_unlock(&c->lock);
			return err;
		}
		/* LOADING elsewhere: wait for it, then look again. */
		e->refs++;
		while (e->state == LOADING)
			pthread_cond_wait(&c->loaded, &c->lock);
		if (e->state == FAILED) {
			err = failed_err(e);
			unref_locked(e);
			pthread_mutex_unlock(&c->lock);
			return err;
		}
		mark_used_locked(e);
		c->st.hits++;
		pthread_mutex_unlock(&c->lock);
		hand_out(e, ref);
		return 0;
	}
	/* Miss: publish a LOADING entry, load with no lock held. */
	e = calloc(1, sizeof(*e));
	if (!e) {
		pthread_mutex_unlock(&c->lock);
		return ck_err(-ENOMEM, "out of memory");
	}
	e->id = id;
	e->state = LOADING;
	e->refs = 2;		/* the slot's and ours */
	c->slots[id] = e;
	c->st.misses++;
	pthread_mutex_unlock(&c->lock);

	err = c->load(c->ctx, id, &data, &size);

	pthread_mutex_lock(&c->lock);
	if (err) {
		fail_locked(c, e, err);
		if (c->slots[id] == e)
			c->slots[id] = NULL;
		e->refs--;	/* the slot's reference */
		pthread_cond_broadcast(&c->loaded);
		unref_locked(e);
		pthread_mutex_unlock(&c->lock);
		return err;
	}
	if (!ready_locked(c, e, data, size) && !keep_big_locked(c, e))
		e->refs--;	/* too big to keep: for its readers only */
	mark_used_locked(e);
	pthread_cond_broadcast(&c->loaded);
	pthread_mutex_unlock(&c->lock);
	drain_victims(c);
	hand_out(e, ref);
	return 0;
}

int tcache_claim(struct tcache *c, uint32_t id)
{
	struct entry *e = NULL;

	pthread_mutex_lock(&c->lock);
	if (id < c->n && !c->slots[id])
		e = calloc(1, sizeof(*e));
	if (e) {
		e->id = id;
		e->state = LOADING;
		e->refs = 1;		/* the slot's */
		c->slots[id] = e;
		c->st.misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return e != NULL;
}

void tcache_fulfil(struct tcache *c, uint32_t id, uint8_t *data, uint64_t size,
		   int err)
{
	struct entry *e;

	pthread_mutex_lock(&c->lock);
	e = id < c->n ? c->slots[id] : NULL;
	if (!e || e->state != LOADING) {
		/* Not claimed: nothing waits for it. */
		pthread_mutex_unlock(&c->lock);
		if (!err)
			free(data);
		return;
	}
	if (err) {
		fail_locked(c, e, err);
		c->slots[id] = NULL;
		pthread_cond_broadcast(&c->loaded);
		unref_locked(e);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (!ready_locked(c, e, data, size) && !keep_big_locked(c, e)) {
		pthread_cond_broadcast(&c->loaded);
		unref_locked(e);	/* waiters, if any, still hold it */
		pthread_mutex_unlock(&c->lock);
		drain_victims(c);
		return;
	}
	pthread_cond_broadcast(&c->loaded);
	pthread_mutex_unlock(&c->lock);
	drain_victims(c);
}

int tcache_has(struct tcache *c, uint32_t id)
{
	int yes;

	pthread_mutex_lock(&c->lock);
	yes = id < c->n && c->slots[id] != NULL;
	pthread_mutex_unlock(&c->lock);
	return yes;
}

int tcache_loading(struct tcache *c, uint32_t id)
{
	int yes;

	pthread_mutex_lock(&c->lock);
	yes = id < c->n && c->slots[id] && c->slots[id]->state == LOADING;
	pthread_mutex_unlock(&c->lock);
	return yes;
}

uint64_t tcache_budget(const struct tcache *c)
{
	return c->budget;
}

void tcache_put(struct tcache *c, struct tcache_ref *ref)
{
	if (!ref->entry)
		return;
	pthread_mutex_lock(&c->lock);
	unref_locked(ref->entry);
	pthread_mutex_unlock(&c->lock);
	ref->entry = NULL;
	ref->data = NULL;
}

void tcache_stats(struct tcache *c, struct tcache_stats *st)
{
	pthread_mutex_lock(&c->lock);
	*st = c->st;
	pthread_mutex_unlock(&c->lock);
}

void tcache_free(struct tcache *c)
{
	if (!c)
		return;
	c->victim = NULL;
	while (c->tail)
		evict_locked(c, c->tail);
	while (c->victims) {
		struct entry *e = c->victims;

		c->victims = e->next;
		unref_locked(e);
	}
	if (c->big)
		unref_locked(c->big);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->loaded);
	pthread_cond_destroy(&c->room);
	free(c->slots);
	free(c);
}
