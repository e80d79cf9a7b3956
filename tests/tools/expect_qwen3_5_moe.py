# SPDX-License-Identifier: MIT
"""Expected HF tensors of `ckptfs example --family qwen3_5_moe`
(Qwen3_5MoeForConditionalGeneration), for verify_example.py.

Computed from maxtext-mapping.md §4.9 (and §4.6-4.7 for the vision tower
MaxText shares with Qwen3-Omni) by index arithmetic, independently of
ckptfs's C code and mapping files:
  text (model.language_model.*; lm_head.weight at the top): as Qwen3-Next
    (expect_qwen3_next.py), except
    in_proj_qkvz [D, G (2 Dk + 2 Vg)] (G key heads, Vg = Hv / Hk * Dv): with
      t = x.T viewed as [G, 2 Dk + 2 Vg, D], in_proj_qkv is the q rows of
      every group, then the k rows, then the v rows, and in_proj_z the z rows;
    in_proj_ba [D, G 2r]: t = x.T viewed as [G, 2r, D], in_proj_b = t[:, :r]
      and in_proj_a = t[:, r:], each [Hv, D];
    experts fused: gate_up_proj = swapaxes(concat(wi_0, wi_1, -1), -1, -2)
      [E, 2M, D], down_proj = wo with its last two axes swapped [E, D, M];
  vision (model.visual.*; never scanned, layer 0 in g()): the patch conv
    [T, P, P, C, Dv] -> [Dv, C, T, P, P] (transpose(4, 3, 0, 1, 2)); the
    example writes it stacked over P pseudo-layers L .. L + P - 1 on axis 1
    (see src/cli/example_qwen3_5.c); positions as they are; per block, the
    LayerNorms as they are, q / k / v kernels [Dv, H, hd] each flattened to
    [Dv, H hd], transposed and stacked into qkv [3 Dv, Dv] (their biases
    [H, hd] flattened and concatenated), out [H, hd, Dv] -> [Dv, H hd],
    Dense kernels transposed; the final merger's norm as it is and its two
    Dense kernels transposed.
"""
import numpy as np

import expect_qwen3_next as qn

VISION_DEPTH = 2  # the example's tower (Q5_VISION_DEPTH)

BLOCK = ["ln1_scale", "ln1_bias", "ln2_scale", "ln2_bias", "q_kernel",
         "k_kernel", "v_kernel", "q_bias", "k_bias", "v_bias", "out_kernel",
         "out_bias", "fc1_kernel", "fc1_bias", "fc2_kernel", "fc2_bias"]
# The order of src/cli/example_qwen3_5.c's table.
WEIGHTS = qn.WEIGHTS + ["patch_kernel", "patch_bias", "pos_embed"] + [
    "b%d_%s" % (j, n) for j in range(VISION_DEPTH) for n in BLOCK] + [
    "merger_norm_scale", "merger_norm_bias", "merger_fc1_kernel",
    "merger_fc1_bias", "merger_fc2_kernel", "merger_fc2_bias"]


def regroup_qkvz(x, G, Dk, Vg):
    D = x.shape[0]
    t = x.T.reshape(G, 2 * Dk + 2 * Vg, D)
    q = t[:, :Dk].reshape(-1, D)
    k = t[:, Dk:2 * Dk].reshape(-1, D)
    v = t[:, 2 * Dk:2 * Dk + Vg].reshape(-1, D)
    z = t[:, 2 * Dk + Vg:].reshape(-1, D)
    return np.concatenate([q, k, v], 0), z


def regroup_ba(x, G):
    D = x.shape[0]
    t = x.T.reshape(G, -1, D)
    r = t.shape[1] // 2
    return t[:, :r].reshape(-1, D), t[:, r:].reshape(-1, D)


