# SPDX-License-Identifier: MIT
"""Expected HF tensors of `ckptfs example --family gemma4 | gemma4_dense |
gemma4_small` (Gemma4ForConditionalGeneration, model_type gemma4), for
verify_example.py.  Which of the three is read from text_config.

Computed from maxtext-mapping.md §4.3/§4.4 and HF transformers' Gemma4 text
model by index arithmetic, independently of ckptfs's C code and mapping file:
  model.language_model.*; tied, so no lm_head;
  embedding: MaxText's rows past the HF vocab dropped, divided by the f32
    sqrt(hidden_size) in f32; norms and layer_scalar as stored (no offset);
  a layer is global when text_config.layer_types says full_attention: its
    q/k norms and q/k/v/o kernels use global_head_dim, and with
    attention_k_eq_v its keys num_global_key_value_heads and it has no v_proj;
  the last num_kv_shared_layers layers have no k_proj, v_proj or k_norm, and
    with use_double_wide_mlp an MLP of width 2 * intermediate_size;
  kernels [in..., out...] reshaped to [in, out] and transposed;
  MoE: the shared expert is mlp.*; router.proj = gate kernel transposed;
    router.scale = pre_forward_scale_2; experts.gate_up_proj[e] = the rows of
    wi_0[e]^T then those of wi_1[e]^T ([E, 2M, D]); experts.down_proj[e] =
    wo[e]^T ([E, D, M]);
  per-layer embeddings: the table as stored, projections transposed;
  vision (model.vision_tower.*, gemma4 and gemma4_dense): input_projection
    [3*p*p, Dv] transposed; pos_emb_param [N, 2, Dv] -> [2, N, Dv]; std
    scale/bias as stored; q/k/v/o kernels -> *_proj.linear.weight as above;
    MLP kernels transposed; norms as stored; the projector [Dv, D] ->
    model.embed_vision.embedding_projection.weight [D, Dv].
Each text weight's values depend on the MaxText layer, which is the HF layer
in both layouts; vision weights are per-layer arrays (layer 0 in g()).
"""
import numpy as np

# The order of src/cli/example_gemma4.c's tables: BASE, then VISION
# (gemma4, gemma4_dense) or PLE_TABLES (gemma4_small).
BASE = [
    "embedding", "decoder_norm", "pre_attn", "post_attn", "pre_ffw", "post_ffw",
    "layer_scalar", "query_norm_local", "query_norm_global", "key_norm_local",
    "key_norm_global", "query_local", "query_global", "key_local", "key_global",
    "value_local", "value_global", "out_local", "out_global",
    "wi_0", "wi_1", "wo", "wide_wi_0", "wide_wi_1", "wide_wo",
    "sh_wi_0", "sh_wi_1", "sh_wo", "gate", "pre_forward_scale_2",
    "per_expert_scale", "e_wi_0", "e_wi_1", "e_wo", "pre_ffw_2", "post_ffw_1",
    "post_ffw_2", "ple_gate", "ple_projection", "ple_post_norm",
]
VISION_LAYERS = 2  # the example's tower (G4_VISION_LAYERS)
VLAYER = ["query", "key", "value", "out", "query_norm", "key_norm", "pre_attn",
          "post_attn", "pre_ffw", "post_ffw", "wi_0", "wi_1", "wo"]
VISION = ["v_input_projection", "v_pos_emb", "v_std_scale", "v_std_bias"] + [
    "v%d_%s" % (j, n) for j in range(VISION_LAYERS) for n in VLAYER] + [
    "v_projection"]
PLE_TABLES = ["ple_embed", "ple_model_projection", "ple_projection_norm"]
# verify_example.py looks names up here when G() is called: expected() sets
# it to the table of the example being checked.
WEIGHTS = BASE + VISION


def kernel(x, nin):  # MaxText [in..., out...] -> torch Linear [out, in]
    n = int(np.prod(x.shape[:nin]))
    return x.reshape(n, -1).T


