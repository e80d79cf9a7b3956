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
 *   - every checkpoint array under the mapping's prefix is consumed;
 *   - with check_mt, that every source's MaxText slice shape, as the rule's
 *     "mt" gives it (mapping.h), is the slice the checkpoint holds (what
 *     the reverse conversion relies on).
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
	struct hook_shape mt[HOOK_MAX_INPUTS];	/* per source: the MaxText
						   slice shape the rule's
						   "mt" gives (valid with
						   has_mt) */
	int has_mt;				/* 1 when every source's mt is
						   known: stated or defaulted,
						   and evaluated */
};

struct plan_opts {
	enum ck_dtype dtype;	/* CK_DT_INVALID = auto (keep the source's) */
	int check_mt;		/* fail unless every tensor's mt is known and
				   equals its sources' slices */
};

/*
 * Make every later plan_build() check mt as if its options set check_mt
 * (`-o check_mt`: the command line turns it on for the process, since the
 * options that reach plan_build() from a mount do not carry it).  Call
 * before building plans; not thread-safe.
 */
void plan_check_mt_always(int on);

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
 * lists what is unmatched; with check_mt, a tensor whose mt is unknown or
 * not its source's slice), -ENOENT config value missing, -ENOMEM.  An mt
 * that cannot be evaluated is no error without check_mt: has_mt is 0.
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

/*
 * The reverse direction: the MaxText arrays that map makes from the HF
 * config text, in the scanned (1) or unscanned (0) layout (unscanned when
 * the mapping has no scanned one), as orbax_virtual() descriptions of dtype
 * dtype.  A rule marked "optional" is left out for the tensors have() says
 * the HF side lacks (a tied head); every other rule's sources are
 * described, from its MaxText slice shape ("mt", mapping.h) with the
 * stacked axes put back, each as long as the largest index a layer or an
 * expert puts on it, plus one.  Errors: -EINVAL a rule without "mt", two
 * tensors giving one array different shapes, an expression the config
 * cannot evaluate; -ENOMEM.  Release with plan_skel_release().
 */
typedef int (*plan_have_fn)(void *ctx, const char *hf_name);

struct plan_skel {
	size_t narrays;
	struct orbax_vdesc *arrays;	/* names owned */
	int scanned;			/* the layout described */
};

int plan_skeleton(const struct mapping *map, const char *config, size_t config_len,
		  int scanned, enum ck_dtype dtype, plan_have_fn have, void *ctx,
		  struct plan_skel *out);

void plan_skel_release(struct plan_skel *s);

#endif
