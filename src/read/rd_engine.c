/* SPDX-License-Identifier: MIT */
/*
 * This file implements the read engine (rd_engine.h): how a tensor's bytes
 * are found or computed, and where they are kept.
 *
 * A tensor that has siblings (the layers of one scanned array, plan.h) is
 * computed in a wave with them: every chunk of the array holds a part of
 * every layer, so computing them together decodes each chunk once.
 *   - Without a disk tier the wave is as many siblings as the RAM cache
 *     holds; a cache smaller than the array's output means one decode of the
 *     array per wave (the amplification the counters report).
 *   - With a disk tier a wave that does not fit the cache takes every
 *     sibling, computed in batches the cache holds.  The first batch decodes
 *     the whole group's chunks and records them in a spill file
 *     (rd_spill_open(), in the tier's directory); the next batches read that
 *     back instead of decoding again.  So the array is decoded once whatever
 *     the cache size.
 *   - With the user's tier (cache_dir=), every tensor computed is also
 *     written to it, so a read after its eviction from memory does not
 *     compute it again.  The default tier (rd_tier.c) takes the batches of
 *     a group larger than the cache, a tensor larger than the cache, and
 *     what the RAM cache evicts before a reader had it.
 * Siblings of a wave are claimed in the RAM cache first, so that readers
 * wanting them wait for the wave instead of starting their own.  A load
 * whose tensor went to the disk tier says so (LOAD_IN_TIER, which the cache
 * hands to every waiter as TCACHE_ELSEWHERE), and the reader looks there
 * (rd_copy).
 */
#include "read/rd_engine_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "read/rd_tensor.h"
#include "util/ck_err.h"
#include "util/ck_mem.h"

/* What a load did when it did not fail (failures are -errno). */
enum load_outcome {
	LOADED = 0,			/* the tensor's bytes are in *data */
	LOAD_IN_TIER = TCACHE_ELSEWHERE,	/* they went to the disk tier:
					   read them there */
	LOAD_ALONE,			/* its wave would hold it alone:
					   compute it by itself */
};

/* A reader looks for a tensor this many times before computing it for
 * itself (each time, it went to the disk tier and was evicted there). */
#define RD_COPY_TRIES 4

/* Clear the ck_err message of a failure that is handled (best effort). */
static void ck_err_clear_if(int cond)
{
	if (cond)
		ck_err_clear();
}

/* In e->handoff: the tensor was handed over to the disk tier. */
static uint8_t in_tier_mark;
static uint8_t *const in_tier = &in_tier_mark;

/* Tensor ids of a wave: its members in the order they are computed. */
struct wave {
	uint32_t *ids;
	uint8_t *handoff;		/* per member: claimed by another reader,
					   computed for it (e->handoff) */
	size_t m, self;			/* members; the requested one */
	uint64_t each;			/* bytes of each member */
};

/*
 * Choose and claim the members of id's wave: `span` siblings from `start`
 * of its group, cyclically, leaving out those cached (and, with tier, those
 * in the disk tier).  A sibling another reader has claimed and waits to
 * compute (it waits for this group's wave lock) is computed too, for that
 * reader to take: two readers of one group at once would otherwise each
 * decode the chunks they share.
 */
static int wave_claim(struct rd_engine *e, uint32_t id, size_t start, size_t span,
		      int tier, struct wave *w)
{
	const struct plan_groups *g = e->groups;
	uint32_t grp = g->of[id], first = g->first[grp];
	size_t n = g->first[grp + 1] - first;

	w->ids = calloc(span, sizeof(*w->ids));
	w->handoff = calloc(span, 1);
	if (!w->ids || !w->handoff)
		return ck_err(-ENOMEM, "out of memory");
	for (size_t i = 0; i < span; i++) {
		uint32_t s = g->members[first + (start + i) % n];

		if (s == id)
			w->self = w->m;
		if (s == id || (!(tier && dtier_has(e->dtier, s)) && tcache_claim(e->cache, s))) {
			w->ids[w->m++] = s;
		} else if (!(tier && dtier_has(e->dtier, s)) && tcache_loading(e->cache, s) &&
			   !atomic_load_explicit(&e->handoff[s], memory_order_acquire)) {
			w->handoff[w->m] = 1;
			w->ids[w->m++] = s;
		}
	}
	return 0;
}

/*
 * Compute members [b, b + cnt) of w in memory and hand them over: to the
 * disk tier (when there is one) and to the cache, ending their claims; the
 * requested one's bytes go to *self_data instead, or, with to_tier and once
 * in the tier, nowhere (*self_data stays NULL).
 */
