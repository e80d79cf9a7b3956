# SPDX-License-Identifier: MIT
"""Expected HF tensors of `ckptfs example --family qwen3_vl` (and the helpers
expect_qwen3_vl_moe.py and expect_qwen3_omni_moe.py share), written with
numpy from maxtext-mapping.md §4.5-4.7 and the tensors transformers loads,
independently of ckptfs's C code and mapping files.

Text (Qwen3): kernels [in..., out...] reshaped to [in, out] and transposed;
norms as they are; Qwen3-VL-MoE experts fused as the HF checkpoints store
them: gate_up_proj = concat(wi_0, wi_1) on the last axis, [E, D, 2F], and
down_proj = wo, [E, F, D].

Vision (never scanned; values use layer 0): the conv3d patch kernel
[T, P, P, C, Dv] becomes [Dv, C, T, P, P]; q, k, v kernels [Dv, H, hd] are
each reshaped to [Dv, Dv] and transposed, then stacked on axis 0 into
attn.qkv.weight [3 Dv, Dv] (biases flattened and concatenated); the
merger widths are Dv * spatial_merge_size^2.  The example writes the patch
kernel as a layer weight over pseudo-layers L .. L + P - 1 stacked on axis 1
(example_qwen3_vl.h): element [t, y, x, c, o] is
g(w, L + y, ((t * P + x) * C + c) * Dv + o).
"""
import numpy as np

VE = "vision_encoder.Qwen3VLVisionEncoder_0."
VP = "vision_encoder.Qwen3VLVisionProjector_0."
VISION_DEPTH = 3    # blocks_0 .. blocks_2 in the example
DEEPSTACK = 2       # merger_0, merger_1

HEAD = ["token_embedder.embedding", "decoder.decoder_norm.scale"]
LOGITS = ["decoder.logits_dense.kernel"]
ATTN = ["decoder.{L}." + n for n in (
    "pre_self_attention_layer_norm.scale", "post_self_attention_layer_norm.scale",
    "self_attention.query.kernel", "self_attention.key.kernel",
    "self_attention.value.kernel", "self_attention.out.kernel",
    "self_attention.query_norm.scale", "self_attention.key_norm.scale")]
DENSE = ["decoder.{L}.mlp.wi_0.kernel", "decoder.{L}.mlp.wi_1.kernel",
         "decoder.{L}.mlp.wo.kernel"]
MOE = ["decoder.{L}.moe_block." + n for n in ("gate.kernel", "wi_0", "wi_1", "wo")]
BLOCK = ["ln1.scale", "ln1.bias", "ln2.scale", "ln2.bias",
         "attn.attn.query.kernel", "attn.attn.key.kernel", "attn.attn.value.kernel",
         "attn.attn.query.bias", "attn.attn.key.bias", "attn.attn.value.bias",
         "attn.attn.out.kernel", "attn.attn.out.bias",
         "mlp.kernel", "mlp.bias", "mlp_out.kernel", "mlp_out.bias"]
MERGER = ["ln_q.scale", "ln_q.bias", "mlp_0.kernel", "mlp_0.bias",
          "mlp_2.kernel", "mlp_2.bias"]


def vision_weights(ve, vp):
    w = [ve + "patch_embed.proj.{L}", ve + "patch_embed.proj.bias",
         ve + "pos_embed_interpolate.pos_embed"]
    for j in range(VISION_DEPTH):
        w += ["%sblocks_%d.%s" % (ve, j, n) for n in BLOCK]
    for m in range(DEEPSTACK):
        w += ["%smerger_%d.%s" % (ve, m, n) for n in MERGER]
    return w + [vp + "merger." + n for n in MERGER]


# The order of `ckptfs example --family qwen3_vl` (tied: no logits_dense).
WEIGHTS = HEAD + ATTN + DENSE + vision_weights(VE, VP)


def kernel(x, nin):  # MaxText [in..., out...] -> torch Linear [out, in]
    n = int(np.prod(x.shape[:nin]))
    return x.reshape(n, -1).T


def text(out, G, c, p, head, moe):
    """The Qwen3 decoder under prefix p; head: the lm_head name or None
    (tied); moe: None (dense), "fused" (Qwen3-VL-MoE) or "per_expert"."""
    L, D, V = c["num_hidden_layers"], c["hidden_size"], c["vocab_size"]
    Q, K, H = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    out[p + "embed_tokens.weight"] = G("token_embedder.embedding", 0, (V, D))
    out[p + "norm.weight"] = G("decoder.decoder_norm.scale", 0, (D,))
    if head:
        out[head] = G("decoder.logits_dense.kernel", 0, (D, V)).T
    n = "decoder.{L}."
    for l in range(L):
        x = p + "layers.%d." % l
        a = x + "self_attn."
        out[x + "input_layernorm.weight"] = G(n + "pre_self_attention_layer_norm.scale", l, (D,))
        out[x + "post_attention_layernorm.weight"] = G(n + "post_self_attention_layer_norm.scale", l, (D,))
        out[a + "q_proj.weight"] = kernel(G(n + "self_attention.query.kernel", l, (D, Q, H)), 1)
        out[a + "k_proj.weight"] = kernel(G(n + "self_attention.key.kernel", l, (D, K, H)), 1)
        out[a + "v_proj.weight"] = kernel(G(n + "self_attention.value.kernel", l, (D, K, H)), 1)
        out[a + "o_proj.weight"] = kernel(G(n + "self_attention.out.kernel", l, (Q, H, D)), 2)
        out[a + "q_norm.weight"] = G(n + "self_attention.query_norm.scale", l, (H,))
        out[a + "k_norm.weight"] = G(n + "self_attention.key_norm.scale", l, (H,))
        m = x + "mlp."
        if moe is None:
            F = c["intermediate_size"]
            out[m + "gate_proj.weight"] = G(n + "mlp.wi_0.kernel", l, (D, F)).T
            out[m + "up_proj.weight"] = G(n + "mlp.wi_1.kernel", l, (D, F)).T
            out[m + "down_proj.weight"] = G(n + "mlp.wo.kernel", l, (F, D)).T
            continue
        E, M = c["num_experts"], c["moe_intermediate_size"]
        out[m + "gate.weight"] = G(n + "moe_block.gate.kernel", l, (D, E)).T
        wi0 = G(n + "moe_block.wi_0", l, (E, D, M))
        wi1 = G(n + "moe_block.wi_1", l, (E, D, M))
        wo = G(n + "moe_block.wo", l, (E, M, D))
        if moe == "fused":
            out[m + "experts.gate_up_proj"] = np.concatenate([wi0, wi1], axis=-1)
            out[m + "experts.down_proj"] = wo
            continue
        for e in range(E):
            y = m + "experts.%d." % e
            out[y + "gate_proj.weight"] = wi0[e].T
            out[y + "up_proj.weight"] = wi1[e].T
            out[y + "down_proj.weight"] = wo[e].T


