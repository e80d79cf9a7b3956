/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "conv2d_hwio" hook (H13): a 2-D convolution
 * kernel in JAX's HWIO layout [H, W, Cin, Cout] becomes torch's
 * [Cout, Cin, H, W], i.e. transpose(3, 2, 0, 1) (SigLIP patch embedding,
 * Qwen3-Omni audio conv2d).  The inverse is transpose(2, 3, 1, 0).  A pure
 * permutation, so exact.
 */
#include "hook_impl.h"

HOOK_PERMUTATION(conv2d_hwio, 4, { 3, 2, 0, 1 });
