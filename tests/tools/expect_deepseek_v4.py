# SPDX-License-Identifier: MIT
"""Expected HF tensors of `ckptfs example --family deepseek_v4`
(DeepseekV4ForCausalLM), for verify_example.py.

Computed from maxtext-mapping.md §4.11 and MaxText's DeepSeek V4 hooks by
index arithmetic, independently of ckptfs's C code and mapping files.
G(name, l, shape) is the value MaxText layer l holds for that weight, in
its unstacked MaxText shape:
  norms, sinks, position biases, hc_base, hc_scale: as they are;
  2-D kernels [in, out] (wq_a, o_b_proj, the router, compressors, the
    indexer, shared experts, hc_fn): transposed; wq_b [ql, H, hd] and wkv
    [D, Hkv, hd]: flattened to [in, H hd] and transposed;
  o_a_proj [G, H hd / G, o_lora]: out[g o_lora + r, c] = x[g, c, r];
  mHC (attn_hc from mhc_attention, ffn_hc from mhc_mlp): fn rows 0..hc-1
    are pre_alpha^T, then post_alpha^T, then the hc^2 rows of res_alpha^T;
    base = pre_beta, post_beta, res_beta flattened; scale = the pre, post
    and res alpha scales; the mhc_norm scales are not served;
  experts e of wi_0 / wi_1 [E, D, M] -> w1 / w3 [M, D], of wo [E, M, D] ->
    w2 [D, M];
  the router bias on layers >= num_hash_layers, tid2eid [vocab, top-k] on
    the others; a CSA compressor and its indexer where compress_ratios[l]
    is 4, an HCA compressor where it is above 4;
  head.weight: logits_dense [D, V] transposed.
"""
import numpy as np

# The order of src/cli/example_deepseek4.c's table.
MHC = ["mhc_norm", "pre_alpha", "post_alpha", "res_alpha", "pre_beta",
       "post_beta", "res_beta", "pre_alpha_scale", "post_alpha_scale",
       "res_alpha_scale"]
WEIGHTS = (
    ["embedding", "decoder_norm", "logits_dense", "hc_fn", "hc_base", "hc_scale",
     "input_norm", "post_norm", "wq_a", "q_norm", "wq_b", "wkv", "kv_norm",
     "sinks", "o_a_proj", "o_b_proj"]
    + ["attn_" + m for m in MHC] + ["ffn_" + m for m in MHC]
    + ["gate", "gate_bias", "tid2eid", "wi_0", "wi_1", "wo",
       "shared_wi_0", "shared_wi_1", "shared_wo",
       "csa_kv_proj", "csa_gate_proj", "csa_position_bias", "csa_kv_norm",
       "idx_q_proj", "idx_kv_proj", "idx_gate_proj", "idx_position_bias",
       "idx_kv_norm", "idx_weights_proj",
       "hca_kv_proj", "hca_gate_proj", "hca_position_bias", "hca_kv_norm"])


def mhc(out, G, p, b, l, D, hc):
    """One mHC block: p the HF prefix ("model.layers.3.attn_hc."), b the
    value-name prefix ("attn_")."""
    pre = G(b + "pre_alpha", l, (hc * D, hc))
    post = G(b + "post_alpha", l, (hc * D, hc))
    res = G(b + "res_alpha", l, (hc * D, hc * hc))
    fn = np.empty(((2 + hc) * hc, hc * D), np.float32)
    for r in range(hc):
        fn[r, :] = pre[:, r]
        fn[hc + r, :] = post[:, r]
    for r in range(hc * hc):
        fn[2 * hc + r, :] = res[:, r]
    out[p + "fn"] = fn
    base = np.empty(((2 + hc) * hc,), np.float32)
    base[0:hc] = G(b + "pre_beta", l, (hc,))
    base[hc:2 * hc] = G(b + "post_beta", l, (hc,))
    rb = G(b + "res_beta", l, (hc, hc))
    for i in range(hc):
        for j in range(hc):
            base[2 * hc + i * hc + j] = rb[i, j]
    out[p + "base"] = base
    out[p + "scale"] = np.array([G(b + n, l, (1,))[0] for n in
                                 ("pre_alpha_scale", "post_alpha_scale",
                                  "res_alpha_scale")], np.float32)


