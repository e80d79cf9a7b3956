/* SPDX-License-Identifier: MIT */
/* Unit tests for the tensor cache: LRU by bytes, references, one load per
 * tensor under concurrency, failed loads not cached. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/tcache.h"
#include "ck_test.h"
#include "util/ck_err.h"

struct loader {
	atomic_uint loads[64];
	atomic_int fail_id;		/* this id fails once */
	atomic_int elsewhere_id;	/* this id (> 0) is kept elsewhere once */
	unsigned delay_us;
	int gated;			/* loads wait for open, once entered */
	atomic_int entered, open;
};

/* Tensor id is id+1 bytes of value id. */
static int load(void *ctx, uint32_t id, uint8_t **data, uint64_t *size)
{
	struct loader *l = ctx;

	atomic_fetch_add(&l->loads[id], 1);
	atomic_store(&l->entered, 1);
	while (l->gated && !atomic_load(&l->open))
		usleep(1000);
	if (l->delay_us)
		usleep(l->delay_us);
	if ((int)id == atomic_load(&l->fail_id)) {
		atomic_store(&l->fail_id, -1);
		return ck_err(-EIO, "tensor %u: bad checksum", id);
	}
	if (id > 0 && (int)id == atomic_load(&l->elsewhere_id)) {
		atomic_store(&l->elsewhere_id, -1);
		return TCACHE_ELSEWHERE;
	}
	*data = malloc(id + 1);
	memset(*data, (int)id, id + 1);
	*size = id + 1;
	return 0;
}

/* A claimed tensor is served from its fulfilment, without a load, also to
 * a reader that asked while it was claimed; a claim on an occupied slot
 * fails; a failed fulfilment reaches the waiters and is not cached. */
struct claim_reader {
	struct tcache *c;
	uint32_t id;
	int err;
	uint8_t first;
	char msg[64];		/* its thread's message after the get */
	atomic_int started;	/* about to call tcache_get */
};

static void *claim_read(void *arg)
{
	struct claim_reader *r = arg;
	struct tcache_ref ref;

	ck_err(-EINVAL, "stale message of an earlier failure");
	atomic_store(&r->started, 1);
	r->err = tcache_get(r->c, r->id, &ref);
	snprintf(r->msg, sizeof(r->msg), "%s", ck_err_msg());
	if (!r->err) {
		r->first = ref.data[0];
		tcache_put(r->c, &ref);
	}
	return NULL;
}

START_TEST(claim_should_make_readers_wait_for_the_fulfilment)
{
	struct loader l = { .fail_id = -1 };
	struct claim_reader rd = { 0 };
	struct tcache *c;
	struct tcache_ref r;
	struct tcache_stats st;
	pthread_t th;
	uint8_t *d;

	ck_assert_int_eq(tcache_new(64, 100, load, &l, &c), 0);
	ck_assert_uint_eq(tcache_budget(c), 100);
	ck_assert_int_eq(tcache_claim(c, 7), 1);
	ck_assert_int_eq(tcache_claim(c, 7), 0);	/* loading already */
	ck_assert(tcache_has(c, 7));
	rd.c = c;
	rd.id = 7;
	ck_assert_int_eq(pthread_create(&th, NULL, claim_read, &rd), 0);
	usleep(20000);		/* the reader waits on the claim */
	d = malloc(5);
	memset(d, 0xab, 5);
	tcache_fulfil(c, 7, d, 5, 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(rd.err, 0);
	ck_assert_uint_eq(rd.first, 0xab);
	ck_assert_uint_eq(atomic_load(&l.loads[7]), 0);	/* never loaded */
	ck_assert_int_eq(tcache_get(c, 7, &r), 0);
	ck_assert_uint_eq(r.data[4], 0xab);
	tcache_put(c, &r);
	ck_assert_int_eq(tcache_claim(c, 7), 0);	/* cached */
	ck_assert_int_eq(tcache_claim(c, 64), 0);	/* out of range */
	/* A failed fulfilment: the waiter gets the error, the next get loads. */
	ck_assert_int_eq(tcache_claim(c, 3), 1);
	rd.id = 3;
	atomic_store(&rd.started, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, claim_read, &rd), 0);
	while (!atomic_load(&rd.started))
		usleep(1000);
	usleep(200000);		/* it waits on the claim */
	tcache_fulfil(c, 3, NULL, 0, ck_err(-EIO, "shard 3: truncated"));
	pthread_join(th, NULL);
	ck_assert_int_eq(rd.err, -EIO);
	ck_assert_str_eq(rd.msg, "shard 3: truncated");	/* the loader's */
	ck_assert(!tcache_has(c, 3));
	ck_assert_int_eq(tcache_get(c, 3, &r), 0);
	tcache_put(c, &r);
	ck_assert_uint_eq(atomic_load(&l.loads[3]), 1);
	/* Fulfilments count against the budget and evict the least recent. */
	ck_assert_int_eq(tcache_claim(c, 1), 1);
	tcache_fulfil(c, 1, malloc(60), 60, 0);
	ck_assert_int_eq(tcache_claim(c, 2), 1);
	tcache_fulfil(c, 2, malloc(60), 60, 0);
	ck_assert(!tcache_has(c, 1));
	tcache_stats(c, &st);
	ck_assert_uint_eq(st.bytes, 60);	/* only 2: 7, 3 and 1 evicted */
	ck_assert(!tcache_has(c, 3));
	tcache_free(c);
}
END_TEST

