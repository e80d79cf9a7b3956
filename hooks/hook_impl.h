/* SPDX-License-Identifier: MIT */
/*
 * hook_impl.h - the hook descriptors, one per hooks/hook_<name>.c, gathered
 * into the table of hooks.c, and the helpers they share (hook_util.c).
 *
 * Private to hooks/ and its unit test.  Every helper is pure and
 * thread-safe.  Buffers are float32 in C (row-major) order.
 */
#ifndef HOOK_IMPL_H
#define HOOK_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/hook.h"

extern const struct hook hook_identity;
extern const struct hook hook_reshape_kernel;
extern const struct hook hook_transpose;
extern const struct hook hook_reshape_bias;
extern const struct hook hook_scale_query;
extern const struct hook hook_norm_offset;
extern const struct hook hook_rope_to_halves;
extern const struct hook hook_embed_pad;
extern const struct hook hook_expert_transpose;
extern const struct hook hook_embed_scale;
extern const struct hook hook_interleave2;
extern const struct hook hook_concat2_swap;
extern const struct hook hook_concat2;
extern const struct hook hook_conv2d_hwio;
extern const struct hook hook_conv3d;
extern const struct hook hook_conv1d_dw;
extern const struct hook hook_squeeze0;
extern const struct hook hook_flatten;
extern const struct hook hook_perm102;
extern const struct hook hook_scale_div;
extern const struct hook hook_fused_qkv;
extern const struct hook hook_qkvz_to_qkv;
extern const struct hook hook_qkvz_to_z;
extern const struct hook hook_ba_to_b;
extern const struct hook hook_ba_to_a;

/* The i-th entry of the hook table (registration order), or NULL past the
 * end.  For tests and listings. */
const struct hook *hooks_at(size_t i);

/* Room for any shape formatted by hook_util_shape_str(), "[d0,d1,...]". */
#define HOOK_SHAPE_STR_LEN (ZARR_MAX_RANK * 21 + 3)

/* Format s as "[d0,d1,...]" ("[]" for rank 0) into buf; returns buf. */
const char *hook_util_shape_str(const struct hook_shape *s,
				char buf[HOOK_SHAPE_STR_LEN]);

/*
 * Validate the numeric arguments of hook `name`: a holds exactly nargs
 * values (a may be NULL when nargs is 0).  -EINVAL with a message otherwise.
 */
int hook_util_check_args(const char *name, const struct hook_args *a,
			 unsigned nargs);

/*
 * Validate the inputs of hook `name`: exactly want shapes, each of rank at
 * most ZARR_MAX_RANK and with an element count that fits in size_t.
 * -EINVAL or -EOVERFLOW with a message otherwise.
 */
int hook_util_check_inputs(const char *name, const struct hook_shape *in,
			   unsigned nin, unsigned want);

/*
 * Output shape of a pure reshape: *out = *tgt when tgt is given, valid and
 * holds as many elements as *in.  -EINVAL naming hook `name` and both shapes
 * otherwise.
 */
int hook_util_reshape_shape(const char *name, const struct hook_shape *in,
			    const struct hook_shape *tgt,
			    struct hook_shape *out);

/* -EINVAL naming `name`, hf and mt unless both hold the same number of
 * elements (the precondition of every inverse). */
int hook_util_check_same_numel(const char *name, const struct hook_shape *hf,
			       const struct hook_shape *mt);

/* Copy n floats (n may be 0). */
void hook_util_copy(const float *in, size_t n, float *out);

/*
 * Cache-blocked 2-D transpose: in is rows x cols with row stride in_stride,
 * out gets cols x rows with row stride out_stride, out[j * out_stride + i] =
 * in[i * in_stride + j].  in and out must not overlap.
 */
void hook_util_transpose2d(const float *in, size_t in_stride, float *out,
			   size_t out_stride, size_t rows, size_t cols);

/*
 * Axis permutation with numpy.transpose semantics: out axis k is in axis
 * perm[k], so out has dims ins->d[perm[k]].  perm must be a permutation of
 * 0..ins->rank-1 (checked by the caller).  Size-1 axes are dropped and axes
 * that stay adjacent are merged, so a permutation that is really a (batched)
 * 2-D transpose runs through hook_util_transpose2d().
 */
void hook_util_permute(const struct hook_shape *ins, const float *in,
		       const unsigned *perm, float *out);

/*
 * Copy a 2-D in_rows x in_cols matrix into an out_rows x out_cols one,
 * truncating or zero-padding rows and columns (top-left aligned).
 */
void hook_util_pad2d(const float *in, size_t in_rows, size_t in_cols,
		     float *out, size_t out_rows, size_t out_cols);

/*
 * forward / inverse of hooks whose output holds the input's elements in the
 * same order (identity, reshapes): a plain copy.
 */
