/* SPDX-License-Identifier: MIT */
/*
 * This file implements the "perm102" hook (H22): swap the two leading axes
 * of a 3-D tensor, transpose(1, 0, 2), e.g. [N, 2, Dv] -> [2, N, Dv] (the
 * Gemma4 vision position embedding table).  It is its own inverse.  A pure
 * permutation, so exact.
 */
#include "hook_impl.h"

HOOK_PERMUTATION(perm102, 3, { 1, 0, 2 });
