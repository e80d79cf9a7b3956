/* SPDX-License-Identifier: MIT */
/*
 * codec_impl.h - the codec descriptors, one per codec_<name>.c, gathered
 * into the table of codec.c (private to src/codec/).
 */
#ifndef CODEC_IMPL_H
#define CODEC_IMPL_H

#include "codec/codec.h"

extern const struct codec codec_zstd;
extern const struct codec codec_gzip;
extern const struct codec codec_zlib;
extern const struct codec codec_blosc;
extern const struct codec codec_lz4;
extern const struct codec codec_crc32c;

#endif
