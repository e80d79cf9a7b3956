/* SPDX-License-Identifier: MIT */
/*
 * This file describes the tiny Qwen3-Omni thinker of `ckptfs example
 * --family qwen3_omni_moe` (see example.h and example_qwen3_vl.h): a
 * Qwen3-MoE decoder with its own lm_head, the Qwen3-VL vision tower under
 * MaxText's Omni module names (vision_encoder.Qwen3OmniMoeVisionEncoder_0,
 * final merger in vision_encoder.Qwen3OmniMoeVisionProjector_0) and the
 * audio tower of maxtext-mapping.md §4.7 (audio_encoder.Qwen3OmniAudioEncoder_0:
 * three HWIO 3x3 convolutions, conv_out, layers_{j} never scanned,
 * layernorm_post; projector audio_encoder.Qwen3OmniAudioProjector_0).  Its
 * config.json is a Qwen3OmniMoeConfig without audio output (no talker).
 *
 * Audio sizes are family-specific shape letters (not scaled by --scale):
 * a d_model, b heads, e head dim, g ffn, k downsample channels, w the conv
 * window (3), u the one input channel, i conv_out's input (k times the mel
 * bins left after three stride-2 convolutions).
 */
#include "cli/example_qwen3_vl.h"

#define U(x) ((unsigned long long)(x))

#define VE "vision_encoder.Qwen3OmniMoeVisionEncoder_0."
#define VP "vision_encoder.Qwen3OmniMoeVisionProjector_0."
#define AE "audio_encoder.Qwen3OmniAudioEncoder_0."
#define AP "audio_encoder.Qwen3OmniAudioProjector_0."

#define QO_AUDIO_LAYERS 2	/* layers_0, layers_1 below */
#define QO_MEL_BINS 16

