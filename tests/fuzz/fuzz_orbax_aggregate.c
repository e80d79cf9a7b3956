/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the legacy msgpack aggregate reader. */
#include <stddef.h>
#include <stdint.h>

#include "orbax/orbax_aggregate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct orbax_aggregate agg;

	if (orbax_aggregate_parse(data, size, &agg) == 0)
		orbax_aggregate_release(&agg);
	return 0;
}