/* A reservation evicts the oldest entries so that the listed bytes plus
 * the reservation fit the budget, and counts until it is released. */
START_TEST(reserve_should_make_room_for_buffers_being_loaded)
{
	struct loader l = { .fail_id = -1 };
	struct tcache *c;
	struct tcache_ref r;
	struct tcache_stats st;

	ck_assert_int_eq(tcache_new(64, 100, load, &l, &c), 0);
	for (uint32_t id = 29; id <= 59; id += 30) {	/* 30 + 60 bytes */
		ck_assert_int_eq(tcache_get(c, id, &r), 0);
		tcache_put(c, &r);
	}
	tcache_reserve(c, 20);		/* 90 + 20 > 100: the older one goes */
	ck_assert(!tcache_has(c, 29));
	ck_assert(tcache_has(c, 59));
	tcache_stats(c, &st);
	ck_assert_uint_eq(st.bytes, 60);
	/* While reserved, a 30-byte load evicts the 60 too (60 + 20 + 30). */
	ck_assert_int_eq(tcache_get(c, 29, &r), 0);
	tcache_put(c, &r);
	ck_assert(!tcache_has(c, 59));
	tcache_unreserve(c, 20);
	/* Released: 30 + 60 fit again. */
	ck_assert_int_eq(tcache_get(c, 59, &r), 0);
	tcache_put(c, &r);
	ck_assert(tcache_has(c, 29));
	ck_assert(tcache_has(c, 59));
	tcache_unreserve(c, 1000);	/* more than reserved: clamped */
	tcache_free(c);
}
END_TEST

/* Entries computed ahead and not read yet go last: a load evicts an older
 * one that was read before them. */
START_TEST(eviction_should_spare_entries_not_read_yet)
{
	struct loader l = { .fail_id = -1 };
	struct tcache *c;
	struct tcache_ref r;
	uint8_t *d = malloc(30);

	ck_assert_int_eq(tcache_new(64, 100, load, &l, &c), 0);
	ck_assert_int_eq(tcache_claim(c, 29), 1);	/* 30 bytes, ahead */
	memset(d, 29, 30);
	tcache_fulfil(c, 29, d, 30, 0);
	ck_assert_int_eq(tcache_get(c, 39, &r), 0);	/* 40 bytes, read */
	tcache_put(c, &r);
	/* 50 more: the read one goes, though the unread one is older. */
	ck_assert_int_eq(tcache_get(c, 49, &r), 0);
	tcache_put(c, &r);
	ck_assert(tcache_has(c, 29));
	ck_assert(!tcache_has(c, 39));
	/* Reading it makes it an ordinary entry. */
	ck_assert_int_eq(tcache_get(c, 29, &r), 0);
	ck_assert_uint_eq(r.data[0], 29);
	tcache_put(c, &r);
	tcache_free(c);
}
END_TEST

/* What the victim callback saw: ids, whether read, and the first byte
 * (a check that the data is still valid during the call). */
