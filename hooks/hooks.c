/* SPDX-License-Identifier: MIT */
/*
 * This file implements the hook table: the hook functions ckptfs knows,
 * looked up by the name a mapping file gives them.
 *
 * Adding a hook is one hook_<name>.c file defining a const struct hook plus
 * one line here and in hook_impl.h.
 */
#include "tensor/hook.h"
#include "hook_impl.h"

#include <stddef.h>
#include <string.h>

static const struct hook *const hook_table[] = {
	&hook_identity,
	&hook_reshape_kernel,
	&hook_transpose,
	&hook_reshape_bias,
	&hook_scale_query,
	&hook_norm_offset,
	&hook_rope_to_halves,
	&hook_embed_scale,
	&hook_embed_pad,
	&hook_expert_transpose,
	&hook_interleave2,
	&hook_concat2_swap,
	&hook_concat2,
	&hook_conv2d_hwio,
	&hook_conv3d,
	&hook_conv1d_dw,
	&hook_squeeze0,
	&hook_flatten,
	&hook_perm102,
	&hook_scale_div,
	&hook_fused_qkv,
	&hook_qkvz_to_qkv,
	&hook_qkvz_to_z,
	&hook_ba_to_b,
	&hook_ba_to_a,
};

#define HOOK_TABLE_LEN (sizeof(hook_table) / sizeof(hook_table[0]))

const struct hook *hook_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < HOOK_TABLE_LEN; i++)
		if (strcmp(hook_table[i]->name, name) == 0)
			return hook_table[i];
	return NULL;
}

const struct hook *hooks_at(size_t i)
{
	return i < HOOK_TABLE_LEN ? hook_table[i] : NULL;
}

/* Saturates at UINT64_MAX; shape() callbacks reject such shapes. */
uint64_t hook_shape_numel(const struct hook_shape *s)
{
	uint64_t n = 1;
	unsigned i, rank;

	rank = s->rank > ZARR_MAX_RANK ? ZARR_MAX_RANK : s->rank;
	for (i = 0; i < rank; i++)
		if (s->d[i] == 0)
			return 0;
	for (i = 0; i < rank; i++)
		if (__builtin_mul_overflow(n, s->d[i], &n))
			return UINT64_MAX;
	return n;
}
