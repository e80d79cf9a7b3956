/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "embed_pad" hook (H8, Qwen/Olmo3 embeddings): the
 * MaxText table [vocab_mt, D] may have more (padded) rows than HF's
 * [vocab_hf, D].  Forward keeps the first tgt[0] rows, or zero-pads up to
 * tgt[0] when the input has fewer; the inverse pads or truncates the rows to
 * the MaxText vocabulary.  The columns must match.
 */
#include "hook_impl.h"

#include <errno.h>
#include <stddef.h>

#include "util/ck_err.h"

#define NAME "embed_pad"

/* -EINVAL unless from and to are 2-D with the same number of columns. */
static int embed_pad_check(const char *what, const struct hook_shape *from,
			   const struct hook_shape *to)
{
	char fb[HOOK_SHAPE_STR_LEN], tb[HOOK_SHAPE_STR_LEN];

	if (from->rank != 2 || to->rank != 2 || from->d[1] != to->d[1])
		return ck_err(-EINVAL,
			      "%s: %s %s cannot become %s (2-D, same columns)",
			      NAME, what, hook_util_shape_str(from, fb),
			      hook_util_shape_str(to, tb));
	return 0;
}

static int embed_pad_shape(const struct hook_args *a,
			   const struct hook_shape *in, unsigned nin,
			   const struct hook_shape *tgt, struct hook_shape *out)
{
	int ret;

	ret = hook_util_check_args(NAME, a, 0);
	if (!ret)
		ret = hook_util_check_inputs(NAME, in, nin, 1);
	if (ret)
		return ret;
	if (!tgt)
		return ck_err(-EINVAL, "%s: needs a target shape", NAME);
	ret = hook_util_check_inputs(NAME, tgt, 1, 1);
	if (!ret)
		ret = embed_pad_check("input", &in[0], tgt);
	if (ret)
		return ret;
	*out = *tgt;
	return 0;
}

static int embed_pad_forward(const struct hook_args *a,
			     const struct hook_shape *ins,
			     const float *const *in, unsigned nin,
			     const struct hook_shape *outs, float *out)
{
	(void)a;
	(void)nin;
	hook_util_pad2d(in[0], (size_t)ins[0].d[0], (size_t)ins[0].d[1], out,
			(size_t)outs->d[0], (size_t)outs->d[1]);
	return 0;
}

static int embed_pad_inverse(const struct hook_args *a,
			     const struct hook_shape *hf, const float *in,
			     const struct hook_shape *mt, float *out)
{
	int ret;

	(void)a;
	ret = hook_util_check_inputs(NAME, hf, 1, 1);
	if (!ret)
		ret = hook_util_check_inputs(NAME, mt, 1, 1);
	if (!ret)
		ret = embed_pad_check("inverse of", hf, mt);
	if (ret)
		return ret;
	hook_util_pad2d(in, (size_t)hf->d[0], (size_t)hf->d[1], out,
			(size_t)mt->d[0], (size_t)mt->d[1]);
	return 0;
}

const struct hook hook_embed_pad = {
	.name = NAME,
	.nin = 1,
	.nargs = 0,
	.shape = embed_pad_shape,
	.forward = embed_pad_forward,
	.inverse = embed_pad_inverse,
	.moves = hook_util_copy_moves,	/* the leading rows: a crop */
};