struct victims {
	unsigned n;
	uint32_t id[8];
	int used[8];
	uint8_t first[8];
};

static void victim(void *ctx, uint32_t id, const uint8_t *data, uint64_t size, int used)
{
	struct victims *v = ctx;

	ck_assert_uint_eq(size, id + 1);
	if (v->n < 8) {
		v->id[v->n] = id;
		v->used[v->n] = used;
		v->first[v->n] = data[0];
	}
	v->n++;
}

/* Every entry evicted to make room reaches the victim callback once, with
 * its bytes and whether a reader had it; entries dropped at free do not. */
START_TEST(evicted_entries_should_reach_the_victim_callback)
{
	struct loader l = { .fail_id = -1 };
	struct victims v = { 0 };
	struct tcache *c;
	struct tcache_ref r;
	uint8_t *d = malloc(30);

	ck_assert_int_eq(tcache_new(64, 100, load, &l, &c), 0);
	tcache_set_victim(c, victim, &v);
	ck_assert_int_eq(tcache_claim(c, 29), 1);	/* 30 bytes, ahead */
	memset(d, 29, 30);
	tcache_fulfil(c, 29, d, 30, 0);
	ck_assert_int_eq(tcache_get(c, 39, &r), 0);	/* 40 bytes, read */
	tcache_put(c, &r);
	ck_assert_uint_eq(v.n, 0);
	/* 50 more: the read one goes first */
	ck_assert_int_eq(tcache_get(c, 49, &r), 0);
	tcache_put(c, &r);
	ck_assert_uint_eq(v.n, 1);
	ck_assert_uint_eq(v.id[0], 39);
	ck_assert_int_eq(v.used[0], 1);
	ck_assert_uint_eq(v.first[0], 39);
	/* 90 more: the read 50 (held by a reader), then the unread 30 */
	ck_assert_int_eq(tcache_get(c, 49, &r), 0);
	tcache_reserve(c, 90);
	tcache_unreserve(c, 90);
	ck_assert_uint_eq(v.n, 3);
	for (int k = 1; k <= 2; k++) {		/* in either order */
		ck_assert(v.id[k] == 49 || v.id[k] == 29);
		ck_assert_int_eq(v.used[k], v.id[k] == 49);
		ck_assert_uint_eq(v.first[k], v.id[k]);
	}
	ck_assert_uint_ne(v.id[1], v.id[2]);
	ck_assert_uint_eq(r.data[0], 49);
	tcache_put(c, &r);
	v.n = 0;
	tcache_free(c);
	ck_assert_uint_eq(v.n, 0);
}
END_TEST

/* While the victim callback has an evicted entry (storing it elsewhere), a
 * reader asking for it gets its bytes from memory, without a load; once
 * the callback is done, the next get loads it. */
struct reget {
	struct tcache *c;
	int err;
	uint8_t first;
	unsigned calls;
};

static void victim_reget(void *ctx, uint32_t id, const uint8_t *data, uint64_t size,
			 int used)
{
	struct reget *g = ctx;
	struct tcache_ref r;

	(void)data;
	(void)size;
	(void)used;
	g->calls++;
	g->err = tcache_get(g->c, id, &r);
	if (!g->err) {
		g->first = r.data[0];
		tcache_put(g->c, &r);
	}
}

START_TEST(a_victim_being_handled_should_still_be_served)
{
	struct loader l = { .fail_id = -1 };
	struct reget g = { 0 };
	struct tcache_ref r;

	ck_assert_int_eq(tcache_new(64, 90, load, &l, &g.c), 0);
	tcache_set_victim(g.c, victim_reget, &g);
	ck_assert_int_eq(tcache_get(g.c, 39, &r), 0);	/* 40 bytes */
	tcache_put(g.c, &r);
	ck_assert_int_eq(tcache_get(g.c, 59, &r), 0);	/* 60 more: 39 goes */
	tcache_put(g.c, &r);
	ck_assert_uint_eq(g.calls, 1);
	ck_assert_int_eq(g.err, 0);
	ck_assert_uint_eq(g.first, 39);
	ck_assert_uint_eq(atomic_load(&l.loads[39]), 1);
	ck_assert_int_eq(tcache_has(g.c, 39), 0);
	ck_assert_int_eq(tcache_get(g.c, 39, &r), 0);
	tcache_put(g.c, &r);
	ck_assert_uint_eq(atomic_load(&l.loads[39]), 2);
	tcache_set_victim(g.c, NULL, NULL);
	tcache_free(g.c);
}
END_TEST

