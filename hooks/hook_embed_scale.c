/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "embed_scale" hook (H7, Gemma embeddings): MaxText
 * stores the table multiplied by the normalizer n = sqrt(D), HF does not.
 * Forward pads or truncates the rows (and, when they differ, the columns) of
 * [vocab_mt, D] to the 2-D target and divides by n; the inverse pads or
 * truncates to the MaxText shape and multiplies by n.
 *
 * Numerics: exact float division x / (float)n, as MaxText's `x / norm`, not
 * a multiply by a rounded reciprocal.  The argument is the normalizer as the
 * family defines it (Gemma3 passes the bf16-rounded value, Gemma2/4 the
 * f32 one); it is rounded to float once.  Padding is zero either way.
 */
#include "hook_impl.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

#include "util/ck_err.h"

#define NAME "embed_scale"

/* n rounds to a finite, non-zero float. */
static int embed_scale_valid(double n)
{
	float f = (float)n;

	return isfinite(n) && isfinite(f) && f != 0.0f;
}

/* -EINVAL unless from and to are both 2-D. */
static int embed_scale_check(const char *what, const struct hook_shape *from,
			     const struct hook_shape *to)
{
	char fb[HOOK_SHAPE_STR_LEN], tb[HOOK_SHAPE_STR_LEN];

	if (from->rank != 2 || to->rank != 2)
		return ck_err(-EINVAL, "%s: %s %s cannot become %s (not 2-D)",
			      NAME, what, hook_util_shape_str(from, fb),
			      hook_util_shape_str(to, tb));
	return 0;
}

static int embed_scale_shape(const struct hook_args *a,
			     const struct hook_shape *in, unsigned nin,
			     const struct hook_shape *tgt,
			     struct hook_shape *out)
{
	int ret;

	ret = hook_util_check_args(NAME, a, 1);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, 1);
	if (ret)
		return ret;
	if (!embed_scale_valid(a->v[0]))
		return ck_err(-EINVAL,
			      "%s: normalizer %g is not a finite non-zero float",
			      NAME, a->v[0]);
	if (!tgt)
		return ck_err(-EINVAL, "%s: needs a target shape", NAME);
	ret = hook_util_check_inputs(NAME, tgt, 1, 1);
	if (!ret)
		ret = embed_scale_check("input", &in[0], tgt);
	if (ret)
		return ret;
	*out = *tgt;
	return 0;
}

static int embed_scale_forward(const struct hook_args *a,
			       const struct hook_shape *ins,
			       const float *const *in, unsigned nin,
			       const struct hook_shape *outs, float *out)
{
	size_t i, n = (size_t)hook_shape_numel(outs);
	float norm = (float)a->v[0];

	(void)nin;
	hook_util_pad2d(in[0], (size_t)ins[0].d[0], (size_t)ins[0].d[1], out,
			(size_t)outs->d[0], (size_t)outs->d[1]);
	for (i = 0; i < n; i++)
		out[i] = out[i] / norm;
	return 0;
}

static int embed_scale_inverse(const struct hook_args *a,
			       const struct hook_shape *hf, const float *in,
			       const struct hook_shape *mt, float *out)
{
	size_t i, n;
	float norm;
	int ret;

	ret = hook_util_check_args(NAME, a, 1);
	if (!ret)
		ret = hook_util_check_inputs(NAME, hf, 1, 1);
	if (!ret)
		ret = hook_util_check_inputs(NAME, mt, 1, 1);
	if (!ret)
		ret = embed_scale_check("inverse of", hf, mt);
	if (ret)
		return ret;
	if (!embed_scale_valid(a->v[0]))
		return ck_err(-EINVAL,
			      "%s: normalizer %g is not a finite non-zero float",
			      NAME, a->v[0]);
	norm = (float)a->v[0];
	n = (size_t)hook_shape_numel(mt);
	hook_util_pad2d(in, (size_t)hf->d[0], (size_t)hf->d[1], out,
			(size_t)mt->d[0], (size_t)mt->d[1]);
	for (i = 0; i < n; i++)
		out[i] = out[i] * norm;
	return 0;
}

/* Moves: the leading rows and columns (padding is not a move); then x / n. */
static void embed_scale_pointwise(const struct hook_args *a, enum hook_op *op,
				  float *c)
{
	*op = HOOK_OP_DIV;
	*c = (float)a->v[0];
}

/* What embed_scale_inverse() computes per element. */
static void embed_scale_pointwise_inv(const struct hook_args *a, enum hook_op *op,
                                       float *c)
{
	*op = HOOK_OP_MUL;
	*c = (float)a->v[0];
}

const struct hook hook_embed_scale = {
	.name = NAME,
	.nin = 1,
	.nargs = 1,
	.shape = embed_scale_shape,
	.forward = embed_scale_forward,
	.inverse = embed_scale_inverse,
	.moves = hook_util_copy_moves,
	.pointwise = embed_scale_pointwise,
	.pointwise_inv = embed_scale_pointwise_inv,
};