int hook_util_copy_forward(const struct hook_args *a, const struct hook_shape *ins,
			   const float *const *in, unsigned nin,
			   const struct hook_shape *outs, float *out);
int hook_util_copy_inverse(const char *name, const struct hook_shape *hf,
			   const float *in, const struct hook_shape *mt, float *out);

/* moves() of the hooks that do not move anything (identity, reshapes): the
 * view is the input, the permutation the identity. */
int hook_util_copy_moves(const struct hook_args *a, const struct hook_shape *in,
			 const struct hook_shape *out, struct hook_shape *view,
			 unsigned *perm);

/* perm = the identity on rank axes (rank >= 2) with the last two swapped:
 * the moves() permutation of hooks that transpose the trailing matrix. */
void hook_util_perm_swap_last(unsigned rank, unsigned *perm);

/* -EINVAL naming `name` and s unless s has exactly `rank` axes. */
int hook_util_check_rank(const char *name, const struct hook_shape *s,
			 unsigned rank);

/* *out = the dims of *in permuted as hook_util_permute() does: out axis k
 * is in axis perm[k].  perm must be a permutation of 0..in->rank-1. */
void hook_util_permute_shape(const struct hook_shape *in, const unsigned *perm,
			     struct hook_shape *out);

/*
 * shape() of a hook that is one fixed axis permutation (conv kernels,
 * perm102): no arguments, one input of exactly `rank` axes, *out its dims
 * permuted by perm.  -EINVAL (or -EOVERFLOW) naming `name` otherwise.
 */
int hook_util_perm_hook_shape(const char *name, const struct hook_args *a,
			      const struct hook_shape *in, unsigned nin,
			      unsigned rank, const unsigned *perm,
			      struct hook_shape *out);

/*
 * inverse() of such a hook: hf must have `rank` axes and mt must be hf
 * permuted back (the inverse of perm, computed here); out = that
 * permutation of in.  -EINVAL naming `name` otherwise.
 */
int hook_util_perm_hook_inverse(const char *name, const struct hook_shape *hf,
				const float *in, const struct hook_shape *mt,
				unsigned rank, const unsigned *perm, float *out);

/*
 * Validate the inputs of a two-input hook: exactly 2 of them (as
 * hook_util_check_inputs() checks), of identical shapes with at least
 * min_rank axes.  -EINVAL (or -EOVERFLOW) naming `name` otherwise.
 */
int hook_util_check_pair(const char *name, const struct hook_shape *in,
			 unsigned nin, unsigned min_rank);

/* *out = *s with axis `axis` twice as long; -EINVAL if s has no such axis,
 * -EOVERFLOW if the result does not fit in memory. */
int hook_util_double_axis(const char *name, const struct hook_shape *s,
			  unsigned axis, struct hook_shape *out);

/*
 * Define `const struct hook hook_<id>`: the hook "<id>" that permutes the
 * axes of its one rank-`rank` input, output axis k being input axis
 * perm[k] (the braced list), with the inverse permutation as its inverse.
 */
#define HOOK_PERMUTATION(id, rank, ...)						\
	static const unsigned id##_perm[rank] = __VA_ARGS__;			\
	static int id##_shape(const struct hook_args *a,			\
			      const struct hook_shape *in, unsigned nin,	\
			      const struct hook_shape *tgt,			\
			      struct hook_shape *out)				\
	{									\
		(void)tgt;							\
		return hook_util_perm_hook_shape(#id, a, in, nin, rank,	\
						 id##_perm, out);		\
	}									\
	static int id##_forward(const struct hook_args *a,			\
				const struct hook_shape *ins,			\
				const float *const *in, unsigned nin,		\
				const struct hook_shape *outs, float *out)	\
	{									\
		(void)a;							\
		(void)nin;							\
		(void)outs;							\
		hook_util_permute(&ins[0], in[0], id##_perm, out);		\
		return 0;							\
	}									\
	static int id##_inverse(const struct hook_args *a,			\
				const struct hook_shape *hf, const float *in,	\
				const struct hook_shape *mt, float *out)	\
	{									\
		(void)a;							\
		return hook_util_perm_hook_inverse(#id, hf, in, mt, rank,	\
						   id##_perm, out);		\
	}									\
	static int id##_moves(const struct hook_args *a,			\
			      const struct hook_shape *in,			\
			      const struct hook_shape *out,			\
			      struct hook_shape *view, unsigned *perm)		\
	{									\
		(void)a;							\
		(void)out;							\
		*view = *in;							\
		for (unsigned k = 0; k < (rank); k++)				\
			perm[k] = id##_perm[k];					\
		return 0;							\
	}									\
	const struct hook hook_##id = {						\
		.name = #id,							\
		.nin = 1,							\
		.nargs = 0,							\
		.shape = id##_shape,						\
		.forward = id##_forward,					\
		.inverse = id##_inverse,					\
		.moves = id##_moves,						\
	}

#endif
