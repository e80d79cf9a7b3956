/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "scale_div" hook: divide by the constant n, for
 * the embedding normalizers MaxText folds into tensors other than the
 * embedding table itself.  The shape is unchanged.
 *
 * Numerics: an exact float division x / (float)n, as MaxText's `x / norm`,
 * not a multiply by a rounded reciprocal; the inverse is x * (float)n.  n is
 * rounded to float once.
 */
#include "hook_impl.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

#include "util/ck_err.h"

#define NAME "scale_div"

/* n rounds to a finite, non-zero float. */
static int scale_div_valid(double n)
{
	float f = (float)n;

	return isfinite(n) && isfinite(f) && f != 0.0f;
}

/* -EINVAL unless a holds one valid divisor. */
static int scale_div_check_args(const struct hook_args *a)
{
	int ret = hook_util_check_args(NAME, a, 1);

	if (ret)
		return ret;
	if (!scale_div_valid(a->v[0]))
		return ck_err(-EINVAL,
			      "%s: divisor %g is not a finite non-zero float",
			      NAME, a->v[0]);
	return 0;
}

static int scale_div_shape(const struct hook_args *a,
			   const struct hook_shape *in, unsigned nin,
			   const struct hook_shape *tgt, struct hook_shape *out)
{
	int ret;

	(void)tgt;
	ret = scale_div_check_args(a);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, 1);
	if (ret)
		return ret;
	*out = in[0];
	return 0;
}

static int scale_div_forward(const struct hook_args *a,
			     const struct hook_shape *ins,
			     const float *const *in, unsigned nin,
			     const struct hook_shape *outs, float *out)
{
	size_t i, n = (size_t)hook_shape_numel(&ins[0]);
	const float *x = in[0];
	float d = (float)a->v[0];

	(void)nin;
	(void)outs;
	for (i = 0; i < n; i++)
		out[i] = x[i] / d;
	return 0;
}

static int scale_div_inverse(const struct hook_args *a,
			     const struct hook_shape *hf, const float *in,
			     const struct hook_shape *mt, float *out)
{
	size_t i, n;
	float d;
	int ret;

	ret = scale_div_check_args(a);
	if (!ret)
		ret = hook_util_check_same_numel(NAME, hf, mt);
	if (ret)
		return ret;
	d = (float)a->v[0];
	n = (size_t)hook_shape_numel(hf);
	for (i = 0; i < n; i++)
		out[i] = in[i] * d;
	return 0;
}

static void scale_div_pointwise(const struct hook_args *a, enum hook_op *op,
				float *c)
{
	*op = HOOK_OP_DIV;
	*c = (float)a->v[0];
}

/* What scale_div_inverse() computes per element. */
static void scale_div_pointwise_inv(const struct hook_args *a, enum hook_op *op,
                                     float *c)
{
	*op = HOOK_OP_MUL;
	*c = (float)a->v[0];
}

const struct hook hook_scale_div = {
	.name = NAME,
	.nin = 1,
	.nargs = 1,
	.shape = scale_div_shape,
	.forward = scale_div_forward,
	.inverse = scale_div_inverse,
	.moves = hook_util_copy_moves,
	.pointwise = scale_div_pointwise,
	.pointwise_inv = scale_div_pointwise_inv,
};
