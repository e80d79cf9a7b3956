/* SPDX-License-Identifier: MIT */
/*
 * This file implements the two halves of H18, "qkvz_regroup" (Qwen3.5's
 * gated-delta-net input projection): MaxText keeps one fused kernel
 * in_proj_qkvz [D, G * (2 Dk + 2 Vg)], grouped by key head, where each of
 * the G groups holds q (Dk columns), k (Dk), v (Vg) and z (Vg), Vg being
 * the value width of one key head's value heads (Hv / Hk * Dv).  Hugging
 * Face splits it into two Linear weights:
 *
 *   "qkvz_to_qkv" (G, Dk, Vg): in_proj_qkv [2 G Dk + G Vg, D], the rows
 *       q of every group, then k of every group, then v of every group;
 *   "qkvz_to_z" (G, Dk, Vg): in_proj_z [G Vg, D], the z rows of every group.
 *
 * In numpy terms, with t = x.T viewed as [G, 2 Dk + 2 Vg, D]:
 * qkv = concat(t[:, :Dk], t[:, Dk:2Dk], t[:, 2Dk:2Dk+Vg]) and
 * z = t[:, 2Dk+Vg:], each flattened to 2-D.  One MaxText tensor becomes two
 * HF tensors, so a mapping names the same source in two rules, one hook
 * each.  The output takes the rule's target shape, which must hold as many
 * elements.  Pure data movement, so exact; no single-tensor inverse (the
 * reverse conversion needs both halves).
 */
#include "hook_impl.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

#include "util/ck_err.h"

/* Head counts and widths are small integers; below 2^24 each, G * (2 Dk +
 * 2 Vg) stays far from overflowing 64 bits. */
#define QKVZ_MAX_ARG 16777216.0

/* The three arguments, validated. */
struct qkvz_dims {
	uint64_t g, dk, vg;
};

/* arg k of a, which must be an integer in [lo, QKVZ_MAX_ARG). */
static int qkvz_arg(const char *name, const struct hook_args *a, unsigned k,
		    const char *what, double lo, uint64_t *v)
{
	double x = a->v[k];

	if (!isfinite(x) || x != floor(x) || x < lo || x >= QKVZ_MAX_ARG)
		return ck_err(-EINVAL, "%s: %s = %g is not an integer >= %g",
			      name, what, x, lo);
	*v = (uint64_t)x;
	return 0;
}

/* Check a = (G, Dk, Vg) into *dm, and the one 2-D input, which must be
 * [D, G * (2 Dk + 2 Vg)]. */
static int qkvz_check(const char *name, const struct hook_args *a,
		      const struct hook_shape *in, unsigned nin,
		      struct qkvz_dims *dm)
{
	char sb[HOOK_SHAPE_STR_LEN];
	int ret;

	ret = hook_util_check_args(name, a, 3);
	if (!ret)
		ret = hook_util_check_inputs(name, in, nin, 1);
	if (!ret)
		ret = hook_util_check_rank(name, &in[0], 2);
	if (!ret)
		ret = qkvz_arg(name, a, 0, "key heads G", 1, &dm->g);
	if (!ret)
		ret = qkvz_arg(name, a, 1, "key head dim Dk", 1, &dm->dk);
	if (!ret)
		ret = qkvz_arg(name, a, 2, "value width per key head Vg", 1,
			       &dm->vg);
	if (ret)
		return ret;
	if (in[0].d[1] != dm->g * (2 * dm->dk + 2 * dm->vg))
		return ck_err(-EINVAL,
			      "%s: input %s is not [D, G * (2 Dk + 2 Vg)] with "
			      "G = %llu, Dk = %llu, Vg = %llu",
			      name, hook_util_shape_str(&in[0], sb),
			      (unsigned long long)dm->g,
			      (unsigned long long)dm->dk,
			      (unsigned long long)dm->vg);
	return 0;
}

