/* SPDX-License-Identifier: MIT */
/* libFuzzer target: mapping files (JSON, hook names, expressions).  The
 * first byte picks between a whole mapping file and a bare expression. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mapping/expr.h"
#include "mapping/mapping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lookup(void *ctx, const char *name, size_t len, double *v)
{
	(void)ctx;
	*v = (double)len + (len ? name[0] : 0);
	return len % 3 ? 0 : -2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mapping *m = NULL;
	char *text;
	double v;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if (mapping_parse((const char *)data + 1, size - 1, "fuzz.json", &m) == 0)
			mapping_free(m);
		return 0;
	}
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	expr_eval(text, lookup, NULL, &v);
	free(text);
	return 0;
}
