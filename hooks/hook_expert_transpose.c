/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "expert_transpose" hook (H9): a stack of expert
 * kernels [E, a, b] becomes [E, b, a] (each expert's matrix transposed); a
 * 2-D expert slice is simply transposed.  It is its own inverse.
 */
#include "hook_impl.h"

#include <errno.h>
#include <stddef.h>

#include "util/ck_err.h"

#define NAME "expert_transpose"

/* -EINVAL unless s is 2-D or 3-D. */
static int expert_transpose_check(const struct hook_shape *s)
{
	char sb[HOOK_SHAPE_STR_LEN];

	if (s->rank != 2 && s->rank != 3)
		return ck_err(-EINVAL, "%s: input %s is not 2-D or 3-D", NAME,
			      hook_util_shape_str(s, sb));
	return 0;
}

static int expert_transpose_shape(const struct hook_args *a,
				  const struct hook_shape *in, unsigned nin,
				  const struct hook_shape *tgt,
				  struct hook_shape *out)
{
	unsigned r;
	int ret;

	(void)tgt;
	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, 1);
	if (!ret)
		ret = expert_transpose_check(&in[0]);
	if (ret)
		return ret;
	r = in[0].rank;
	*out = in[0];
	out->d[r - 2] = in[0].d[r - 1];
	out->d[r - 1] = in[0].d[r - 2];
	return 0;
}

/* Swap the last two axes of x with shape s (2-D or 3-D). */
static void expert_transpose_apply(const struct hook_shape *s, const float *x,
				   float *out)
{
	static const unsigned perm2[] = { 1, 0 };
	static const unsigned perm3[] = { 0, 2, 1 };

	hook_util_permute(s, x, s->rank == 2 ? perm2 : perm3, out);
}

static int expert_transpose_forward(const struct hook_args *a,
				    const struct hook_shape *ins,
				    const float *const *in, unsigned nin,
				    const struct hook_shape *outs, float *out)
{
	(void)a;
	(void)nin;
	(void)outs;
	expert_transpose_apply(&ins[0], in[0], out);
	return 0;
}

static int expert_transpose_inverse(const struct hook_args *a,
				    const struct hook_shape *hf,
				    const float *in,
				    const struct hook_shape *mt, float *out)
{
	int ret;

	(void)a;
	ret = hook_util_check_same_numel(NAME, hf, mt);
	if (!ret)
		ret = expert_transpose_check(hf);
	if (ret)
		return ret;
	expert_transpose_apply(hf, in, out);
	return 0;
}

/* The input as is, its last two axes swapped. */
static int expert_transpose_moves(const struct hook_args *a,
				  const struct hook_shape *in,
				  const struct hook_shape *out,
				  struct hook_shape *view, unsigned *perm)
{
	(void)a;
	(void)out;
	*view = *in;
	hook_util_perm_swap_last(in->rank, perm);
	return 0;
}

const struct hook hook_expert_transpose = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = expert_transpose_shape,
	.forward = expert_transpose_forward,
	.inverse = expert_transpose_inverse,
	.moves = expert_transpose_moves,
};
