/* SPDX-License-Identifier: MIT */
/*
 * mtview.h - the MaxText view of a Hugging Face model directory: the arrays
 * of the checkpoint MaxText's to_maxtext.py would write from it, their
 * chunks, and how each chunk is computed.  `ckptfs convert --to maxtext`
 * writes it (mtview_write.c); the view=maxtext mount serves it
 * (mtview_image.c).  Without FUSE.
 *
 * mtview_open() reads the HF directory's headers and config.json (the
 * tensors stay on disk, read through a shared read-only mmap as they are
 * needed), picks the family's mapping from the config's model_type, and
 * resolves it backwards:
 *   1. the mapping and the config say which MaxText arrays there are, their
 *      names (scanned or unscanned layout), shapes and which HF tensors
 *      feed them (plan_skeleton());
 *   2. those arrays form a virtual checkpoint (orbax_virtual()) which the
 *      ordinary forward plan is resolved against (plan_build()), so both
 *      directions read the mapping files the same way;
 *   3. every tensor of that plan must be in the HF directory with the shape
 *      the plan gives, and every float tensor of the directory must be used:
 *      anything else is refused in one line naming the file and the tensor.
 * Afterwards the view is immutable and mtview_fill() is thread-safe.
 */
#ifndef MTVIEW_H
#define MTVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "layout/hf_dir.h"
#include "mapping/detect.h"
#include "mapping/mapping.h"
#include "mapping/plan.h"
#include "orbax/orbax.h"
#include "read/rd_reverse.h"

/* MaxText's to_maxtext.py simulates this many devices by default; an
 * array is cut into as many chunks along axis 0, as an FSDP save cuts it. */
#define MTVIEW_DEFAULT_CHUNKS 16u
#define MTVIEW_MAX_CHUNKS 65536u

struct ckfs;
struct ckfs_opts;

struct mtview_opts {
	const char *src;		/* the HF model directory, or a MaxText
					   checkpoint (re-laid out: its HF
					   view, through the forward read
					   engine, is the HF side) */
	const struct ckfs_opts *fwd;	/* for a MaxText checkpoint: the
					   options of its HF view (src, step,
					   hf_config, model, sets, cache...);
					   NULL = an HF directory only */
	const char *mappings;		/* mapping directory, NULL = default */
	const char *hf_config;		/* config.json to use instead of the
					   directory's, or NULL */
	const char *model;		/* preset name, or NULL */
	int scan_layers;		/* 1 scanned (default), 0 unscanned;
					   -1 = the default */
	enum ck_dtype dtype;		/* bfloat16 (default, to_maxtext's
					   --save_dtype) or float32;
					   CK_DT_INVALID = the default */
	unsigned chunks;		/* 0 = MTVIEW_DEFAULT_CHUNKS */
	uint64_t vocab_rows;		/* MaxText's (padded) vocabulary rows;
					   0 = the HF vocabulary */
	size_t nsets;
	const struct detect_set *sets;	/* config.KEY=VALUE (borrowed) */
};

struct mtview {
	struct hf_dir *hf;		/* the HF tensors: a directory, or the
					   HF view's catalog (no files) */
	struct ckfs *fwd;		/* the HF view of a MaxText source, or
					   NULL */
	uint32_t *fwd_ids;		/* per hf->tensors entry: the HF view's
					   plan tensor */
	struct mapping **maps;
	size_t nmaps;
	const struct mapping *map;	/* the family's */
	char *config;			/* the HF config used (owned) */
	size_t config_len;
	int scanned;
	enum ck_dtype dtype;
	unsigned chunks;
	struct orbax_ckpt *target;	/* the MaxText arrays (virtual) */
	struct plan *plan;		/* resolved against target */
	struct rv_plan *rv;
	struct rv_source source;	/* the HF tensors, from hf */
	uint64_t total_bytes;		/* of every array, in dtype */
	char *summary;			/* one line: family, layout, arrays */
};

/*
 * Fill *mo from the command-line options o (view=maxtext's, or those of
 * convert --to maxtext): the MaxText side's options, and in *fwd a copy of o
 * for the HF view of a MaxText source (that view as stored), which *mo
 * points at.  o and fwd must outlive *mo.
 */
void mtview_opts_from(const struct ckfs_opts *o, struct ckfs_opts *fwd,
		      struct mtview_opts *mo);

/*
 * Build the view of o->src: an HF directory (config.json beside
 * model.safetensors or its index), or, with o->fwd, a MaxText checkpoint
 * whose HF view is converted back in the other layout (scan_layers).  Errors name the file and the tensor (missing,
 * wrong shape or dtype, unused), the family (no mapping for model_type), or
 * the mapping rule (no MaxText shape); -ENOMEM.  Free with mtview_close().
 */
int mtview_open(const struct mtview_opts *o, struct mtview **out);

/* The chunk (shard) shape of array i: axis 0 cut into v->chunks pieces
 * when it divides evenly, else whole (as a replicated array is saved). */
void mtview_chunk_shape(const struct mtview *v, size_t i, uint64_t *chunk);

/*
 * Compute the box [start, start+count) of array i into buf (dense C order,
 * v->dtype, little-endian).  Thread-safe.  Errors: rv_fill()'s.
 */
int mtview_fill(struct mtview *v, size_t i, const uint64_t *start,
		const uint64_t *count, void *buf);

/* Drop the pages of the HF tensors feeding array i from memory (they are
 * read again from the page cache or the disk when needed). */
void mtview_release(struct mtview *v, size_t i);

void mtview_close(struct mtview *v);

/* mtview_fwd.c: the HF side from the HF view of a MaxText checkpoint: its
 * catalog in *hf (no files), its config in v->config, and the reads in
 * v->source.  Errors: ckfs_open()'s, -ENOMEM. */
int mtview_fwd_open(struct mtview *v, const struct ckfs_opts *o);
void mtview_fwd_close(struct mtview *v);

/* After each chunk written: bytes done of total, and the array's name. */
typedef void (*mtview_progress_fn)(void *ctx, uint64_t done, uint64_t total,
				   const char *name);

/*
 * Write the view as a MaxText checkpoint: out/0/ as to_maxtext.py writes it
 * (orbax_writer.h, items/ with a database per process and the merged
 * manifest, zstd level 3 chunks, the step and an empty opt_state), written
 * under a temporary name and renamed at the end.  threads: chunks computed
 * and compressed at once (0: the number of CPUs).  progress may be NULL.
 * Errors name the array or the tensor; no committed step is left behind.
 */
int mtview_write(struct mtview *v, const char *out, unsigned threads,
		 mtview_progress_fn progress, void *ctx);

#endif
