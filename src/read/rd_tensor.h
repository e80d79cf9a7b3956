/* SPDX-License-Identifier: MIT */
/*
 * rd_tensor.h - computing the tensors of a plan: read the source slices,
 * run the hook chain (or the direct path, rd_direct.h, when the chain only
 * moves elements), convert to the served dtype.
 *
 * These calls know nothing of caches or files: rd_engine.h decides when
 * and with which siblings a tensor is computed, and keeps the results.
 * All of them are thread-safe (a spill excepted, see below).
 */
#ifndef RD_TENSOR_H
#define RD_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "mapping/plan.h"

/*
 * Compute tensor t into out (t->nbytes bytes, C order, little-endian, in
 * t->dtype): read the source slices, widen to f32, run the hooks, round to
 * the served dtype.  -EIO and friends from the reader, -ENOMEM.
 */
int rd_tensor(const struct plan_tensor *t, void *out);

/*
 * Compute the n tensors ids[] (members of one group of g, plan.h) into
 * outs[k] (each p->tensors[ids[k]].nbytes bytes), decoding the source box
 * that covers them once.  The box holds, in the stored dtype, every
 * position from the lowest to the highest of ids[] on the group's stacked
 * axes; each slice is widened to float32 as it is cut out.  Errors as
 * rd_tensor().
 *
 * With a spill (see below), the chunks of the whole group are decoded by
 * the first call and recorded, and read back from the recording by the next
 * ones; -EINVAL when the group's chain is not one the spill supports
 * (rd_spillable() says so beforehand).
 */
struct rd_spill;

int rd_tensors(const struct plan *p, const struct plan_groups *g,
	       const uint32_t *ids, size_t n, void **outs, struct rd_spill *spill);

/* 1 if tensor id's group can be read with a spill: its hook chain only
 * moves elements (the direct path, rd_direct.h). */
int rd_spillable(const struct plan *p, uint32_t id);

/*
 * A spill: the decoded source of one sibling group kept in an unnamed file,
 * so that a group whose outputs do not fit in memory at once is computed in
 * batches while its chunks are decoded only once.  The file is created in
 * dir (O_TMPFILE, or created and unlinked) and vanishes when closed.
 * -errno with a message naming dir.  One spill serves one group; its calls
 * must not overlap.
 */
int rd_spill_open(const char *dir, struct rd_spill **out);

/* Bytes the spill holds on disk. */
uint64_t rd_spill_bytes(const struct rd_spill *s);

void rd_spill_close(struct rd_spill *s);

#endif
