/* SPDX-License-Identifier: MIT */
/*
 * hook.h - the interface of the hook functions that turn MaxText tensors into
 * Hugging Face tensors (and back).
 *
 * A mapping rule names a chain of hooks.  At mount time the engine calls each
 * hook's shape() to learn the output shape (every size is known before any
 * byte is read); on a read it calls forward() (MaxText -> HF).  inverse()
 * is the HF -> MaxText direction, used by the reverse conversion and by the
 * round-trip tests.
 *
 * Numerics: hooks work on float32 buffers.  The engine widens the source
 * (bf16, f16 or f32) to f32 exactly, runs the chain, and rounds the result
 * to the output dtype once, to nearest even.  Scalar constants are computed
 * in double and applied as float32 (x * (float)c), as MaxText does with
 * np.float32(c).  Pure permutations are exact.
 *
 * The hook functions live in the top-level hooks/ folder, one per file,
 * registered by name in hooks/hooks.c.  They are pure and thread-safe.
 */
#ifndef HOOK_H
#define HOOK_H

#include <stddef.h>
#include <stdint.h>

#include "zarr/zarr_array.h"	/* ZARR_MAX_RANK */

#define HOOK_MAX_ARGS 4
#define HOOK_MAX_INPUTS 4

struct hook_shape {
	unsigned rank;
	uint64_t d[ZARR_MAX_RANK];
};

/* Numeric arguments of one hook in a chain, evaluated at mount time. */
struct hook_args {
	unsigned n;
	double v[HOOK_MAX_ARGS];
};

/* The float32 operation of a pointwise hook (see hook.pointwise). */
enum hook_op {
	HOOK_OP_MUL,		/* x * c */
	HOOK_OP_DIV,		/* x / c */
	HOOK_OP_ADD,		/* x + c */
};

struct hook {
	const char *name;	/* as written in mapping files */
	unsigned nin;		/* number of input tensors (1 unless composite) */
	unsigned nargs;		/* number of numeric arguments */
	/*
	 * Output shape of the forward direction.  tgt is the HF shape the
	 * rule declares for its final output (hooks that reshape to the target,
	 * like reshape_kernel, use it; others ignore it).  -EINVAL with a ck_err
	 * message when the inputs do not fit.
	 */
	int (*shape)(const struct hook_args *a, const struct hook_shape *in,
		     unsigned nin, const struct hook_shape *tgt,
		     struct hook_shape *out);
	/*
	 * MaxText -> HF.  in[k] holds prod(ins[k]) floats in C order; out holds
	 * prod(*outs) floats (outs as computed by shape()).  Never fails on
	 * shapes shape() accepted; returns 0.
	 */
	int (*forward)(const struct hook_args *a, const struct hook_shape *ins,
		       const float *const *in, unsigned nin,
		       const struct hook_shape *outs, float *out);
	/*
	 * HF -> MaxText for single-input hooks: in has shape `hf`, out gets shape
	 * `mt` (the MaxText slice shape).  NULL where not defined.
	 */
	int (*inverse)(const struct hook_args *a, const struct hook_shape *hf,
		       const float *in, const struct hook_shape *mt, float *out);
	/*
	 * For hooks that only move elements, NULL for those that compute:
	 * forward() is the same as reshaping the (single) input, in C order, to
	 * *view and permuting its axes, output axis k being view axis perm[k]
	 * (perm has view->rank entries); the result, in C order, is the output.
	 * When out has the permuted view's rank but shorter axes, the output is
	 * their leading part (a crop: embed_pad dropping padded vocabulary).
	 * in and out are the shapes shape() accepted and gave.  -EINVAL when
	 * the view does not fit in ZARR_MAX_RANK axes.  The engine composes
	 * these to copy source chunks straight into the served tensor.
	 */
	int (*moves)(const struct hook_args *a, const struct hook_shape *in,
		     const struct hook_shape *out, struct hook_shape *view,
		     unsigned *perm);
	/*
	 * For hooks whose every output element is one float32 operation on
	 * the input element it is moved from (they also define moves()):
	 * *op and its constant *c.  NULL for the others.
	 */
	void (*pointwise)(const struct hook_args *a, enum hook_op *op, float *c);
	/*
	 * The operation inverse() applies to each element, for the hooks that
	 * define pointwise(): the reverse conversion gathers elements by the
	 * moves and applies these, so it computes what inverse() computes.
	 */
	void (*pointwise_inv)(const struct hook_args *a, enum hook_op *op, float *c);
};

/* The hook registered under name, or NULL. */
const struct hook *hook_find(const char *name);

/* Number of elements of a shape (0 if any dimension is 0). */
uint64_t hook_shape_numel(const struct hook_shape *s);

#endif
