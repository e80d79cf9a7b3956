/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the OCDBT version-tree node decoder. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_ocdbt.h"
#include "kvstore/ocdbt_envelope.h"
#include "kvstore/ocdbt_version.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ocdbt_version_node node;
	const uint8_t *obj;
	uint8_t *owned;
	size_t n, idx;

	if (fuzz_ocdbt_frame(data, size, OCDBT_MAGIC_VERSION, &obj, &n, &owned))
		return 0;
	if (ocdbt_version_node_decode(obj, n, (size_t)16 << 20, &node) == 0) {
		/* exercise the lookups on whatever decoded */
		(void)ocdbt_version_find(node.versions, node.nversions, 37,
					 &idx);
		(void)ocdbt_version_ref_find(node.refs, node.nrefs, 37, &idx);
		ocdbt_version_node_release(&node);
	}
	free(owned);
	return 0;
}
