/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "conv1d_dw" hook (H15): a depthwise 1-D
 * convolution kernel [K, 1, C] becomes torch's [C, 1, K], i.e.
 * transpose(2, 1, 0) (the Qwen3-Next and Qwen3.5 linear-attention conv1d).
 * It is its own inverse.  A pure permutation, so exact.
 */
#include "hook_impl.h"

#define NAME "conv1d_dw"
#define RANK 3

/* Output axis k is input axis perm[k]. */
static const unsigned conv1d_dw_perm[RANK] = { 2, 1, 0 };

static int conv1d_dw_shape(const struct hook_args *a,
			   const struct hook_shape *in, unsigned nin,
			   const struct hook_shape *tgt, struct hook_shape *out)
{
	(void)tgt;
	return hook_util_perm_hook_shape(NAME, a, in, nin, RANK, conv1d_dw_perm,
					 out);
}

static int conv1d_dw_forward(const struct hook_args *a,
			     const struct hook_shape *ins,
			     const float *const *in, unsigned nin,
			     const struct hook_shape *outs, float *out)
{
	(void)a;
	(void)nin;
	(void)outs;
	hook_util_permute(&ins[0], in[0], conv1d_dw_perm, out);
	return 0;
}

static int conv1d_dw_inverse(const struct hook_args *a,
			     const struct hook_shape *hf, const float *in,
			     const struct hook_shape *mt, float *out)
{
	(void)a;
	return hook_util_perm_hook_inverse(NAME, hf, in, mt, RANK,
					   conv1d_dw_perm, out);
}

const struct hook hook_conv1d_dw = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = conv1d_dw_shape,
	.forward = conv1d_dw_forward,
	.inverse = conv1d_dw_inverse,
};
