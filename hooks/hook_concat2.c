/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "concat2" hook (H12, Qwen3-VL-MoE gate_up): two
 * inputs a and b of the same shape [..., n] are concatenated on the last
 * axis, [..., 2n]: each row of a followed by the same row of b.  [E, D, F]
 * gate and up kernels become [E, D, 2F].  The target shape is not used.
 *
 * A composite hook: nin = 2, no inverse (the reverse conversion splits
 * gate_up itself).  Pure data movement, so exact.
 */
#include "hook_impl.h"

#include <stddef.h>

#define NAME "concat2"

static int concat2_shape(const struct hook_args *a,
			 const struct hook_shape *in, unsigned nin,
			 const struct hook_shape *tgt, struct hook_shape *out)
{
	int ret;

	(void)tgt;
	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_pair(NAME, in, nin, 1);
	if (ret)
		return ret;
	return hook_util_double_axis(NAME, &in[0], in[0].rank - 1, out);
}

static int concat2_forward(const struct hook_args *a,
			   const struct hook_shape *ins,
			   const float *const *in, unsigned nin,
			   const struct hook_shape *outs, float *out)
{
	size_t n = (size_t)ins[0].d[ins[0].rank - 1];
	size_t total = (size_t)hook_shape_numel(&ins[0]);
	size_t r, rows;

	(void)a;
	(void)nin;
	(void)outs;
	if (!total)
		return 0;
	rows = total / n;
	for (r = 0; r < rows; r++) {
		hook_util_copy(in[0] + r * n, n, out + 2 * r * n);
		hook_util_copy(in[1] + r * n, n, out + 2 * r * n + n);
	}
	return 0;
}

const struct hook hook_concat2 = {
	.name = NAME,
	.nin = 2,
	.nargs = 0,
	.shape = concat2_shape,
	.forward = concat2_forward,
	.inverse = NULL,
};
