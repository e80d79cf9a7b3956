/* SPDX-License-Identifier: MIT */
/*
 * plan_impl.h - what plan.c shares with plan_skel.c: the state of a walk
 * over a mapping's rules, and the steps of resolving a rule (expressions,
 * names, layer placements, stacked axes, MaxText slice shapes), so that the
 * forward plan and the reverse skeleton read the mapping files the same
 * way.  Private to src/mapping.
 */
#ifndef PLAN_IMPL_H
#define PLAN_IMPL_H

#include <stdint.h>

#include "mapping/plan.h"
#include "util/ck_buf.h"
#include "util/ck_json.h"

struct plan_ctx {
	const struct mapping *map;
	const struct orbax_ckpt *c;	/* NULL for the skeleton */
	cJSON *config;
	unsigned let_depth;
	int64_t var_i, var_e;		/* current layer / expert, -1 if none */
	int scanned;
	uint8_t *used;			/* per checkpoint array */
	struct ck_buf missing;		/* names for the error message */
	size_t nmissing;
	size_t *absent;			/* per rule: tensors of an "optional":
					   "log" rule skipped, source absent */
	int check_mt;			/* plan_opts.check_mt, or forced */
};

/* Zero x for mapping m and checkpoint c (config and scanned are set by the
 * caller). */
void plan_ctx_init(struct plan_ctx *x, const struct mapping *m,
		   const struct orbax_ckpt *c);

/* An integer expression over the config, the lets, i and e. */
int plan_eval_u64(struct plan_ctx *x, const char *e, uint64_t *v);

/* Whether condition when (NULL: always) holds for layer i. */
int plan_holds(struct plan_ctx *x, const char *when, int64_t i, int *yes);

/* Template t for layer i and expert e ("{layers}" and "{expr}"). */
int plan_expand(struct plan_ctx *x, const char *t, int64_t i, int64_t e,
		struct ck_buf *out);

/* The stacked axes source k of rule r fixes for layer and expert, into
 * s->nfixed, s->fixed_axis, s->fixed_idx (sorted by axis). */
int plan_fix_axes(struct plan_ctx *x, const struct map_rule *r, unsigned k,
		  int64_t layer, int64_t expert, struct plan_src *s);

/* Source k's MaxText slice shape ("mt" or its default); -ENOENT without a
 * message when the rule has none. */
int plan_rule_mt(struct plan_ctx *x, const struct map_rule *r, unsigned k,
		 int64_t layer, int64_t expert, struct hook_shape *mt);

#endif