#define QO_AUDIO_LAYER(j) \
	{ AE "layers_" #j ".input_layer_norm.scale", 0, EX_W_ALL, "a" }, \
	{ AE "layers_" #j ".input_layer_norm.bias", 0, EX_W_ALL, "a" }, \
	{ AE "layers_" #j ".self_attention_audio.query.kernel", 0, EX_W_ALL, "abe" }, \
	{ AE "layers_" #j ".self_attention_audio.key.kernel", 0, EX_W_ALL, "abe" }, \
	{ AE "layers_" #j ".self_attention_audio.value.kernel", 0, EX_W_ALL, "abe" }, \
	{ AE "layers_" #j ".self_attention_audio.query.bias", 0, EX_W_ALL, "be" }, \
	{ AE "layers_" #j ".self_attention_audio.key.bias", 0, EX_W_ALL, "be" }, \
	{ AE "layers_" #j ".self_attention_audio.value.bias", 0, EX_W_ALL, "be" }, \
	{ AE "layers_" #j ".self_attention_audio.out.kernel", 0, EX_W_ALL, "bea" }, \
	{ AE "layers_" #j ".self_attention_audio.out.bias", 0, EX_W_ALL, "a" }, \
	{ AE "layers_" #j ".post_attention_layer_norm.scale", 0, EX_W_ALL, "a" }, \
	{ AE "layers_" #j ".post_attention_layer_norm.bias", 0, EX_W_ALL, "a" }, \
	{ AE "layers_" #j ".AudioMLP.wi.kernel", 0, EX_W_ALL, "ag" }, \
	{ AE "layers_" #j ".AudioMLP.wi.bias", 0, EX_W_ALL, "g" }, \
	{ AE "layers_" #j ".AudioMLP.wo.kernel", 0, EX_W_ALL, "ga" }, \
	{ AE "layers_" #j ".AudioMLP.wo.bias", 0, EX_W_ALL, "a" }

/* Value-id order: embedding, final norm, head, decoder layer, vision,
 * audio. */
static const struct ex_weight qo_weights[] = {
	{ "token_embedder.embedding", 0, EX_W_ALL, "TD" },
	{ "decoder.decoder_norm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.logits_dense.kernel", 0, EX_W_ALL, "DT" },
	QV_TEXT_ATTN,
	QV_TEXT_MOE,
	QV_VISION(VE, VP),
	{ AE "conv2d1.kernel", 0, EX_W_ALL, "wwuk" },
	{ AE "conv2d1.bias", 0, EX_W_ALL, "k" },
	{ AE "conv2d2.kernel", 0, EX_W_ALL, "wwkk" },
	{ AE "conv2d2.bias", 0, EX_W_ALL, "k" },
	{ AE "conv2d3.kernel", 0, EX_W_ALL, "wwkk" },
	{ AE "conv2d3.bias", 0, EX_W_ALL, "k" },
	{ AE "conv_out.kernel", 0, EX_W_ALL, "ia" },
	QO_AUDIO_LAYER(0),
	QO_AUDIO_LAYER(1),
	{ AE "layernorm_post.scale", 0, EX_W_ALL, "a" },
	{ AE "layernorm_post.bias", 0, EX_W_ALL, "a" },
	{ AP "proj1.kernel", 0, EX_W_ALL, "aa" },
	{ AP "proj1.bias", 0, EX_W_ALL, "a" },
	{ AP "proj2.kernel", 0, EX_W_ALL, "aD" },
	{ AP "proj2.bias", 0, EX_W_ALL, "D" },
};

_Static_assert(sizeof(qo_weights) / sizeof(qo_weights[0]) ==
	       3 + 8 + 4 + QV_VISION_NWEIGHTS + 7 + 16 * QO_AUDIO_LAYERS + 6,
	       "one QO_AUDIO_LAYER() per audio layer");

/* Mel bins left after the three stride-2, padding-1 convolutions. */
static uint64_t qo_freq_after_conv(uint64_t mel)
{
	return (((mel + 1) / 2 + 1) / 2 + 1) / 2;
}

static void qo_dims(struct ex_dims *d)
{
	qv_dims(d);
	QV_X(d, 'a') = 32;
	QV_X(d, 'b') = 2;
	QV_X(d, 'e') = 16;
	QV_X(d, 'g') = 64;
	QV_X(d, 'k') = 8;
	QV_X(d, 'w') = 3;
	QV_X(d, 'u') = 1;
	QV_X(d, 'i') = QV_X(d, 'k') * qo_freq_after_conv(QO_MEL_BINS);
}

static int qo_check(const struct ex_dims *d)
{
	return qv_check_layers(d, QV_VISION_DEPTH > QO_AUDIO_LAYERS ?
				  QV_VISION_DEPTH : QO_AUDIO_LAYERS);
}

/*
 * Qwen3OmniMoeConfig with enable_audio_output false: the thinker's text,
 * vision and audio configs; token ids inside the tiny vocabulary.
 */
static void qo_config(FILE *f, const struct ex_family *fam, const struct ex_dims *d)
{
	const char *in = "      ";

	fprintf(f, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n"
		"  \"enable_audio_output\": false,\n  \"im_start_token_id\": 240,\n"
		"  \"im_end_token_id\": 241,\n  \"system_token_id\": 242,\n"
		"  \"user_token_id\": 243,\n  \"assistant_token_id\": 244,\n"
		"  \"tts_pad_token_id\": 245,\n  \"tts_bos_token_id\": 246,\n"
		"  \"tts_eos_token_id\": 247,\n  \"torch_dtype\": \"bfloat16\",\n"
		"  \"thinker_config\": {\n    \"model_type\": \"qwen3_omni_moe_thinker\",\n"
		"    \"audio_token_id\": 248,\n    \"audio_start_token_id\": 249,\n"
		"    \"audio_end_token_id\": 250,\n    \"image_token_id\": 251,\n"
		"    \"video_token_id\": 252,\n    \"vision_start_token_id\": 253,\n"
		"    \"vision_end_token_id\": 254,\n    \"user_token_id\": 243,\n"
		"    \"position_id_per_seconds\": 13,\n    \"seconds_per_chunk\": 2,\n"
		"    \"initializer_range\": 0.02,\n    \"tie_word_embeddings\": false,\n"
		"    \"text_config\": {\n      \"model_type\": \"qwen3_omni_moe_text\",\n"
		"      \"rope_theta\": 1000000,\n      \"tie_word_embeddings\": false,\n"
		"      \"output_router_logits\": false,\n"
		"      \"shared_expert_intermediate_size\": 0,\n"
		"      \"sliding_window\": null,\n      \"use_sliding_window\": false,\n"
		"      \"use_qk_norm\": true,\n",
		fam->arch, fam->name);
	qv_text_fields(f, d, 1, in);
	fprintf(f, "\n    },\n    \"vision_config\": {\n"
		"      \"apply_vit_abs_pos_embed\": true,\n      \"image_size\": %llu,\n"
		"      \"in_chans\": %llu,\n      \"spatial_patch_size\": %llu,\n"
		"      \"tokens_per_second\": 2,\n",
		U(QV_X(d, 'p') * 4), U(QV_X(d, 'c')), U(QV_X(d, 'p')));
	qv_vision_fields(f, d, "qwen3_omni_moe_vision_encoder", in);
	fprintf(f, "\n    },\n    \"audio_config\": {\n"
		"      \"activation_dropout\": 0,\n      \"activation_function\": \"gelu\",\n"
		"      \"attention_dropout\": 0,\n      \"conv_chunksize\": 500,\n"
		"      \"d_model\": %llu,\n      \"downsample_hidden_size\": %llu,\n"
		"      \"dropout\": 0,\n      \"encoder_attention_heads\": %llu,\n"
		"      \"encoder_ffn_dim\": %llu,\n      \"encoder_layers\": %d,\n"
		"      \"initializer_range\": 0.02,\n      \"max_source_positions\": 1500,\n"
		"      \"model_type\": \"qwen3_omni_moe_audio_encoder\",\n"
		"      \"n_window\": 50,\n      \"n_window_infer\": 800,\n"
		"      \"num_mel_bins\": %d,\n      \"output_dim\": %llu,\n"
		"      \"scale_embedding\": false\n    }\n  }\n",
		U(QV_X(d, 'a')), U(QV_X(d, 'k')), U(QV_X(d, 'b')), U(QV_X(d, 'g')),
		QO_AUDIO_LAYERS, QO_MEL_BINS, U(d->D));
}

const struct ex_family ex_family_qwen3_omni_moe = {
	.name = "qwen3_omni_moe",
	.arch = "Qwen3OmniMoeForConditionalGeneration",
	.weights = qo_weights,
	.nweights = sizeof(qo_weights) / sizeof(qo_weights[0]),
	.dims = qo_dims,
	.check = qo_check,
	.in_layer = qv_in_layer,
	.place = qv_place,
	.mt_layers = qv_mt_layers,
	.config = qo_config,
};
