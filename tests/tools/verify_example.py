#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Check the Hugging Face view of `ckptfs example` against numpy.

Every expected tensor is computed here from the example's value formula
  g(w, l, k) = (((131*w + 1009*l + 7*k) mod 61) - 30) / 8
(w: the weight's index in the example's list, l: layer, k: row-major index
within one layer's MaxText array) and MaxText's conversion rules for Llama 3.1,
written with numpy independently of ckptfs's C code:
  q_proj = (query * sqrt(head_dim)) with head_dim regrouped evens-then-odds,
           reshaped [D, H*hd] and transposed; k_proj the same without scaling;
  other kernels reshaped to [in, out] and transposed; norms and the embedding
  as they are.

usage: verify_example.py DIR   (DIR holds the HF view; dims from its config.json)
"""
import json
import os
import struct
import sys

import numpy as np

L = D = HQ = HKV = HD = F = V = 0


def g(w, l, shape):
    k = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return ((((131 * w + 1009 * l + 7 * k) % 61) - 30) / 8.0).astype(np.float32)


def rne_bf16(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return (u.astype(np.uint32) << 16).view(np.float32)


def halves(x):  # last axis: evens then odds
    return np.concatenate([x[..., 0::2], x[..., 1::2]], axis=-1)


def expected():
    out = {
        "model.embed_tokens.weight": g(0, 0, (V, D)),
        "model.norm.weight": g(1, 0, (D,)),
        "lm_head.weight": g(2, 0, (D, V)).T,
    }
    for l in range(L):
        p = "model.layers.%d." % l
        out[p + "input_layernorm.weight"] = g(3, l, (D,))
        out[p + "post_attention_layernorm.weight"] = g(4, l, (D,))
        q = halves(g(5, l, (D, HQ, HD)) * np.float32(np.sqrt(HD)))
        out[p + "self_attn.q_proj.weight"] = q.reshape(D, HQ * HD).T
        k = halves(g(6, l, (D, HKV, HD)))
        out[p + "self_attn.k_proj.weight"] = k.reshape(D, HKV * HD).T
        out[p + "self_attn.v_proj.weight"] = g(7, l, (D, HKV, HD)).reshape(D, -1).T
        out[p + "self_attn.o_proj.weight"] = g(8, l, (HQ, HD, D)).reshape(-1, D).T
        out[p + "mlp.gate_proj.weight"] = g(9, l, (D, F)).T
        out[p + "mlp.up_proj.weight"] = g(10, l, (D, F)).T
        out[p + "mlp.down_proj.weight"] = g(11, l, (F, D)).T
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
    global L, D, HQ, HKV, HD, F, V
    d = argv[1]
    c = json.load(open(os.path.join(d, "config.json")))
    L, D, HQ, HKV = (c["num_hidden_layers"], c["hidden_size"],
                     c["num_attention_heads"], c["num_key_value_heads"])
    HD, F, V = c["head_dim"], c["intermediate_size"], c["vocab_size"]
    idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    got = {}
    for fname in sorted(set(idx["weight_map"].values())):
        for name, v in load(os.path.join(d, fname)).items():
            if idx["weight_map"].get(name) != fname:
                raise SystemExit("%s: index says %s, found in %s" %
                                 (name, idx["weight_map"].get(name), fname))
            got[name] = v
    want = expected()
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
    print("%d tensors match" % len(want))


if __name__ == "__main__":
    main(sys.argv)
