/* SPDX-License-Identifier: MIT */
/*
 * This file implements the two halves of H19, "ba_regroup" (Qwen3.5's
 * gated-delta-net beta and decay projections): MaxText keeps one fused
 * kernel in_proj_ba [D, G * 2r], grouped by key head, where each of the G
 * groups holds b (r columns) then a (r columns), r = Hv / Hk value heads per
 * key head.  Hugging Face splits it into two Linear weights:
 *
 *   "ba_to_b" (G): in_proj_b [G r, D], the b rows of every group;
 *   "ba_to_a" (G): in_proj_a [G r, D], the a rows of every group.
 *
 * In numpy terms, with t = x.T viewed as [G, 2r, D]: b = t[:, :r] and
 * a = t[:, r:], each reshaped to [Hv, D].  One MaxText tensor becomes two
 * HF tensors, so a mapping names the same source in two rules, one hook
 * each.  The output takes the rule's target shape, which must hold as many
 * elements.  Pure data movement, so exact; no single-tensor inverse (the
 * reverse conversion needs both halves).
 */
#include "hook_impl.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

#include "util/ck_err.h"

/* A head count; below 2^24 so that products stay exact and small. */
#define BA_MAX_ARG 16777216.0

/* Check a = (G) and the one 2-D input [D, G * 2r] (r >= 1); *r gets r. */
static int ba_check(const char *name, const struct hook_args *a,
		    const struct hook_shape *in, unsigned nin, uint64_t *r)
{
	char sb[HOOK_SHAPE_STR_LEN];
	uint64_t g;
	double x;
	int ret;

	ret = hook_util_check_args(name, a, 1);
	if (!ret)
		ret = hook_util_check_inputs(name, in, nin, 1);
	if (!ret)
		ret = hook_util_check_rank(name, &in[0], 2);
	if (ret)
		return ret;
	x = a->v[0];
	if (!isfinite(x) || x != floor(x) || x < 1 || x >= BA_MAX_ARG)
		return ck_err(-EINVAL,
			      "%s: key heads G = %g is not an integer >= 1",
			      name, x);
	g = (uint64_t)x;
	if (in[0].d[1] == 0 || in[0].d[1] % (2 * g))
		return ck_err(-EINVAL,
			      "%s: input %s is not [D, G * 2r] with G = %llu",
			      name, hook_util_shape_str(&in[0], sb),
			      (unsigned long long)g);
	*r = in[0].d[1] / (2 * g);
	return 0;
}

static int ba_shape(const char *name, const struct hook_args *a,
		    const struct hook_shape *in, unsigned nin,
		    const struct hook_shape *tgt, struct hook_shape *out)
{
	struct hook_shape mine = {0};
	uint64_t r = 0;
	int ret;

	ret = ba_check(name, a, in, nin, &r);
	if (ret)
		return ret;
	mine.rank = 2;
	mine.d[0] = in[0].d[1] / 2; /* G * r */
	mine.d[1] = in[0].d[0];
	if (!tgt) {
		*out = mine;
		return 0;
	}
	return hook_util_reshape_shape(name, &mine, tgt, out);
}

/* Rows of out [G r, D]: for every group g, columns [g 2r + off, + r) of x
 * [D, G 2r], transposed. */
static void ba_forward(size_t off_in_r, const struct hook_args *a,
		       const struct hook_shape *ins, const float *x, float *out)
{
	size_t d = (size_t)ins[0].d[0], w = (size_t)ins[0].d[1];
	size_t groups = (size_t)a->v[0], r = w / (2 * groups), g;

	if (!d)
		return;
	for (g = 0; g < groups; g++)
		hook_util_transpose2d(x + g * 2 * r + off_in_r * r, w,
				      out + g * r * d, d, d, r);
}

static int ba_to_b_shape(const struct hook_args *a, const struct hook_shape *in,
			 unsigned nin, const struct hook_shape *tgt,
			 struct hook_shape *out)
{
	return ba_shape("ba_to_b", a, in, nin, tgt, out);
}

static int ba_to_b_forward(const struct hook_args *a,
			   const struct hook_shape *ins, const float *const *in,
			   unsigned nin, const struct hook_shape *outs,
			   float *out)
{
	(void)nin;
	(void)outs;
	ba_forward(0, a, ins, in[0], out);
	return 0;
}

static int ba_to_a_shape(const struct hook_args *a, const struct hook_shape *in,
			 unsigned nin, const struct hook_shape *tgt,
			 struct hook_shape *out)
{
	return ba_shape("ba_to_a", a, in, nin, tgt, out);
}

static int ba_to_a_forward(const struct hook_args *a,
			   const struct hook_shape *ins, const float *const *in,
			   unsigned nin, const struct hook_shape *outs,
			   float *out)
{
	(void)nin;
	(void)outs;
	ba_forward(1, a, ins, in[0], out);
	return 0;
}

const struct hook hook_ba_to_b = {
	.name = "ba_to_b",
	.nin = 1,
	.nargs = 1,
	.shape = ba_to_b_shape,
	.forward = ba_to_b_forward,
	.inverse = NULL,
};

const struct hook hook_ba_to_a = {
	.name = "ba_to_a",
	.nin = 1,
	.nargs = 1,
	.shape = ba_to_a_shape,
	.forward = ba_to_a_forward,
	.inverse = NULL,
};
