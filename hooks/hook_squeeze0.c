/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "squeeze0" hook (H16): drop a leading axis of
 * size 1, x[0], e.g. a SigLIP position embedding [1, N, D] -> [N, D].  When
 * the rule gives a target shape it must hold as many elements.  The inverse
 * adds the axis back, x[None].  A plain copy, so exact.
 */
#include "hook_impl.h"

#include <errno.h>
#include <stddef.h>

#include "util/ck_err.h"

#define NAME "squeeze0"

static int squeeze0_shape(const struct hook_args *a,
			  const struct hook_shape *in, unsigned nin,
			  const struct hook_shape *tgt, struct hook_shape *out)
{
	char sb[HOOK_SHAPE_STR_LEN];
	struct hook_shape s;
	unsigned k;
	int ret;

	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, 1);
	if (ret)
		return ret;
	if (in[0].rank < 1 || in[0].d[0] != 1)
		return ck_err(-EINVAL,
			      "%s: input %s has no leading axis of size 1", NAME,
			      hook_util_shape_str(&in[0], sb));
	s.rank = in[0].rank - 1;
	for (k = 0; k < ZARR_MAX_RANK; k++)
		s.d[k] = k < s.rank ? in[0].d[k + 1] : 0;
	if (tgt) {
		/* Checks tgt and the element count; the shape stays s. */
		ret = hook_util_reshape_shape(NAME, &s, tgt, out);
		if (ret)
			return ret;
	}
	*out = s;
	return 0;
}

static int squeeze0_inverse(const struct hook_args *a,
			    const struct hook_shape *hf, const float *in,
			    const struct hook_shape *mt, float *out)
{
	char hb[HOOK_SHAPE_STR_LEN], mb[HOOK_SHAPE_STR_LEN];
	unsigned k;
	int ret;

	(void)a;
	ret = hook_util_check_same_numel(NAME, hf, mt);
	if (ret)
		return ret;
	if (mt->rank != hf->rank + 1 || mt->d[0] != 1)
		goto out_mismatch;
	for (k = 0; k < hf->rank; k++)
		if (mt->d[k + 1] != hf->d[k])
			goto out_mismatch;
	hook_util_copy(in, (size_t)hook_shape_numel(hf), out);
	return 0;

out_mismatch:
	return ck_err(-EINVAL, "%s: inverse of %s cannot become %s", NAME,
		      hook_util_shape_str(hf, hb), hook_util_shape_str(mt, mb));
}

const struct hook hook_squeeze0 = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = squeeze0_shape,
	.forward = hook_util_copy_forward,
	.moves = hook_util_copy_moves,
	.inverse = squeeze0_inverse,
};
