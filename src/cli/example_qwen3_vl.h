/* SPDX-License-Identifier: MIT */
/*
 * example_qwen3_vl.h - what the tiny Qwen3-VL and Qwen3-Omni examples share
 * (example_qwen3_vl.c, example_qwen3_omni.c): the Qwen3 / Qwen3-MoE decoder
 * weights and the vision tower MaxText builds for both (Qwen3-VL's encoder
 * subclasses Qwen3-Omni's), as maxtext-mapping.md §4.5-4.7 lists them, with
 * the layout callbacks and the vision_config writer.
 *
 * MaxText never scans the vision tower: each block is its own blocks_{j}
 * module and each deepstack merger its own merger_{m}, in both layouts.
 * Only the decoder is scanned (decoder.layers, stacked on axis 1).
 *
 * Vision sizes are family-specific shape letters (not scaled by --scale):
 * v hidden, h heads, d head dim, f mlp, t temporal patch, p patch, c
 * channels, n position embeddings, m merged width v * merge^2.
 */
#ifndef EXAMPLE_QWEN3_VL_H
#define EXAMPLE_QWEN3_VL_H

#include <stdio.h>

#include "cli/example.h"

#define QV_X(d, c) ((d)->x[(c) - 'a'])

#define QV_VISION_DEPTH 3	/* blocks_0 .. blocks_2 below */
#define QV_DEEPSTACK "[0, 2]"	/* deepstack_visual_indexes: 2 mergers */
#define QV_MERGE 2		/* spatial_merge_size */

/*
 * "when" of the patch embedding kernel [T, P, P, C, Dv].  Its rank does not
 * fit a weight's 4 shape letters, so it is written as a layer weight "tpcv"
 * stacked on axis 1 over P pseudo-layers numbered L .. L + P - 1 past the
 * decoder's ("{L}" is "kernel"): element [t, y, x, c, o] is
 * g(w, L + y, ((t * P + x) * C + c) * Dv + o).
 */
#define QV_W_PATCH 3

/* The decoder: Qwen3 attention with q/k norms. */
#define QV_TEXT_ATTN \
	{ "decoder.{L}.pre_self_attention_layer_norm.scale", 0, EX_W_ALL, "D" }, \
	{ "decoder.{L}.post_self_attention_layer_norm.scale", 0, EX_W_ALL, "D" }, \
	{ "decoder.{L}.self_attention.query.kernel", 0, EX_W_ALL, "DQH" }, \
	{ "decoder.{L}.self_attention.key.kernel", 0, EX_W_ALL, "DKH" }, \
	{ "decoder.{L}.self_attention.value.kernel", 0, EX_W_ALL, "DKH" }, \
	{ "decoder.{L}.self_attention.out.kernel", 0, EX_W_ALL, "QHD" }, \
	{ "decoder.{L}.self_attention.query_norm.scale", 0, EX_W_ALL, "H" }, \
	{ "decoder.{L}.self_attention.key_norm.scale", 0, EX_W_ALL, "H" }

#define QV_TEXT_DENSE \
	{ "decoder.{L}.mlp.wi_0.kernel", 0, EX_W_ALL, "DF" }, \
	{ "decoder.{L}.mlp.wi_1.kernel", 0, EX_W_ALL, "DF" }, \
	{ "decoder.{L}.mlp.wo.kernel", 0, EX_W_ALL, "FD" }

#define QV_TEXT_MOE \
	{ "decoder.{L}.moe_block.gate.kernel", 0, EX_W_ALL, "DE" }, \
	{ "decoder.{L}.moe_block.wi_0", 0, EX_W_ALL, "EDM" }, \
	{ "decoder.{L}.moe_block.wi_1", 0, EX_W_ALL, "EDM" }, \
	{ "decoder.{L}.moe_block.wo", 0, EX_W_ALL, "EMD" }

