/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "reshape_kernel" hook (H1): a MaxText kernel
 * [in..., out...] becomes a torch weight [out, in].
 *
 * Forward reshapes x (row-major) to reverse(tgt) and then reverses all axes,
 * so for a 2-D target [out, in] the kernel is flattened to [in, out] and
 * transposed: q [D, H, hd] -> [D, H*hd] -> [H*hd, D].  Reversing the
 * MaxText axes directly would give [hd, H, D], which is wrong.  The inverse
 * reverses all axes of the HF tensor and reshapes to the MaxText shape.
 */
#include "hook_impl.h"

#include <stddef.h>

#define NAME "reshape_kernel"

static int reshape_kernel_shape(const struct hook_args *a,
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

/* Reverse all axes of x, viewed with shape s (s reversed for the view). */
static void reshape_kernel_reverse(const struct hook_shape *s, const float *x,
				   float *out)
{
	struct hook_shape view = { .rank = s->rank };
	unsigned perm[ZARR_MAX_RANK] = { 0 };
	unsigned k;

	for (k = 0; k < s->rank; k++) {
		view.d[k] = s->d[s->rank - 1 - k];
		perm[k] = s->rank - 1 - k;
	}
	hook_util_permute(&view, x, perm, out);
}

static int reshape_kernel_forward(const struct hook_args *a,
				  const struct hook_shape *ins,
				  const float *const *in, unsigned nin,
				  const struct hook_shape *outs, float *out)
{
	(void)a;
	(void)ins;
	(void)nin;
	reshape_kernel_reverse(outs, in[0], out);
	return 0;
}

static int reshape_kernel_inverse(const struct hook_args *a,
				  const struct hook_shape *hf, const float *in,
				  const struct hook_shape *mt, float *out)
{
	struct hook_shape rhf = { .rank = hf->rank };
	unsigned k;
	int ret;

	(void)a;
	ret = hook_util_check_same_numel(NAME, hf, mt);
	if (ret)
		return ret;
	/* T(x) has shape reverse(hf); x is that view reversed back. */
	for (k = 0; k < hf->rank; k++)
		rhf.d[k] = hf->d[hf->rank - 1 - k];
	reshape_kernel_reverse(&rhf, in, out);
	return 0;
}

/* The input viewed as reverse(out), every axis reversed. */
static int reshape_kernel_moves(const struct hook_args *a,
				const struct hook_shape *in,
				const struct hook_shape *out,
				struct hook_shape *view, unsigned *perm)
{
	(void)a;
	(void)in;
	view->rank = out->rank;
	for (unsigned k = 0; k < out->rank; k++) {
		view->d[k] = out->d[out->rank - 1 - k];
		perm[k] = out->rank - 1 - k;
	}
	return 0;
}

const struct hook hook_reshape_kernel = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = reshape_kernel_shape,
	.forward = reshape_kernel_forward,
	.inverse = reshape_kernel_inverse,
	.moves = reshape_kernel_moves,
};