static int wave_batch(struct rd_engine *e, struct wave *w, size_t b, size_t cnt,
		      struct rd_spill *spill, int to_tier, uint8_t **self_data)
{
	void **outs = calloc(cnt, sizeof(*outs));
	int err = outs ? 0 : ck_err(-ENOMEM, "out of memory");

	tcache_reserve(e->cache, cnt * w->each);
	for (size_t i = 0; !err && i < cnt; i++) {
		outs[i] = ck_big_alloc((size_t)w->each + 1);
		if (!outs[i])
			err = ck_err(-ENOMEM, "out of memory for tensor '%s'",
				     e->plan->tensors[w->ids[b + i]].name);
	}
	if (!err)
		err = rd_tensors(e->plan, e->groups, w->ids + b, cnt, outs, spill);
	tcache_unreserve(e->cache, cnt * w->each);
	for (size_t i = 0; i < cnt; i++) {
		uint32_t id = w->ids[b + i];
		/* The user's tier takes everything.  The default one, in a wave
		 * computed in batches, takes what would otherwise be held
		 * outside the cache's budget while the next batches compute (the
		 * requested tensor, those handed over, any larger than the
		 * cache); the members handed to the cache reach it through the
		 * victim callback if they are evicted before a reader had them
		 * (rd_tier.c). */
		int store = !err && e->dtier &&
			    (e->tier_all ||
			     (to_tier && (b + i == w->self || w->handoff[b + i] ||
					  w->each > tcache_budget(e->cache))));
		int stored = store &&
			     dtier_store(e->dtier, id, outs ? outs[i] : NULL, w->each) == 0;

		ck_err_clear_if(store && !stored);
		if (b + i == w->self) {
			if (!err && !(to_tier && stored))
				*self_data = outs[i];
			else
				free(outs ? outs[i] : NULL);
			continue;
		}
		if (w->handoff[b + i]) {
			uint8_t *give = err || !outs ? NULL : to_tier && stored ? in_tier : outs[i];
			uint8_t *old = NULL;

			if (give)
				old = atomic_exchange_explicit(&e->handoff[id], give,
							       memory_order_acq_rel);
			if (outs && give != outs[i])
				free(outs[i]);
			if (old != in_tier)
				free(old);
			continue;
		}
		tcache_fulfil(e->cache, id, err ? NULL : outs[i], w->each, err);
		if (err && outs)
			free(outs[i]);
	}
	free(outs);
	return err;
}

/*
 * Load tensor id in a wave with its siblings (see the top of the file):
 * LOADED with id's bytes in *data, LOAD_IN_TIER, LOAD_ALONE, or -errno.
 * Called with the group's wave lock held.
 */
static int load_wave_locked(struct rd_engine *e, uint32_t id, uint8_t **data)
{
	const struct plan_groups *g = e->groups;
	uint32_t grp = g->of[id], first = g->first[grp];
	size_t n = g->first[grp + 1] - first, pos = 0, k, per, b;
	struct rd_spill *spill = NULL;
	struct wave w = { 0 };
	uint8_t *self_data = NULL;
	int err, batched;

	w.each = e->plan->tensors[id].nbytes;
	while (g->members[first + pos] != id)
		pos++;
	k = w.each ? (size_t)(tcache_budget(e->cache) / w.each) : n;
	if (k > n)
		k = n;
	batched = e->dtier && k < n && rd_spillable(e->plan, id);
	if (!batched && k < 2)
		return LOAD_ALONE;
	/* In memory at once: k siblings from id on (before it at the end);
	 * batched: every sibling, from id on, k at a time. */
	err = wave_claim(e, id, batched ? pos : pos + k <= n ? pos : n - k,
			 batched ? n : k, e->dtier != NULL, &w);
	per = batched ? (k ? k : 1) : w.m;
	if (!err && w.m > per && rd_spill_open(e->tier_dir, &spill))
		ck_err_clear();	/* without: each batch decodes its box */
	for (b = 0; !err && b < w.m; b += per)
		err = wave_batch(e, &w, b, w.m - b < per ? w.m - b : per, spill, w.m > per,
				 &self_data);
	/* After a failure, end the claims of the batches not run. */
	for (size_t i = b; err && i < w.m; i++)
		if (i != w.self && !w.handoff[i])
			tcache_fulfil(e->cache, w.ids[i], NULL, 0, err);
	rd_spill_close(spill);
	if (!err)
		atomic_fetch_add_explicit(&e->tensor_loads, w.m, memory_order_relaxed);
	free(w.ids);
	free(w.handoff);
	if (err)
		return err;
	if (!self_data)
		return LOAD_IN_TIER;
	*data = self_data;
	return LOADED;
}

/* Load tensor id in a wave, one wave of its group at a time: a reader that
 * waited may find its tensor computed by the wave before (wave_claim). */
