/* SPDX-License-Identifier: MIT */
/*
 * rd_reverse.h - the reverse conversion's arithmetic: boxes of MaxText arrays
 * computed from Hugging Face tensors.
 *
 * The plan is the forward one (mapping/plan.h), resolved against the MaxText
 * arrays the conversion writes (a virtual checkpoint, orbax_virtual()): each
 * plan tensor is an HF tensor made from slices of those arrays.  Read
 * backwards, each tensor fills its slices.  A box of an array (one chunk of
 * the checkpoint being written, or the part a read asks for) is computed
 * from the tensors whose slices meet it, and only from their elements that
 * fall in it:
 *   - chains that only move elements (rd_direct.h: most tensors) are
 *     gathered element by element through the same tables the forward
 *     direct path uses, and the hooks' inverse pointwise operations
 *     (hook.pointwise_inv) are applied in float32;
 *   - other single-source chains run the hooks' inverse() on the whole
 *     tensor (conv kernels, ...);
 *   - chains without an inverse (composite hooks that fuse several arrays
 *     into one tensor, regroupings that cut one array into several tensors)
 *     are traced: the forward hooks run on element indices, which says where
 *     each array element went.  They only move elements, so this is exact.
 *   The slices of the last two kinds are kept in a small cache, so the
 *   chunks of one array do not each recompute them.
 * The result is rounded once to the output dtype, to nearest even.
 * Elements no tensor covers (the padded rows of a vocabulary) are zero.
 *
 * Thread-safe: rv_fill() may run on many threads at once.
 */
#ifndef RD_REVERSE_H
#define RD_REVERSE_H

#include <stddef.h>
#include <stdint.h>

#include "mapping/plan.h"

/* Where the HF tensors' bytes come from (a directory of safetensors files,
 * or the forward read engine). */
struct rv_source {
	/*
	 * Borrow tensor t's bytes (C order, t->shape, little-endian) and
	 * their dtype (bfloat16, float16 or float32) until put() is called
	 * with them.
	 * Called from many threads; 0 or -errno with a ck_err message.
	 */
	int (*get)(void *ctx, const struct plan_tensor *t, const void **data,
		   enum ck_dtype *dtype);
	void (*put)(void *ctx, const struct plan_tensor *t, const void *data);
	void *ctx;
};

struct rv_plan;

/*
 * Index p, whose sources are arrays of c: per array, the tensors writing
 * into it, and the element moves of each.  slice_cache: bytes of the cache
 * of computed slices (0: 64 MiB).  Errors: -EINVAL a tensor's source is not
 * an array of c; -ENOMEM.  p and c are borrowed and must outlive *out.
 */
int rv_plan_build(const struct plan *p, const struct orbax_ckpt *c,
		  uint64_t slice_cache, struct rv_plan **out);

/*
 * Compute the box [start, start+count) of array `array` (its index in
 * c->arrays) into buf: dense C order over count, elements of dtype dt
 * (bfloat16, float16 or float32), little-endian.  Errors: the source's;
 * -EINVAL a box outside the array; -ENOMEM.
 */
int rv_fill(struct rv_plan *rv, size_t array, const uint64_t *start,
	    const uint64_t *count, enum ck_dtype dt, void *buf,
	    const struct rv_source *src);

/* Number of tensors that write into array `array`. */
size_t rv_writers(const struct rv_plan *rv, size_t array);

void rv_plan_free(struct rv_plan *rv);

#endif