struct reserver {
	struct tcache *c;
	atomic_int done;
};

static void *reserve_60(void *arg)
{
	struct reserver *r = arg;

	tcache_reserve(r->c, 60);
	atomic_store(&r->done, 1);
	return NULL;
}

/* A reservation that does not fit beside another waits for it to end; one
 * alone may exceed the budget. */
START_TEST(reserve_should_wait_for_reservations_in_flight)
{
	struct loader l = { .fail_id = -1 };
	struct reserver r = { 0 };
	struct tcache *c;
	pthread_t th;

	ck_assert_int_eq(tcache_new(64, 100, load, &l, &c), 0);
	tcache_reserve(c, 150);			/* alone: goes ahead */
	tcache_unreserve(c, 150);
	tcache_reserve(c, 50);
	r.c = c;
	ck_assert_int_eq(pthread_create(&th, NULL, reserve_60, &r), 0);
	usleep(50000);
	ck_assert_int_eq(atomic_load(&r.done), 0);	/* 50 + 60 > 100 */
	tcache_unreserve(c, 50);
	pthread_join(th, NULL);
	ck_assert_int_eq(atomic_load(&r.done), 1);
	tcache_unreserve(c, 60);
	tcache_free(c);
}
END_TEST

START_TEST(get_should_load_once_and_then_hit)
{
	struct loader l = { .fail_id = -1 };
	struct tcache *c;
	struct tcache_ref r;
	struct tcache_stats st;

	ck_assert_int_eq(tcache_new(64, 1000, load, &l, &c), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(tcache_get(c, 9, &r), 0);
		ck_assert_uint_eq(r.size, 10);
		ck_assert_uint_eq(r.data[9], 9);
		tcache_put(c, &r);
	}
	tcache_stats(c, &st);
	ck_assert_uint_eq(atomic_load(&l.loads[9]), 1);
	ck_assert_uint_eq(st.misses, 1);
	ck_assert_uint_eq(st.hits, 2);
	ck_assert_uint_eq(st.bytes, 10);
	ck_assert_int_eq(tcache_get(c, 64, &r), -EINVAL);
	tcache_free(c);
}
END_TEST

/* A tensor larger than the budget is kept beside it (read again without a
 * load) until a load needs the room: then it goes, so that memory stays
 * within the budget plus the one tensor being computed. */
START_TEST(big_entry_should_stay_until_a_load_needs_the_room)
{
	struct loader l = { .fail_id = -1 };
	struct tcache *c;
	struct tcache_ref r;

	ck_assert_int_eq(tcache_new(64, 20, load, &l, &c), 0);
	for (int i = 0; i < 2; i++) {	/* 30 bytes: beyond the budget */
		ck_assert_int_eq(tcache_get(c, 29, &r), 0);
		tcache_put(c, &r);
	}
	ck_assert_uint_eq(atomic_load(&l.loads[29]), 1);
	ck_assert_int_eq(tcache_has(c, 29), 1);
	/* A small one fits beside it. */
	ck_assert_int_eq(tcache_get(c, 4, &r), 0);
	tcache_put(c, &r);
	ck_assert_int_eq(tcache_has(c, 29), 1);
	/* A load that fits once the listed entries go leaves it... */
	tcache_reserve(c, 18);
	ck_assert_int_eq(tcache_has(c, 4), 0);
	ck_assert_int_eq(tcache_has(c, 29), 1);
	tcache_unreserve(c, 18);
	/* ...one that does not fit even then drops it. */
	tcache_reserve(c, 21);
	ck_assert_int_eq(tcache_has(c, 29), 0);
	tcache_unreserve(c, 21);
	ck_assert_int_eq(tcache_get(c, 29, &r), 0);
	ck_assert_uint_eq(r.data[29], 29);
	tcache_put(c, &r);
	ck_assert_uint_eq(atomic_load(&l.loads[29]), 2);
	tcache_free(c);
}
END_TEST