static int load_wave(struct rd_engine *e, uint32_t id, uint8_t **data)
{
	pthread_mutex_t *lock = &e->wave_lock[e->groups->of[id] % RD_WAVE_LOCKS];
	uint8_t *ready;
	int err;

	pthread_mutex_lock(lock);
	ready = atomic_exchange_explicit(&e->handoff[id], NULL, memory_order_acq_rel);
	if (ready == in_tier) {
		err = LOAD_IN_TIER;
	} else if (ready) {
		*data = ready;
		err = 0;
	} else {
		err = load_wave_locked(e, id, data);
	}
	pthread_mutex_unlock(lock);
	return err;
}

/*
 * At most one tensor computation per core runs at once: each holds its
 * chunk windows and output buffers, and the FUSE threads would otherwise
 * start one each, multiplying the daemon's memory.
 */
static void load_begin(struct rd_engine *e)
{
	pthread_mutex_lock(&e->load_lock);
	while (e->loads_running >= e->loads_max)
		pthread_cond_wait(&e->load_done, &e->load_lock);
	e->loads_running++;
	pthread_mutex_unlock(&e->load_lock);
}

static void load_end(struct rd_engine *e)
{
	pthread_mutex_lock(&e->load_lock);
	e->loads_running--;
	pthread_cond_signal(&e->load_done);
	pthread_mutex_unlock(&e->load_lock);
}

/* Compute tensor id by itself into a new buffer *buf (the caller frees it). */
static int load_alone(struct rd_engine *e, uint32_t id, uint8_t **buf)
{
	const struct plan_tensor *t = &e->plan->tensors[id];
	int err;

	tcache_reserve(e->cache, t->nbytes);
	*buf = ck_big_alloc(t->nbytes ? (size_t)t->nbytes : 1);
	err = *buf ? rd_tensor(t, *buf) :
		     ck_err(-ENOMEM, "out of memory for tensor '%s' (%llu bytes)", t->name,
			    (unsigned long long)t->nbytes);
	tcache_unreserve(e->cache, t->nbytes);
	if (err) {
		free(*buf);
		*buf = NULL;
		return err;
	}
	atomic_fetch_add_explicit(&e->tensor_loads, 1, memory_order_relaxed);
	return 0;
}

static int load_one(struct rd_engine *e, uint32_t id, uint8_t **data, uint64_t *size)
{
	const struct plan_tensor *t = &e->plan->tensors[id];
	uint8_t *buf;
	int err;

	/* Put in the disk tier since the reader looked (a wave of another
	 * reader, or the cache's eviction): read it there, not again from
	 * its group's chunks, which hold every sibling. */
	if (e->dtier && dtier_has(e->dtier, id))
		return LOAD_IN_TIER;
	if (e->groups->of && e->groups->of[id] != UINT32_MAX) {
		err = load_wave(e, id, data);
		if (err == LOADED)
			*size = t->nbytes;
		if (err != LOAD_ALONE)
			return err;
	}
	err = load_alone(e, id, &buf);
	if (err)
		return err;
	if (e->dtier && (e->tier_all || t->nbytes > tcache_budget(e->cache))) {
		int stored = dtier_store(e->dtier, id, buf, t->nbytes) == 0;

		ck_err_clear_if(!stored);
		/* Larger than the cache, it would be computed again for every
		 * read: the reader takes it from the disk tier instead. */
		if (stored && t->nbytes > tcache_budget(e->cache)) {
			free(buf);
			return LOAD_IN_TIER;
		}
	}
	*data = buf;
	*size = t->nbytes;
	return LOADED;
}

/* The tcache load callback (ctx is the engine): LOADED, LOAD_IN_TIER or
 * -errno. */
static int load_tensor(void *ctx, uint32_t id, uint8_t **data, uint64_t *size)
{
	struct rd_engine *e = ctx;
	int err;

	load_begin(e);
	err = load_one(e, id, data, size);
	load_end(e);
	return err;
}

/* A reader has had n bytes of tensor t. */
static void note_read(struct rd_engine *e, uint32_t t, uint64_t n)
{
	uint64_t size = e->plan->tensors[t].nbytes, old;
	uint32_t g;

	if (!e->served)
		return;
	old = atomic_fetch_add_explicit(&e->served[t], n, memory_order_relaxed);
	g = e->groups->of[t];
	if (g != UINT32_MAX && old < size && old + n >= size)
		atomic_fetch_add_explicit(&e->group_done[g], 1, memory_order_relaxed);
}

int rd_group_read_whole(struct rd_engine *e, uint32_t t)
{
	uint32_t g = e->groups->of[t];

	if (!e->served)
		return 0;
	if (g == UINT32_MAX)
		return atomic_load_explicit(&e->served[t], memory_order_relaxed) >=
		       e->plan->tensors[t].nbytes;
	return atomic_load_explicit(&e->group_done[g], memory_order_relaxed) >=
	       e->groups->first[g + 1] - e->groups->first[g];
}

