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

static int identity_forward(const struct hook_args *a,
			    const struct hook_shape *ins,
			    const float *const *in, unsigned nin,
			    const struct hook_shape *outs, float *out)
{
	(void)a;
	(void)nin;
	(void)outs;
	hook_util_copy(in[0], (size_t)hook_shape_numel(&ins[0]), out);
	return 0;
}

static int identity_inverse(const struct hook_args *a,
			    const struct hook_shape *hf, const float *in,
			    const struct hook_shape *mt, float *out)
{
	int ret;

	(void)a;
	ret = hook_util_check_same_numel(NAME, hf, mt);
	if (ret)
		return ret;
	hook_util_copy(in, (size_t)hook_shape_numel(hf), out);
	return 0;
}

const struct hook hook_identity = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = identity_shape,
	.forward = identity_forward,
	.inverse = identity_inverse,
};
