/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "interleave2" hook (H10, GPT-OSS gate_up): two
 * inputs a and b of the same shape [..., n] become one [..., 2n] with
 * out[..., 0::2] = a and out[..., 1::2] = b (gate on the even columns, up on
 * the odd ones).  The output takes the rule's target shape, which must hold
 * 2 * numel(a) elements ([..., 2n] when no target is given).
 *
 * A composite hook: nin = 2, no inverse (the reverse conversion splits
 * gate_up itself).  Pure data movement, so exact.
 */
#include "hook_impl.h"

#include <stddef.h>

#define NAME "interleave2"

static int interleave2_shape(const struct hook_args *a,
			     const struct hook_shape *in, unsigned nin,
			     const struct hook_shape *tgt,
			     struct hook_shape *out)
{
	struct hook_shape both;
	int ret;

	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_pair(NAME, in, nin, 1);
	if (!ret)
		ret = hook_util_double_axis(NAME, &in[0], in[0].rank - 1,
					    &both);
	if (ret)
		return ret;
	if (!tgt) {
		*out = both;
		return 0;
	}
	return hook_util_reshape_shape(NAME, &both, tgt, out);
}

static int interleave2_forward(const struct hook_args *a,
			       const struct hook_shape *ins,
			       const float *const *in, unsigned nin,
			       const struct hook_shape *outs, float *out)
{
	size_t total = (size_t)hook_shape_numel(&ins[0]);
	const float *x = in[0], *y = in[1];
	size_t i;

	(void)a;
	(void)nin;
	(void)outs;
	/*
	 * Row r of [rows, 2n] holds a[r][j] at 2j and b[r][j] at 2j + 1, so
	 * in flat C order element i of a lands at 2i and of b at 2i + 1.
	 */
	for (i = 0; i < total; i++) {
		out[2 * i] = x[i];
		out[2 * i + 1] = y[i];
	}
	return 0;
}

const struct hook hook_interleave2 = {
	.name = NAME,
	.nin = 2,
	.nargs = 0,
	.shape = interleave2_shape,
	.forward = interleave2_forward,
	.inverse = NULL,
};