/* Copy from the disk tier when t is there and not ready in the RAM cache
 * (one being loaded may end in the tier: its bytes there are final): the
 * bytes copied, 0 when it is not there, or -errno. */
static ssize_t copy_from_tier(struct rd_engine *e, const struct plan_tensor *pt,
			      uint32_t t, uint64_t toff, uint8_t *buf, size_t n)
{
	uint64_t size;
	ssize_t got;

	if (!e->dtier || (tcache_has(e->cache, t) && !tcache_loading(e->cache, t)) ||
	    dtier_size(e->dtier, t, &size) || size != pt->nbytes)
		return 0;
	got = dtier_read(e->dtier, t, buf, n, toff);
	if (got > 0 || got == -ENOENT)
		return got > 0 ? got : 0;
	return ck_err_ctx(got < 0 ? (int)got : -EIO, "tensor '%s' in the disk tier",
			  pt->name);
}

ssize_t rd_copy(struct rd_engine *e, uint32_t t, uint64_t toff, uint8_t *buf,
		size_t n)
{
	const struct plan_tensor *pt = &e->plan->tensors[t];
	struct tcache_ref ref;
	int err = TCACHE_ELSEWHERE;
	uint8_t *data;

	if (n > pt->nbytes - toff)
		n = (size_t)(pt->nbytes - toff);
	note_read(e, t, n);
	/* The tensor may go to the disk tier while we wait for it. */
	for (int tries = 0; err == TCACHE_ELSEWHERE && tries < RD_COPY_TRIES; tries++) {
		ssize_t got = copy_from_tier(e, pt, t, toff, buf, n);

		if (got)
			return got;
		err = tcache_get(e->cache, t, &ref);
	}
	if (err < 0)
		return err;
	if (err == 0) {
		memcpy(buf, ref.data + toff, n);
		tcache_put(e->cache, &ref);
		return (ssize_t)n;
	}
	/* Evicted from the disk tier each time before it could be read (a
	 * tier much smaller than the readers' working set): compute it for
	 * this read alone. */
	load_begin(e);
	err = load_alone(e, t, &data);
	load_end(e);
	if (err)
		return err;
	memcpy(buf, data + toff, n);
	free(data);
	return (ssize_t)n;
}

int rd_engine_new(const struct plan *p, const struct plan_groups *g,
		  uint64_t cache_size, struct rd_engine **out)
{
	struct rd_engine *e = calloc(1, sizeof(*e));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int err;

	if (!e)
		return ck_err(-ENOMEM, "out of memory");
	if (p->ntensors > UINT32_MAX - 1) {
		free(e);
		return ck_err(-EOVERFLOW, "too many tensors");
	}
	e->plan = p;
	e->groups = g;
	pthread_mutex_init(&e->load_lock, NULL);
	pthread_cond_init(&e->load_done, NULL);
	for (unsigned i = 0; i < RD_WAVE_LOCKS; i++)
		pthread_mutex_init(&e->wave_lock[i], NULL);
	e->loads_max = cpus < 1 ? 1 : cpus > 16 ? 16 : (unsigned)cpus;
	e->handoff = calloc(p->ntensors + 1, sizeof(*e->handoff));
	err = e->handoff ? 0 : ck_err(-ENOMEM, "out of memory");
	if (!err)
		err = tcache_new((uint32_t)p->ntensors, cache_size, load_tensor, e, &e->cache);
	if (err) {
		rd_engine_free(e);
		return err;
	}
	*out = e;
	return 0;
}

void rd_engine_stats(struct rd_engine *e, struct rd_stats *st)
{
	memset(st, 0, sizeof(*st));
	tcache_stats(e->cache, &st->cache);
	if (e->dtier)
		dtier_stats(e->dtier, &st->tier);
	st->tensor_loads = atomic_load_explicit(&e->tensor_loads, memory_order_relaxed);
}

void rd_engine_free(struct rd_engine *e)
{
	if (!e)
		return;
	tcache_free(e->cache);
	dtier_close(e->dtier);
	for (size_t i = 0; e->handoff && i < e->plan->ntensors; i++) {
		uint8_t *p = atomic_load(&e->handoff[i]);

		if (p != in_tier)
			free(p);
	}
	free((void *)e->handoff);
	free((void *)e->served);
	free((void *)e->group_done);
	free(e->tier_dir);
	pthread_mutex_destroy(&e->load_lock);
	for (unsigned i = 0; i < RD_WAVE_LOCKS; i++)
		pthread_mutex_destroy(&e->wave_lock[i]);
	pthread_cond_destroy(&e->load_done);
	free(e);
}
