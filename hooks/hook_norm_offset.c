/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "norm_offset" hook (H5): Gemma2/3 store RMSNorm
 * scales as (w - 1), HF as w, so forward computes x - 1 and reshapes to the
 * target shape; the inverse computes x + 1 and reshapes to the MaxText shape.
 * Arithmetic is float32 (the engine rounds to the output dtype once).
 */
#include "hook_impl.h"

#include <stddef.h>

#define NAME "norm_offset"

static int norm_offset_shape(const struct hook_args *a,
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

/* out[i] = x[i] + d for n floats. */
static void norm_offset_add(const float *x, size_t n, float d, float *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = x[i] + d;
}

static int norm_offset_forward(const struct hook_args *a,
			       const struct hook_shape *ins,
			       const float *const *in, unsigned nin,
			       const struct hook_shape *outs, float *out)
{
	(void)a;
	(void)nin;
	(void)outs;
	norm_offset_add(in[0], (size_t)hook_shape_numel(&ins[0]), -1.0f, out);
	return 0;
}

static int norm_offset_inverse(const struct hook_args *a,
			       const struct hook_shape *hf, const float *in,
			       const struct hook_shape *mt, float *out)
{
	int ret;

	(void)a;
	ret = hook_util_check_same_numel(NAME, hf, mt);
	if (ret)
		return ret;
	norm_offset_add(in, (size_t)hook_shape_numel(hf), 1.0f, out);
	return 0;
}

static void norm_offset_pointwise(const struct hook_args *a, enum hook_op *op,
				  float *c)
{
	(void)a;
	*op = HOOK_OP_ADD;
	*c = -1.0f;
}

/* What norm_offset_inverse() computes per element. */
static void norm_offset_pointwise_inv(const struct hook_args *a, enum hook_op *op,
                                       float *c)
{
	(void)a;
	*op = HOOK_OP_ADD;
	*c = 1.0f;
}

const struct hook hook_norm_offset = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = norm_offset_shape,
	.forward = norm_offset_forward,
	.inverse = norm_offset_inverse,
	.moves = hook_util_copy_moves,
	.pointwise = norm_offset_pointwise,
	.pointwise_inv = norm_offset_pointwise_inv,
};
