/* SPDX-License-Identifier: MIT */
/*
 * rd_direct.h - the direct read path: tensors whose hook chain only moves
 * elements (reshapes, transposes, axis permutations; most tensors of every
 * family) are written straight from each decoded source chunk into the
 * served tensor, converting the dtype in the same copy.  No float32 copy of
 * the slice, no hook buffers, no box holding the whole source: the memory a
 * read needs beyond its outputs is one decoded chunk per thread.
 *
 * Such a chain maps the source slice to the output one to one, and the
 * output offset of an element is a sum of one term per slice axis (each
 * term a function of that axis' coordinate alone, built by composing the
 * hooks' moves(), see hook.h).  rd_moves_build() tabulates those terms.
 *
 * Private to src/read (rd_tensor.c, rd_spill.c) and its unit test.
 */
#ifndef RD_DIRECT_H
#define RD_DIRECT_H

#include <stdint.h>

#include "mapping/plan.h"
#include "read/rd_tensor.h"

/* From rd_moves_build(): the chain is not one the direct path handles (it
 * computes otherwise, or has several sources); not an error, the caller
 * runs the hook chain instead. */
#define RD_NOT_DIRECT 1

/* Where each element of a tensor's source slice goes in its output. */
struct rd_moves {
	unsigned nax;				/* axes of the slice */
	unsigned axis[ZARR_MAX_RANK];		/* their array axis */
	uint64_t len[ZARR_MAX_RANK];		/* how much of them is read
						   (less than the array's where
						   a hook crops) */
	uint64_t *off[ZARR_MAX_RANK];		/* off[j][x]: the output element
						   offset contributed by
						   coordinate x on slice axis j */
	uint64_t step[ZARR_MAX_RANK];		/* s if off[j][x] = off[j][0] + s x
						   for every x, else 0 */
	uint64_t *mem;				/* owns the tables */
	unsigned nops;				/* pointwise operations, applied
						   in float32 in this order */
	enum hook_op op[MAP_MAX_HOOKS];
	float c[MAP_MAX_HOOKS];
};

/* The box source s reads: its fixed axes at their index, the others whole. */
void rd_src_box(const struct plan_src *s, uint64_t *start, uint64_t *count);

/*
 * Tabulate t's element moves and pointwise operations: 0, RD_NOT_DIRECT,
 * or -ENOMEM.  Release with rd_moves_release() (also after RD_NOT_DIRECT).
 */
int rd_moves_build(const struct plan_tensor *t, struct rd_moves *m);

void rd_moves_release(struct rd_moves *m);

/* For tests: 1 makes rd_moves_build() answer RD_NOT_DIRECT for every tensor,
 * so that reads take the hook chain; 0 (the default) restores it.  Not
 * thread-safe against reads in flight. */
void rd_direct_disable(int off);

/*
 * Read n tensors that share t0's moves: t0 itself (n == 1, axes 0), or
 * siblings ts[] stacked on the array axes set in `axes` (plan_groups):
 * outs[k] (t0->nbytes bytes) gets ts[k].  Every chunk of the box is decoded
 * once; the box is box_start/box_count (covering every ts[k]; NULL: t0's
 * own, rd_src_box()).  With a spill, the box's pieces are recorded into
 * it, or replayed from it once recorded (plan.h).  Errors from the array
 * read or the spill, with the tensor and array named; -EINVAL for a sibling
 * outside the box; -ENOMEM.
 */
int rd_direct_read(const struct plan_tensor *t0, const struct rd_moves *m,
		     uint32_t axes, const struct plan_tensor *const *ts, size_t n,
		     void **outs, const uint64_t *box_start, const uint64_t *box_count,
		     struct rd_spill *spill);

/* The spill's side (rd_spill.c).  recorded: a whole recording is there;
 * mark(ok): the recording is whole (1) or to be redone (0); record: append
 * one piece (as zarr_visit_fn gets it, elements of isz bytes), cut into one
 * dense piece per position over the stacked axes (those with a non-zero
 * selstride[]; selstride NULL: whole), thread-safe; replay: hand the
 * recorded pieces to fn, in order, those whose index sum(pos[a] *
 * selstride[a]) has a non-NULL want[] entry (want or selstride NULL:
 * all). */
int rd_spill_recorded(const struct rd_spill *s);
void rd_spill_mark(struct rd_spill *s, int ok);
int rd_spill_record(struct rd_spill *s, unsigned rank, size_t isz,
		      const uint64_t *selstride, const uint64_t *pos, const uint64_t *n,
		      const void *data, const uint64_t *stride);
int rd_spill_replay(struct rd_spill *s, const uint64_t *selstride,
		      const void *const *want, zarr_visit_fn fn, void *ctx);

/* rd_tensor() through the hook chain even when the direct path
 * applies: the reference the direct path is tested against. */
int rd_tensor_hooks(const struct plan_tensor *t, void *out);

/* The pointwise operations of m on n bfloat16 values in place, as the
 * direct path applies them after a transpose (vectorized where it can). */
void rd_ops_bf16(const struct rd_moves *m, uint16_t *o, uint64_t n);

#endif
