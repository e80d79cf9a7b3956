/* SPDX-License-Identifier: MIT */
/* This file implements rmt_readahead.h: parts of remote objects fetched
 * ahead by a pool of workers, read from by the readers. */
#include "remote/rmt_readahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RA_MAX_WORKERS 64
/* A part fetched and not read for this long may make room for others. */
#define RA_STALE_MS 5000

enum ra_state { RA_QUEUED, RA_FETCHING, RA_DONE, RA_FAILED };

struct ra_part {
	void *obj;		/* borrowed: the object (ra_forget() ends it) */
	ra_fetch_fn fetch;
	uint64_t off;		/* aligned to RA_PART in the object */
	size_t len;
	enum ra_state state;
	uint8_t *buf;		/* owned: len bytes once RA_DONE */
	unsigned pins;		/* readers and fetchers using it now */
	long long done_ms;	/* when its fetch ended (now_ms()) */
	int dead;		/* dropped: freed when no longer pinned */
	struct ra_part *prev, *next; /* every part, oldest first */
	struct ra_part *qnext;	/* the queue of parts to fetch (RA_QUEUED) */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work;	/* a part was queued */
	pthread_cond_t done;	/* a part's fetch ended */
	struct ra_part *head, *tail;
	struct ra_part *qhead, *qtail;
	uint64_t held;		/* bytes of the parts not freed */
	uint64_t budget;
	unsigned workers, started;
	int atfork;
} ra = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	PTHREAD_COND_INITIALIZER, NULL, NULL, NULL, NULL, 0,
	32 * RA_PART, 16, 0, 0,
};

/* ---- the lists (lock held) ------------------------------------------- */

static void unlink_part(struct ra_part *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		ra.head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		ra.tail = p->prev;
	ra.held -= p->len;
	free(p->buf);
	free(p);
}

static void unqueue(struct ra_part *p)
{
	struct ra_part **pp = &ra.qhead, *last = NULL;

	while (*pp && *pp != p) {
		last = *pp;
		pp = &(*pp)->qnext;
	}
	if (!*pp)
		return;
	*pp = p->qnext;
	if (ra.qtail == p)
		ra.qtail = last;
	p->qnext = NULL;
}

/* Drop p: now if no one uses it, else when the last one lets go. */
static void drop(struct ra_part *p)
{
	if (p->state == RA_QUEUED)
		unqueue(p);
	p->dead = 1;
	if (!p->pins)
		unlink_part(p);
}

static void unpin(struct ra_part *p)
{
	if (--p->pins)
		return;
	if (p->dead)
		unlink_part(p);
	pthread_cond_broadcast(&ra.done);	/* for ra_forget() */
}

/* The live part of obj holding byte pos, or NULL. */
static struct ra_part *find(const void *obj, uint64_t pos)
{
	for (struct ra_part *p = ra.head; p; p = p->next)
		if (p->obj == obj && !p->dead && p->off <= pos &&
		    pos - p->off < p->len)
			return p;
	return NULL;
}

/* The start of the first live part of obj after pos, or limit. */
static uint64_t next_start(const void *obj, uint64_t pos, uint64_t limit)
{
	for (struct ra_part *p = ra.head; p; p = p->next)
		if (p->obj == obj && !p->dead && p->off > pos && p->off < limit)
			limit = p->off;
	return limit;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Make room for len more bytes by dropping fetched parts nobody has read
 * for RA_STALE_MS, oldest first: 1 if there is room.  A part fetched for a
 * reader that has not got to it yet is kept: dropping it for a newer hint
 * would fetch it twice (many readers hinting whole chunks at once would
 * evict each other's parts).
 */
static int make_room(uint64_t len)
{
	struct ra_part *p = ra.head, *next;
	long long now = ra.held + len > ra.budget ? now_ms() : 0;

	for (; p && ra.held + len > ra.budget; p = next) {
		next = p->next;
		if (!p->pins && !p->dead && p->state == RA_FAILED)
			drop(p);
		else if (!p->pins && !p->dead && p->state == RA_DONE &&
			 now - p->done_ms >= RA_STALE_MS)
			drop(p);
	}
	return ra.held + len <= ra.budget;
}

/* Fetch a part that was RA_QUEUED (lock held; released while fetching).
 * The caller has pinned it. */
static void fetch_part(struct ra_part *p)
{
	uint8_t *buf;
	int err;

	p->state = RA_FETCHING;
	pthread_mutex_unlock(&ra.lock);
	buf = malloc(p->len);
	err = buf ? p->fetch(p->obj, buf, p->len, p->off) : -ENOMEM;
	pthread_mutex_lock(&ra.lock);
	if (err) {
		free(buf);
		p->state = RA_FAILED;
	} else {
		p->buf = buf;
		p->state = RA_DONE;
	}
	p->done_ms = now_ms();
	pthread_cond_broadcast(&ra.done);
}

/* ---- the workers ------------------------------------------------------ */

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ra.lock);
	for (;;) {
		struct ra_part *p;

		while (!ra.qhead)
			pthread_cond_wait(&ra.work, &ra.lock);
		p = ra.qhead;
		ra.qhead = p->qnext;
		if (!ra.qhead)
			ra.qtail = NULL;
		p->qnext = NULL;
		p->pins++;
		fetch_part(p);
		unpin(p);
	}
	return NULL;
}

