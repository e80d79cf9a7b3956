/* SPDX-License-Identifier: MIT */
/*
 * This file implements how the view computes its tensors and where it keeps
 * them (ckfs_load.h).
 *
 * A tensor that has siblings (the layers of one scanned array, plan.h) is
 * computed in a wave with them: every chunk of the array holds a part of
 * every layer, so computing them together decodes each chunk once.
 *   - Without a disk tier the wave is as many siblings as the RAM cache
 *     holds; a cache smaller than the array's output means one decode of the
 *     array per wave (the amplification the counters report).
 *   - With a disk tier (cache_dir=) a wave that does not fit the cache takes
 *     every sibling, computed in batches the cache holds.  The first batch
 *     decodes the whole group's chunks and records them in a spill file
 *     (plan_spill_open(), in cache_dir); the next batches read that back
 *     instead of decoding again.  So the array is decoded once whatever the
 *     cache size.
 *   - With cache_dir=, every tensor computed is also written to the disk
 *     tier, so a read after its eviction from memory does not compute it
 *     again.  The default tier (ckfs_tier.c) takes the batches of a group
 *     larger than the cache, a tensor larger than the cache, and what the
 *     RAM cache evicts before a reader had it.
 * Siblings of a wave are claimed in the RAM cache first, so that readers
 * wanting them wait for the wave instead of starting their own; a reader
 * woken for a sibling that went to the disk tier gets -EAGAIN from the
 * cache and looks again (ckfs_tensor_copy).
 */
#include "fs/ckfs_load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_err.h"
#include "util/ck_mem.h"

/* From a load: the tensor is in the disk tier now, read it from there. */
#define CKFS_LOOK_AGAIN (-ESTALE)

/* Clear the ck_err message of a failure that is handled (best effort). */
static void ck_err_clear_if(int cond)
{
	if (cond)
		ck_err_clear();
}

/* In fs->handoff: the tensor was handed over to the disk tier. */
static uint8_t in_tier_mark;
static uint8_t *const in_tier = &in_tier_mark;

