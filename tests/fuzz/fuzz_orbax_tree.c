/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the parameter-tree detection and renaming over array
 * names as _METADATA gives them (one name per line of the input).  Checks
 * what orbax_tree_apply() promises: a tree, with arrays sorted and named
 * uniquely, or no tree, with one line saying why and nothing renamed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orbax/orbax.h"
#include "orbax/orbax_tree.h"

#define MAX_NAMES 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct orbax_array *)a)->name,
		      ((const struct orbax_array *)b)->name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct orbax_array arrays[MAX_NAMES];
	struct orbax_ckpt c;
	size_t n = 0, start = 0;

	memset(&c, 0, sizeof(c));
	memset(arrays, 0, sizeof(arrays));
	c.item_dir = "fuzz";
	for (size_t i = 0; i <= size && n < MAX_NAMES; i++) {
		if (i < size && data[i] != '\n')
			continue;
		if (i > start && !memchr(data + start, 0, i - start))
			arrays[n++].name = strndup((const char *)data + start, i - start);
		start = i + 1;
	}
	/* orbax_open() hands over the names sorted and unique. */
	qsort(arrays, n, sizeof(*arrays), cmp_name);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(arrays[i - 1].name, arrays[i].name))
			continue;
		free(arrays[i].name);
		memmove(&arrays[i], &arrays[i + 1], (n - i - 1) * sizeof(*arrays));
		n--;
		i--;
	}
	c.arrays = arrays;
	c.narrays = n;
	if (orbax_tree_apply(&c) == 0) {
		if (c.tree) {
			for (size_t i = 1; i < n; i++)
				if (strcmp(arrays[i - 1].name, arrays[i].name) >= 0)
					abort();
		} else {
			if (!c.tree_why || strchr(c.tree_why, '\n'))
				abort();
			for (size_t i = 0; i < n; i++)
				if (arrays[i].stored)
					abort();
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(arrays[i].name);
		free(arrays[i].stored);
	}
	free(c.tree_why);
	return 0;
}