/* A fork()ed child has no workers: forget the parts (the buffers of those
 * in flight were never attached) and start anew. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&ra.lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&ra.lock);
}

static void atfork_child(void)
{
	struct ra_part *p = ra.head, *next;

	for (; p; p = next) {
		next = p->next;
		free(p->buf);
		free(p);
	}
	ra.head = ra.tail = ra.qhead = ra.qtail = NULL;
	ra.held = 0;
	ra.started = 0;
	pthread_mutex_unlock(&ra.lock);
}

/* Start the workers not running yet (lock held). */
static void start_workers(void)
{
	pthread_attr_t attr;

	if (!ra.atfork) {
		ra.atfork = 1;
		pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	}
	if (ra.started >= ra.workers || pthread_attr_init(&attr))
		return;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	while (ra.started < ra.workers) {
		pthread_t t;

		if (pthread_create(&t, &attr, worker, NULL))
			break;
		ra.started++;
	}
	pthread_attr_destroy(&attr);
}

/* ---- the interface ---------------------------------------------------- */

void ra_configure(uint64_t budget, unsigned workers)
{
	pthread_mutex_lock(&ra.lock);
	ra.budget = budget;
	ra.workers = workers > RA_MAX_WORKERS ? RA_MAX_WORKERS : workers;
	pthread_mutex_unlock(&ra.lock);
}

void ra_prefetch(void *obj, ra_fetch_fn fetch, uint64_t size, uint64_t off,
		 uint64_t len)
{
	uint64_t end, pos;
	int queued = 0;

	if (off >= size || !len)
		return;
	end = len > size - off ? size : off + len;
	pthread_mutex_lock(&ra.lock);
	for (pos = off; ra.budget && pos < end;) {
		struct ra_part *p = find(obj, pos);
		uint64_t plen;

		if (p) {
			pos = p->off + p->len;
			continue;
		}
		plen = next_start(obj, pos, end - pos < RA_PART ? end : pos + RA_PART) - pos;
		if (!make_room(plen))
			break;
		p = calloc(1, sizeof(*p));
		if (!p)
			break;
		p->obj = obj;
		p->fetch = fetch;
		p->off = pos;
		p->len = (size_t)plen;
		p->state = RA_QUEUED;
		p->prev = ra.tail;
		if (ra.tail)
			ra.tail->next = p;
		else
			ra.head = p;
		ra.tail = p;
		if (ra.qtail)
			ra.qtail->qnext = p;
		else
			ra.qhead = p;
		ra.qtail = p;
		ra.held += plen;
		queued++;
		pos += plen;
	}
	if (queued) {
		start_workers();
		pthread_cond_broadcast(&ra.work);
	}
	pthread_mutex_unlock(&ra.lock);
}

/* A part that can serve a read at pos: in the table and not failed. */
static struct ra_part *usable(const void *obj, uint64_t pos)
{
	struct ra_part *p = find(obj, pos);

	return p && p->state != RA_FAILED ? p : NULL;
}

int ra_read(void *obj, ra_fetch_fn fetch, void *buf, size_t len,
	    uint64_t off)
{
	uint64_t pos = off, end = off + len;
	uint8_t *out = buf;
	int err = 0;

	pthread_mutex_lock(&ra.lock);
	while (!err && pos < end) {
		struct ra_part *p = usable(obj, pos);
		uint64_t stop;

		if (p) {
			p->pins++;
			if (p->state == RA_QUEUED) {	/* needed now: take it */
				unqueue(p);
				fetch_part(p);
			}
			while (p->state == RA_FETCHING)
				pthread_cond_wait(&ra.done, &ra.lock);
			if (p->state == RA_DONE) {
				stop = p->off + p->len < end ? p->off + p->len : end;
				pthread_mutex_unlock(&ra.lock);
				memcpy(out + (pos - off), p->buf + (pos - p->off),
				       (size_t)(stop - pos));
				pthread_mutex_lock(&ra.lock);
				/* Read to its last byte: done with it. */
				if (stop == p->off + p->len && !p->dead)
					drop(p);
				unpin(p);
				pos = stop;
				continue;
			}
			/* Failed: fetched again below, and dropped. */
			if (!p->dead)
				drop(p);
			unpin(p);
		}
		/* Up to the next part that holds bytes, fetched at once. */
		stop = next_start(obj, pos, end);
		pthread_mutex_unlock(&ra.lock);
		err = fetch(obj, out + (pos - off), (size_t)(stop - pos), pos);
		pthread_mutex_lock(&ra.lock);
		pos = stop;
	}
	pthread_mutex_unlock(&ra.lock);
	return err;
}

void ra_forget(void *obj)
{
	struct ra_part *p, *next;
	int busy;

	pthread_mutex_lock(&ra.lock);
	do {
		busy = 0;
		for (p = ra.head; p; p = next) {
			next = p->next;
			if (p->obj != obj)
				continue;
			if (p->state == RA_QUEUED) {
				drop(p);
				continue;
			}
			if (p->pins)
				busy = 1;
			else
				drop(p);
		}
		if (busy)
			pthread_cond_wait(&ra.done, &ra.lock);
	} while (busy);
	pthread_mutex_unlock(&ra.lock);
}

uint64_t ra_bytes(void)
{
	uint64_t n;

	pthread_mutex_lock(&ra.lock);
	n = ra.held;
	pthread_mutex_unlock(&ra.lock);
	return n;
}
