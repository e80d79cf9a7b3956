/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "concat2_swap" hook (H11, Gemma4 and Qwen3.5
 * gate_up): two inputs a and b of the same shape [..., x, n] are
 * concatenated on the last axis, [..., x, 2n], and the last two axes are
 * swapped, [..., 2n, x]: swapaxes(concat([a, b], -1), -1, -2).  [E, D, F]
 * gate and up kernels become [E, 2F, D], with a^T in rows 0..F-1 and b^T in
 * rows F..2F-1 of each expert.  The target shape is not used.
 *
 * A composite hook: nin = 2, no inverse (the reverse conversion splits
 * gate_up itself).  Pure data movement, so exact.
 */
#include "hook_impl.h"

#include <stddef.h>

#define NAME "concat2_swap"

static int concat2_swap_shape(const struct hook_args *a,
			      const struct hook_shape *in, unsigned nin,
			      const struct hook_shape *tgt,
			      struct hook_shape *out)
{
	struct hook_shape cat;
	unsigned r;
	int ret;

	(void)tgt;
	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_pair(NAME, in, nin, 2);
	if (ret)
		return ret;
	r = in[0].rank;
	ret = hook_util_double_axis(NAME, &in[0], r - 1, &cat);
	if (ret)
		return ret;
	*out = cat;
	out->d[r - 2] = cat.d[r - 1];
	out->d[r - 1] = cat.d[r - 2];
	return 0;
}

static int concat2_swap_forward(const struct hook_args *a,
				const struct hook_shape *ins,
				const float *const *in, unsigned nin,
				const struct hook_shape *outs, float *out)
{
	unsigned r = ins[0].rank;
	size_t x = (size_t)ins[0].d[r - 2], n = (size_t)ins[0].d[r - 1];
	size_t total = (size_t)hook_shape_numel(&ins[0]);
	size_t b, batches, mat;

	(void)a;
	(void)nin;
	(void)outs;
	if (!total)
		return 0;
	mat = x * n;
	batches = total / mat;
	/* Each [x, n] matrix of a (b) becomes rows 0..n-1 (n..2n-1) of a
	 * [2n, x] output matrix. */
	for (b = 0; b < batches; b++) {
		float *o = out + 2 * b * mat;

		hook_util_transpose2d(in[0] + b * mat, n, o, x, x, n);
		hook_util_transpose2d(in[1] + b * mat, n, o + mat, x, x, n);
	}
	return 0;
}

const struct hook hook_concat2_swap = {
	.name = NAME,
	.nin = 2,
	.nargs = 0,
	.shape = concat2_swap_shape,
	.forward = concat2_swap_forward,
	.inverse = NULL,
};
