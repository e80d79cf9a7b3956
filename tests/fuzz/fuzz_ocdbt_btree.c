/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the OCDBT B+tree node decoder (ocdbt_btree_node_decode). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_ocdbt.h"
#include "kvstore/ocdbt_btree.h"
#include "kvstore/ocdbt_envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ocdbt_btree_node node;
	const uint8_t *obj;
	uint8_t *owned;
	uint64_t sum = 0;
	size_t n;

	if (fuzz_ocdbt_frame(data, size, OCDBT_MAGIC_BTREE, &obj, &n, &owned))
		return 0;
	if (ocdbt_btree_node_decode(obj, n, (size_t)16 << 20, -1, &node) == 0) {
		/* touch every decoded byte so ASan sees bad pointers */
		for (size_t i = 0; i < node.n; i++) {
			if (node.height == 0) {
				const struct ocdbt_leaf_entry *e =
					&node.leaves[i];

				for (size_t k = 0; k < e->key_len; k++)
					sum += node.keys[e->key_off + k];
				if (e->inline_data)
					for (uint64_t k = 0;
					     k < e->value_length; k++)
						sum += e->inline_data[k];
			} else {
				const struct ocdbt_child *c = &node.children[i];

				for (size_t k = 0; k < c->key_len; k++)
					sum += node.keys[c->key_off + k];
			}
		}
		for (size_t i = 0; i < node.files.n; i++)
			for (size_t k = 0; k < node.files.files[i].len; k++)
				sum += (uint8_t)node.files.files[i].path[k];
		ocdbt_btree_node_release(&node);
	}
	free(owned);
	return (int)(sum & 0);
}