def vision(out, G, vc, L, p, ve, vp, omni):
    """The vision tower under prefix p; L: the decoder's layer count (the
    patch kernel's pseudo-layers follow it).  omni: Qwen3-Omni's merger
    names (merger_list.{m}.{ln_q,mlp.0,mlp.2}) instead of Qwen3-VL's
    (deepstack_merger_list.{m}.{norm,linear_fc1,linear_fc2})."""
    Dv, Hv, Fv = vc["hidden_size"], vc["num_heads"], vc["intermediate_size"]
    hd = Dv // Hv
    T, P, C = vc["temporal_patch_size"], vc["patch_size"], vc["in_channels"]
    Mv = Dv * vc["spatial_merge_size"] ** 2
    Dout = vc["out_hidden_size"]
    assert vc["depth"] == VISION_DEPTH
    assert len(vc["deepstack_visual_indexes"]) == DEEPSTACK
    patch = np.stack([G(ve + "patch_embed.proj.{L}", L + y, (T, P, C, Dv))
                      for y in range(P)], axis=1)          # [T, P, P, C, Dv]
    out[p + "patch_embed.proj.weight"] = patch.transpose(4, 3, 0, 1, 2)
    out[p + "patch_embed.proj.bias"] = G(ve + "patch_embed.proj.bias", 0, (Dv,))
    out[p + "pos_embed.weight"] = G(ve + "pos_embed_interpolate.pos_embed", 0,
                                    (vc["num_position_embeddings"], Dv))
    for j in range(VISION_DEPTH):
        s = "%sblocks_%d." % (ve, j)
        b = "%sblocks.%d." % (p, j)

        def W(n, shape):
            return G(s + n, 0, shape)
        for k in ("1", "2"):
            out[b + "norm%s.weight" % k] = W("ln%s.scale" % k, (Dv,))
            out[b + "norm%s.bias" % k] = W("ln%s.bias" % k, (Dv,))
        qkv = ("query", "key", "value")
        out[b + "attn.qkv.weight"] = np.concatenate(
            [kernel(W("attn.attn.%s.kernel" % n, (Dv, Hv, hd)), 1) for n in qkv], axis=0)
        out[b + "attn.qkv.bias"] = np.concatenate(
            [W("attn.attn.%s.bias" % n, (Hv, hd)).reshape(-1) for n in qkv])
        out[b + "attn.proj.weight"] = kernel(W("attn.attn.out.kernel", (Hv, hd, Dv)), 2)
        out[b + "attn.proj.bias"] = W("attn.attn.out.bias", (Dv,))
        out[b + "mlp.linear_fc1.weight"] = W("mlp.kernel", (Dv, Fv)).T
        out[b + "mlp.linear_fc1.bias"] = W("mlp.bias", (Fv,))
        out[b + "mlp.linear_fc2.weight"] = W("mlp_out.kernel", (Fv, Dv)).T
        out[b + "mlp.linear_fc2.bias"] = W("mlp_out.bias", (Dv,))
    names = ("ln_q", "mlp.0", "mlp.2") if omni else ("norm", "linear_fc1", "linear_fc2")
    mergers = [("%smerger_%d." % (ve, m),
                "%s%s.%d." % (p, "merger_list" if omni else "deepstack_merger_list", m), Mv)
               for m in range(DEEPSTACK)]
    mergers.append((vp + "merger.", p + "merger.", Dv))
    for s, h, nw in mergers:
        out[h + names[0] + ".weight"] = G(s + "ln_q.scale", 0, (nw,))
        out[h + names[0] + ".bias"] = G(s + "ln_q.bias", 0, (nw,))
        out[h + names[1] + ".weight"] = G(s + "mlp_0.kernel", 0, (Mv, Mv)).T
        out[h + names[1] + ".bias"] = G(s + "mlp_0.bias", 0, (Mv,))
        out[h + names[2] + ".weight"] = G(s + "mlp_2.kernel", 0, (Mv, Dout)).T
        out[h + names[2] + ".bias"] = G(s + "mlp_2.bias", 0, (Dout,))


def expected(c, G, rne_bf16):
    tc = c["text_config"]
    out = {}
    text(out, G, tc, "model.language_model.", None, None)
    vision(out, G, c["vision_config"], tc["num_hidden_layers"], "model.visual.", VE, VP, False)
    return out