START_TEST(budget_should_evict_least_recently_used_and_keep_held_refs_valid)
{
	struct loader l = { .fail_id = -1 };
	struct tcache *c;
	struct tcache_ref held, r;
	struct tcache_stats st;

	/* Budget 30: ids 9 (10 B), 19 (20 B) fit; 14 (15 B) evicts the LRU. */
	ck_assert_int_eq(tcache_new(64, 30, load, &l, &c), 0);
	ck_assert_int_eq(tcache_get(c, 9, &held), 0);
	ck_assert_int_eq(tcache_get(c, 19, &r), 0);
	tcache_put(c, &r);
	ck_assert_int_eq(tcache_get(c, 14, &r), 0);	/* evicts 9 (LRU) */
	tcache_put(c, &r);
	tcache_stats(c, &st);
	ck_assert_uint_le(st.bytes, 30);
	ck_assert_uint_ge(st.evictions, 1);
	ck_assert_uint_le(st.peak_bytes, 30);
	/* The evicted tensor is still readable through the held reference. */
	for (int i = 0; i < 10; i++)
		ck_assert_uint_eq(held.data[i], 9);
	tcache_put(c, &held);
	ck_assert_int_eq(tcache_get(c, 9, &r), 0);
	tcache_put(c, &r);
	ck_assert_uint_eq(atomic_load(&l.loads[9]), 2);
	/* Larger than the whole budget: served, never listed, but the most
	 * recent such one is kept beside the budget: read again, it is a hit;
	 * the next one replaces it. */
	ck_assert_int_eq(tcache_get(c, 40, &r), 0);
	ck_assert_uint_eq(r.size, 41);
	tcache_put(c, &r);
	tcache_stats(c, &st);
	ck_assert_uint_le(st.bytes, 30);
	ck_assert_int_eq(tcache_get(c, 40, &r), 0);
	tcache_put(c, &r);
	ck_assert_uint_eq(atomic_load(&l.loads[40]), 1);
	ck_assert_int_eq(tcache_get(c, 50, &r), 0);
	tcache_put(c, &r);
	ck_assert(!tcache_has(c, 40));
	ck_assert(tcache_has(c, 50));
	tcache_free(c);
}
END_TEST

START_TEST(failed_load_should_report_and_not_be_cached)
{
	struct loader l = { .fail_id = 5 };
	struct tcache *c;
	struct tcache_ref r;

	ck_assert_int_eq(tcache_new(64, 100, load, &l, &c), 0);
	ck_assert_int_eq(tcache_get(c, 5, &r), -EIO);
	ck_assert_str_eq(ck_err_msg(), "tensor 5: bad checksum");
	ck_assert_int_eq(tcache_get(c, 5, &r), 0);
	ck_assert_uint_eq(r.size, 6);
	tcache_put(c, &r);
	ck_assert_uint_eq(atomic_load(&l.loads[5]), 2);
	tcache_free(c);
}
END_TEST

/* A reader that waited for a load that failed reports the loader's error
 * and message, not whatever its own thread held before. */
/* Two readers of tensor id: the first loads it, held inside the (gated)
 * loader until the second is waiting for that load; both joined. */
static void two_readers_one_load(struct loader *l, struct tcache *c, uint32_t id,
				 struct claim_reader rd[2])
{
	pthread_t th[2];

	for (int i = 0; i < 2; i++) {
		rd[i].c = c;
		rd[i].id = id;
	}
	ck_assert_int_eq(pthread_create(&th[0], NULL, claim_read, &rd[0]), 0);
	while (!atomic_load(&l->entered))
		usleep(1000);
	ck_assert_int_eq(pthread_create(&th[1], NULL, claim_read, &rd[1]), 0);
	while (!atomic_load(&rd[1].started))
		usleep(1000);
	usleep(200000);
	atomic_store(&l->open, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
}

START_TEST(waiters_should_get_the_failed_loads_message)
{
	struct loader l = { .fail_id = 9, .gated = 1 };
	struct claim_reader rd[2] = { 0 };
	struct tcache *c;

	ck_assert_int_eq(tcache_new(64, 100, load, &l, &c), 0);
	two_readers_one_load(&l, c, 9, rd);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(rd[i].err, -EIO);
		ck_assert_str_eq(rd[i].msg, "tensor 9: bad checksum");
	}
	ck_assert_uint_eq(atomic_load(&l.loads[9]), 1);
	tcache_free(c);
}
END_TEST