def expected(c, G, rne_bf16):
    del rne_bf16  # the f32 normalizer needs no bf16 rounding
    t = c["text_config"]
    WEIGHTS[:] = BASE + (PLE_TABLES if t["hidden_size_per_layer_input"] else VISION)
    L, D, V = t["num_hidden_layers"], t["hidden_size"], t["vocab_size"]
    Q, K, H = t["num_attention_heads"], t["num_key_value_heads"], t["head_dim"]
    F, GH = t["intermediate_size"], t["global_head_dim"]
    keqv = bool(t["attention_k_eq_v"])
    GK = t["num_global_key_value_heads"] if keqv else K
    nshared = t["num_kv_shared_layers"]
    moe = bool(t["enable_moe_block"])
    P = t["hidden_size_per_layer_input"]
    m = "model.language_model."
    out = {
        m + "embed_tokens.weight": G("embedding", 0, (V, D)) / np.float32(np.sqrt(D)),
        m + "norm.weight": G("decoder_norm", 0, (D,)),
    }
    if P:
        VP = t["vocab_size_per_layer_input"]
        out[m + "embed_tokens_per_layer.weight"] = G("ple_embed", 0, (VP, L * P))
        out[m + "per_layer_model_projection.weight"] = G(
            "ple_model_projection", 0, (D, L * P)).T
        out[m + "per_layer_projection_norm.weight"] = G("ple_projection_norm", 0, (P,))
    for l in range(L):
        glob = t["layer_types"][l] == "full_attention"
        shared = nshared > 0 and l >= L - nshared
        x = "global" if glob else "local"
        hd = GH if glob else H
        kv = GK if glob else K
        p = m + "layers.%d." % l
        for n, h in (("pre_attn", "input_layernorm"),
                     ("post_attn", "post_attention_layernorm"),
                     ("pre_ffw", "pre_feedforward_layernorm"),
                     ("post_ffw", "post_feedforward_layernorm")):
            out[p + h + ".weight"] = G(n, l, (D,))
        out[p + "layer_scalar"] = G("layer_scalar", l, (1,))
        a = p + "self_attn."
        out[a + "q_norm.weight"] = G("query_norm_" + x, l, (hd,))
        out[a + "q_proj.weight"] = kernel(G("query_" + x, l, (D, Q, hd)), 1)
        out[a + "o_proj.weight"] = kernel(G("out_" + x, l, (Q, hd, D)), 2)
        if not shared:
            out[a + "k_norm.weight"] = G("key_norm_" + x, l, (hd,))
            out[a + "k_proj.weight"] = kernel(G("key_" + x, l, (D, kv, hd)), 1)
            if not (glob and keqv):
                out[a + "v_proj.weight"] = kernel(G("value_" + x, l, (D, kv, hd)), 1)
        f = p + "mlp."
        if moe:
            E, M = t["num_experts"], t["moe_intermediate_size"]
            out[f + "gate_proj.weight"] = G("sh_wi_0", l, (D, F)).T
            out[f + "up_proj.weight"] = G("sh_wi_1", l, (D, F)).T
            out[f + "down_proj.weight"] = G("sh_wo", l, (F, D)).T
            out[p + "router.proj.weight"] = G("gate", l, (D, E)).T
            out[p + "router.scale"] = G("pre_forward_scale_2", l, (D,))
            out[p + "router.per_expert_scale"] = G("per_expert_scale", l, (E,))
            w0, w1 = G("e_wi_0", l, (E, D, M)), G("e_wi_1", l, (E, D, M))
            gu = np.empty((E, 2 * M, D), np.float32)
            for e in range(E):
                gu[e, :M] = w0[e].T
                gu[e, M:] = w1[e].T
            out[p + "experts.gate_up_proj"] = gu
            wo = G("e_wo", l, (E, M, D))
            out[p + "experts.down_proj"] = np.stack([wo[e].T for e in range(E)])
            for n, h in (("pre_ffw_2", "pre_feedforward_layernorm_2"),
                         ("post_ffw_1", "post_feedforward_layernorm_1"),
                         ("post_ffw_2", "post_feedforward_layernorm_2")):
                out[p + h + ".weight"] = G(n, l, (D,))
        else:
            wide = shared and t["use_double_wide_mlp"]
            w, n = (2 * F, "wide_") if wide else (F, "")
            out[f + "gate_proj.weight"] = G(n + "wi_0", l, (D, w)).T
            out[f + "up_proj.weight"] = G(n + "wi_1", l, (D, w)).T
            out[f + "down_proj.weight"] = G(n + "wo", l, (w, D)).T
        if P:
            out[p + "per_layer_input_gate.weight"] = G("ple_gate", l, (D, P)).T
            out[p + "per_layer_projection.weight"] = G("ple_projection", l, (P, D)).T
            out[p + "post_per_layer_input_norm.weight"] = G("ple_post_norm", l, (D,))
    if c.get("vision_config"):
        vision(out, G, c["vision_config"], D)
    return out


def vision(out, G, v, D):
    """The tower: never scanned (layer 0 in g()); norms as stored."""
    Dv, Fv, H = v["hidden_size"], v["intermediate_size"], v["num_attention_heads"]
    K, hd, P = v["num_key_value_heads"], v["head_dim"], v["patch_size"]
    N = v["position_embedding_size"]
    assert v["num_hidden_layers"] == VISION_LAYERS
    t = "model.vision_tower."
    out[t + "patch_embedder.input_proj.weight"] = G(
        "v_input_projection", 0, (3 * P * P, Dv)).T
    pos = G("v_pos_emb", 0, (N, 2, Dv))
    out[t + "patch_embedder.position_embedding_table"] = np.stack([pos[:, 0], pos[:, 1]])
    out[t + "std_scale"] = G("v_std_scale", 0, (Dv,))
    out[t + "std_bias"] = G("v_std_bias", 0, (Dv,))
    out["model.embed_vision.embedding_projection.weight"] = G("v_projection", 0, (Dv, D)).T
    for j in range(VISION_LAYERS):
        w = "v%d_" % j
        p = t + "encoder.layers.%d." % j
        a = p + "self_attn."
        out[a + "q_proj.linear.weight"] = kernel(G(w + "query", 0, (Dv, H, hd)), 1)
        out[a + "k_proj.linear.weight"] = kernel(G(w + "key", 0, (Dv, K, hd)), 1)
        out[a + "v_proj.linear.weight"] = kernel(G(w + "value", 0, (Dv, K, hd)), 1)
        out[a + "o_proj.linear.weight"] = kernel(G(w + "out", 0, (H, hd, Dv)), 2)
        out[a + "q_norm.weight"] = G(w + "query_norm", 0, (hd,))
        out[a + "k_norm.weight"] = G(w + "key_norm", 0, (hd,))
        for n, h in (("pre_attn", "input_layernorm"),
                     ("post_attn", "post_attention_layernorm"),
                     ("pre_ffw", "pre_feedforward_layernorm"),
                     ("post_ffw", "post_feedforward_layernorm")):
            out[p + h + ".weight"] = G(w + n, 0, (Dv,))
        out[p + "mlp.gate_proj.linear.weight"] = G(w + "wi_0", 0, (Dv, Fv)).T
        out[p + "mlp.up_proj.linear.weight"] = G(w + "wi_1", 0, (Dv, Fv)).T
        out[p + "mlp.down_proj.linear.weight"] = G(w + "wo", 0, (Fv, Dv)).T