static int qkvz_shape(const char *name, int want_qkv, const struct hook_args *a,
		      const struct hook_shape *in, unsigned nin,
		      const struct hook_shape *tgt, struct hook_shape *out)
{
	struct hook_shape mine = {0};
	struct qkvz_dims dm = {0, 0, 0};
	int ret;

	ret = qkvz_check(name, a, in, nin, &dm);
	if (ret)
		return ret;
	mine.rank = 2;
	mine.d[0] = want_qkv ? dm.g * (2 * dm.dk + dm.vg) : dm.g * dm.vg;
	mine.d[1] = in[0].d[0];
	if (!tgt) {
		*out = mine;
		return 0;
	}
	return hook_util_reshape_shape(name, &mine, tgt, out);
}

/*
 * Append, for every group g, columns [g * P + off, g * P + off + len) of
 * x [D, W] to out as rows (transposed), starting at row *row of out [*, D].
 */
static void qkvz_take(const float *x, size_t d, size_t w, size_t groups,
		      size_t p, size_t off, size_t len, float *out, size_t *row)
{
	size_t g;

	for (g = 0; g < groups; g++) {
		hook_util_transpose2d(x + g * p + off, w, out + *row * d, d, d,
				      len);
		*row += len;
	}
}

static int qkvz_forward(int want_qkv, const struct hook_args *a,
			const struct hook_shape *ins, const float *x,
			float *out)
{
	size_t d = (size_t)ins[0].d[0], w = (size_t)ins[0].d[1];
	size_t g = (size_t)a->v[0], dk = (size_t)a->v[1], vg = (size_t)a->v[2];
	size_t p = 2 * dk + 2 * vg, row = 0;

	if (!d)
		return 0;
	if (want_qkv) {
		qkvz_take(x, d, w, g, p, 0, dk, out, &row);	 /* q */
		qkvz_take(x, d, w, g, p, dk, dk, out, &row);	 /* k */
		qkvz_take(x, d, w, g, p, 2 * dk, vg, out, &row); /* v */
	} else {
		qkvz_take(x, d, w, g, p, 2 * dk + vg, vg, out, &row); /* z */
	}
	return 0;
}

static int qkvz_to_qkv_shape(const struct hook_args *a,
			     const struct hook_shape *in, unsigned nin,
			     const struct hook_shape *tgt,
			     struct hook_shape *out)
{
	return qkvz_shape("qkvz_to_qkv", 1, a, in, nin, tgt, out);
}

static int qkvz_to_qkv_forward(const struct hook_args *a,
			       const struct hook_shape *ins,
			       const float *const *in, unsigned nin,
			       const struct hook_shape *outs, float *out)
{
	(void)nin;
	(void)outs;
	return qkvz_forward(1, a, ins, in[0], out);
}

static int qkvz_to_z_shape(const struct hook_args *a,
			   const struct hook_shape *in, unsigned nin,
			   const struct hook_shape *tgt, struct hook_shape *out)
{
	return qkvz_shape("qkvz_to_z", 0, a, in, nin, tgt, out);
}

static int qkvz_to_z_forward(const struct hook_args *a,
			     const struct hook_shape *ins,
			     const float *const *in, unsigned nin,
			     const struct hook_shape *outs, float *out)
{
	(void)nin;
	(void)outs;
	return qkvz_forward(0, a, ins, in[0], out);
}

const struct hook hook_qkvz_to_qkv = {
	.name = "qkvz_to_qkv",
	.nin = 1,
	.nargs = 3,
	.shape = qkvz_to_qkv_shape,
	.forward = qkvz_to_qkv_forward,
	.inverse = NULL,
};

const struct hook hook_qkvz_to_z = {
	.name = "qkvz_to_z",
	.nin = 1,
	.nargs = 3,
	.shape = qkvz_to_z_shape,
	.forward = qkvz_to_z_forward,
	.inverse = NULL,
};