/* A load that kept its tensor elsewhere is no failure: the reader and every
 * waiter get TCACHE_ELSEWHERE, no message, nothing is cached or counted as
 * failed, and the next get loads again. */
START_TEST(elsewhere_should_reach_every_waiter_and_cache_nothing)
{
	struct loader l = { .fail_id = -1, .elsewhere_id = 9, .gated = 1 };
	struct claim_reader rd[2] = { 0 };
	struct tcache_stats st;
	struct tcache_ref r;
	struct tcache *c;

	ck_assert_int_eq(tcache_new(64, 100, load, &l, &c), 0);
	two_readers_one_load(&l, c, 9, rd);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(rd[i].err, TCACHE_ELSEWHERE);
	ck_assert_uint_eq(atomic_load(&l.loads[9]), 1);
	tcache_stats(c, &st);
	ck_assert_uint_eq(st.loads_failed, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_int_eq(tcache_has(c, 9), 0);
	ck_assert_int_eq(tcache_get(c, 9, &r), 0);
	ck_assert_uint_eq(r.size, 10);
	tcache_put(c, &r);
	ck_assert_uint_eq(atomic_load(&l.loads[9]), 2);
	tcache_free(c);
}
END_TEST

struct worker {
	struct tcache *c;
	int ok;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;

	w->ok = 1;
	for (int round = 0; round < 200; round++) {
		uint32_t id = (uint32_t)(round % 7) + 20;
		struct tcache_ref r;

		if (tcache_get(w->c, id, &r)) {
			w->ok = 0;
			continue;
		}
		for (uint64_t i = 0; i < r.size; i++)
			if (r.data[i] != id)
				w->ok = 0;
		tcache_put(w->c, &r);
	}
	return NULL;
}

START_TEST(concurrent_readers_should_share_one_load)
{
	struct loader l = { .fail_id = -1, .delay_us = 2000 };
	struct worker w[8];
	pthread_t th[8];
	struct tcache *c;

	/* Budget holds all 7 tensors: each must be loaded exactly once. */
	ck_assert_int_eq(tcache_new(64, 1000, load, &l, &c), 0);
	for (int i = 0; i < 8; i++) {
		w[i].c = c;
		pthread_create(&th[i], NULL, hammer, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ck_assert(w[i].ok);
	}
	for (uint32_t id = 20; id < 27; id++)
		ck_assert_uint_eq(atomic_load(&l.loads[id]), 1);
	tcache_free(c);

	/* A tiny budget forces constant eviction; data stays right. */
	memset(&l, 0, sizeof(l));
	atomic_store(&l.fail_id, -1);
	ck_assert_int_eq(tcache_new(64, 50, load, &l, &c), 0);
	for (int i = 0; i < 8; i++) {
		w[i].c = c;
		pthread_create(&th[i], NULL, hammer, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ck_assert(w[i].ok);
	}
	tcache_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcache");
	TCase *tc = tcase_create("tcache");

	tcase_add_test(tc, get_should_load_once_and_then_hit);
	tcase_add_test(tc, reserve_should_make_room_for_buffers_being_loaded);
	tcase_add_test(tc, reserve_should_wait_for_reservations_in_flight);
	tcase_add_test(tc, eviction_should_spare_entries_not_read_yet);
	tcase_add_test(tc, evicted_entries_should_reach_the_victim_callback);
	tcase_add_test(tc, budget_should_evict_least_recently_used_and_keep_held_refs_valid);
	tcase_add_test(tc, failed_load_should_report_and_not_be_cached);
	tcase_add_test(tc, waiters_should_get_the_failed_loads_message);
	tcase_add_test(tc, elsewhere_should_reach_every_waiter_and_cache_nothing);
	tcase_add_test(tc, big_entry_should_stay_until_a_load_needs_the_room);
	tcase_add_test(tc, a_victim_being_handled_should_still_be_served);
	tcase_add_test(tc, concurrent_readers_should_share_one_load);
	tcase_add_test(tc, claim_should_make_readers_wait_for_the_fulfilment);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
