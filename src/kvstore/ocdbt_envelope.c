/* SPDX-License-Identifier: MIT */
/* This file implements the OCDBT object envelope check of ocdbt_envelope.h. */
#include "kvstore/ocdbt_envelope.h"

#include <errno.h>

#include "codec/codec.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_rd.h"

/* magic + length + version + compression + CRC */
#define ENVELOPE_MIN 18

int ocdbt_envelope_decode(const uint8_t *p, size_t n, uint32_t magic,
			  size_t max_body, struct ck_buf *body)
{
	uint64_t len, version, compression;
	uint32_t m, stored, computed;
	const uint8_t *src;
	size_t src_len;
	struct ck_rd r;
	int err;

	if (n < ENVELOPE_MIN)
		return ck_err(-EIO,
			      "object of %zu bytes is too short for an "
			      "OCDBT envelope",
			      n);
	ck_rd_init(&r, p, n - 4);
	err = ck_rd_u32be(&r, &m, "magic");
	if (err)
		return err;
	if (m != magic)
		return ck_err(-EIO, "bad magic 0x%08x (expected 0x%08x)", m,
			      magic);
	err = ck_rd_u64le(&r, &len, "length");
	if (err)
		return err;
	if (len != n)
		return ck_err(-EIO,
			      "length field %llu does not match the %zu "
			      "bytes available",
			      (unsigned long long)len, n);
	stored = ck_load_u32le(p + n - 4);
	computed = crc32c(0, p, n - 4);
	if (stored != computed)
		return ck_err(-EIO,
			      "bad CRC-32C (stored 0x%08x, computed 0x%08x)",
			      stored, computed);
	err = ck_rd_varint(&r, UINT64_MAX, &version, "format version");
	if (err)
		return err;
	if (version != 0)
		return ck_err(-ENOTSUP, "unsupported format version %llu",
			      (unsigned long long)version);
	err = ck_rd_varint(&r, UINT64_MAX, &compression, "compression format");
	if (err)
		return err;
	src = p + r.pos;
	src_len = ck_rd_left(&r);
	switch (compression) {
	case 0:
		if (src_len > max_body)
			return ck_err(-EOVERFLOW,
				      "body of %zu bytes exceeds the "
				      "%zu-byte limit",
				      src_len, max_body);
		return ck_buf_append(body, src, src_len);
	case 1:
		return codec_zstd_decode_alloc(src, src_len, max_body, body);
	default:
		return ck_err(-ENOTSUP, "unsupported compression format %llu",
			      (unsigned long long)compression);
	}
}
