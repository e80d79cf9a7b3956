/* SPDX-License-Identifier: MIT */
/*
 * This file implements the codec table: the codecs ckptfs knows, looked up by
 * their zarr v3 or numcodecs name.
 *
 * Adding a codec is one codec_<name>.c file defining a const struct codec
 * plus one line here and in codec_impl.h.
 */
#include "codec/codec.h"
#include "codec/codec_impl.h"

#include <stddef.h>
#include <string.h>

static const struct codec *const codec_table[] = {
	&codec_zstd,
	&codec_gzip,
	&codec_zlib,
	&codec_blosc,
	&codec_lz4,
	&codec_crc32c,
};

const struct codec *codec_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < sizeof(codec_table) / sizeof(codec_table[0]); i++)
		if (strcmp(codec_table[i]->name, name) == 0)
			return codec_table[i];
	return NULL;
}
