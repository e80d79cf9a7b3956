/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "conv3d" hook (H14): a 3-D convolution kernel
 * [T, H, W, Cin, Cout] becomes torch's [Cout, Cin, T, H, W], i.e.
 * transpose(4, 3, 0, 1, 2) (the Qwen3-VL vision patch embedding).  The
 * inverse is transpose(2, 3, 4, 1, 0).  A pure permutation, so exact.
 */
#include "hook_impl.h"

#define NAME "conv3d"
#define RANK 5

/* Output axis k is input axis perm[k]. */
static const unsigned conv3d_perm[RANK] = { 4, 3, 0, 1, 2 };

static int conv3d_shape(const struct hook_args *a, const struct hook_shape *in,
			unsigned nin, const struct hook_shape *tgt,
			struct hook_shape *out)
{
	(void)tgt;
	return hook_util_perm_hook_shape(NAME, a, in, nin, RANK, conv3d_perm,
					 out);
}

static int conv3d_forward(const struct hook_args *a,
			  const struct hook_shape *ins, const float *const *in,
			  unsigned nin, const struct hook_shape *outs,
			  float *out)
{
	(void)a;
	(void)nin;
	(void)outs;
	hook_util_permute(&ins[0], in[0], conv3d_perm, out);
	return 0;
}

static int conv3d_inverse(const struct hook_args *a,
			  const struct hook_shape *hf, const float *in,
			  const struct hook_shape *mt, float *out)
{
	(void)a;
	return hook_util_perm_hook_inverse(NAME, hf, in, mt, RANK, conv3d_perm,
					   out);
}

const struct hook hook_conv3d = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = conv3d_shape,
	.forward = conv3d_forward,
	.inverse = conv3d_inverse,
};
