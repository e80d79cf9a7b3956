/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "perm102" hook (H22): swap the two leading axes
 * of a 3-D tensor, transpose(1, 0, 2), e.g. [N, 2, Dv] -> [2, N, Dv] (the
 * Gemma4 vision position embedding table).  It is its own inverse.  A pure
 * permutation, so exact.
 */
#include "hook_impl.h"

#define NAME "perm102"
#define RANK 3

/* Output axis k is input axis perm[k]. */
static const unsigned perm102_perm[RANK] = { 1, 0, 2 };

static int perm102_shape(const struct hook_args *a, const struct hook_shape *in,
			 unsigned nin, const struct hook_shape *tgt,
			 struct hook_shape *out)
{
	(void)tgt;
	return hook_util_perm_hook_shape(NAME, a, in, nin, RANK, perm102_perm,
					 out);
}

static int perm102_forward(const struct hook_args *a,
			   const struct hook_shape *ins, const float *const *in,
			   unsigned nin, const struct hook_shape *outs,
			   float *out)
{
	(void)a;
	(void)nin;
	(void)outs;
	hook_util_permute(&ins[0], in[0], perm102_perm, out);
	return 0;
}

static int perm102_inverse(const struct hook_args *a,
			   const struct hook_shape *hf, const float *in,
			   const struct hook_shape *mt, float *out)
{
	(void)a;
	return hook_util_perm_hook_inverse(NAME, hf, in, mt, RANK, perm102_perm,
					   out);
}

const struct hook hook_perm102 = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = perm102_shape,
	.forward = perm102_forward,
	.inverse = perm102_inverse,
};
