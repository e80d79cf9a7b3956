# SPDX-License-Identifier: MIT
"""Expected HF tensors of `ckptfs example --family qwen3_omni_moe`, written
with numpy from maxtext-mapping.md §4.7 and the tensors transformers'
Qwen3OmniMoeForConditionalGeneration loads (MaxText cannot export Omni):
everything under thinker.; the text is Qwen3-MoE with per-expert 2-D
experts; the vision tower is Qwen3-VL's (expect_qwen3_vl.py) with Omni's
merger names; the audio tower's 3x3 HWIO convolutions [3, 3, in, out]
become OIHW [out, in, 3, 3], its q/k/v/out kernels [d, H, hd] / [H, hd, d]
Linear weights [d, d], its biases flattened.  Values of the never-scanned
towers use layer 0."""
from expect_qwen3_vl import (ATTN, HEAD, LOGITS, MOE, kernel, text, vision,
                             vision_weights)

VE = "vision_encoder.Qwen3OmniMoeVisionEncoder_0."
VP = "vision_encoder.Qwen3OmniMoeVisionProjector_0."
AE = "audio_encoder.Qwen3OmniAudioEncoder_0."
AP = "audio_encoder.Qwen3OmniAudioProjector_0."
AUDIO_LAYERS = 2
AUDIO_LAYER = ["input_layer_norm.scale", "input_layer_norm.bias"] + [
    "self_attention_audio.%s.%s" % (n, k) for k in ("kernel",) for n in ("query", "key", "value")
] + ["self_attention_audio.%s.bias" % n for n in ("query", "key", "value")] + [
    "self_attention_audio.out.kernel", "self_attention_audio.out.bias",
    "post_attention_layer_norm.scale", "post_attention_layer_norm.bias",
    "AudioMLP.wi.kernel", "AudioMLP.wi.bias", "AudioMLP.wo.kernel", "AudioMLP.wo.bias"]


def audio_weights():
    w = []
    for i in (1, 2, 3):
        w += [AE + "conv2d%d.kernel" % i, AE + "conv2d%d.bias" % i]
    w.append(AE + "conv_out.kernel")
    for j in range(AUDIO_LAYERS):
        w += ["%slayers_%d.%s" % (AE, j, n) for n in AUDIO_LAYER]
    return w + [AE + "layernorm_post.scale", AE + "layernorm_post.bias",
                AP + "proj1.kernel", AP + "proj1.bias", AP + "proj2.kernel", AP + "proj2.bias"]


# The order of `ckptfs example --family qwen3_omni_moe`.
WEIGHTS = HEAD + LOGITS + ATTN + MOE + vision_weights(VE, VP) + audio_weights()


def audio(out, G, ac, p):
    d, H, F = ac["d_model"], ac["encoder_attention_heads"], ac["encoder_ffn_dim"]
    hd, K, O = d // H, ac["downsample_hidden_size"], ac["output_dim"]
    f = ac["num_mel_bins"]
    for _ in range(3):          # three stride-2, padding-1 convolutions
        f = (f + 1) // 2
    assert ac["encoder_layers"] == AUDIO_LAYERS
    for i, cin in ((1, 1), (2, K), (3, K)):
        k = G(AE + "conv2d%d.kernel" % i, 0, (3, 3, cin, K))
        out[p + "conv2d%d.weight" % i] = k.transpose(3, 2, 0, 1)
        out[p + "conv2d%d.bias" % i] = G(AE + "conv2d%d.bias" % i, 0, (K,))
    out[p + "conv_out.weight"] = G(AE + "conv_out.kernel", 0, (K * f, d)).T
    for j in range(AUDIO_LAYERS):
        s = "%slayers_%d." % (AE, j)
        x = "%slayers.%d." % (p, j)

        def W(n, shape):
            return G(s + n, 0, shape)
        out[x + "self_attn_layer_norm.weight"] = W("input_layer_norm.scale", (d,))
        out[x + "self_attn_layer_norm.bias"] = W("input_layer_norm.bias", (d,))
        for n, h in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj")):
            out[x + "self_attn.%s.weight" % h] = kernel(
                W("self_attention_audio.%s.kernel" % n, (d, H, hd)), 1)
            out[x + "self_attn.%s.bias" % h] = W(
                "self_attention_audio.%s.bias" % n, (H, hd)).reshape(-1)
        out[x + "self_attn.out_proj.weight"] = kernel(W("self_attention_audio.out.kernel", (H, hd, d)), 2)
        out[x + "self_attn.out_proj.bias"] = W("self_attention_audio.out.bias", (d,))
        out[x + "final_layer_norm.weight"] = W("post_attention_layer_norm.scale", (d,))
        out[x + "final_layer_norm.bias"] = W("post_attention_layer_norm.bias", (d,))
        out[x + "fc1.weight"] = W("AudioMLP.wi.kernel", (d, F)).T
        out[x + "fc1.bias"] = W("AudioMLP.wi.bias", (F,))
        out[x + "fc2.weight"] = W("AudioMLP.wo.kernel", (F, d)).T
        out[x + "fc2.bias"] = W("AudioMLP.wo.bias", (d,))
    out[p + "ln_post.weight"] = G(AE + "layernorm_post.scale", 0, (d,))
    out[p + "ln_post.bias"] = G(AE + "layernorm_post.bias", 0, (d,))
    out[p + "proj1.weight"] = G(AP + "proj1.kernel", 0, (d, d)).T
    out[p + "proj1.bias"] = G(AP + "proj1.bias", 0, (d,))
    out[p + "proj2.weight"] = G(AP + "proj2.kernel", 0, (d, O)).T
    out[p + "proj2.bias"] = G(AP + "proj2.bias", 0, (O,))


def expected(c, G, rne_bf16):
    th = c["thinker_config"]
    tc = th["text_config"]
    out = {}
    text(out, G, tc, "thinker.model.", "thinker.lm_head.weight", "per_expert")
    vision(out, G, th["vision_config"], tc["num_hidden_layers"], "thinker.visual.", VE, VP, True)
    audio(out, G, th["audio_config"], "thinker.audio_tower.")
    return out
