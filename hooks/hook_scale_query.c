/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "scale_query" hook (H4): multiply by the constant
 * c (sqrt(head_dim) for Gemma2, Llama 3.1 and Mixtral), folding MaxText's
 * query depth scaling into the HF weights.  The shape is unchanged.
 *
 * Numerics follow MaxText's `x * np.float32(c)`: the constant is rounded to
 * float once and the product is a single float multiply, so the result is
 * (float)x * (float)c rounded to nearest even.  The inverse multiplies by
 * (float)(1 / c), with 1 / c computed in double, as `x * np.float32(1/c)`.
 */
#include "hook_impl.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

#include "util/ck_err.h"

#define NAME "scale_query"

/* c and 1 / c both round to finite, non-zero floats. */
static int scale_query_valid(double c)
{
	float f = (float)c, r = (float)(1.0 / c);

	return isfinite(c) && c != 0.0 && isfinite(f) && f != 0.0f &&
	       isfinite(r) && r != 0.0f;
}

static int scale_query_shape(const struct hook_args *a,
			     const struct hook_shape *in, unsigned nin,
			     const struct hook_shape *tgt,
			     struct hook_shape *out)
{
	int ret;

	(void)tgt;
	ret = hook_util_check_args(NAME, a, 1);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, 1);
	if (ret)
		return ret;
	if (!scale_query_valid(a->v[0]))
		return ck_err(-EINVAL, "%s: scale %g is not a finite non-zero float",
			      NAME, a->v[0]);
	*out = in[0];
	return 0;
}

/* out[i] = x[i] * c for n floats. */
static void scale_query_mul(const float *x, size_t n, float c, float *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = x[i] * c;
}

static int scale_query_forward(const struct hook_args *a,
			       const struct hook_shape *ins,
			       const float *const *in, unsigned nin,
			       const struct hook_shape *outs, float *out)
{
	(void)nin;
	(void)outs;
	scale_query_mul(in[0], (size_t)hook_shape_numel(&ins[0]),
			(float)a->v[0], out);
	return 0;
}

static int scale_query_inverse(const struct hook_args *a,
			       const struct hook_shape *hf, const float *in,
			       const struct hook_shape *mt, float *out)
{
	int ret;

	ret = hook_util_check_args(NAME, a, 1);
	if (!ret)
		ret = hook_util_check_same_numel(NAME, hf, mt);
	if (ret)
		return ret;
	if (!scale_query_valid(a->v[0]))
		return ck_err(-EINVAL, "%s: scale %g is not a finite non-zero float",
			      NAME, a->v[0]);
	scale_query_mul(in, (size_t)hook_shape_numel(hf),
			(float)(1.0 / a->v[0]), out);
	return 0;
}

static void scale_query_pointwise(const struct hook_args *a, enum hook_op *op,
				  float *c)
{
	*op = HOOK_OP_MUL;
	*c = (float)a->v[0];
}

/* What scale_query_inverse() computes per element. */
static void scale_query_pointwise_inv(const struct hook_args *a, enum hook_op *op,
                                       float *c)
{
	*op = HOOK_OP_MUL;
	*c = (float)(1.0 / a->v[0]);
}

const struct hook hook_scale_query = {
	.name = NAME,
	.nin = 1,
	.nargs = 1,
	.shape = scale_query_shape,
	.forward = scale_query_forward,
	.inverse = scale_query_inverse,
	.moves = hook_util_copy_moves,
	.pointwise = scale_query_pointwise,
	.pointwise_inv = scale_query_pointwise_inv,
};
