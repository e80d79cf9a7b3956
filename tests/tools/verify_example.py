#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Check the Hugging Face view of `ckptfs example` against numpy.

Every expected tensor is computed here from the example's value formula
  g(w, l, k) = (((131*w + 1009*l + 7*k) mod 61) - 30) / 8
(w: the weight's position in the family's list below, l: layer, k: row-major
index within one layer's MaxText array) and MaxText's conversion rules,
written with numpy independently of ckptfs's C code:
  kernels: reshaped to [in, out] and transposed (torch Linear layout);
  queries: Llama 3.1, Mistral and Mixtral store them scaled by 1/sqrt(head_dim),
    so they are multiplied back; Llama 3.1 also regroups the head dim of queries
    and keys from interleaved pairs to rotate-half order (evens, then odds);
  biases flattened; norms and the embedding as they are, except Gemma's
    (norms stored +1, embedding padded and scaled by sqrt(hidden));
  experts: slice e of [E, in, out], transposed (GPT-OSS: fused, untransposed);
  DeepSeek: dense layers first, then MoE layers; Gemma2: MaxText layer m holds
    HF layers 2m (local) and 2m+1 (global).
bfloat16 results are rounded to nearest even, as a float32 computation then
a cast does.

usage: verify_example.py [--pad-vocab N] DIR   (DIR holds the HF view; family
and dims come from its config.json; N: the example's --pad-vocab)
"""
import importlib
import json
import os
import struct
import sys

import numpy as np

STD = {"llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe"}
DENSE = {"llama", "mistral", "qwen2", "qwen3"}
DS = {"deepseek_v2", "deepseek_v3", "deepseek_v32"}
QLORA = {"deepseek_v3", "deepseek_v32"}
G3 = {"gemma3_text"}  # gemma3 (with vision): expect_gemma3.py
TIED = {"gemma2"} | G3
ALL = STD | DS | TIED | {"olmo3", "gpt_oss"}
# (MaxText weight, families that have it): the order of `ckptfs example`.
WEIGHTS = [
    ("embedding", ALL), ("decoder_norm", ALL), ("logits_dense", ALL - TIED),
    ("pre_norm", STD | DS | {"gpt_oss"}), ("post_norm", STD | DS | {"gpt_oss"}),
    ("query", STD), ("key", STD), ("value", STD), ("out", STD),
    ("wi_0", DENSE), ("wi_1", DENSE), ("wo", DENSE),
    ("query_bias", {"qwen2"}), ("key_bias", {"qwen2"}), ("value_bias", {"qwen2"}),
    ("query_norm", {"qwen3", "qwen3_moe"}), ("key_norm", {"qwen3", "qwen3_moe"}),
    ("moe_gate", {"qwen3_moe"}), ("moe_wi_0", {"qwen3_moe"}),
    ("moe_wi_1", {"qwen3_moe"}), ("moe_wo", {"qwen3_moe"}),
    ("moeblock_gate", {"mixtral"}), ("moeblock_wi_0", {"mixtral"}),
    ("moeblock_wi_1", {"mixtral"}), ("moeblock_wo", {"mixtral"}),
    ("ds_query", {"deepseek_v2"}), ("wq_a", QLORA),
    ("q_norm", QLORA), ("wq_b", QLORA),
    ("wkv_a", DS), ("kv_norm", DS), ("wkv_b", DS), ("ds_out", DS),
    ("idx_wq_b", {"deepseek_v32"}), ("idx_wk", {"deepseek_v32"}),
    ("idx_k_norm", {"deepseek_v32"}), ("idx_k_norm_bias", {"deepseek_v32"}),
    ("idx_weights_proj", {"deepseek_v32"}),
    ("ds_wi_0", DS), ("ds_wi_1", DS), ("ds_wo", DS),
    ("sh_wi_0", DS), ("sh_wi_1", DS), ("sh_wo", DS),
    ("ds_gate", DS), ("ds_gate_bias", QLORA),
    ("ds_e_wi_0", DS), ("ds_e_wi_1", DS), ("ds_e_wo", DS),
] + [("olmo_" + n, {"olmo3"}) for n in (
    "query", "key", "value", "out", "query_norm", "key_norm", "post_attn",
    "post_mlp", "wi_0", "wi_1", "wo")] + [
    ("g2_%s_%s" % (n, x), {"gemma2"}) for x in ("local", "global") for n in (
        "pre_attn", "post_attn", "pre_ffw", "post_ffw", "query", "key", "value",
        "out", "wi_0", "wi_1", "wo")] + [("g3_" + n, G3) for n in (
    "pre_attn", "post_attn", "pre_ffw", "post_ffw", "query_norm", "key_norm",
    "query", "key", "value", "out", "wi_0", "wi_1", "wo")] + [
    ("oss_" + n, {"gpt_oss"}) for n in (
        "query", "key", "value", "query_bias", "key_bias", "value_bias", "out",
        "out_bias", "sinks", "gate", "gate_bias", "wi_0", "wi_1", "wi_0_bias",
        "wi_1_bias", "wo", "wo_bias")]


def g(w, l, shape):
    k = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return ((((131 * w + 1009 * l + 7 * k) % 61) - 30) / 8.0).astype(np.float32)


def rne_bf16(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return (u.astype(np.uint32) << 16).view(np.float32)


def halves(x):  # last axis: evens then odds
    return np.concatenate([x[..., 0::2], x[..., 1::2]], axis=-1)


def kernel(x, nin):  # MaxText [in..., out...] -> torch Linear [out, in]
    n = int(np.prod(x.shape[:nin]))
    return x.reshape(n, -1).T


def std_layer(out, G, fam, c, l):
    D, Q, K, H = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    F, E = c["intermediate_size"], c.get("num_local_experts", c.get("num_experts", 0))
    M = F if fam == "mixtral" else c.get("moe_intermediate_size", 0)
    p = "model.layers.%d." % l
    out[p + "input_layernorm.weight"] = G("pre_norm", l, (D,))
    out[p + "post_attention_layernorm.weight"] = G("post_norm", l, (D,))
    q = G("query", l, (D, Q, H))
    k = G("key", l, (D, K, H))
    if fam in ("llama", "mistral", "mixtral"):
        q = q * np.float32(np.sqrt(H))
    if fam == "llama":
        q, k = halves(q), halves(k)
    a = p + "self_attn."
    out[a + "q_proj.weight"] = kernel(q, 1)
    out[a + "k_proj.weight"] = kernel(k, 1)
    out[a + "v_proj.weight"] = kernel(G("value", l, (D, K, H)), 1)
    out[a + "o_proj.weight"] = kernel(G("out", l, (Q, H, D)), 2)
    if fam in DENSE:
        out[p + "mlp.gate_proj.weight"] = G("wi_0", l, (D, F)).T
        out[p + "mlp.up_proj.weight"] = G("wi_1", l, (D, F)).T
        out[p + "mlp.down_proj.weight"] = G("wo", l, (F, D)).T
    if fam == "qwen2":
        for n, h in (("query", Q), ("key", K), ("value", K)):
            out[a + n[0] + "_proj.bias"] = G(n + "_bias", l, (h, H)).reshape(-1)
    if fam in ("qwen3", "qwen3_moe"):
        out[a + "q_norm.weight"] = G("query_norm", l, (H,))
        out[a + "k_norm.weight"] = G("key_norm", l, (H,))
    if fam == "qwen3_moe":
        out[p + "mlp.gate.weight"] = G("moe_gate", l, (D, E)).T
        for e in range(E):
            x = p + "mlp.experts.%d." % e
            out[x + "gate_proj.weight"] = G("moe_wi_0", l, (E, D, M))[e].T
            out[x + "up_proj.weight"] = G("moe_wi_1", l, (E, D, M))[e].T
            out[x + "down_proj.weight"] = G("moe_wo", l, (E, M, D))[e].T
    if fam == "mixtral":
        out[p + "block_sparse_moe.gate.weight"] = G("moeblock_gate", l, (D, E)).T
        for e in range(E):
            x = p + "block_sparse_moe.experts.%d." % e
            out[x + "w1.weight"] = G("moeblock_wi_0", l, (E, D, M))[e].T
            out[x + "w3.weight"] = G("moeblock_wi_1", l, (E, D, M))[e].T
            out[x + "w2.weight"] = G("moeblock_wo", l, (E, M, D))[e].T


def deepseek_layer(out, G, fam, c, l):
    """MLA: no query scaling, no rope permutation, wkv_a kept fused."""
    D, Q = c["hidden_size"], c["num_attention_heads"]
    A, C = c["q_lora_rank"], c["kv_lora_rank"]
    N = c["qk_nope_head_dim"] + c["qk_rope_head_dim"]
    W, U = c["qk_nope_head_dim"] + c["v_head_dim"], c["v_head_dim"]
    B = C + c["qk_rope_head_dim"]
    F, M, E = c["intermediate_size"], c["moe_intermediate_size"], c["n_routed_experts"]
    S = M * c["n_shared_experts"]
    p = "model.layers.%d." % l
    a = p + "self_attn."
    out[p + "input_layernorm.weight"] = G("pre_norm", l, (D,))
    out[p + "post_attention_layernorm.weight"] = G("post_norm", l, (D,))
    if A is None:
        out[a + "q_proj.weight"] = kernel(G("ds_query", l, (D, Q, N)), 1)
    else:
        out[a + "q_a_proj.weight"] = G("wq_a", l, (D, A)).T
        out[a + "q_a_layernorm.weight"] = G("q_norm", l, (A,))
        out[a + "q_b_proj.weight"] = kernel(G("wq_b", l, (A, Q, N)), 1)
    out[a + "kv_a_proj_with_mqa.weight"] = G("wkv_a", l, (D, B)).T
    out[a + "kv_a_layernorm.weight"] = G("kv_norm", l, (C,))
    out[a + "kv_b_proj.weight"] = kernel(G("wkv_b", l, (C, Q, W)), 1)
    out[a + "o_proj.weight"] = kernel(G("ds_out", l, (Q, U, D)), 2)
    if fam == "deepseek_v32":
        n, h, x = c["index_n_heads"], c["index_head_dim"], a + "indexer."
        out[x + "wq_b.weight"] = kernel(G("idx_wq_b", l, (A, n, h)), 1)
        out[x + "wk.weight"] = G("idx_wk", l, (D, h)).T
        out[x + "k_norm.weight"] = G("idx_k_norm", l, (h,))
        out[x + "k_norm.bias"] = G("idx_k_norm_bias", l, (h,))
        out[x + "weights_proj.weight"] = G("idx_weights_proj", l, (D, n)).T
    m = p + "mlp."
    if l < c["first_k_dense_replace"]:
        out[m + "gate_proj.weight"] = G("ds_wi_0", l, (D, F)).T
        out[m + "up_proj.weight"] = G("ds_wi_1", l, (D, F)).T
        out[m + "down_proj.weight"] = G("ds_wo", l, (F, D)).T
        return
    out[m + "shared_experts.gate_proj.weight"] = G("sh_wi_0", l, (D, S)).T
    out[m + "shared_experts.up_proj.weight"] = G("sh_wi_1", l, (D, S)).T
    out[m + "shared_experts.down_proj.weight"] = G("sh_wo", l, (S, D)).T
    out[m + "gate.weight"] = G("ds_gate", l, (D, E)).T
    if fam in QLORA:
        out[m + "gate.e_score_correction_bias"] = G("ds_gate_bias", l, (E,))
    for e in range(E):
        x = m + "experts.%d." % e
        out[x + "gate_proj.weight"] = G("ds_e_wi_0", l, (E, D, M))[e].T
        out[x + "up_proj.weight"] = G("ds_e_wi_1", l, (E, D, M))[e].T
        out[x + "down_proj.weight"] = G("ds_e_wo", l, (E, M, D))[e].T


def olmo3_layer(out, G, c, l):
    """Post-norm (no input_layernorm); q/k norms span all heads."""
    D, Q, K = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    H, F = D // Q, c["intermediate_size"]
    p = "model.layers.%d." % l
    a = p + "self_attn."
    out[a + "q_proj.weight"] = kernel(G("olmo_query", l, (D, Q, H)), 1)
    out[a + "k_proj.weight"] = kernel(G("olmo_key", l, (D, K, H)), 1)
    out[a + "v_proj.weight"] = kernel(G("olmo_value", l, (D, K, H)), 1)
    out[a + "o_proj.weight"] = kernel(G("olmo_out", l, (Q, H, D)), 2)
    out[a + "q_norm.weight"] = G("olmo_query_norm", l, (Q * H,))
    out[a + "k_norm.weight"] = G("olmo_key_norm", l, (K * H,))
    out[p + "post_attention_layernorm.weight"] = G("olmo_post_attn", l, (D,))
    out[p + "post_feedforward_layernorm.weight"] = G("olmo_post_mlp", l, (D,))
    out[p + "mlp.gate_proj.weight"] = G("olmo_wi_0", l, (D, F)).T
    out[p + "mlp.up_proj.weight"] = G("olmo_wi_1", l, (D, F)).T
    out[p + "mlp.down_proj.weight"] = G("olmo_wo", l, (F, D)).T


def gemma_layer(out, G, c, p, w, l, qscale):
    """One Gemma2/3 layer: norms stored +1 in MaxText (x - 1 in f32); Gemma2
    folds a query scale in (qscale), Gemma3 has q/k norms instead."""
    D, Q, K, H = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    F = c["intermediate_size"]
    one = np.float32(1.0)
    for n, h in (("pre_attn", "input_layernorm"), ("post_attn", "post_attention_layernorm"),
                 ("pre_ffw", "pre_feedforward_layernorm"),
                 ("post_ffw", "post_feedforward_layernorm")):
        out[p + h + ".weight"] = G(w % n, l, (D,)) - one
    a = p + "self_attn."
    if qscale is None:
        out[a + "q_norm.weight"] = G(w % "query_norm", l, (H,)) - one
        out[a + "k_norm.weight"] = G(w % "key_norm", l, (H,)) - one
    q = kernel(G(w % "query", l, (D, Q, H)), 1)
    out[a + "q_proj.weight"] = q * np.float32(qscale) if qscale else q
    out[a + "k_proj.weight"] = kernel(G(w % "key", l, (D, K, H)), 1)
    out[a + "v_proj.weight"] = kernel(G(w % "value", l, (D, K, H)), 1)
    out[a + "o_proj.weight"] = kernel(G(w % "out", l, (Q, H, D)), 2)
    out[p + "mlp.gate_proj.weight"] = G(w % "wi_0", l, (D, F)).T
    out[p + "mlp.up_proj.weight"] = G(w % "wi_1", l, (D, F)).T
    out[p + "mlp.down_proj.weight"] = G(w % "wo", l, (F, D)).T


def gpt_oss_layer(out, G, c, l):
    """Biases; sinks; gate_up_proj interleaves gate (even) and up (odd)
    columns; experts stay [in, out] (no transpose)."""
    D, Q, K, H = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    E, M = c["num_local_experts"], c["intermediate_size"]
    p = "model.layers.%d." % l
    a = p + "self_attn."
    out[p + "input_layernorm.weight"] = G("pre_norm", l, (D,))
    out[p + "post_attention_layernorm.weight"] = G("post_norm", l, (D,))
    out[a + "q_proj.weight"] = kernel(G("oss_query", l, (D, Q, H)), 1)
    out[a + "k_proj.weight"] = kernel(G("oss_key", l, (D, K, H)), 1)
    out[a + "v_proj.weight"] = kernel(G("oss_value", l, (D, K, H)), 1)
    out[a + "q_proj.bias"] = G("oss_query_bias", l, (Q, H)).reshape(-1)
    out[a + "k_proj.bias"] = G("oss_key_bias", l, (K, H)).reshape(-1)
    out[a + "v_proj.bias"] = G("oss_value_bias", l, (K, H)).reshape(-1)
    out[a + "o_proj.weight"] = kernel(G("oss_out", l, (Q, H, D)), 2)
    out[a + "o_proj.bias"] = G("oss_out_bias", l, (D,))
    out[a + "sinks"] = G("oss_sinks", l, (Q,))
    m = p + "mlp."
    out[m + "router.weight"] = G("oss_gate", l, (D, E)).T
    out[m + "router.bias"] = G("oss_gate_bias", l, (E,))
    gu = np.empty((E, D, 2 * M), np.float32)
    gu[..., 0::2] = G("oss_wi_0", l, (E, D, M))
    gu[..., 1::2] = G("oss_wi_1", l, (E, D, M))
    out[m + "experts.gate_up_proj"] = gu
    gb = np.empty((E, 2 * M), np.float32)
    gb[..., 0::2] = G("oss_wi_0_bias", l, (E, M))
    gb[..., 1::2] = G("oss_wi_1_bias", l, (E, M))
    out[m + "experts.gate_up_proj_bias"] = gb
    out[m + "experts.down_proj"] = G("oss_wo", l, (E, M, D))
    out[m + "experts.down_proj_bias"] = G("oss_wo_bias", l, (E, D))


def expected(c):
    fam = c["model_type"]
    try:
        # A family described in its own module, expect_<model_type>.py,
        # defining WEIGHTS (names in `ckptfs example` order) and
        # expected(c, G, rne_bf16) with G(name, layer, shape) as below.
        mod = importlib.import_module("expect_" + fam)
    except ImportError:
        mod = None
    if mod:
        def G(w, l, shape):
            return g(mod.WEIGHTS.index(w), l, shape)
        return mod.expected(c, G, rne_bf16)
    L, D, V = c["num_hidden_layers"], c["hidden_size"], c["vocab_size"]
    ids = [w for w, f in WEIGHTS if fam in f]

    def G(w, l, shape):
        return g(ids.index(w), l, shape)

    m = "model."
    out = {m + "norm.weight": G("decoder_norm", 0, (D,))}
    if fam in TIED:
        # The example pads MaxText's vocab with 16 rows past V; the
        # embedding is truncated and divided by sqrt(D): an f32 normalizer
        # for Gemma2, bf16(sqrt(D)) for Gemma3.
        vmt = V + (16 if PAD is None else PAD)
        norm = np.float32(np.sqrt(D))
        if fam in G3:
            norm = rne_bf16(np.array([np.sqrt(D)], np.float32))[0]
        out[m + "embed_tokens.weight"] = G("embedding", 0, (vmt, D))[:V] / norm
        out[m + "norm.weight"] = out[m + "norm.weight"] - np.float32(1.0)
    else:
        # Padded vocab rows (example --pad-vocab) are dropped.
        vmt = V + (PAD or 0)
        out[m + "embed_tokens.weight"] = G("embedding", 0, (vmt, D))[:V]
        out["lm_head.weight"] = G("logits_dense", 0, (D, vmt))[:, :V].T
    if fam == "gemma2":
        for mt in range(L // 2):
            for x, i in (("local", 2 * mt), ("global", 2 * mt + 1)):
                gemma_layer(out, G, c, "model.layers.%d." % i, "g2_%s_" + x, mt,
                            np.sqrt(c["query_pre_attn_scalar"]))
        return out
    for l in range(L):
        if fam in STD:
            std_layer(out, G, fam, c, l)
        elif fam in DS:
            deepseek_layer(out, G, fam, c, l)
        elif fam == "olmo3":
            olmo3_layer(out, G, c, l)
        elif fam in G3:
            gemma_layer(out, G, c, m + "layers.%d." % l, "g3_%s", l, None)
        elif fam == "gpt_oss":
            gpt_oss_layer(out, G, c, l)
    return out


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in hdr.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        buf = raw[base + b:base + e]
        if t["dtype"] == "BF16":
            a = (np.frombuffer(buf, "<u2").astype(np.uint32) << 16).view(np.float32)
        elif t["dtype"] == "F32":
            a = np.frombuffer(buf, "<f4")
        else:
            raise SystemExit("%s: unexpected dtype %s" % (name, t["dtype"]))
        out[name] = (t["dtype"], a.reshape(t["shape"]))
    return out


PAD = None


def main(argv):
    global PAD
    if len(argv) > 3 and argv[1] == "--pad-vocab":
        PAD = int(argv[2])
        argv = argv[:1] + argv[3:]
    d = argv[1]
    c = json.load(open(os.path.join(d, "config.json")))
    idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    got = {}
    for fname in sorted(set(idx["weight_map"].values())):
        for name, v in load(os.path.join(d, fname)).items():
            if idx["weight_map"].get(name) != fname:
                raise SystemExit("%s: index says %s, found in %s" %
                                 (name, idx["weight_map"].get(name), fname))
            got[name] = v
    want = expected(c)
    if set(got) != set(want):
        raise SystemExit("tensor names differ: extra %s, missing %s" %
                         (sorted(set(got) - set(want)), sorted(set(want) - set(got))))
    for name, w in want.items():
        dt, a = got[name]
        if dt == "BF16":
            w = rne_bf16(w)
        if a.shape != w.shape or not np.array_equal(a, w):
            bad = np.argwhere(a != w)[:3] if a.shape == w.shape else "shape"
            raise SystemExit("%s differs (%s, got %s want %s) at %s" %
                             (name, dt, a.shape, w.shape, bad))
    print("%s: %d tensors match" % (c["model_type"], len(want)))


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if __name__ == "__main__":
    main(sys.argv)
