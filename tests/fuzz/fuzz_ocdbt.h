/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ocdbt.h - input framing shared by the OCDBT libFuzzer targets.
 *
 * The first input byte picks how the rest is fed to the decoder:
 *   even: the rest is a whole encoded object (envelope, CRC and all), so
 *         the envelope checks themselves are fuzzed;
 *   odd:  the rest is a decoded body; it is wrapped in an uncompressed
 *         envelope with a correct length and CRC-32C, so mutations reach
 *         the body decoder instead of dying at the checksum.
 * Seeds (make_seeds.sh) come in both forms.
 */
#ifndef FUZZ_OCDBT_H
#define FUZZ_OCDBT_H

#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "util/ck_rd.h"

/* The object to decode (*obj, *n); *owned is non-NULL when it was built
 * here (caller frees).  Returns 0, or -1 for an empty input. */
static inline int fuzz_ocdbt_frame(const uint8_t *data, size_t size,
				   uint32_t magic, const uint8_t **obj,
				   size_t *n, uint8_t **owned)
{
	uint8_t *p;
	size_t len;

	*owned = NULL;
	if (size < 1)
		return -1;
	if (!(data[0] & 1)) {
		*obj = data + 1;
		*n = size - 1;
		return 0;
	}
	len = 14 + (size - 1) + 4;
	p = malloc(len);
	if (!p)
		return -1;
	p[0] = (uint8_t)(magic >> 24);
	p[1] = (uint8_t)(magic >> 16);
	p[2] = (uint8_t)(magic >> 8);
	p[3] = (uint8_t)magic;
	ck_store_u64le(p + 4, len);
	p[12] = 0;
	p[13] = 0;
	memcpy(p + 14, data + 1, size - 1);
	ck_store_u32le(p + len - 4, crc32c(0, p, len - 4));
	*obj = p;
	*n = len;
	*owned = p;
	return 0;
}

#endif
