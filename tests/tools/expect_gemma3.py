# SPDX-License-Identifier: MIT
"""Expected HF tensors of `ckptfs example --family gemma3`
(Gemma3ForConditionalGeneration), for verify_example.py.

Computed from maxtext-mapping.md §4.2 by index arithmetic, independently of
ckptfs's C code and mapping files:
  text (model.language_model.*): norms stored +1 (x - 1 in f32); the
    embedding truncated to the HF vocab and divided by bf16(sqrt(D)) in f32;
    kernels reshaped to [in, out] and transposed; tied, so no lm_head;
  vision (model.vision_tower.vision_model.*): the HWIO patch conv becomes
    OIHW (transpose(3, 2, 0, 1)); pos_embedding [1, N, Dv] -> [N, Dv];
    q/k/v kernels [Dv, H, hd] -> [H*hd, Dv]; their biases [H, hd] flattened;
    out kernel [H, hd, Dv] -> [Dv, H*hd]; Dense kernels transposed; LayerNorm
    scales and biases as they are; every vision block is its own
    encoderblock_{j} array (MaxText never scans the vision encoder: layer 0
    in g());
  projector (model.multi_modal_projector.*): mm_input_projection_weight
    [Dv, D] as it is (no transpose); mm_soft_emb_norm stored +1.
"""
import numpy as np

VISION_LAYERS = 2  # the example's tower (EX_G3_VISION_LAYERS)

TEXT = ["embedding", "decoder_norm", "pre_attn", "post_attn", "pre_ffw",
        "post_ffw", "query_norm", "key_norm", "query", "key", "value", "out",
        "wi_0", "wi_1", "wo"]
BLOCK = ["ln0_scale", "ln0_bias", "ln1_scale", "ln1_bias", "q_kernel",
         "k_kernel", "v_kernel", "q_bias", "k_bias", "v_bias", "out_kernel",
         "out_bias", "fc1_kernel", "fc1_bias", "fc2_kernel", "fc2_bias"]
# The order of src/cli/example_gemma3.c's table.
WEIGHTS = TEXT + ["patch_kernel", "patch_bias", "pos_embedding", "post_ln_scale",
                  "post_ln_bias"] + [
    "b%d_%s" % (j, n) for j in range(VISION_LAYERS) for n in BLOCK] + [
    "mm_input_projection", "mm_soft_emb_norm"]


def kernel(x, nin):  # MaxText [in..., out...] -> torch Linear [out, in]
    n = int(np.prod(x.shape[:nin]))
    return x.reshape(n, -1).T


def text(out, G, rne_bf16, c):
    L, D, V = c["num_hidden_layers"], c["hidden_size"], c["vocab_size"]
    Q, K, H = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    F = c["intermediate_size"]
    one = np.float32(1.0)
    m = "model.language_model."
    norm = rne_bf16(np.array([np.sqrt(D)], np.float32))[0]
    # MaxText's rows past V (padding) are dropped; g() is row-major, so the
    # first V rows do not depend on how many padded rows follow.
    out[m + "embed_tokens.weight"] = G("embedding", 0, (V, D)) / norm
    out[m + "norm.weight"] = G("decoder_norm", 0, (D,)) - one
    for l in range(L):
        p = m + "layers.%d." % l
        for n, h in (("pre_attn", "input_layernorm"),
                     ("post_attn", "post_attention_layernorm"),
                     ("pre_ffw", "pre_feedforward_layernorm"),
                     ("post_ffw", "post_feedforward_layernorm")):
            out[p + h + ".weight"] = G(n, l, (D,)) - one
        a = p + "self_attn."
        out[a + "q_norm.weight"] = G("query_norm", l, (H,)) - one
        out[a + "k_norm.weight"] = G("key_norm", l, (H,)) - one
        out[a + "q_proj.weight"] = kernel(G("query", l, (D, Q, H)), 1)
        out[a + "k_proj.weight"] = kernel(G("key", l, (D, K, H)), 1)
        out[a + "v_proj.weight"] = kernel(G("value", l, (D, K, H)), 1)
        out[a + "o_proj.weight"] = kernel(G("out", l, (Q, H, D)), 2)
        out[p + "mlp.gate_proj.weight"] = G("wi_0", l, (D, F)).T
        out[p + "mlp.up_proj.weight"] = G("wi_1", l, (D, F)).T
        out[p + "mlp.down_proj.weight"] = G("wo", l, (F, D)).T


def vision(out, G, c, D):
    v = c["vision_config"]
    Dv, Fv, Hv = v["hidden_size"], v["intermediate_size"], v["num_attention_heads"]
    P, C = v["patch_size"], v.get("num_channels", 3)
    N = (v["image_size"] // P) ** 2
    hd = Dv // Hv
    assert v["num_hidden_layers"] == VISION_LAYERS
    t = "model.vision_tower.vision_model."
    out[t + "embeddings.patch_embedding.weight"] = \
        G("patch_kernel", 0, (P, P, C, Dv)).transpose(3, 2, 0, 1)
    out[t + "embeddings.patch_embedding.bias"] = G("patch_bias", 0, (Dv,))
    out[t + "embeddings.position_embedding.weight"] = G("pos_embedding", 0, (1, N, Dv))[0]
    out[t + "post_layernorm.weight"] = G("post_ln_scale", 0, (Dv,))
    out[t + "post_layernorm.bias"] = G("post_ln_bias", 0, (Dv,))
    for j in range(VISION_LAYERS):
        def B(n, shape):
            return G("b%d_%s" % (j, n), 0, shape)
        p = t + "encoder.layers.%d." % j
        out[p + "layer_norm1.weight"] = B("ln0_scale", (Dv,))
        out[p + "layer_norm1.bias"] = B("ln0_bias", (Dv,))
        out[p + "layer_norm2.weight"] = B("ln1_scale", (Dv,))
        out[p + "layer_norm2.bias"] = B("ln1_bias", (Dv,))
        a = p + "self_attn."
        for x in "qkv":
            out[a + x + "_proj.weight"] = \
                B(x + "_kernel", (Dv, Hv, hd)).reshape(Dv, Hv * hd).T
            out[a + x + "_proj.bias"] = B(x + "_bias", (Hv, hd)).reshape(Hv * hd)
        out[a + "out_proj.weight"] = B("out_kernel", (Hv, hd, Dv)).reshape(Hv * hd, Dv).T
        out[a + "out_proj.bias"] = B("out_bias", (Dv,))
        out[p + "mlp.fc1.weight"] = B("fc1_kernel", (Dv, Fv)).T
        out[p + "mlp.fc1.bias"] = B("fc1_bias", (Fv,))
        out[p + "mlp.fc2.weight"] = B("fc2_kernel", (Fv, Dv)).T
        out[p + "mlp.fc2.bias"] = B("fc2_bias", (Dv,))
    m = "model.multi_modal_projector."
    out[m + "mm_input_projection_weight"] = G("mm_input_projection", 0, (Dv, D))
    out[m + "mm_soft_emb_norm.weight"] = G("mm_soft_emb_norm", 0, (Dv,)) - np.float32(1.0)


def expected(c, G, rne_bf16):
    out = {}
    tc = c["text_config"]
    text(out, G, rne_bf16, tc)
    vision(out, G, c, tc["hidden_size"])
    return out
