/* SPDX-License-Identifier: MIT */
/*
 * plan.h - the resolved conversion: every Hugging Face tensor of the view,
 * with its dtype, shape, the source array slices it is computed from, and
 * the hook chain with its arguments evaluated.
 *
 * plan_build() matches a mapping against a checkpoint and an HF config.
 * It checks everything a read would later depend on, so a mount fails before
 * serving anything when the mapping does not fit the checkpoint:
 *   - the layout (scanned or unscanned) and the layer count agree with the
 *     config;
 *   - every required source exists, is a float array and has a shape whose
 *     slice the hook chain turns into exactly the HF shape;
 *   - every checkpoint array under the mapping's prefix is consumed.
 * The error message lists the arrays or tensors at fault.
 *
 * A plan is immutable once built; reading its tensors (read/rd_tensor.h)
 * is thread-safe.
 */
#ifndef PLAN_H
#define PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "mapping/mapping.h"
#include "orbax/orbax.h"

/* One source: an array with some axes fixed (the layer, the expert). */
struct plan_src {
	const struct orbax_array *array;	/* borrowed from the checkpoint */
	enum ck_dtype dtype;			/* stored dtype */
	unsigned rank;				/* rank of the array */
	uint64_t shape[ZARR_MAX_RANK];		/* shape of the array */
	unsigned nfixed;
	unsigned fixed_axis[3];			/* ascending */
	uint64_t fixed_idx[3];
	struct hook_shape slice;		/* shape without the fixed axes */
};

struct plan_tensor {
	char *name;				/* HF name (owned) */
	enum ck_dtype dtype;			/* served dtype */
	struct hook_shape shape;		/* HF shape */
	uint64_t nbytes;
	const struct map_rule *rule;		/* borrowed from the mapping */
	unsigned nsrc;
	struct plan_src src[HOOK_MAX_INPUTS];
	struct hook_args args[MAP_MAX_HOOKS];	/* evaluated hook arguments */
	struct hook_shape out[MAP_MAX_HOOKS];	/* shape after each hook */
	int64_t layer, expert;			/* -1 when not indexed */
};

struct plan_opts {
	enum ck_dtype dtype;	/* CK_DT_INVALID = auto (keep the source's) */
};

struct plan {
	const struct mapping *map;	/* borrowed */
	int scanned;			/* 1 scanned, 0 unscanned, -1 n/a */
	uint64_t layers;
	enum ck_dtype torch_dtype;	/* dtype of most served bytes */
	size_t ntensors;
	struct plan_tensor *tensors;	/* in serving order (owned) */
	size_t nignored;		/* arrays outside the prefix */
};

/*
 * Resolve map against the checkpoint c and the HF config text (a
 * config.json).  Errors: -EINVAL mapping and checkpoint disagree (message
 * lists what is unmatched), -ENOENT config value missing, -ENOMEM.
 * The plan borrows map and c, which must outlive it.
 */
int plan_build(const struct mapping *map, const struct orbax_ckpt *c,
	       const char *config, size_t config_len, const struct plan_opts *o,
	       struct plan **out);

/*
 * Siblings: tensors computed by the same rule from the same source arrays
 * (one, or a fused pair cut at the same indices), whose sources differ only
 * in their indices on the arrays' stacked axes: the
 * layers of a scanned array, the experts of a stacked expert array, both at
 * once ([E, L, ...]), doubly stacked layers.  Every chunk of such an array
 * holds a part of many of them, so reading them one by one would decode the
 * array once per tensor; rd_tensors() (read/rd_tensor.h) decodes
 * the box covering several of them once.
 */
struct plan_groups {
	size_t ngroups, nmembers;
	uint32_t *of;			/* per tensor: its group, or UINT32_MAX */
	uint32_t *first;		/* per group (and one past the last):
					   its first index in members[] */
	uint32_t *members;		/* tensor ids, in the order of their
					   indices on the stacked axes (the
					   outermost axis first) */
	uint32_t *axes;			/* per group: bit a set when the
					   members differ on source axis a */
};

/* Find p's sibling groups (groups of two or more).  -ENOMEM.  Release
 * with plan_groups_release(). */
int plan_groups_build(const struct plan *p, struct plan_groups *g);

void plan_groups_release(struct plan_groups *g);

void plan_free(struct plan *p);

#endif
