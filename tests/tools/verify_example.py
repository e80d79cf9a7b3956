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
  biases flattened; norms and the embedding as they are;
  experts: slice e of [E, in, out], transposed.
bfloat16 results are rounded to nearest even, as a float32 computation then
a cast does.

usage: verify_example.py DIR   (DIR holds the HF view; family and dims come
from its config.json)
"""
import json
import os
import struct
import sys

import numpy as np

ALL = {"llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe"}
DENSE = {"llama", "mistral", "qwen2", "qwen3"}
# (MaxText weight, families that have it): the order of `ckptfs example`.
WEIGHTS = [
    ("embedding", ALL), ("decoder_norm", ALL), ("logits_dense", ALL),
    ("pre_norm", ALL), ("post_norm", ALL),
    ("query", ALL), ("key", ALL), ("value", ALL), ("out", ALL),
    ("wi_0", DENSE), ("wi_1", DENSE), ("wo", DENSE),
    ("query_bias", {"qwen2"}), ("key_bias", {"qwen2"}), ("value_bias", {"qwen2"}),
    ("query_norm", {"qwen3", "qwen3_moe"}), ("key_norm", {"qwen3", "qwen3_moe"}),
    ("moe_gate", {"qwen3_moe"}), ("moe_wi_0", {"qwen3_moe"}),
    ("moe_wi_1", {"qwen3_moe"}), ("moe_wo", {"qwen3_moe"}),
    ("moeblock_gate", {"mixtral"}), ("moeblock_wi_0", {"mixtral"}),
    ("moeblock_wi_1", {"mixtral"}), ("moeblock_wo", {"mixtral"}),
]


def g(w, l, shape):
    k = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return ((((131 * w + 1009 * l + 7 * k) % 61) - 30) / 8.0).astype(np.float32)


def rne_bf16(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return (u.astype(np.uint32) << 16).view(np.float32)


def halves(x):  # last axis: evens then odds
    return np.concatenate([x[..., 0::2], x[..., 1::2]], axis=-1)


def expected(c):
    fam = c["model_type"]
    L, D, Q, K = (c["num_hidden_layers"], c["hidden_size"],
                  c["num_attention_heads"], c["num_key_value_heads"])
    H, V = c["head_dim"], c["vocab_size"]
    E = c.get("num_local_experts", c.get("num_experts", 0))
    F = c["intermediate_size"]
    M = c["intermediate_size"] if fam == "mixtral" else c.get("moe_intermediate_size", 0)
    ids = [w for w, f in WEIGHTS if fam in f]

    def G(w, l, shape):
        return g(ids.index(w), l, shape)

    out = {
        "model.embed_tokens.weight": G("embedding", 0, (V, D)),
        "model.norm.weight": G("decoder_norm", 0, (D,)),
        "lm_head.weight": G("logits_dense", 0, (D, V)).T,
    }
    for l in range(L):
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
        out[a + "q_proj.weight"] = q.reshape(D, Q * H).T
        out[a + "k_proj.weight"] = k.reshape(D, K * H).T
        out[a + "v_proj.weight"] = G("value", l, (D, K, H)).reshape(D, -1).T
        out[a + "o_proj.weight"] = G("out", l, (Q, H, D)).reshape(-1, D).T
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


def main(argv):
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


if __name__ == "__main__":
    main(sys.argv)
