/* SPDX-License-Identifier: MIT */
/*
 * This file implements CRC-32C (Castagnoli) and the zarr v3 "crc32c" codec.
 *
 * The checksum is the reflected CRC with polynomial 0x82F63B78, initial value
 * and final xor 0xFFFFFFFF (crc32c("123456789") == 0xE3069283), the one OCDBT
 * and zarr v3 use.  The portable path is slicing-by-8 over tables built once;
 * on x86-64 CPUs with SSE4.2 (checked at run time) the crc32 instruction does
 * 8 bytes per step instead.
 *
 * The zarr v3 codec stores data || u32le(crc32c(data)): decode verifies the
 * trailing checksum before copying the data out; encode appends it.
 */
#include "codec/codec.h"
#include "codec/codec_impl.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc32c_table[8][256];
static int crc32c_use_hw;
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
	uint32_t c;
	unsigned i, j;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
		crc32c_table[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = crc32c_table[0][i];
		for (j = 1; j < 8; j++) {
			c = (c >> 8) ^ crc32c_table[0][c & 0xff];
			crc32c_table[j][i] = c;
		}
	}
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	crc32c_use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* Loads are done with memcpy, so p need not be aligned. */
static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t n)
{
	uint32_t lo, hi;

	while (n && ((uintptr_t)p & 7)) {
		c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
		n--;
	}
	while (n >= 8) {
		/* Slicing-by-8 as written assumes a little-endian host. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
#else
		lo = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		     (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
#endif
		lo ^= c;
		c = crc32c_table[7][lo & 0xff] ^
		    crc32c_table[6][(lo >> 8) & 0xff] ^
		    crc32c_table[5][(lo >> 16) & 0xff] ^
		    crc32c_table[4][lo >> 24] ^
		    crc32c_table[3][hi & 0xff] ^
		    crc32c_table[2][(hi >> 8) & 0xff] ^
		    crc32c_table[1][(hi >> 16) & 0xff] ^
		    crc32c_table[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
	return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t c, const uint8_t *p, size_t n)
{
	unsigned long long c64;
	unsigned long long w;

	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi(c, *p++);
		n--;
	}
	c64 = c;
	while (n >= 8) {
		memcpy(&w, p, 8);
		c64 = __builtin_ia32_crc32di(c64, w);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
	uint32_t c = ~crc;

	pthread_once(&crc32c_once, crc32c_init);
	if (!n)
		return crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (crc32c_use_hw)
		return ~crc32c_hw(c, p, n);
#endif
	return ~crc32c_sw(c, p, n);
}

static int crc32c_decode(const struct codec_params *params, const uint8_t *src,
			 size_t src_len, uint8_t *dst, size_t dst_cap,
			 size_t *dst_len)
{
	uint32_t stored, computed;
	const uint8_t *t;
	size_t n;

	(void)params;
	if (src_len < 4)
		return ck_err(-EIO, "crc32c: input of %zu bytes is shorter than the 4-byte checksum",
			      src_len);
	n = src_len - 4;
	if (n > dst_cap)
		return ck_err(-EOVERFLOW, "crc32c: %zu data bytes exceed the %zu-byte buffer",
			      n, dst_cap);
	t = src + n;
	stored = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
		 (uint32_t)t[3] << 24;
	computed = crc32c(0, src, n);
	if (stored != computed)
		return ck_err(-EIO, "crc32c: checksum mismatch (stored 0x%08x, computed 0x%08x)",
			      stored, computed);
	if (n)
		memcpy(dst, src, n);
	*dst_len = n;
	return 0;
}

static int crc32c_encode(const struct codec_params *params, const uint8_t *src,
			 size_t src_len, struct ck_buf *out)
{
	uint32_t c = crc32c(0, src, src_len);
	uint8_t t[4] = { c & 0xff, (c >> 8) & 0xff, (c >> 16) & 0xff, c >> 24 };
	size_t total;
	int err;

	(void)params;
	if (__builtin_add_overflow(src_len, sizeof(t), &total))
		return ck_err(-EOVERFLOW, "crc32c: input of %zu bytes is too large", src_len);
	err = ck_buf_grow(out, total);
	if (err)
		return err;
	ck_buf_append(out, src, src_len);
	ck_buf_append(out, t, sizeof(t));
	return 0;
}

const struct codec codec_crc32c = {
	.name = "crc32c",
	.decode = crc32c_decode,
	.encode = crc32c_encode,
};
