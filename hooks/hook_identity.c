/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "identity" hook (H0): the tensor passes through
 * unchanged in both directions.
 */
#include "hook_impl.h"

#include <stddef.h>

#define NAME "identity"

static int identity_shape(const struct hook_args *a,
			  const struct hook_shape *in, unsigned nin,
			  const struct hook_shape *tgt, struct hook_shape *out)
{
	int ret;

	(void)tgt;
	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, 1);
	if (ret)
		return ret;
	*out = in[0];
	return 0;
}

static int identity_inverse(const struct hook_args *a, const struct hook_shape *hf,
			    const float *in, const struct hook_shape *mt, float *out)
{
	(void)a;
	return hook_util_copy_inverse(NAME, hf, in, mt, out);
}

const struct hook hook_identity = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = identity_shape,
	.forward = hook_util_copy_forward,
	.moves = hook_util_copy_moves,
	.inverse = identity_inverse,
};
