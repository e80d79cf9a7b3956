/* SPDX-License-Identifier: MIT */
/* libFuzzer target: _METADATA and _CHECKPOINT_METADATA parsing. */
#include <stddef.h>
#include <stdint.h>

#include "orbax/orbax_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct orbax_meta m;

	if (orbax_meta_parse((const char *)data, size, &m) == 0)
		orbax_meta_release(&m);
	orbax_step_meta_scan_layers((const char *)data, size);
	return 0;
}
