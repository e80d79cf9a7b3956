/* SPDX-License-Identifier: MIT */
/*
 * This file implements numcodecs' "lz4" codec with liblz4.
 *
 * Format note: numcodecs.LZ4 stores a 4-byte little-endian decoded size
 * followed by one raw LZ4 block (not the LZ4 frame format).  The size is
 * hostile: it must fit the caller's buffer, and the block must decode to
 * exactly that many bytes.  LZ4_decompress_safe never reads or writes
 * outside the bounds it is given.
 */
#include "codec/codec.h"
#include "codec/codec_impl.h"

#include <errno.h>
#include <lz4.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"

#define LZ4_HDR 4

static int lz4_decode(const struct codec_params *params, const uint8_t *src,
		      size_t src_len, uint8_t *dst, size_t dst_cap,
		      size_t *dst_len)
{
	uint32_t n;
	int got;

	(void)params;
	if (src_len < LZ4_HDR)
		return ck_err(-EIO, "lz4: input of %zu bytes is shorter than the size header",
			      src_len);
	n = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 |
	    (uint32_t)src[3] << 24;
	if (n > dst_cap)
		return ck_err(-EOVERFLOW, "lz4: %u decoded bytes exceed the %zu-byte buffer",
			      n, dst_cap);
	if (n > (uint32_t)INT32_MAX || src_len - LZ4_HDR > (size_t)INT32_MAX)
		return ck_err(-EIO, "lz4: size header %u is out of range", n);
	got = LZ4_decompress_safe((const char *)src + LZ4_HDR, (char *)dst,
				  (int)(src_len - LZ4_HDR), (int)n);
	if (got < 0)
		return ck_err(-EIO, "lz4: corrupt block (error %d)", got);
	if ((uint32_t)got != n)
		return ck_err(-EIO, "lz4: block decodes to %d bytes, header says %u",
			      got, n);
	*dst_len = n;
	return 0;
}

static int lz4_encode(const struct codec_params *params, const uint8_t *src,
		      size_t src_len, struct ck_buf *out)
{
	int accel = params && params->level > 0 ? params->level : 1;
	int bound, n, err;
	uint8_t *p;

	if (src_len > LZ4_MAX_INPUT_SIZE)
		return ck_err(-EOVERFLOW, "lz4: input of %zu bytes is too large",
			      src_len);
	bound = LZ4_compressBound((int)src_len);
	err = ck_buf_grow(out, LZ4_HDR + (size_t)bound);
	if (err)
		return err;
	p = out->data + out->len;
	p[0] = src_len & 0xff;
	p[1] = (src_len >> 8) & 0xff;
	p[2] = (src_len >> 16) & 0xff;
	p[3] = (src_len >> 24) & 0xff;
	n = LZ4_compress_fast((const char *)src, (char *)p + LZ4_HDR,
			      (int)src_len, bound, accel);
	if (n <= 0)
		return ck_err(-EIO, "lz4: compression failed");
	out->len += LZ4_HDR + (size_t)n;
	return 0;
}

const struct codec codec_lz4 = {
	.name = "lz4",
	.decode = lz4_decode,
	.encode = lz4_encode,
};
