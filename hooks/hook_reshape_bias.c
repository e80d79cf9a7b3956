/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "reshape_bias" hook (H3): a row-major reshape to
 * the target shape, e.g. a MaxText bias [H, hd] -> [H*hd]; the inverse
 * reshapes back to the MaxText shape.  The bytes do not move.
 */
#include "hook_impl.h"

#include <stddef.h>

#define NAME "reshape_bias"

static int reshape_bias_shape(const struct hook_args *a,
			      const struct hook_shape *in, unsigned nin,
			      const struct hook_shape *tgt,
			      struct hook_shape *out)
{
	int ret;

	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, 1);
	if (ret)
		return ret;
	return hook_util_reshape_shape(NAME, &in[0], tgt, out);
}

static int reshape_bias_inverse(const struct hook_args *a, const struct hook_shape *hf,
				const float *in, const struct hook_shape *mt, float *out)
{
	(void)a;
	return hook_util_copy_inverse(NAME, hf, in, mt, out);
}

const struct hook hook_reshape_bias = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = reshape_bias_shape,
	.forward = hook_util_copy_forward,
	.moves = hook_util_copy_moves,
	.inverse = reshape_bias_inverse,
};
