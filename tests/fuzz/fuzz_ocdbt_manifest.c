/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the OCDBT manifest decoder (ocdbt_manifest_decode). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_ocdbt.h"
#include "kvstore/ocdbt_envelope.h"
#include "kvstore/ocdbt_manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ocdbt_manifest m;
	const uint8_t *obj;
	uint8_t *owned;
	size_t n;

	if (fuzz_ocdbt_frame(data, size, OCDBT_MAGIC_MANIFEST, &obj, &n,
			     &owned))
		return 0;
	if (ocdbt_manifest_decode(obj, n, &m) == 0)
		ocdbt_manifest_release(&m);
	free(owned);
	return 0;
}