/* Tensor ids of a wave: its members in the order they are computed. */
struct wave {
	uint32_t *ids;
	uint8_t *handoff;		/* per member: claimed by another reader,
					   computed for it (fs->handoff) */
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
static int wave_claim(struct ckfs *fs, uint32_t id, size_t start, size_t span,
		      int tier, struct wave *w)
{
	const struct plan_groups *g = &fs->groups;
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
		if (s == id || (!(tier && dtier_has(fs->dtier, s)) && tcache_claim(fs->cache, s))) {
			w->ids[w->m++] = s;
		} else if (!(tier && dtier_has(fs->dtier, s)) && tcache_loading(fs->cache, s) &&
			   !atomic_load_explicit(&fs->handoff[s], memory_order_acquire)) {
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
static int wave_batch(struct ckfs *fs, struct wave *w, size_t b, size_t cnt,
		      struct plan_spill *spill, int to_tier, uint8_t **self_data)
{
	void **outs = calloc(cnt, sizeof(*outs));
	int err = outs ? 0 : ck_err(-ENOMEM, "out of memory");

	tcache_reserve(fs->cache, cnt * w->each);
	for (size_t i = 0; !err && i < cnt; i++) {
		outs[i] = ck_big_alloc((size_t)w->each + 1);
		if (!outs[i])
			err = ck_err(-ENOMEM, "out of memory for tensor '%s'",
				     fs->plan->tensors[w->ids[b + i]].name);
	}
	if (!err)
		err = plan_tensors_read(fs->plan, &fs->groups, w->ids + b, cnt, outs, spill);
	tcache_unreserve(fs->cache, cnt * w->each);
	for (size_t i = 0; i < cnt; i++) {
		uint32_t id = w->ids[b + i];
		int store = !err && fs->dtier && (fs->tier_all || to_tier);
		int stored = store &&
			     dtier_store(fs->dtier, id, outs ? outs[i] : NULL, w->each) == 0;

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
				old = atomic_exchange_explicit(&fs->handoff[id], give,
							       memory_order_acq_rel);
			if (outs && give != outs[i])
				free(outs[i]);
			if (old != in_tier)
				free(old);
			continue;
		}
		tcache_fulfil(fs->cache, id, err ? NULL : outs[i], w->each, err);
		if (err && outs)
			free(outs[i]);
	}
	free(outs);
	return err;
}

/*
 * Load tensor id in a wave with its siblings (see the top of the file).
 * id's bytes go to *data; CKFS_LOOK_AGAIN when they went to the disk tier;
 * -EAGAIN when the wave would hold id alone.  Called with the group's wave
 * lock held.
 */
static int load_wave_locked(struct ckfs *fs, uint32_t id, uint8_t **data)
{
	const struct plan_groups *g = &fs->groups;
	uint32_t grp = g->of[id], first = g->first[grp];
	size_t n = g->first[grp + 1] - first, pos = 0, k, per, b;
	struct plan_spill *spill = NULL;
	struct wave w = { 0 };
	uint8_t *self_data = NULL;
	int err, batched;

	w.each = fs->plan->tensors[id].nbytes;
	while (g->members[first + pos] != id)
		pos++;
	k = w.each ? (size_t)(tcache_budget(fs->cache) / w.each) : n;
	if (k > n)
		k = n;
	batched = fs->dtier && k < n && plan_tensors_spillable(fs->plan, id);
	if (!batched && k < 2)
		return -EAGAIN;
	/* In memory at once: k siblings from id on (before it at the end);
	 * batched: every sibling, from id on, k at a time. */
	err = wave_claim(fs, id, batched ? pos : pos + k <= n ? pos : n - k,
			 batched ? n : k, batched, &w);
	per = batched ? (k ? k : 1) : w.m;
	if (!err && w.m > per && plan_spill_open(fs->cache_dir, &spill))
		ck_err_clear();	/* without: each batch decodes its box */
	for (b = 0; !err && b < w.m; b += per)
		err = wave_batch(fs, &w, b, w.m - b < per ? w.m - b : per, spill, w.m > per,
				 &self_data);
	/* After a failure, end the claims of the batches not run. */
	for (size_t i = b; err && i < w.m; i++)
		if (i != w.self && !w.handoff[i])
			tcache_fulfil(fs->cache, w.ids[i], NULL, 0, err);
	plan_spill_close(spill);
	if (!err)
		atomic_fetch_add_explicit(&fs->tensor_loads, w.m, memory_order_relaxed);
	free(w.ids);
	free(w.handoff);
	if (err)
		return err;
	if (!self_data)
		return CKFS_LOOK_AGAIN;
	*data = self_data;
	return 0;
}

/* Load tensor id in a wave, one wave of its group at a time: a reader that
 * waited may find its tensor computed by the wave before (wave_claim). */
static int load_wave(struct ckfs *fs, uint32_t id, uint8_t **data)
{
	pthread_mutex_t *lock = &fs->wave_lock[fs->groups.of[id] % CKFS_WAVE_LOCKS];
	uint8_t *ready;
	int err;

	pthread_mutex_lock(lock);
	ready = atomic_exchange_explicit(&fs->handoff[id], NULL, memory_order_acq_rel);
	if (ready == in_tier) {
		err = CKFS_LOOK_AGAIN;
	} else if (ready) {
		*data = ready;
		err = 0;
	} else {
		err = load_wave_locked(fs, id, data);
	}
	pthread_mutex_unlock(lock);
	return err;
}

/*
 * At most one tensor computation per core runs at once: each holds its
 * chunk windows and output buffers, and the FUSE threads would otherwise
 * start one each, multiplying the daemon's memory.
 */
static void load_begin(struct ckfs *fs)
{
	pthread_mutex_lock(&fs->load_lock);
	while (fs->loads_running >= fs->loads_max)
		pthread_cond_wait(&fs->load_done, &fs->load_lock);
	fs->loads_running++;
	pthread_mutex_unlock(&fs->load_lock);
}

static void load_end(struct ckfs *fs)
{
	pthread_mutex_lock(&fs->load_lock);
	fs->loads_running--;
	pthread_cond_signal(&fs->load_done);
	pthread_mutex_unlock(&fs->load_lock);
}

/* Compute tensor id by itself into a new buffer *buf (the caller frees it). */
static int load_alone(struct ckfs *fs, uint32_t id, uint8_t **buf)
{
	const struct plan_tensor *t = &fs->plan->tensors[id];
	int err;

	tcache_reserve(fs->cache, t->nbytes);
	*buf = ck_big_alloc(t->nbytes ? (size_t)t->nbytes : 1);
	err = *buf ? plan_tensor_read(t, *buf) :
		     ck_err(-ENOMEM, "out of memory for tensor '%s' (%llu bytes)", t->name,
			    (unsigned long long)t->nbytes);
	tcache_unreserve(fs->cache, t->nbytes);
	if (err) {
		free(*buf);
		*buf = NULL;
		return err;
	}
	atomic_fetch_add_explicit(&fs->tensor_loads, 1, memory_order_relaxed);
	return 0;
}

static int load_one(struct ckfs *fs, uint32_t id, uint8_t **data, uint64_t *size)
{
	const struct plan_tensor *t = &fs->plan->tensors[id];
	uint8_t *buf;
	int err;

	if (fs->groups.of && fs->groups.of[id] != UINT32_MAX) {
		err = load_wave(fs, id, data);
		if (!err)
			*size = t->nbytes;
		if (err != -EAGAIN)
			return err;
		ck_err_clear();
	}
	err = load_alone(fs, id, &buf);
	if (err)
		return err;
	if (fs->dtier && (fs->tier_all || t->nbytes > tcache_budget(fs->cache))) {
		int stored = dtier_store(fs->dtier, id, buf, t->nbytes) == 0;

		ck_err_clear_if(!stored);
		/* Larger than the cache, it would be computed again for every
		 * read: the reader takes it from the disk tier instead. */
		if (stored && t->nbytes > tcache_budget(fs->cache)) {
			free(buf);
			return CKFS_LOOK_AGAIN;
		}
	}
	*data = buf;
	*size = t->nbytes;
	return 0;
}

int ckfs_load_tensor(void *ctx, uint32_t id, uint8_t **data, uint64_t *size)
{
	struct ckfs *fs = ctx;
	int err;

	load_begin(fs);
	err = load_one(fs, id, data, size);
	load_end(fs);
	return err;
}

/* A reader has had (part of) tensor t. */
static void note_read(struct ckfs *fs, uint32_t t)
{
	uint32_t g;

	if (!fs->seen || atomic_exchange_explicit(&fs->seen[t], 1, memory_order_relaxed))
		return;
	g = fs->groups.of[t];
	if (g != UINT32_MAX)
		atomic_fetch_add_explicit(&fs->group_seen[g], 1, memory_order_relaxed);
}

int ckfs_group_read_whole(struct ckfs *fs, uint32_t t)
{
	uint32_t g = fs->groups.of[t];

	if (!fs->seen)
		return 0;
	if (g == UINT32_MAX)
		return atomic_load_explicit(&fs->seen[t], memory_order_relaxed);
	return atomic_load_explicit(&fs->group_seen[g], memory_order_relaxed) >=
	       fs->groups.first[g + 1] - fs->groups.first[g];
}

ssize_t ckfs_tensor_copy(struct ckfs *fs, uint32_t t, uint64_t toff, uint8_t *buf,
			 size_t n)
{
	const struct plan_tensor *pt = &fs->plan->tensors[t];
	struct tcache_ref ref;
	uint64_t size;
	int err = CKFS_LOOK_AGAIN;

	if (n > pt->nbytes - toff)
		n = (size_t)(pt->nbytes - toff);
	note_read(fs, t);
	/* The tensor may go to the disk tier while we wait for it. */
	for (int tries = 0; err == CKFS_LOOK_AGAIN && tries < 4; tries++) {
		if (fs->dtier && !tcache_has(fs->cache, t) &&
		    dtier_size(fs->dtier, t, &size) == 0 && size == pt->nbytes) {
			ssize_t got = dtier_read(fs->dtier, t, buf, n, toff);

			if (got > 0)
				return got;
			if (got != -ENOENT)
				return ck_err_ctx(got < 0 ? (int)got : -EIO,
						  "tensor '%s' in the disk tier", pt->name);
		}
		err = tcache_get(fs->cache, t, &ref);
	}
	/* Evicted from the disk tier each time before it could be read (a
	 * tier much smaller than the readers' working set): compute it for
	 * this read alone. */
	if (err == CKFS_LOOK_AGAIN) {
		uint8_t *data;

		load_begin(fs);
		err = load_alone(fs, t, &data);
		load_end(fs);
		if (err)
			return err;
		memcpy(buf, data + toff, n);
		free(data);
		return (ssize_t)n;
	}
	if (err)
		return err;
	memcpy(buf, ref.data + toff, n);
	tcache_put(fs->cache, &ref);
	return (ssize_t)n;
}

void ckfs_handoff_release(struct ckfs *fs)
{
	for (size_t i = 0; fs->handoff && fs->plan && i < fs->plan->ntensors; i++) {
		uint8_t *p = atomic_load(&fs->handoff[i]);

		if (p != in_tier)
			free(p);
	}
	free((void *)fs->handoff);
	fs->handoff = NULL;
}
