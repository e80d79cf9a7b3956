/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the safetensors layout builder and config.json
 * rendering, on tensor lists and config texts derived from the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout/config_json.h"
#include "layout/st_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_tensor_desc t[8];
	char names[8][8];
	struct st_layout *l = NULL;
	char *out = NULL;
	size_t n = 0, outlen;

	if (size < 2)
		return 0;
	if (data[0] & 1) {
		if (config_json_render((const char *)data + 1, size - 1, "bfloat16", &out,
				       &outlen) == 0)
			free(out);
		return 0;
	}
	for (size_t i = 1; i + 4 <= size && n < 8; i += 4, n++) {
		memset(&t[n], 0, sizeof(t[n]));
		snprintf(names[n], sizeof(names[n]), "t%u", (unsigned)(data[i] % 6));
		t[n].name = names[n];
		t[n].dtype = (enum ck_dtype)(data[i + 1] % CK_DT_COUNT);
		t[n].rank = data[i + 2] % 3;
		for (unsigned d = 0; d < t[n].rank; d++)
			t[n].shape[d] = (uint64_t)data[i + 3] << (d * 8);
	}
	if (st_layout_build(t, n, 1 + (size % 4096), &l) == 0) {
		for (uint32_t f = 0; f < l->nfiles; f++) {
			size_t tensor;
			uint64_t off;

			st_layout_locate(l, f, l->files[f].size / 2, &tensor, &off);
		}
		st_layout_free(l);
	}
	return 0;
}
