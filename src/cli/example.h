/* SPDX-License-Identifier: MIT */
/*
 * example.h - the tiny models `ckptfs example` writes: their families,
 * dimensions, MaxText weights, where MaxText puts each layer, and their HF
 * config.json.
 *
 * This describes MaxText's layouts from its documentation, independently of
 * the mapping files, so that mounting an example checks the mappings against
 * it rather than against themselves.
 */
#ifndef EXAMPLE_H
#define EXAMPLE_H

#include <stdint.h>
#include <stdio.h>

/* Families, as bits. */
enum {
	EX_LLAMA = 1 << 0, EX_MISTRAL = 1 << 1, EX_MIXTRAL = 1 << 2,
	EX_QWEN2 = 1 << 3, EX_QWEN3 = 1 << 4, EX_QWEN3_MOE = 1 << 5,
	EX_DEEPSEEK2 = 1 << 6, EX_DEEPSEEK3 = 1 << 7, EX_OLMO3 = 1 << 8,
	EX_GEMMA2 = 1 << 9, EX_GEMMA3_TEXT = 1 << 10, EX_GEMMA3 = 1 << 11,
	EX_GPT_OSS = 1 << 12, EX_DEEPSEEK32 = 1 << 13,
	EX_DENSE = EX_LLAMA | EX_MISTRAL | EX_QWEN2 | EX_QWEN3,
	EX_STD = EX_DENSE | EX_MIXTRAL | EX_QWEN3_MOE,
	EX_DS = EX_DEEPSEEK2 | EX_DEEPSEEK3 | EX_DEEPSEEK32,
	EX_DS_QLORA = EX_DEEPSEEK3 | EX_DEEPSEEK32,
	EX_G3 = EX_GEMMA3_TEXT | EX_GEMMA3,
	EX_TIED = EX_GEMMA2 | EX_G3,
	EX_ALL = 0xffff,
};

/* Dimensions.  --scale K multiplies D, HD, F, V and M. */
struct ex_dims {
	uint64_t L;			/* HF layers */
	uint64_t D, HQ, HKV, HD, F;	/* hidden, heads, kv heads, head dim, mlp */
	uint64_t V, VMT;		/* HF vocab, MaxText's (padded) vocab rows */
	uint64_t E, M;			/* experts, expert mlp */
	uint64_t K;			/* DeepSeek: dense layers first */
	uint64_t QL, KVL, NOPE, ROPE, VHD, NS; /* DeepSeek MLA, shared experts */
	uint64_t x[26];			/* family-specific: shape letters a..z */
};

struct ex_weight;
struct ex_place;

/*
 * A family.  The classic ones share ex_weights[] (selected by bit) and the
 * built-in layouts; a family described in its own file (example_<name>.c)
 * sets weights and whichever callbacks it needs (NULL: the default).
 */
struct ex_family {
	const char *name;	/* --family; also the HF model_type */
	const char *arch;
	unsigned bit;
	unsigned cycle;		/* scanned layers_{l % cycle} blocks (0: none) */
	const struct ex_weight *weights;	/* own weight list, or NULL */
	unsigned nweights;
	int unscanned_only;
	void (*dims)(struct ex_dims *d);	/* adjust the defaults */
	int (*check)(const struct ex_dims *d);	/* -EINVAL with message */
	int (*in_layer)(const struct ex_dims *d, unsigned when, uint64_t l);
	void (*place)(const struct ex_dims *d, int scanned, uint64_t l,
		      struct ex_place *p);
	uint64_t (*mt_layers)(const struct ex_dims *d);
	void (*config)(FILE *f, const struct ex_family *fam, const struct ex_dims *d);
};

/* When a layer weight exists (a family's in_layer() may define more). */
enum { EX_W_ALL, EX_W_DENSE, EX_W_MOE };

/*
 * One MaxText weight: its name below "params.params." ("{L}" stands for the
 * layer's container), the families that have it, in which layers, and its
 * per-layer shape as letters (see ex_dim()).
 */
struct ex_weight {
	const char *name;
	unsigned families;
	unsigned when;
	char shape[5];
};

/*
 * Where MaxText layer l is: container below "decoder.", and, when stacked,
 * its index on axis 1 of a stack of len (stacked == 1), or its indexes on
 * axes 1 and 2 of a [len, len2] stack (stacked == 2, Gemma4's blocks).
 */
struct ex_place {
	char container[64];
	int stacked;
	uint64_t index, len;
	uint64_t index2, len2;
};

extern const struct ex_family *const ex_families[];
extern const unsigned ex_nfamilies;

/* 1 if weight w (from ex_family_weights(f)) belongs to family f. */
int ex_family_has(const struct ex_family *f, const struct ex_weight *w);

/* The weights of family f, in value-id order (*n gets the count). */
const struct ex_weight *ex_family_weights(const struct ex_family *f, unsigned *n);

/* The family called name, or NULL. */
const struct ex_family *ex_family_find(const char *name);

/* The family's default dimensions. */
void ex_dims_init(const struct ex_family *f, struct ex_dims *d);

/* 0, or -EINVAL (with the message set) when d does not suit the family. */
int ex_dims_check(const struct ex_family *f, const struct ex_dims *d);

/* The size of shape letter c. */
uint64_t ex_dim(const struct ex_dims *d, char c);

/* MaxText's layer count (Gemma2 holds two HF layers in one). */
uint64_t ex_mt_layers(const struct ex_family *f, const struct ex_dims *d);

/* 1 if weight w is in MaxText layer l. */
int ex_in_layer(const struct ex_family *f, const struct ex_dims *d,
		const struct ex_weight *w, uint64_t l);

/* Where MaxText layer l is in the scanned or unscanned layout. */
void ex_place_of(const struct ex_family *f, const struct ex_dims *d, int scanned,
		 uint64_t l, struct ex_place *p);

/* The members of config.json every family shares, from the opening brace
 * (for a family's config callback). */
void ex_config_common(FILE *f, const struct ex_family *fam, const struct ex_dims *d);

/* A "layer_types" member: full attention every cycle-th layer, else
 * sliding (for a family's config callback). */
void ex_config_layer_types(FILE *f, const struct ex_dims *d, unsigned cycle,
			   const char *indent);

/* Write the family's HF config.json to path (which must not exist). */
int ex_write_config(const char *path, const struct ex_family *f,
		    const struct ex_dims *d);

extern const struct ex_family ex_family_gemma3;
extern const struct ex_family ex_family_qwen3_next;
extern const struct ex_family ex_family_qwen3_vl;
extern const struct ex_family ex_family_qwen3_vl_moe;
extern const struct ex_family ex_family_qwen3_omni_moe;
extern const struct ex_family ex_family_gemma4, ex_family_gemma4_dense,
	ex_family_gemma4_small;
extern const struct ex_family ex_family_qwen3_5_moe;
extern const struct ex_family ex_family_deepseek_v4;

#endif
