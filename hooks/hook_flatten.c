/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "flatten" hook (H17): x.reshape(-1), e.g. a
 * vision attention bias [H, hd] -> [H * hd].  A target shape, when given,
 * must be 1-D with as many elements.  The inverse reshapes to the MaxText
 * shape, R(mt).  Both are plain copies, so exact.
 */
#include "hook_impl.h"

#include <errno.h>
#include <stddef.h>

#include "util/ck_err.h"

#define NAME "flatten"

static int flatten_shape(const struct hook_args *a,
			 const struct hook_shape *in, unsigned nin,
			 const struct hook_shape *tgt, struct hook_shape *out)
{
	char sb[HOOK_SHAPE_STR_LEN];
	struct hook_shape flat = { .rank = 1 };
	int ret;

	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, 1);
	if (ret)
		return ret;
	flat.d[0] = hook_shape_numel(&in[0]);
	if (!tgt) {
		*out = flat;
		return 0;
	}
	if (tgt->rank != 1)
		return ck_err(-EINVAL, "%s: target %s is not 1-D", NAME,
			      hook_util_shape_str(tgt, sb));
	return hook_util_reshape_shape(NAME, &in[0], tgt, out);
}

static int flatten_inverse(const struct hook_args *a,
			   const struct hook_shape *hf, const float *in,
			   const struct hook_shape *mt, float *out)
{
	(void)a;
	return hook_util_copy_inverse(NAME, hf, in, mt, out);
}

const struct hook hook_flatten = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = flatten_shape,
	.forward = hook_util_copy_forward,
	.moves = hook_util_copy_moves,
	.inverse = flatten_inverse,
};
