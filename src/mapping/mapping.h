/* SPDX-License-Identifier: MIT */
/*
 * mapping.h - a model family's mapping file (mappings/<family>.json),
 * loaded and validated at mount time.
 *
 * A mapping file says which MaxText arrays (names relative to "prefix",
 * normally "params.params.") become which Hugging Face tensors, through
 * which hook chain, and how layers and experts are indexed:
 *
 *   {
 *     "family": "llama",
 *     "model_types": ["llama"],
 *     "architectures": ["LlamaForCausalLM"],
 *     "prefix": "params.params.",
 *     "let": {"hd": ["head_dim", "hidden_size / num_attention_heads"], ...},
 *     "layers": {"count": "num_hidden_layers", "scanned": "decoder.layers",
 *                "unscanned": "decoder.layers_{i}", "axis": 1},
 *     "detect": {"require": ["decoder.layers*.self_attention.query.kernel"],
 *                "forbid": ["decoder.layers*.MoeBlock_0.wi_0"]},
 *     "infer": [{"field": "hidden_size", "array": "token_embedder.embedding",
 *                "axis": 1}, ...],
 *     "needs": ["rope_theta", "rms_norm_eps"],
 *     "tensors": [
 *       {"hf": "model.layers.{i}.self_attn.q_proj.weight",
 *        "from": "{layers}.self_attention.query.kernel",
 *        "shape": ["num_attention_heads * hd", "hidden_size"],
 *        "mt": ["hidden_size", "num_attention_heads", "hd"],
 *        "hooks": [["scale_query", "sqrt(hd)"], "rope_to_halves",
 *                  "reshape_kernel"]},
 *       {"hf": "model.layers.{i}.mlp.experts.{e}.gate_proj.weight",
 *        "from": "{layers}.moe_block.wi_0",
 *        "experts": {"count": "num_experts", "axis": 0}, ...},
 *       {"hf": "lm_head.weight", "from": "decoder.logits_dense.kernel",
 *        "optional": true, ...}
 *     ]
 *   }
 *
 * "{layers}" stands for the layer container: the scanned name (one array
 * holding every layer, stacked on layers.axis) or the unscanned one
 * ("layers_{i}", one array per layer).  Either may also be a list of
 * placements, each {"when": expr, "container": template, "index": expr or
 * [expr, expr]} (the first whose "when" holds for layer i; no "index": the
 * container is not stacked; two indices: doubly stacked on axis, axis+1).
 * Any other "{expr}" in a name is an expression over i (layer), e (expert)
 * and the config.  A rule whose names use {i} or {layers} runs once per
 * layer for which its "when" holds; one with "experts" once per expert,
 * slicing the expert axis.  "from" may be a list (composite: several arrays
 * feed one hook); a single "from" may have "or_from", full array names (a
 * custom collection beside the prefix, say) tried in order when it is
 * absent.  Expressions (shapes, hook arguments, counts) are evaluated
 * over the HF config fields and the "let" names (expr.h).
 *
 * "mt" (optional) is the MaxText slice shape of the rule's source: the
 * source array's shape with its stacked axes (layer, expert) removed, what
 * the reverse conversion (HF -> MaxText) must build.  For a single "from" it
 * is a list of expressions, like "shape" (over the config, the lets, i and
 * e); for a list "from", a list of such lists, one per source.  Without
 * "mt" a rule with one source gets a default when its chain keeps the
 * elements' order: the HF shape when every hook is identity, norm_offset,
 * scale_query, scale_div or rope_to_halves (or there are none), the HF
 * shape reversed when the chain is exactly "transpose" (1-D or 2-D); any
 * other rule has no MaxText shape until it states one.  The default is a
 * convention, not a consequence of the hooks (identity and an empty chain
 * only keep the element count): plan_build()'s check_mt tells where it is
 * wrong.  Embedding rows use a let "vocab_mt" (["maxtext_vocab_size",
 * "vocab_size"]): MaxText may pad the vocabulary.  Detection patterns
 * are shell globs over array names (below the prefix), as are the "ignore"
 * globs: arrays no tensor serves (MaxText drops them too).
 *
 * A struct mapping is immutable once loaded.
 */
#ifndef MAPPING_H
#define MAPPING_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/hook.h"

#define MAP_MAX_HOOKS 8
#define MAP_MAX_ALTS 4		/* "or_from" alternatives of one source */

struct map_hook {
	const struct hook *hook;	/* from hook_find() */
	unsigned nargs;
	char *args[HOOK_MAX_ARGS];	/* expressions (owned) */
};

