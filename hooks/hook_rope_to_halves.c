/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "rope_to_halves" hook (H6): MaxText's Llama 3.1
 * rotary embedding rotates adjacent pairs (2j, 2j+1) of the head dimension,
 * HF's rotates halves (j, j + hd/2).  Forward moves the even entries of the
 * last axis first and the odd ones after them:
 *   out[..., j] = x[..., 2j], out[..., hd/2 + j] = x[..., 2j + 1];
 * the inverse interleaves them back.  It must run on the [.., hd] layout,
 * before reshape_kernel flattens the heads.  The shape is unchanged.
 */
#include "hook_impl.h"

#include <errno.h>
#include <stddef.h>

#include "util/ck_err.h"

#define NAME "rope_to_halves"

/* -EINVAL unless s has a last axis of even length. */
static int rope_to_halves_check(const struct hook_shape *s)
{
	char sb[HOOK_SHAPE_STR_LEN];

	if (s->rank == 0 || s->d[s->rank - 1] % 2)
		return ck_err(-EINVAL,
			      "%s: input %s has no last axis of even length",
			      NAME, hook_util_shape_str(s, sb));
	return 0;
}

static int rope_to_halves_shape(const struct hook_args *a,
				const struct hook_shape *in, unsigned nin,
				const struct hook_shape *tgt,
				struct hook_shape *out)
{
	int ret;

	(void)tgt;
	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, 1);
	if (!ret)
		ret = rope_to_halves_check(&in[0]);
	if (ret)
		return ret;
	*out = in[0];
	return 0;
}

static int rope_to_halves_forward(const struct hook_args *a,
				  const struct hook_shape *ins,
				  const float *const *in, unsigned nin,
				  const struct hook_shape *outs, float *out)
{
	size_t n = (size_t)hook_shape_numel(&ins[0]);
	size_t half, r, j;
	const float *x = in[0];

	(void)a;
	(void)nin;
	(void)outs;
	if (n == 0)
		return 0;
	half = (size_t)ins[0].d[ins[0].rank - 1] / 2;
	for (r = 0; r < n; r += 2 * half, x += 2 * half, out += 2 * half)
		for (j = 0; j < half; j++) {
			out[j] = x[2 * j];
			out[half + j] = x[2 * j + 1];
		}
	return 0;
}

static int rope_to_halves_inverse(const struct hook_args *a,
				  const struct hook_shape *hf, const float *in,
				  const struct hook_shape *mt, float *out)
{
	char hb[HOOK_SHAPE_STR_LEN], mb[HOOK_SHAPE_STR_LEN];
	size_t n, half, r, j;
	int ret;

	(void)a;
	ret = hook_util_check_same_numel(NAME, hf, mt);
	if (!ret)
		ret = rope_to_halves_check(mt);
	if (ret)
		return ret;
	if (hf->rank == 0 || hf->d[hf->rank - 1] != mt->d[mt->rank - 1])
		return ck_err(-EINVAL, "%s: inverse of %s cannot become %s",
			      NAME, hook_util_shape_str(hf, hb),
			      hook_util_shape_str(mt, mb));
	n = (size_t)hook_shape_numel(mt);
	if (n == 0)
		return 0;
	half = (size_t)mt->d[mt->rank - 1] / 2;
	for (r = 0; r < n; r += 2 * half, in += 2 * half, out += 2 * half)
		for (j = 0; j < half; j++) {
			out[2 * j] = in[j];
			out[2 * j + 1] = in[half + j];
		}
	return 0;
}

/* The last axis viewed as [hd/2, 2] and those two axes swapped. */
static int rope_to_halves_moves(const struct hook_args *a,
				const struct hook_shape *in,
				const struct hook_shape *out,
				struct hook_shape *view, unsigned *perm)
{
	unsigned r = in->rank;

	(void)a;
	(void)out;
	if (r + 1 > ZARR_MAX_RANK)
		return -EINVAL;
	*view = *in;
	view->rank = r + 1;
	view->d[r - 1] = in->d[r - 1] / 2;
	view->d[r] = 2;
	hook_util_perm_swap_last(r + 1, perm);
	return 0;
}

const struct hook hook_rope_to_halves = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = rope_to_halves_shape,
	.forward = rope_to_halves_forward,
	.inverse = rope_to_halves_inverse,
	.moves = rope_to_halves_moves,
};
