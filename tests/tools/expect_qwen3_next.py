# SPDX-License-Identifier: MIT
"""Expected HF tensors of `ckptfs example --family qwen3_next`
(Qwen3NextForCausalLM), for verify_example.py.

Computed from maxtext-mapping.md §4.8 by index arithmetic, independently of
ckptfs's C code and mapping files.  Layer l is full attention when
(l + 1) % full_attention_interval == 0, gated delta net (linear attention)
otherwise; every layer has the two norms and the MoE block:
  norms, A_log, dt_bias, the gated norm: as they are (the 1 + w offset is
    applied at runtime on both sides);
  full attention: query [D, Hq, 2 hd] (q then gate per head) -> [2 Hq hd, D],
    key / value [D, Hkv, hd] -> [Hkv hd, D], out [Hq hd, D] -> [D, Hq hd];
  linear attention: in_proj_qkvz [D, 2 Hk Dk + 2 Hv Dv], in_proj_ba
    [D, 2 Hv] and out_proj [Hv Dv, D] transposed (the per-key-head grouping
    is HF's too); conv1d [K, 1, C] -> [C, 1, K];
  MoE: router [D, E] transposed; expert e of wi_0 / wi_1 [E, D, M] and wo
    [E, M, D] transposed; shared expert kernels and the [D, 1] shared expert
    gate transposed.
"""
import numpy as np

# The order of src/cli/example_qwen3_next.c's table.
WEIGHTS = [
    "embedding", "decoder_norm", "logits_dense", "input_norm", "post_norm",
    "query", "key", "value", "out", "query_norm", "key_norm",
    "in_proj_qkvz", "in_proj_ba", "conv1d", "A_log", "dt_bias", "gdn_norm",
    "out_proj",
    "router", "wi_0", "wi_1", "wo", "shared_wi_0", "shared_wi_1", "shared_wo",
    "shared_gate",
]


def dims(c):
    """The text model's sizes, by their config names."""
    hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    return dict(L=c["num_hidden_layers"], D=c["hidden_size"], V=c["vocab_size"],
                Q=c["num_attention_heads"], K=c["num_key_value_heads"], H=hd,
                C=c["full_attention_interval"], E=c["num_experts"],
                M=c["moe_intermediate_size"], S=c["shared_expert_intermediate_size"],
                Hk=c["linear_num_key_heads"], Hv=c["linear_num_value_heads"],
                Dk=c["linear_key_head_dim"], Dv=c["linear_value_head_dim"],
                KC=c["linear_conv_kernel_dim"])


def kernel(x, nin):  # MaxText [in..., out...] -> torch Linear [out, in]
    n = int(np.prod(x.shape[:nin]))
    return x.reshape(n, -1).T


def full(l, C):
    return (l + 1) % C == 0


def common(out, G, d, m):
    """Embedding, final norm, lm_head; m is the text model's prefix."""
    D, V = d["D"], d["V"]
    # MaxText's rows past V (padding) would be dropped; g() is row-major,
    # so the first V rows do not depend on how many follow.
    out[m + "embed_tokens.weight"] = G("embedding", 0, (V, D))
    out[m + "norm.weight"] = G("decoder_norm", 0, (D,))
    out["lm_head.weight"] = G("logits_dense", 0, (D, V)).T


def layer_common(out, G, d, p, l):
    """Norms and full attention (shared with Qwen3.5); p ends with '.'."""
    D, Q, K, H = d["D"], d["Q"], d["K"], d["H"]
    out[p + "input_layernorm.weight"] = G("input_norm", l, (D,))
    out[p + "post_attention_layernorm.weight"] = G("post_norm", l, (D,))
    if full(l, d["C"]):
        a = p + "self_attn."
        q = G("query", l, (D, Q, 2 * H))
        out[a + "q_proj.weight"] = kernel(q, 1)
        out[a + "k_proj.weight"] = kernel(G("key", l, (D, K, H)), 1)
        out[a + "v_proj.weight"] = kernel(G("value", l, (D, K, H)), 1)
        out[a + "o_proj.weight"] = G("out", l, (Q * H, D)).T
        out[a + "q_norm.weight"] = G("query_norm", l, (H,))
        out[a + "k_norm.weight"] = G("key_norm", l, (H,))
        return False
    a = p + "linear_attn."
    Hk, Hv, Dk, Dv, KC = d["Hk"], d["Hv"], d["Dk"], d["Dv"], d["KC"]
    conv = 2 * Hk * Dk + Hv * Dv
    # [K, 1, C] -> [C, 1, K]: out[c, 0, k] = x[k, 0, c]
    x = G("conv1d", l, (KC, 1, conv))
    w = np.empty((conv, 1, KC), np.float32)
    for k in range(KC):
        w[:, 0, k] = x[k, 0, :]
    out[a + "conv1d.weight"] = w
    out[a + "A_log"] = G("A_log", l, (Hv,))
    out[a + "dt_bias"] = G("dt_bias", l, (Hv,))
    out[a + "norm.weight"] = G("gdn_norm", l, (Dv,))
    out[a + "out_proj.weight"] = G("out_proj", l, (Hv * Dv, D)).T
    return True


def shared_expert(out, G, d, m, l):
    D, S = d["D"], d["S"]
    out[m + "gate.weight"] = G("router", l, (D, d["E"])).T
    out[m + "shared_expert.gate_proj.weight"] = G("shared_wi_0", l, (D, S)).T
    out[m + "shared_expert.up_proj.weight"] = G("shared_wi_1", l, (D, S)).T
    out[m + "shared_expert.down_proj.weight"] = G("shared_wo", l, (S, D)).T
    out[m + "shared_expert_gate.weight"] = G("shared_gate", l, (D, 1)).T


def expected(c, G, rne_bf16):
    d = dims(c)
    D, E, M, Hk, Hv, Dk, Dv = d["D"], d["E"], d["M"], d["Hk"], d["Hv"], d["Dk"], d["Dv"]
    out = {}
    common(out, G, d, "model.")
    for l in range(d["L"]):
        p = "model.layers.%d." % l
        if layer_common(out, G, d, p, l):
            a = p + "linear_attn."
            out[a + "in_proj_qkvz.weight"] = G(
                "in_proj_qkvz", l, (D, 2 * Hk * Dk + 2 * Hv * Dv)).T
            out[a + "in_proj_ba.weight"] = G("in_proj_ba", l, (D, 2 * Hv)).T
        m = p + "mlp."
        shared_expert(out, G, d, m, l)
        for e in range(E):
            x = m + "experts.%d." % e
            out[x + "gate_proj.weight"] = G("wi_0", l, (E, D, M))[e].T
            out[x + "up_proj.weight"] = G("wi_1", l, (E, D, M))[e].T
            out[x + "down_proj.weight"] = G("wo", l, (E, M, D))[e].T
    return out
