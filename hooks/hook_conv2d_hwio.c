/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "conv2d_hwio" hook (H13): a 2-D convolution
 * kernel in JAX's HWIO layout [H, W, Cin, Cout] becomes torch's
 * [Cout, Cin, H, W], i.e. transpose(3, 2, 0, 1) (SigLIP patch embedding,
 * Qwen3-Omni audio conv2d).  The inverse is transpose(2, 3, 1, 0).  A pure
 * permutation, so exact.
 */
#include "hook_impl.h"

#define NAME "conv2d_hwio"
#define RANK 4

/* Output axis k is input axis perm[k]. */
static const unsigned conv2d_hwio_perm[RANK] = { 3, 2, 0, 1 };

static int conv2d_hwio_shape(const struct hook_args *a,
			     const struct hook_shape *in, unsigned nin,
			     const struct hook_shape *tgt,
			     struct hook_shape *out)
{
	(void)tgt;
	return hook_util_perm_hook_shape(NAME, a, in, nin, RANK,
					 conv2d_hwio_perm, out);
}

static int conv2d_hwio_forward(const struct hook_args *a,
			       const struct hook_shape *ins,
			       const float *const *in, unsigned nin,
			       const struct hook_shape *outs, float *out)
{
	(void)a;
	(void)nin;
	(void)outs;
	hook_util_permute(&ins[0], in[0], conv2d_hwio_perm, out);
	return 0;
}

static int conv2d_hwio_inverse(const struct hook_args *a,
			       const struct hook_shape *hf, const float *in,
			       const struct hook_shape *mt, float *out)
{
	(void)a;
	return hook_util_perm_hook_inverse(NAME, hf, in, mt, RANK,
					   conv2d_hwio_perm, out);
}

const struct hook hook_conv2d_hwio = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = conv2d_hwio_shape,
	.forward = conv2d_hwio_forward,
	.inverse = conv2d_hwio_inverse,
};
