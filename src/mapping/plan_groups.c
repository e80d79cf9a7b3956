/* SPDX-License-Identifier: MIT */
/*
 * This file implements the sibling groups of a plan (plan.h): tensors one
 * rule cuts from the same source arrays at fixed indices, so that every
 * chunk of those arrays holds a part of each of them.
 */
#include "mapping/plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_err.h"

/* Compare what makes two tensors siblings: rule, arrays, fixed axes. */
static int cmp_kind(const struct plan_tensor *a, const struct plan_tensor *b)
{
	const struct plan_src *sa = &a->src[0], *sb = &b->src[0];

	if (a->rule != b->rule)
		return (uintptr_t)a->rule < (uintptr_t)b->rule ? -1 : 1;
	if (a->nsrc != b->nsrc)
		return a->nsrc < b->nsrc ? -1 : 1;
	for (unsigned k = 0; k < a->nsrc; k++)
		if (a->src[k].array != b->src[k].array)
			return (uintptr_t)a->src[k].array < (uintptr_t)b->src[k].array ? -1 : 1;
	if (sa->nfixed != sb->nfixed)
		return sa->nfixed < sb->nfixed ? -1 : 1;
	for (unsigned j = 0; j < sa->nfixed; j++)
		if (sa->fixed_axis[j] != sb->fixed_axis[j])
			return sa->fixed_axis[j] < sb->fixed_axis[j] ? -1 : 1;
	return 0;
}

/* Order by kind, then by the fixed indices (axes ascending). */
static int cmp_sibling(const void *va, const void *vb, void *vctx)
{
	const struct plan *p = vctx;
	const struct plan_tensor *a = &p->tensors[*(const uint32_t *)va];
	const struct plan_tensor *b = &p->tensors[*(const uint32_t *)vb];
	int r = cmp_kind(a, b);

	for (unsigned j = 0; !r && j < a->src[0].nfixed; j++)
		if (a->src[0].fixed_idx[j] != b->src[0].fixed_idx[j])
			r = a->src[0].fixed_idx[j] < b->src[0].fixed_idx[j] ? -1 : 1;
	return r;
}

int plan_groups_build(const struct plan *p, struct plan_groups *g)
{
	uint32_t *cand;
	size_t n = 0;

	memset(g, 0, sizeof(*g));
	if (p->ntensors > UINT32_MAX - 1)
		return ck_err(-EOVERFLOW, "too many tensors");
	g->of = malloc((p->ntensors + 1) * sizeof(*g->of));
	g->members = malloc((p->ntensors + 1) * sizeof(*g->members));
	g->first = malloc((p->ntensors + 1) * sizeof(*g->first));
	g->axes = malloc((p->ntensors + 1) * sizeof(*g->axes));
	cand = malloc((p->ntensors + 1) * sizeof(*cand));
	if (!g->of || !g->members || !g->first || !g->axes || !cand) {
		free(cand);
		plan_groups_release(g);
		return ck_err(-ENOMEM, "out of memory");
	}
	/* Candidates: cut from their sources at fixed indices, every source at
	 * the same (a fused pair of stacked arrays). */
	for (size_t i = 0; i < p->ntensors; i++) {
		const struct plan_tensor *t = &p->tensors[i];
		int same = t->nsrc >= 1 && t->src[0].nfixed > 0;

		for (unsigned k = 1; same && k < t->nsrc; k++)
			same = t->src[k].nfixed == t->src[0].nfixed &&
			       !memcmp(t->src[k].fixed_axis, t->src[0].fixed_axis,
				       t->src[0].nfixed * sizeof(*t->src[0].fixed_axis)) &&
			       !memcmp(t->src[k].fixed_idx, t->src[0].fixed_idx,
				       t->src[0].nfixed * sizeof(*t->src[0].fixed_idx));
		g->of[i] = UINT32_MAX;
		if (same)
			cand[n++] = (uint32_t)i;
	}
	qsort_r(cand, n, sizeof(*cand), cmp_sibling, (void *)p);
	for (size_t i = 0; i < n;) {
		const struct plan_src *s0 = &p->tensors[cand[i]].src[0];
		uint32_t axes = 0;
		size_t k = i + 1;

		while (k < n && !cmp_kind(&p->tensors[cand[i]], &p->tensors[cand[k]]))
			k++;
		/* The axes the members differ on: the stacked ones.  Two members
		 * at the same indices (one slice serving two tensors) would
		 * share an output slot: no group then. */
		for (size_t m = i + 1; m < k; m++) {
			const struct plan_src *sp = &p->tensors[cand[m - 1]].src[0];
			const struct plan_src *sm = &p->tensors[cand[m]].src[0];
			int same = 1;

			for (unsigned j = 0; j < s0->nfixed; j++) {
				if (sm->fixed_idx[j] != s0->fixed_idx[j])
					axes |= 1u << s0->fixed_axis[j];
				same &= sm->fixed_idx[j] == sp->fixed_idx[j];
			}
			if (same) {
				axes = 0;
				break;
			}
		}
		if (k - i >= 2 && axes) {
			g->first[g->ngroups] = (uint32_t)g->nmembers;
			g->axes[g->ngroups] = axes;
			for (size_t m = i; m < k; m++) {
				g->of[cand[m]] = (uint32_t)g->ngroups;
				g->members[g->nmembers++] = cand[m];
			}
			g->ngroups++;
		}
		i = k;
	}
	g->first[g->ngroups] = (uint32_t)g->nmembers;
	free(cand);
	return 0;
}

void plan_groups_release(struct plan_groups *g)
{
	free(g->of);
	free(g->members);
	free(g->first);
	free(g->axes);
	memset(g, 0, sizeof(*g));
}

