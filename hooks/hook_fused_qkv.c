/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "fused_qkv" hook (H20, the Qwen3-VL / Qwen3-Omni
 * vision attention): several MaxText projections become one torch Linear
 * whose output rows are the projections' rows one after the other.
 *
 * Each input k is turned into torch layout as reshape_kernel does for a
 * 2-D target [r_k, C]: viewed row-major as [C, r_k] (a kernel [C, H, hd]
 * flattened to [in, out]) and transposed to [r_k, C].  The results are
 * concatenated on axis 0, so the target [R, C] must have R = sum r_k, with
 * r_k = numel(input k) / C.  q, k, v kernels [Dv, H, hd] give attn.qkv.weight
 * [3 Dv, Dv].  A 1-D target [R] concatenates the flattened inputs instead
 * (the biases [H, hd] give attn.qkv.bias [3 Dv]).  Inputs need not be the
 * same size (grouped-query q, k, v work too).
 *
 * The code handles any number of inputs; the engine fixes a hook's input
 * count, so "fused_qkv" is registered with three.  A composite hook: no
 * single-tensor inverse.  Pure data movement, so exact.
 */
#include "hook_impl.h"

#include <errno.h>
#include <stddef.h>

#include "util/ck_err.h"

#define NAME "fused_qkv"
#define NIN 3

/* numel(in[k]) / C for each input, checked against the target [R, C]
 * (C = 1 for a 1-D target, whose rows are single elements). */
static int fused_qkv_rows(const struct hook_shape *in, unsigned nin,
			  const struct hook_shape *tgt, uint64_t *rows)
{
	char ib[HOOK_SHAPE_STR_LEN], tb[HOOK_SHAPE_STR_LEN];
	uint64_t c = tgt->rank == 2 ? tgt->d[1] : 1, sum = 0;
	unsigned k;

	if (c == 0)
		return ck_err(-EINVAL, NAME ": target %s has no columns",
			      hook_util_shape_str(tgt, tb));
	for (k = 0; k < nin; k++) {
		uint64_t n = hook_shape_numel(&in[k]);

		if (n % c)
			return ck_err(-EINVAL,
				      NAME ": input %s does not split into rows of %llu (target %s)",
				      hook_util_shape_str(&in[k], ib),
				      (unsigned long long)c,
				      hook_util_shape_str(tgt, tb));
		rows[k] = n / c;
		sum += rows[k];	/* each fits in size_t, so no overflow */
	}
	if (sum != tgt->d[0])
		return ck_err(-EINVAL,
			      NAME ": %u inputs give %llu rows, target %s has %llu",
			      nin, (unsigned long long)sum,
			      hook_util_shape_str(tgt, tb),
			      (unsigned long long)tgt->d[0]);
	return 0;
}

static int fused_qkv_shape(const struct hook_args *a,
			   const struct hook_shape *in, unsigned nin,
			   const struct hook_shape *tgt, struct hook_shape *out)
{
	char tb[HOOK_SHAPE_STR_LEN];
	uint64_t rows[HOOK_MAX_INPUTS];
	int ret;

	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, NIN);
	if (ret)
		return ret;
	if (!tgt)
		return ck_err(-EINVAL, NAME ": needs a target shape");
	if (tgt->rank != 1 && tgt->rank != 2)
		return ck_err(-EINVAL, NAME ": target %s is not 1-D or 2-D",
			      hook_util_shape_str(tgt, tb));
	ret = hook_util_check_inputs(NAME, tgt, 1, 1);
	if (!ret)
		ret = fused_qkv_rows(in, nin, tgt, rows);
	if (ret)
		return ret;
	*out = *tgt;
	return 0;
}

static int fused_qkv_forward(const struct hook_args *a,
			     const struct hook_shape *ins,
			     const float *const *in, unsigned nin,
			     const struct hook_shape *outs, float *out)
{
	size_t c = outs->rank == 2 ? (size_t)outs->d[1] : 1, off = 0;
	unsigned k;

	(void)a;
	for (k = 0; k < nin; k++) {
		size_t n = (size_t)hook_shape_numel(&ins[k]), r = c ? n / c : 0;

		/* [C, r] row-major -> rows off .. off + r - 1 of [R, C]. */
		if (c == 1)
			hook_util_copy(in[k], n, out + off);
		else
			hook_util_transpose2d(in[k], r, out + off * c, c, c, r);
		off += r;
	}
	return 0;
}

const struct hook hook_fused_qkv = {
	.name = NAME,
	.nin = NIN,
	.nargs = 0,
	.shape = fused_qkv_shape,
	.forward = fused_qkv_forward,
	.inverse = NULL,
};
