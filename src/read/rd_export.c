/* SPDX-License-Identifier: MIT */
/*
 * This file implements rd_export() (rd_export.h): every tensor computed
 * once, in plan order, a group of siblings at a time, each handed to the
 * sink as soon as its batch is done.
 *
 * The outputs of a batch live in one arena, kept from batch to batch: its
 * pages are faulted in once for the whole export instead of once per
 * tensor, and it never grows past the largest batch.
 */
#include "read/rd_export.h"

#include <errno.h>
#include <stdlib.h>

#include "read/rd_engine_impl.h"
#include "read/rd_tensor.h"
#include "util/ck_err.h"
#include "util/ck_mem.h"

struct arena {
	uint8_t *mem;
	uint64_t cap;
};

/* At least bytes of arena (its old contents are not kept). */
static int arena_want(struct arena *a, uint64_t bytes)
{
	if (bytes <= a->cap)
		return 0;
	if (bytes > SIZE_MAX - 1)
		return ck_err(-EOVERFLOW, "a batch of %llu bytes", (unsigned long long)bytes);
	free(a->mem);
	a->mem = ck_big_alloc((size_t)bytes);
	a->cap = a->mem ? bytes : 0;
	return a->mem ? 0 : ck_err(-ENOMEM, "out of memory for %llu bytes of tensors",
				   (unsigned long long)bytes);
}

/* Hand members ids[0..n) of a batch, computed into outs[], to fn. */
static int hand_over(struct rd_engine *e, const uint32_t *ids, size_t n, void **outs,
		     rd_sink_fn fn, void *ctx)
{
	int err = 0;

	for (size_t i = 0; !err && i < n; i++)
		err = fn(ctx, ids[i], outs[i], e->plan->tensors[ids[i]].nbytes);
	if (!err)
		atomic_fetch_add_explicit(&e->tensor_loads, n, memory_order_relaxed);
	return err;
}

/* Compute group grp in batches of at most budget bytes (one member at the
 * least), hand every member over, and mark them in done[]. */
static int export_group(struct rd_engine *e, uint32_t grp, uint64_t budget,
			struct arena *a, rd_sink_fn fn, void *ctx, uint8_t *done)
{
	const struct plan_groups *g = e->groups;
	const uint32_t *ids = g->members + g->first[grp];
	size_t n = g->first[grp + 1] - g->first[grp], per;
	uint64_t each = e->plan->tensors[ids[0]].nbytes;
	struct rd_spill *spill = NULL;
	void **outs = calloc(n, sizeof(*outs));
	int err = outs ? 0 : ck_err(-ENOMEM, "out of memory");

	per = each ? (size_t)(budget / each) : n;
	per = per < 1 ? 1 : per > n ? n : per;
	/* Batches share one decode through a spill when there is where. */
	if (!err && per < n && e->tier_dir && rd_spillable(e->plan, ids[0]) &&
	    rd_spill_open(e->tier_dir, &spill))
		ck_err_clear();
	if (!err)
		err = arena_want(a, (uint64_t)per * each);
	for (size_t b = 0; !err && b < n; b += per) {
		size_t cnt = n - b < per ? n - b : per;

		for (size_t i = 0; i < cnt; i++)
			outs[i] = a->mem + i * each;
		err = rd_tensors(e->plan, g, ids + b, cnt, outs, spill);
		if (!err)
			err = hand_over(e, ids + b, cnt, outs, fn, ctx);
		for (size_t i = 0; !err && i < cnt; i++)
			done[ids[b + i]] = 1;
	}
	rd_spill_close(spill);
	free(outs);
	return err;
}

/* Compute tensor id by itself and hand it over. */
static int export_alone(struct rd_engine *e, uint32_t id, struct arena *a,
			rd_sink_fn fn, void *ctx)
{
	void *out;
	int err = arena_want(a, e->plan->tensors[id].nbytes + 1);

	out = a->mem;
	if (!err)
		err = rd_tensor(&e->plan->tensors[id], out);
	return err ? err : hand_over(e, &id, 1, &out, fn, ctx);
}

int rd_export(struct rd_engine *e, uint64_t budget, rd_sink_fn fn, void *ctx)
{
	const struct plan *p = e->plan;
	uint8_t *done = calloc(p->ntensors + 1, 1);
	struct arena a = { NULL, 0 };
	int err = done ? 0 : ck_err(-ENOMEM, "out of memory");

	for (size_t i = 0; !err && i < p->ntensors; i++) {
		uint32_t grp = e->groups->of[i];

		if (done[i])
			continue;
		if (grp == UINT32_MAX)
			err = export_alone(e, (uint32_t)i, &a, fn, ctx);
		else
			err = export_group(e, grp, budget, &a, fn, ctx, done);
		done[i] = 1;
	}
	free(a.mem);
	free(done);
	return err;
}
