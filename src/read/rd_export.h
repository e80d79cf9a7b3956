/* SPDX-License-Identifier: MIT */
/*
 * rd_export.h - every tensor of a plan computed once and handed over, in
 * order, with bounded memory: what `ckptfs convert` writes.
 *
 * A reader of the mount may come back to any byte, so the engine keeps what
 * it computed (rd_engine.h).  An export hands each tensor to a sink the
 * moment it is computed and keeps nothing: its memory is one batch of
 * outputs, at most `budget` bytes (one tensor larger than that is computed
 * alone), plus the decoders' windows.  A group of siblings (plan.h) is
 * computed together, each source chunk decoded once; a group larger than
 * the budget is computed in batches, its chunks recorded in a spill in the
 * engine's disk tier directory (decoded once per batch without one).
 */
#ifndef RD_EXPORT_H
#define RD_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "read/rd_engine.h"

/* Take tensor id's size bytes (valid during the call only).  0 or -errno
 * with a message, which ends the export. */
typedef int (*rd_sink_fn)(void *ctx, uint32_t id, const uint8_t *data,
			  uint64_t size);

/*
 * Compute every tensor of e's plan once and hand it to fn, in plan order
 * (a group's members one after the other, from where its first member
 * is), with at most budget bytes of outputs at once.  The bytes are those
 * rd_copy() serves.  Errors of the computation (naming the tensor and the
 * array), fn's, -ENOMEM.  Not to be run beside readers of the same engine
 * (it uses its counters and spill directory, not its cache).
 */
int rd_export(struct rd_engine *e, uint64_t budget, rd_sink_fn fn, void *ctx);

#endif