def text(out, G, d):
    D, E, M, Hk, Hv, Dk, Dv = d["D"], d["E"], d["M"], d["Hk"], d["Hv"], d["Dk"], d["Dv"]
    m = "model.language_model."
    qn.common(out, G, d, m)
    for l in range(d["L"]):
        p = m + "layers.%d." % l
        if qn.layer_common(out, G, d, p, l):
            a = p + "linear_attn."
            qkvz = G("in_proj_qkvz", l, (D, 2 * Hk * Dk + 2 * Hv * Dv))
            out[a + "in_proj_qkv.weight"], out[a + "in_proj_z.weight"] = \
                regroup_qkvz(qkvz, Hk, Dk, Hv // Hk * Dv)
            ba = G("in_proj_ba", l, (D, 2 * Hv))
            out[a + "in_proj_b.weight"], out[a + "in_proj_a.weight"] = regroup_ba(ba, Hk)
        mp = p + "mlp."
        qn.shared_expert(out, G, d, mp, l)
        gate_up = np.concatenate([G("wi_0", l, (E, D, M)), G("wi_1", l, (E, D, M))], -1)
        out[mp + "experts.gate_up_proj"] = np.swapaxes(gate_up, -1, -2)
        out[mp + "experts.down_proj"] = np.swapaxes(G("wo", l, (E, M, D)), -1, -2)


def vision(out, G, c, L, D):
    v = c["vision_config"]
    Dv, F, H = v["hidden_size"], v["intermediate_size"], v["num_heads"]
    T, P, C = v["temporal_patch_size"], v["patch_size"], v["in_channels"]
    N, mw = v["num_position_embeddings"], Dv * v["spatial_merge_size"] ** 2
    hd = Dv // H
    assert v["depth"] == VISION_DEPTH
    t = "model.visual."
    # kernel[t, y, x, c, o] = g(w, L + y, ((t * P + x) * C + c) * Dv + o)
    k = np.stack([G("patch_kernel", L + y, (T, P, C, Dv)) for y in range(P)], 1)
    out[t + "patch_embed.proj.weight"] = k.transpose(4, 3, 0, 1, 2)
    out[t + "patch_embed.proj.bias"] = G("patch_bias", 0, (Dv,))
    out[t + "pos_embed.weight"] = G("pos_embed", 0, (N, Dv))
    for j in range(VISION_DEPTH):
        b = t + "blocks.%d." % j

        def W(n, shape):
            return G("b%d_%s" % (j, n), 0, shape)

        out[b + "norm1.weight"] = W("ln1_scale", (Dv,))
        out[b + "norm1.bias"] = W("ln1_bias", (Dv,))
        out[b + "norm2.weight"] = W("ln2_scale", (Dv,))
        out[b + "norm2.bias"] = W("ln2_bias", (Dv,))
        out[b + "attn.qkv.weight"] = np.concatenate(
            [W(n + "_kernel", (Dv, H, hd)).reshape(Dv, H * hd).T for n in "qkv"], 0)
        out[b + "attn.qkv.bias"] = np.concatenate(
            [W(n + "_bias", (H, hd)).reshape(-1) for n in "qkv"])
        out[b + "attn.proj.weight"] = W("out_kernel", (H, hd, Dv)).reshape(H * hd, Dv).T
        out[b + "attn.proj.bias"] = W("out_bias", (Dv,))
        out[b + "mlp.linear_fc1.weight"] = W("fc1_kernel", (Dv, F)).T
        out[b + "mlp.linear_fc1.bias"] = W("fc1_bias", (F,))
        out[b + "mlp.linear_fc2.weight"] = W("fc2_kernel", (F, Dv)).T
        out[b + "mlp.linear_fc2.bias"] = W("fc2_bias", (Dv,))
    mg = t + "merger."
    out[mg + "norm.weight"] = G("merger_norm_scale", 0, (Dv,))
    out[mg + "norm.bias"] = G("merger_norm_bias", 0, (Dv,))
    out[mg + "linear_fc1.weight"] = G("merger_fc1_kernel", 0, (mw, mw)).T
    out[mg + "linear_fc1.bias"] = G("merger_fc1_bias", 0, (mw,))
    out[mg + "linear_fc2.weight"] = G("merger_fc2_kernel", 0, (mw, D)).T
    out[mg + "linear_fc2.bias"] = G("merger_fc2_bias", 0, (D,))


def expected(c, G, rne_bf16):
    d = qn.dims(c["text_config"])
    out = {}
    text(out, G, d)
    vision(out, G, c, d["L"], d["D"])
    return out
