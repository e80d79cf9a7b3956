/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "conv3d" hook (H14): a 3-D convolution kernel
 * [T, H, W, Cin, Cout] becomes torch's [Cout, Cin, T, H, W], i.e.
 * transpose(4, 3, 0, 1, 2) (the Qwen3-VL vision patch embedding).  The
 * inverse is transpose(2, 3, 4, 1, 0).  A pure permutation, so exact.
 */
#include "hook_impl.h"

HOOK_PERMUTATION(conv3d, 5, { 4, 3, 0, 1, 2 });