/* Where a rule's MaxText slice shapes come from. */
enum map_mt {
	MAP_MT_NONE,			/* unknown: no "mt" and no default */
	MAP_MT_GIVEN,			/* the rule's "mt" */
	MAP_MT_DEFAULT,			/* the HF shape (reversed for a lone
					   2-D "transpose") */
};

struct map_rule {
	char *hf;			/* HF name template (owned) */
	char *when;			/* layer condition expression, or NULL */
	unsigned nsrc;
	char *src[HOOK_MAX_INPUTS];	/* source templates (owned) */
	unsigned nalt;
	char *alt[MAP_MAX_ALTS];	/* "or_from": full array names (not
					   below the prefix) tried in order
					   when the one source is absent */
	int per_layer;			/* hf or a source uses {i}/{layers} */
	char *count;			/* {i} runs over 0..count-1 instead of
					   the layers (a vision or audio tower's
					   blocks), or NULL */
	char *experts;			/* expert count expression, or NULL */
	unsigned expert_axis;		/* axis of the expert index */
	unsigned rank;
	char *shape[ZARR_MAX_RANK];	/* HF shape expressions (owned) */
	unsigned nhooks;
	struct map_hook hooks[MAP_MAX_HOOKS];
	int optional;			/* skip when the source is absent */
	int log_absent;			/* "optional": "log": plan_build()
					   logs one line naming the absent */
	char *required_if_any;		/* glob: optional only while no array
					   below the prefix matches it */
	int mt_from;			/* enum map_mt: where mt[] comes from */
	unsigned mt_rank[HOOK_MAX_INPUTS];
	char **mt[HOOK_MAX_INPUTS];	/* per source: its MaxText slice shape
					   expressions (owned), mt_rank[k] of
					   them; all NULL with MAP_MT_NONE */
};

struct map_let {
	char *name;
	size_t nalts;
	char **alts;			/* first alternative that evaluates */
};

/* Where layer i's arrays are, in one layout. */
struct map_place {
	char *when;			/* condition over i, or NULL = always */
	char *container;		/* name template (may use {expr}) */
	unsigned nindex;		/* 0 unstacked, 1 stacked, 2 doubly */
	char *index[2];			/* stack index expressions over i */
};

struct map_infer {
	char *field;			/* HF config field */
	char *array;			/* array template (may use {layers}) */
	int absent;			/* boolean field: true when array is
					   absent (e.g. tie_word_embeddings) */
	unsigned axis;			/* axis in the unscanned array */
	int count_layers;		/* the value is the number of layers
					   holding array (a "layers" entry) */
	char *divide_by;		/* optional expression to divide by */
	char *value;			/* optional expression over x (the
					   size read) and earlier fields */
	char *deflt;			/* JSON text used when the array is
					   absent, or NULL */
	int optional;			/* leave the field out when the array
					   is absent */
};

struct mapping {
	char *path;			/* file it came from */
	char *family;
	size_t nmodel_types;
	char **model_types;
	size_t narchs;
	char **architectures;
	char *prefix;
	size_t nlets;
	struct map_let *lets;
	char *layer_count;		/* expression, or NULL: no layers */
	size_t nscanned, nunscanned;
	struct map_place *scanned;	/* scanned placements (may be none) */
	struct map_place *unscanned;	/* unscanned placements */
	unsigned scan_axis;		/* first stacking axis */
	size_t nrequire, nforbid;
	char **require, **forbid;	/* detection templates */
	size_t ninfer;
	struct map_infer *infer;
	size_t nneeds;
	char **needs;			/* config fields a mount that infers its
					   config must be given (config.KEY=) */
	size_t nignore;
	char **ignore;			/* globs (below the prefix): arrays no
					   tensor serves, consumed unread */
	size_t nrules;
	struct map_rule *rules;
};

/*
 * Parse one mapping file's text.  -EINVAL (bad structure, with the member),
 * -ENOTSUP (unknown hook name), -ENOMEM.  Caller frees with mapping_free().
 */
int mapping_parse(const char *text, size_t n, const char *path,
		  struct mapping **out);

/* Read and parse a mapping file. */
int mapping_load(const char *path, struct mapping **out);

/*
 * Load every *.json file directly in dir (presets live in a subdirectory and
 * are not mappings), sorted by file name.  Caller frees each with
 * mapping_free() and the array with free().
 */
int mapping_load_dir(const char *dir, struct mapping ***out, size_t *n);

/* The mapping whose model_types list has model_type, or NULL. */
const struct mapping *mapping_for_model_type(struct mapping *const *maps,
					     size_t n, const char *model_type);

void mapping_free(struct mapping *m);

#endif