def expected(c, G, rne_bf16):
    L, D, V = c["num_hidden_layers"], c["hidden_size"], c["vocab_size"]
    H, K, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    ql, ng, ol = c["q_lora_rank"], c["o_groups"], c["o_lora_rank"]
    hc, E, M = c["hc_mult"], c["n_routed_experts"], c["moe_intermediate_size"]
    S = M * c["n_shared_experts"]
    ih, ihd, topk = c["index_n_heads"], c["index_head_dim"], c["num_experts_per_tok"]
    nh, ratios = c["num_hash_layers"], c["compress_ratios"]
    vmt = V     # the example's MaxText vocab is not padded
    out = {}
    out["model.embed_tokens.weight"] = G("embedding", 0, (vmt, D))[:V]
    out["model.norm.weight"] = G("decoder_norm", 0, (D,))
    out["head.weight"] = G("logits_dense", 0, (D, vmt))[:, :V].T
    out["model.hc_head.hc_fn"] = G("hc_fn", 0, (hc * D, hc)).T
    out["model.hc_head.hc_base"] = G("hc_base", 0, (hc,))
    out["model.hc_head.hc_scale"] = G("hc_scale", 0, (1,))
    for l in range(L):
        p = "model.layers.%d." % l
        a = p + "self_attn."
        out[p + "input_layernorm.weight"] = G("input_norm", l, (D,))
        out[p + "post_attention_layernorm.weight"] = G("post_norm", l, (D,))
        out[a + "q_a_proj.weight"] = G("wq_a", l, (D, ql)).T
        out[a + "q_a_norm.weight"] = G("q_norm", l, (ql,))
        wq_b = G("wq_b", l, (ql, H, hd))
        qb = np.empty((H * hd, ql), np.float32)
        for h in range(H):
            for k in range(hd):
                qb[h * hd + k, :] = wq_b[:, h, k]
        out[a + "q_b_proj.weight"] = qb
        wkv = G("wkv", l, (D, K, hd))
        kv = np.empty((K * hd, D), np.float32)
        for h in range(K):
            for k in range(hd):
                kv[h * hd + k, :] = wkv[:, h, k]
        out[a + "kv_proj.weight"] = kv
        out[a + "kv_norm.weight"] = G("kv_norm", l, (hd,))
        out[a + "sinks"] = G("sinks", l, (H,))
        w = H * hd // ng
        oa = G("o_a_proj", l, (ng, w, ol))
        o = np.empty((ng * ol, w), np.float32)
        for g in range(ng):
            for r in range(ol):
                o[g * ol + r, :] = oa[g, :, r]
        out[a + "o_a_proj.weight"] = o
        out[a + "o_b_proj.weight"] = G("o_b_proj", l, (ng * ol, D)).T
        mhc(out, G, p + "attn_hc.", "attn_", l, D, hc)
        mhc(out, G, p + "ffn_hc.", "ffn_", l, D, hc)
        m = p + "mlp."
        out[m + "gate.weight"] = G("gate", l, (D, E)).T
        if l >= nh:
            out[m + "gate.e_score_correction_bias"] = G("gate_bias", l, (E,))
        else:
            out[m + "gate.tid2eid"] = G("tid2eid", l, (vmt, topk))[:V]
        for e in range(E):
            x = m + "experts.%d." % e
            out[x + "w1.weight"] = G("wi_0", l, (E, D, M))[e].T
            out[x + "w3.weight"] = G("wi_1", l, (E, D, M))[e].T
            out[x + "w2.weight"] = G("wo", l, (E, M, D))[e].T
        out[m + "shared_experts.gate_proj.weight"] = G("shared_wi_0", l, (D, S)).T
        out[m + "shared_experts.up_proj.weight"] = G("shared_wi_1", l, (D, S)).T
        out[m + "shared_experts.down_proj.weight"] = G("shared_wo", l, (S, D)).T
        r = ratios[l]
        cp = a + "compressor."
        if r == 4:
            out[cp + "kv_proj.weight"] = G("csa_kv_proj", l, (D, 2 * hd)).T
            out[cp + "gate_proj.weight"] = G("csa_gate_proj", l, (D, 2 * hd)).T
            out[cp + "position_bias"] = G("csa_position_bias", l, (r, 2 * hd))
            out[cp + "kv_norm.weight"] = G("csa_kv_norm", l, (hd,))
            ix = cp + "indexer."
            out[ix + "q_b_proj.weight"] = G("idx_q_proj", l, (ql, ih * ihd)).T
            out[ix + "kv_proj.weight"] = G("idx_kv_proj", l, (D, 2 * ihd)).T
            out[ix + "gate_proj.weight"] = G("idx_gate_proj", l, (D, 2 * ihd)).T
            out[ix + "position_bias"] = G("idx_position_bias", l, (r, 2 * ihd))
            out[ix + "kv_norm.weight"] = G("idx_kv_norm", l, (ihd,))
            out[ix + "scorer.weights_proj.weight"] = G("idx_weights_proj", l, (D, ih)).T
        elif r > 4:
            out[cp + "kv_proj.weight"] = G("hca_kv_proj", l, (D, hd)).T
            out[cp + "gate_proj.weight"] = G("hca_gate_proj", l, (D, hd)).T
            out[cp + "position_bias"] = G("hca_position_bias", l, (r, hd))
            out[cp + "kv_norm.weight"] = G("hca_kv_norm", l, (hd,))
    return out
