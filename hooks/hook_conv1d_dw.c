/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "conv1d_dw" hook (H15): a depthwise 1-D
 * convolution kernel [K, 1, C] becomes torch's [C, 1, K], i.e.
 * transpose(2, 1, 0) (the Qwen3-Next and Qwen3.5 linear-attention conv1d).
 * It is its own inverse.  A pure permutation, so exact.
 */
#include "hook_impl.h"

HOOK_PERMUTATION(conv1d_dw, 3, { 2, 1, 0 });
