/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "transpose" hook (H2): x.T for a 2-D tensor; a
 * 1-D (or 0-D) tensor is unchanged.  It is its own inverse.
 */
#include "hook_impl.h"

#include <errno.h>
#include <stddef.h>

#include "util/ck_err.h"

#define NAME "transpose"

static int transpose_shape(const struct hook_args *a,
			   const struct hook_shape *in, unsigned nin,
			   const struct hook_shape *tgt, struct hook_shape *out)
{
	char sb[HOOK_SHAPE_STR_LEN];
	int ret;

	(void)tgt;
	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, 1);
	if (ret)
		return ret;
	if (in[0].rank > 2)
		return ck_err(-EINVAL, "%s: input %s is not 1-D or 2-D", NAME,
			      hook_util_shape_str(&in[0], sb));
	*out = in[0];
	if (in[0].rank == 2) {
		out->d[0] = in[0].d[1];
		out->d[1] = in[0].d[0];
	}
	return 0;
}

/* x.T of x with shape s (rank <= 2). */
static void transpose_apply(const struct hook_shape *s, const float *x,
			    float *out)
{
	if (s->rank < 2) {
		hook_util_copy(x, (size_t)hook_shape_numel(s), out);
		return;
	}
	hook_util_transpose2d(x, (size_t)s->d[1], out, (size_t)s->d[0],
			      (size_t)s->d[0], (size_t)s->d[1]);
}

static int transpose_forward(const struct hook_args *a,
			     const struct hook_shape *ins,
			     const float *const *in, unsigned nin,
			     const struct hook_shape *outs, float *out)
{
	(void)a;
	(void)nin;
	(void)outs;
	transpose_apply(&ins[0], in[0], out);
	return 0;
}

static int transpose_inverse(const struct hook_args *a,
			     const struct hook_shape *hf, const float *in,
			     const struct hook_shape *mt, float *out)
{
	char sb[HOOK_SHAPE_STR_LEN];
	int ret;

	(void)a;
	ret = hook_util_check_same_numel(NAME, hf, mt);
	if (ret)
		return ret;
	if (hf->rank > 2)
		return ck_err(-EINVAL, "%s: input %s is not 1-D or 2-D", NAME,
			      hook_util_shape_str(hf, sb));
	transpose_apply(hf, in, out);
	return 0;
}

/* x.T: the input viewed as is, its two axes swapped. */
static int transpose_moves(const struct hook_args *a, const struct hook_shape *in,
			   const struct hook_shape *out, struct hook_shape *view,
			   unsigned *perm)
{
	(void)a;
	(void)out;
	*view = *in;
	for (unsigned k = 0; k < in->rank; k++)
		perm[k] = in->rank == 2 ? 1 - k : k;
	return 0;
}

const struct hook hook_transpose = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = transpose_shape,
	.forward = transpose_forward,
	.inverse = transpose_inverse,
	.moves = transpose_moves,
};
