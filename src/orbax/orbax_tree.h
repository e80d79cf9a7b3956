/* SPDX-License-Identifier: MIT */
/*
 * orbax_tree.h - the parameter trees MaxText-family runs save, and the one
 * naming the mapping files use.
 *
 * The same weights are saved under different PyTree paths depending on who
 * saved them:
 *
 *   tree     root              leaf      example (Llama, scanned)
 *   linen    params.params.    (none)    params.params.decoder.layers.mlp.wi_0.kernel
 *   nnx-rl   base.             .value    base.decoder.layers.mlp.wi_0.kernel.value
 *   nnx-sft  (none)            .value    decoder.layers.mlp.wi_0.kernel.value
 *
 * Linen is MaxText's trainer (also pure_nnx runs); the NNX trees are Tunix's
 * SFT and RL states.  In an NNX tree a numeric path component is an
 * nnx.List index and folds into the component before it (decoder.layers.0
 * -> decoder.layers_0), the name Linen gives the same module.
 *
 * The canonical name of a weight is "params.params." + its path below the
 * root, without the leaf suffix, lists folded: the Linen name.  Paths that
 * never hold weights are left as they are: a first component opt_state,
 * optimizer*, nnx_aux or step, and anything below a component rngs or
 * *_rngs (NNX random-number state).
 */
#ifndef ORBAX_TREE_H
#define ORBAX_TREE_H

#include <stddef.h>

struct orbax_ckpt;

/* One tree shape: a row of the table in orbax_tree.c. */
struct orbax_tree {
	const char *name;	/* "linen", "nnx-rl", "nnx-sft" */
	const char *root;	/* prefix of every weight's path */
	const char *leaf;	/* suffix of every weight's path ("" for none) */
	int lists;		/* numeric components are nnx.List indices */
};

/* The root of the canonical names. */
#define ORBAX_TREE_CANONICAL_ROOT "params.params."

/* 1 if the PyTree path name never holds weights (see above). */
int orbax_tree_skipped(const char *name);

/*
 * Find the tree c's arrays form and give each weight its canonical name
 * (the stored name moves to orbax_array.stored; the arrays are re-sorted).
 * When the arrays form no tree, or two at once, or an NNX tree breaks its
 * rules (a leaf without ".value", nnx.List and Linen names for the same
 * list, two paths with one canonical name), nothing is renamed: c->tree
 * stays NULL and c->tree_why says why in one line.  Returns 0, or -ENOMEM.
 * Called by orbax_open().
 */
int orbax_tree_apply(struct orbax_ckpt *c);

/* The table's rows, for listing them; NULL past the end. */
const struct orbax_tree *orbax_tree_at(size_t i);

#endif
