# SPDX-License-Identifier: MIT
"""Expected HF tensors of `ckptfs example --family qwen3_vl_moe`: the
Qwen3-VL tower of expect_qwen3_vl.py with a Qwen3-MoE decoder whose experts
are fused as the Qwen3-VL-MoE checkpoints store them (gate_up_proj [E, D, 2F],
down_proj [E, F, D]) and an untied lm_head."""
from expect_qwen3_vl import (ATTN, HEAD, LOGITS, MOE, VE, VP, text, vision,
                             vision_weights)

# The order of `ckptfs example --family qwen3_vl_moe`.
WEIGHTS = HEAD + LOGITS + ATTN + MOE + vision_weights(VE, VP)


def expected(c, G, rne_bf16):
    tc = c["text_config"]
    out = {}
    text(out, G, tc, "model.language_model.", "lm_head.weight", "fused")
    vision(out, G, c["vision_config"], tc["num_hidden_layers"], "model.visual.", VE, VP, False)
    return out