/* One vision block of encoder prefix ve ("vision_encoder.<Encoder>_0."). */
#define QV_BLOCK(ve, j) \
	{ ve "blocks_" #j ".ln1.scale", 0, EX_W_ALL, "v" }, \
	{ ve "blocks_" #j ".ln1.bias", 0, EX_W_ALL, "v" }, \
	{ ve "blocks_" #j ".ln2.scale", 0, EX_W_ALL, "v" }, \
	{ ve "blocks_" #j ".ln2.bias", 0, EX_W_ALL, "v" }, \
	{ ve "blocks_" #j ".attn.attn.query.kernel", 0, EX_W_ALL, "vhd" }, \
	{ ve "blocks_" #j ".attn.attn.key.kernel", 0, EX_W_ALL, "vhd" }, \
	{ ve "blocks_" #j ".attn.attn.value.kernel", 0, EX_W_ALL, "vhd" }, \
	{ ve "blocks_" #j ".attn.attn.query.bias", 0, EX_W_ALL, "hd" }, \
	{ ve "blocks_" #j ".attn.attn.key.bias", 0, EX_W_ALL, "hd" }, \
	{ ve "blocks_" #j ".attn.attn.value.bias", 0, EX_W_ALL, "hd" }, \
	{ ve "blocks_" #j ".attn.attn.out.kernel", 0, EX_W_ALL, "hdv" }, \
	{ ve "blocks_" #j ".attn.attn.out.bias", 0, EX_W_ALL, "v" }, \
	{ ve "blocks_" #j ".mlp.kernel", 0, EX_W_ALL, "vf" }, \
	{ ve "blocks_" #j ".mlp.bias", 0, EX_W_ALL, "f" }, \
	{ ve "blocks_" #j ".mlp_out.kernel", 0, EX_W_ALL, "fv" }, \
	{ ve "blocks_" #j ".mlp_out.bias", 0, EX_W_ALL, "v" }

/* A patch merger at prefix mp; its norm spans norm (v, or m after the
 * shuffle for the deepstack mergers). */
#define QV_MERGER(mp, norm) \
	{ mp "ln_q.scale", 0, EX_W_ALL, norm }, \
	{ mp "ln_q.bias", 0, EX_W_ALL, norm }, \
	{ mp "mlp_0.kernel", 0, EX_W_ALL, "mm" }, \
	{ mp "mlp_0.bias", 0, EX_W_ALL, "m" }, \
	{ mp "mlp_2.kernel", 0, EX_W_ALL, "mD" }, \
	{ mp "mlp_2.bias", 0, EX_W_ALL, "D" }

/* The whole tower: encoder ve, projector vp (its final merger). */
#define QV_VISION(ve, vp) \
	{ ve "patch_embed.proj.{L}", 0, QV_W_PATCH, "tpcv" }, \
	{ ve "patch_embed.proj.bias", 0, EX_W_ALL, "v" }, \
	{ ve "pos_embed_interpolate.pos_embed", 0, EX_W_ALL, "nv" }, \
	QV_BLOCK(ve, 0), \
	QV_BLOCK(ve, 1), \
	QV_BLOCK(ve, 2), \
	QV_MERGER(ve "merger_0.", "m"), \
	QV_MERGER(ve "merger_1.", "m"), \
	QV_MERGER(vp "merger.", "v")

#define QV_VISION_NWEIGHTS (3 + 16 * QV_VISION_DEPTH + 6 * 3)

/* Defaults for both families: 4 decoder layers (at least the vision
 * depth), the vision sizes. */
void qv_dims(struct ex_dims *d);

/* -EINVAL unless the decoder has at least min_layers layers (the mapping
 * walks the encoders' blocks with the decoder's layer index). */
int qv_check_layers(const struct ex_dims *d, uint64_t min_layers);

/* Decoder layers 0 .. L-1, then the patch kernel's P pseudo-layers. */
uint64_t qv_mt_layers(const struct ex_dims *d);
int qv_in_layer(const struct ex_dims *d, unsigned when, uint64_t l);
void qv_place(const struct ex_dims *d, int scanned, uint64_t l, struct ex_place *p);

/* The Qwen3 text fields (no braces) at indent ind; moe adds the router's. */
void qv_text_fields(FILE *f, const struct ex_dims *d, int moe, const char *ind);

/* The vision_config members (no braces) at indent ind. */
void qv_vision_fields(FILE *f, const struct ex_dims *d, const char *model_type,
		      const char *ind);

#endif
