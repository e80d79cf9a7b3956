/* SPDX-License-Identifier: MIT */
/* Unit tests for the codec layer: zstd, gzip, zlib, blosc, lz4, crc32c. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ck_test.h"
#include "codec/codec.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"

/* "ckptfs serves checkpoints. " eight times (216 bytes). */
#define PHRASE "ckptfs serves checkpoints. "
#define PHRASE_X8 PHRASE PHRASE PHRASE PHRASE PHRASE PHRASE PHRASE PHRASE

/* PHRASE_X8 as one zstd frame with a checksum and no content size, written by
 * python zstandard (ZstdCompressor(write_content_size=False,
 * write_checksum=True)). */
static const uint8_t zstd_no_size[] = {
	0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x00, 0x15, 0x01, 0x00, 0xd8, 0x63, 0x6b,
	0x70, 0x74, 0x66, 0x73, 0x20, 0x73, 0x65, 0x72, 0x76, 0x65, 0x73, 0x20,
	0x63, 0x68, 0x65, 0x63, 0x6b, 0x70, 0x6f, 0x69, 0x6e, 0x74, 0x73, 0x2e,
	0x20, 0x01, 0x00, 0xeb, 0x9c, 0x9a, 0x63, 0x5e, 0xd9, 0x66, 0xc9,
};

/* "hello, gzip\n" through `zstd -c` reading a pipe (no content size). */
static const uint8_t zstd_cli_hello[] = {
	0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x61, 0x00, 0x00, 0x68, 0x65, 0x6c,
	0x6c, 0x6f, 0x2c, 0x20, 0x67, 0x7a, 0x69, 0x70, 0x0a, 0x03, 0xb1, 0xd7,
	0xc0,
};

/* "hello, gzip\n" through `gzip -9 -n -c`. */
static const uint8_t gzip_hello[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48,
	0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0x48, 0xaf, 0xca, 0x2c, 0xe0, 0x02, 0x00,
	0x86, 0x1f, 0x82, 0xa4, 0x0c, 0x00, 0x00, 0x00,
};

/* PHRASE_X8 through python zlib.compress(data, 6). */
static const uint8_t zlib_phrase[] = {
	0x78, 0x9c, 0x4b, 0xce, 0x2e, 0x28, 0x49, 0x2b, 0x56, 0x28, 0x4e, 0x2d,
	0x2a, 0x4b, 0x2d, 0x56, 0x48, 0xce, 0x48, 0x4d, 0xce, 0x2e, 0xc8, 0xcf,
	0xcc, 0x2b, 0x29, 0xd6, 0x53, 0x48, 0x1e, 0xca, 0x52, 0x00, 0x10, 0x05,
	0x52, 0x61,
};

static const char hello[] = "hello, gzip\n";

/* A bit-at-a-time CRC-32C, the reference for the table/hardware versions. */
static uint32_t ref_crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
	}
	return ~c;
}

/* n bytes of reproducible, mildly compressible data. */
static uint8_t *make_data(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (i % 7 < 4) ? (uint8_t)(i / 64) : (uint8_t)(x & 0x0f);
	}
	return p;
}

static const struct codec *find(const char *name)
{
	const struct codec *c = codec_find(name);

	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, name);
	return c;
}

static int decode(const char *name, const uint8_t *src, size_t n,
		  uint8_t *dst, size_t cap, size_t *len)
{
	const struct codec *c = find(name);
	struct codec_params p = { 0, 1 };

	return c->decode(&p, src, n, dst, cap, len);
}

START_TEST(codec_find_should_know_every_codec_and_nothing_else)
{
	static const char *const names[] = { "zstd", "gzip", "zlib", "blosc",
					     "crc32c", "lz4" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct codec *c = find(names[i]);

		ck_assert_ptr_nonnull(c->decode);
		ck_assert_ptr_nonnull(c->encode);
	}
	ck_assert_ptr_null(codec_find("ZSTD"));
	ck_assert_ptr_null(codec_find("bytes"));
	ck_assert_ptr_null(codec_find(""));
	ck_assert_ptr_null(codec_find(NULL));
}
END_TEST

START_TEST(crc32c_should_match_known_vectors)
{
	uint8_t zeros[32], ones[32], inc[32];
	size_t i;

	memset(zeros, 0, sizeof(zeros));
	memset(ones, 0xff, sizeof(ones));
	for (i = 0; i < sizeof(inc); i++)
		inc[i] = (uint8_t)i;
	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xE3069283u);
	/* RFC 3720 B.4 */
	ck_assert_uint_eq(crc32c(0, zeros, 32), 0x8A9136AAu);
	ck_assert_uint_eq(crc32c(0, ones, 32), 0x62A8AB43u);
	ck_assert_uint_eq(crc32c(0, inc, 32), 0x46DD794Eu);
	ck_assert_uint_eq(crc32c(0, "", 0), 0);
	ck_assert_uint_eq(crc32c(0x12345678u, "", 0), 0x12345678u);
}
END_TEST

START_TEST(crc32c_should_chain_and_agree_with_a_bitwise_reference)
{
	uint8_t *d = make_data(4096, 7);
	size_t off, n, cut;

	ck_assert_uint_eq(crc32c(crc32c(0, "1234", 4), "56789", 5),
			  0xE3069283u);
	for (off = 0; off < 9; off++)
		for (n = 0; n + off <= 4096; n = n * 2 + 3) {
			uint32_t want = ref_crc32c(d + off, n);

			ck_assert_uint_eq(crc32c(0, d + off, n), want);
			cut = n / 3;
			ck_assert_uint_eq(crc32c(crc32c(0, d + off, cut),
						 d + off + cut, n - cut), want);
		}
	free(d);
}
END_TEST

START_TEST(crc32c_codec_should_verify_and_strip_the_checksum)
{
	/* "123456789" || u32le(0xE3069283) */
	static const uint8_t in[] = { '1', '2', '3', '4', '5', '6', '7', '8',
				      '9', 0x83, 0x92, 0x06, 0xe3 };
	uint8_t out[16];
	size_t len = 99;
	struct ck_buf b = CK_BUF_INIT;

	ck_assert_int_eq(decode("crc32c", in, sizeof(in), out, sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 9);
	ck_assert_mem_eq(out, "123456789", 9);
	ck_assert_int_eq(find("crc32c")->encode(NULL, (const uint8_t *)"123456789",
						9, &b), 0);
	ck_assert_uint_eq(b.len, sizeof(in));
	ck_assert_mem_eq(b.data, in, sizeof(in));
	ck_buf_release(&b);
	/* exactly the checksum of empty data */
	ck_assert_int_eq(decode("crc32c", (const uint8_t *)"\0\0\0\0", 4, out,
				0, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(decode("crc32c", in, sizeof(in), out, 8, &len),
			 -EOVERFLOW);
}
END_TEST

START_TEST(crc32c_codec_should_reject_a_checksum_mismatch)
{
	uint8_t in[] = { '1', '2', '3', '4', '5', '6', '7', '8', '9',
			 0x83, 0x92, 0x06, 0xe3 };
	uint8_t out[16];
	size_t len = 99;

	in[4] ^= 1;
	ck_assert_int_eq(decode("crc32c", in, sizeof(in), out, sizeof(out), &len),
			 -EIO);
	ck_assert_uint_eq(len, 99);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(),
		"crc32c: checksum mismatch (stored 0xe3069283, computed 0x"));
	ck_assert_int_eq(decode("crc32c", in, 3, out, sizeof(out), &len), -EIO);
	ck_assert_int_eq(strncmp(ck_err_msg(), "crc32c: ", 8), 0);
}
END_TEST

START_TEST(zstd_decode_should_handle_frames_without_content_size)
{
	uint8_t out[512];
	size_t len = 0;

	ck_assert_int_eq(decode("zstd", zstd_no_size, sizeof(zstd_no_size), out,
				sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 216);
	ck_assert_mem_eq(out, PHRASE_X8, 216);
	ck_assert_int_eq(decode("zstd", zstd_cli_hello, sizeof(zstd_cli_hello),
				out, sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 12);
	ck_assert_mem_eq(out, hello, 12);
	/* an exact fit is not an overflow */
	ck_assert_int_eq(decode("zstd", zstd_no_size, sizeof(zstd_no_size), out,
				216, &len), 0);
	ck_assert_uint_eq(len, 216);
}
END_TEST

START_TEST(zstd_decode_should_handle_concatenated_frames)
{
	struct ck_buf b = CK_BUF_INIT;
	uint8_t *d = make_data(70000, 3), *out = malloc(200000);
	size_t len = 0;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(ck_buf_append(&b, zstd_no_size, sizeof(zstd_no_size)), 0);
	ck_assert_int_eq(codec_zstd_encode_level(d, 70000, 3, &b), 0);
	ck_assert_int_eq(ck_buf_append(&b, zstd_cli_hello, sizeof(zstd_cli_hello)), 0);
	ck_assert_int_eq(decode("zstd", b.data, b.len, out, 200000, &len), 0);
	ck_assert_uint_eq(len, 216 + 70000 + 12);
	ck_assert_mem_eq(out, PHRASE_X8, 216);
	ck_assert_mem_eq(out + 216, d, 70000);
	ck_assert_mem_eq(out + 216 + 70000, hello, 12);
	ck_buf_release(&b);
	free(d);
	free(out);
}
END_TEST

/* The streaming decoder over memory: input in pieces, output collected. */
struct mem_stream {
	const uint8_t *in;
	uint8_t *out;
	size_t cap, emits, win;
	int short_seen;
};

static int ms_read(void *ctx, uint64_t off, void *buf, size_t n)
{
	struct mem_stream *m = ctx;

	memcpy(buf, m->in + off, n);
	return 0;
}

static int ms_emit(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	struct mem_stream *m = ctx;

	ck_assert_uint_le(off + n, m->cap);
	ck_assert(!m->short_seen);		/* only the last is short */
	m->short_seen = n != m->win;
	memcpy(m->out + off, p, n);
	m->emits++;
	return 0;
}

static int stream(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
		  size_t win, struct mem_stream *m)
{
	struct codec_zstd_stream s = { in_len, out_len, win, ms_read, ms_emit, m };

	memset(m, 0, sizeof(*m));
	m->in = in;
	m->out = out;
	m->cap = out_len;
	m->win = win;
	return codec_zstd_decode_stream(&s);
}

/* Streaming gives the bytes of the one-shot decode, in windows, across
 * frames and input pieces (300000 bytes of input are several of the
 * decoder's input buffers); a stream that is cut, too long or too short for
 * the expected size is -EIO. */
START_TEST(zstd_stream_should_decode_in_windows_and_check_the_size)
{
	struct ck_buf b = CK_BUF_INIT;
	uint8_t *d = malloc(400000), *out = malloc(400000);
	struct mem_stream m;

	for (size_t i = 0; i < 400000; i++)
		d[i] = (uint8_t)((i * 2654435761u) >> 13);
	ck_assert_int_eq(codec_zstd_encode_level(d, 300000, 1, &b), 0);
	ck_assert_int_eq(codec_zstd_encode_level(d + 300000, 100000, 1, &b), 0);
	ck_assert_int_eq(stream(b.data, b.len, out, 400000, 4096, &m), 0);
	ck_assert(!memcmp(out, d, 400000));
	ck_assert_uint_eq(m.emits, (400000 + 4095) / 4096);
	ck_assert_int_eq(stream(b.data, b.len, out, 400000, 7, &m), 0);
	ck_assert(!memcmp(out, d, 400000));
	/* expected one byte more, or one less */
	ck_assert_int_eq(stream(b.data, b.len, out, 400001, 4096, &m), -EIO);
	ck_assert_int_eq(stream(b.data, b.len, out, 399999, 4096, &m), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "more than"));
	/* cut anywhere */
	for (size_t cut = 0; cut < b.len; cut += b.len / 97 + 1) {
		ck_assert_int_eq(stream(b.data, cut, out, 400000, 4096, &m), -EIO);
		ck_assert_int_eq(strncmp(ck_err_msg(), "zstd: ", 6), 0);
	}
	/* garbage after the last frame */
	ck_assert_int_eq(ck_buf_append(&b, "junkjunk", 8), 0);
	ck_assert_int_eq(stream(b.data, b.len, out, 400000, 4096, &m), -EIO);
	ck_buf_release(&b);
	free(d);
	free(out);
}
END_TEST

START_TEST(zstd_decode_should_reject_a_frame_cut_short)
{
	struct ck_buf b = CK_BUF_INIT;
	struct ck_buf sink = CK_BUF_INIT;
	uint8_t *d = make_data(300000, 5), *out = malloc(300000);
	size_t len = 7, cut;

	ck_assert_ptr_nonnull(out);
	for (cut = 0; cut < sizeof(zstd_no_size); cut++) {
		ck_assert_int_eq(decode("zstd", zstd_no_size, cut, out, 512, &len),
				 -EIO);
		ck_assert_uint_eq(len, 7);
		ck_assert_int_eq(strncmp(ck_err_msg(), "zstd: ", 6), 0);
	}
	ck_assert_int_eq(codec_zstd_encode_level(d, 300000, 1, &b), 0);
	for (cut = 1; cut < 12; cut++) {
		size_t at = b.len * cut / 12;

		ck_assert_int_eq(decode("zstd", b.data, at, out, 300000, &len),
				 -EIO);
		ck_assert_int_eq(codec_zstd_decode_alloc(b.data, at, 300000,
							 &sink), -EIO);
		ck_assert_uint_eq(sink.len, 0);
	}
	/* one byte short: only the checksum is incomplete */
	ck_assert_int_eq(decode("zstd", b.data, b.len - 1, out, 300000, &len), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "cut short"));
	ck_assert_int_eq(decode("zstd", b.data, b.len, out, 300000, &len), 0);
	ck_assert_uint_eq(len, 300000);
	ck_buf_release(&sink);
	ck_buf_release(&b);
	free(d);
	free(out);
}
END_TEST

START_TEST(zstd_decode_should_reject_trailing_garbage)
{
	uint8_t in[sizeof(zstd_no_size) + 5], out[512];
	size_t len = 7;

	memcpy(in, zstd_no_size, sizeof(zstd_no_size));
	memcpy(in + sizeof(zstd_no_size), "junk!", 5);
	ck_assert_int_eq(decode("zstd", in, sizeof(in), out, sizeof(out), &len),
			 -EIO);
	ck_assert_uint_eq(len, 7);
	ck_assert_int_eq(strncmp(ck_err_msg(), "zstd: ", 6), 0);
	/* a stray zstd magic number alone is a cut-short frame */
	memcpy(in + sizeof(zstd_no_size), "\x28\xb5\x2f\xfd", 4);
	ck_assert_int_eq(decode("zstd", in, sizeof(zstd_no_size) + 4, out,
				sizeof(out), &len), -EIO);
	ck_assert_int_eq(decode("zstd", in, 0, out, sizeof(out), &len), -EIO);
}
END_TEST

/* Found by fuzz_codec: libzstd accepts this with a small output buffer. */
START_TEST(zstd_decode_should_reject_a_frame_shorter_than_its_declared_size)
{
	/* single-segment frame declaring 256 bytes, then an empty last block */
	static const uint8_t in[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x60, 0x00, 0x00,
				      0x01, 0x00, 0x00 };
	struct ck_buf b = CK_BUF_INIT;
	uint8_t out[1024];
	size_t cap, len = 7;

	for (cap = 0; cap <= sizeof(out); cap += 64) {
		ck_assert_int_eq(decode("zstd", in, sizeof(in), out, cap, &len),
				 -EIO);
		ck_assert_int_eq(strncmp(ck_err_msg(), "zstd: ", 6), 0);
	}
	ck_assert_uint_eq(len, 7);
	ck_assert_int_eq(codec_zstd_decode_alloc(in, sizeof(in), 1000, &b), -EIO);
	ck_assert_int_eq(codec_zstd_decode_alloc(in, sizeof(in), 10, &b), -EIO);
	ck_assert_uint_eq(b.len, 0);
	ck_buf_release(&b);
}
END_TEST

START_TEST(zstd_decode_should_report_eoverflow_when_the_buffer_is_too_small)
{
	struct ck_buf b = CK_BUF_INIT;
	uint8_t *d = make_data(100000, 9), *out = malloc(100000);
	size_t len = 7;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(decode("zstd", zstd_no_size, sizeof(zstd_no_size), out,
				215, &len), -EOVERFLOW);
	ck_assert_int_eq(decode("zstd", zstd_no_size, sizeof(zstd_no_size), out,
				0, &len), -EOVERFLOW);
	ck_assert_int_eq(codec_zstd_encode_level(d, 100000, 3, &b), 0);
	ck_assert_int_eq(decode("zstd", b.data, b.len, out, 99999, &len),
			 -EOVERFLOW);
	ck_assert_int_eq(strncmp(ck_err_msg(), "zstd: ", 6), 0);
	ck_assert_uint_eq(len, 7);
	ck_buf_release(&b);
	free(d);
	free(out);
}
END_TEST

START_TEST(zstd_decode_alloc_should_append_up_to_max_and_no_further)
{
	struct ck_buf in = CK_BUF_INIT, out = CK_BUF_INIT;
	uint8_t *d = make_data(500000, 11);

	ck_assert_int_eq(codec_zstd_encode_level(d, 500000, 3, &in), 0);
	ck_assert_int_eq(ck_buf_append(&in, zstd_no_size, sizeof(zstd_no_size)), 0);
	ck_assert_int_eq(ck_buf_append(&out, "pre", 3), 0);
	ck_assert_int_eq(codec_zstd_decode_alloc(in.data, in.len, 500216, &out), 0);
	ck_assert_uint_eq(out.len, 3 + 500216);
	ck_assert_mem_eq(out.data, "pre", 3);
	ck_assert_mem_eq(out.data + 3, d, 500000);
	ck_assert_mem_eq(out.data + 500003, PHRASE_X8, 216);
	out.len = 3;
	ck_assert_int_eq(codec_zstd_decode_alloc(in.data, in.len, 500215, &out),
			 -EOVERFLOW);
	ck_assert_uint_eq(out.len, 3);
	ck_assert_int_eq(codec_zstd_decode_alloc(in.data, in.len - 1, 1 << 20,
						 &out), -EIO);
	ck_assert_uint_eq(out.len, 3);
	/* a frame without content size, into an empty buffer */
	ck_buf_release(&out);
	ck_assert_int_eq(codec_zstd_decode_alloc(zstd_no_size,
						 sizeof(zstd_no_size), 216, &out), 0);
	ck_assert_uint_eq(out.len, 216);
	ck_assert_mem_eq(out.data, PHRASE_X8, 216);
	ck_buf_release(&out);
	ck_assert_int_eq(codec_zstd_decode_alloc(zstd_no_size,
						 sizeof(zstd_no_size), 0, &out),
			 -EOVERFLOW);
	ck_buf_release(&out);
	ck_buf_release(&in);
	free(d);
}
END_TEST

START_TEST(zstd_decode_alloc_should_decode_an_empty_frame)
{
	struct ck_buf in = CK_BUF_INIT, out = CK_BUF_INIT;

	ck_assert_int_eq(codec_zstd_encode_level(NULL, 0, 3, &in), 0);
	ck_assert_int_eq(codec_zstd_decode_alloc(in.data, in.len, 0, &out), 0);
	ck_assert_uint_eq(out.len, 0);
	ck_buf_release(&out);
	ck_buf_release(&in);
}
END_TEST

START_TEST(gzip_decode_should_decode_gzip_cli_output)
{
	uint8_t out[64];
	size_t len = 0;

	ck_assert_int_eq(decode("gzip", gzip_hello, sizeof(gzip_hello), out,
				sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 12);
	ck_assert_mem_eq(out, hello, 12);
	ck_assert_int_eq(decode("gzip", gzip_hello, sizeof(gzip_hello), out, 12,
				&len), 0);
	ck_assert_int_eq(decode("gzip", gzip_hello, sizeof(gzip_hello), out, 11,
				&len), -EOVERFLOW);
	ck_assert_int_eq(strncmp(ck_err_msg(), "gzip: ", 6), 0);
	/* a gzip member is not a zlib stream */
	ck_assert_int_eq(decode("zlib", gzip_hello, sizeof(gzip_hello), out,
				sizeof(out), &len), -EIO);
	ck_assert_int_eq(strncmp(ck_err_msg(), "zlib: ", 6), 0);
}
END_TEST

START_TEST(gzip_decode_should_reject_a_corrupted_or_truncated_member)
{
	uint8_t in[sizeof(gzip_hello)], out[64];
	size_t len = 7, cut, i;

	for (i = 10; i < sizeof(gzip_hello); i++) {
		if (i == 23)
			continue;	/* the deflate stream's padding bits */
		memcpy(in, gzip_hello, sizeof(in));
		in[i] ^= 0x10;
		ck_assert_int_eq(decode("gzip", in, sizeof(in), out, sizeof(out),
					&len), -EIO);
		ck_assert_uint_eq(len, 7);
	}
	for (cut = 0; cut < sizeof(gzip_hello); cut++)
		ck_assert_int_eq(decode("gzip", gzip_hello, cut, out, sizeof(out),
					&len), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "gzip: stream cut short"));
	ck_assert_uint_eq(len, 7);
}
END_TEST

START_TEST(gzip_decode_should_accept_concatenated_members_but_not_garbage)
{
	uint8_t in[2 * sizeof(gzip_hello) + 3], out[64];
	size_t len = 0;

	memcpy(in, gzip_hello, sizeof(gzip_hello));
	memcpy(in + sizeof(gzip_hello), gzip_hello, sizeof(gzip_hello));
	ck_assert_int_eq(decode("gzip", in, 2 * sizeof(gzip_hello), out,
				sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 24);
	ck_assert_mem_eq(out, hello, 12);
	ck_assert_mem_eq(out + 12, hello, 12);
	memcpy(in + sizeof(gzip_hello), "xyz", 3);
	ck_assert_int_eq(decode("gzip", in, sizeof(gzip_hello) + 3, out,
				sizeof(out), &len), -EIO);
	ck_assert_uint_eq(len, 24);
}
END_TEST

START_TEST(zlib_decode_should_decode_python_output_and_reject_garbage)
{
	uint8_t in[sizeof(zlib_phrase) + 1], out[512];
	size_t len = 0;

	ck_assert_int_eq(decode("zlib", zlib_phrase, sizeof(zlib_phrase), out,
				sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 216);
	ck_assert_mem_eq(out, PHRASE_X8, 216);
	memcpy(in, zlib_phrase, sizeof(zlib_phrase));
	in[sizeof(zlib_phrase)] = 0;
	ck_assert_int_eq(decode("zlib", in, sizeof(in), out, sizeof(out), &len),
			 -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "trailing garbage"));
	ck_assert_int_eq(decode("zlib", zlib_phrase, sizeof(zlib_phrase) - 1,
				out, sizeof(out), &len), -EIO);
	in[sizeof(zlib_phrase) - 1] ^= 1;	/* adler32 */
	ck_assert_int_eq(decode("zlib", in, sizeof(zlib_phrase), out,
				sizeof(out), &len), -EIO);
	ck_assert_int_eq(decode("zlib", zlib_phrase, sizeof(zlib_phrase), out,
				215, &len), -EOVERFLOW);
}
END_TEST

START_TEST(blosc_decode_should_reject_a_header_claiming_more_than_dst_cap)
{
	struct codec_params p = { 5, 4 };
	struct ck_buf b = CK_BUF_INIT;
	uint8_t *d = make_data(4000, 13), out[4000];
	size_t len = 7;

	ck_assert_int_eq(find("blosc")->encode(&p, d, 4000, &b), 0);
	/* header: version, versionlz, flags, typesize, nbytes, blocksize, cbytes */
	ck_assert_uint_eq(b.data[3], 4);
	ck_assert_uint_eq(b.data[4] | b.data[5] << 8, 4000);
	ck_assert_int_eq(decode("blosc", b.data, b.len, out, 3999, &len),
			 -EOVERFLOW);
	ck_assert_int_eq(strncmp(ck_err_msg(), "blosc: ", 7), 0);
	ck_assert_uint_eq(len, 7);
	/* nbytes patched to 1 MiB */
	b.data[4] = 0;
	b.data[5] = 0;
	b.data[6] = 0x10;
	ck_assert_int_eq(decode("blosc", b.data, b.len, out, sizeof(out), &len),
			 -EOVERFLOW);
	ck_buf_release(&b);
	free(d);
}
END_TEST

START_TEST(blosc_decode_should_reject_a_length_mismatch_or_corruption)
{
	struct codec_params p = { 5, 2 };
	struct ck_buf b = CK_BUF_INIT;
	uint8_t *d = make_data(8192, 17), out[8192];
	size_t len = 7, i;
	int err;

	ck_assert_int_eq(find("blosc")->encode(&p, d, 8192, &b), 0);
	ck_assert_int_eq(ck_buf_append(&b, "x", 1), 0);
	ck_assert_int_eq(decode("blosc", b.data, b.len, out, sizeof(out), &len),
			 -EIO);
	ck_assert_int_eq(decode("blosc", b.data, b.len - 2, out, sizeof(out),
				&len), -EIO);
	ck_assert_int_eq(decode("blosc", b.data, 15, out, sizeof(out), &len),
			 -EIO);
	ck_assert_uint_eq(len, 7);
	b.len--;
	/* corrupting the compressed blocks must never crash or overrun */
	for (i = 16; i < b.len; i += 7) {
		b.data[i] ^= 0x5a;
		err = decode("blosc", b.data, b.len, out, sizeof(out), &len);
		ck_assert(err == 0 || err == -EIO);
		b.data[i] ^= 0x5a;
	}
	ck_assert_int_eq(decode("blosc", b.data, b.len, out, sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 8192);
	ck_assert_mem_eq(out, d, 8192);
	ck_buf_release(&b);
	free(d);
}
END_TEST

START_TEST(lz4_decode_should_read_the_numcodecs_size_header)
{
	/* size 5, then one LZ4 block: token 0x50 (5 literals, no match) */
	static const uint8_t in[] = { 5, 0, 0, 0, 0x50, 'h', 'e', 'l', 'l', 'o' };
	uint8_t bad[sizeof(in)], out[16];
	size_t len = 7;

	ck_assert_int_eq(decode("lz4", in, sizeof(in), out, sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(out, "hello", 5);
	len = 7;
	ck_assert_int_eq(decode("lz4", in, sizeof(in), out, 4, &len), -EOVERFLOW);
	memcpy(bad, in, sizeof(in));
	bad[0] = 6;	/* header claims more than the block holds */
	ck_assert_int_eq(decode("lz4", bad, sizeof(bad), out, sizeof(out), &len),
			 -EIO);
	ck_assert_int_eq(strncmp(ck_err_msg(), "lz4: ", 5), 0);
	bad[0] = 4;	/* header claims less */
	ck_assert_int_eq(decode("lz4", bad, sizeof(bad), out, sizeof(out), &len),
			 -EIO);
	bad[0] = 0xff;
	bad[3] = 0xff;
	ck_assert_int_eq(decode("lz4", bad, sizeof(bad), out, sizeof(out), &len),
			 -EOVERFLOW);
	ck_assert_int_eq(decode("lz4", in, 9, out, sizeof(out), &len), -EIO);
	ck_assert_int_eq(decode("lz4", in, 3, out, sizeof(out), &len), -EIO);
	ck_assert_uint_eq(len, 7);
}
END_TEST

/* Every codec: round trips of several sizes, an exact fit, one byte short. */
START_TEST(every_codec_should_round_trip_and_refuse_one_byte_too_few)
{
	static const char *const names[] = { "zstd", "gzip", "zlib", "blosc",
					     "crc32c", "lz4" };
	static const size_t sizes[] = { 0, 1, 17, 4096, 100003, 1 << 20 };
	struct codec_params p = { 1, 4 };
	size_t i, j, len;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct codec *c = find(names[i]);

		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			size_t n = sizes[j];
			uint8_t *d = make_data(n, (uint32_t)(i * 31 + j));
			uint8_t *out = malloc(n + 1);
			struct ck_buf b = CK_BUF_INIT;

			ck_assert_ptr_nonnull(out);
			ck_assert_int_eq(c->encode(&p, d, n, &b), 0);
			len = 12345;
			ck_assert_int_eq(c->decode(&p, b.data, b.len, out, n,
						   &len), 0);
			ck_assert_uint_eq(len, n);
			if (n)
				ck_assert_mem_eq(out, d, n);
			if (n) {
				ck_assert_int_eq(c->decode(&p, b.data, b.len,
							   out, n - 1, &len),
						 -EOVERFLOW);
				ck_assert_int_eq(strncmp(ck_err_msg(), names[i],
							 strlen(names[i])), 0);
			}
			ck_buf_release(&b);
			free(d);
			free(out);
		}
	}
}
END_TEST

START_TEST(gzip_decode_should_read_the_zarrs_sharded_fixture)
{
	static const char rel[] =
		"zarrs-sharded/sharded_array_write_read.zarr/group/array/c/0/0";
	static const uint16_t want0[16] = { 4, 5, 6, 7, 12, 13, 14, 15,
					    20, 21, 22, 23, 28, 29, 30, 31 };
	static const uint16_t want1[16] = { 0, 1, 2, 3, 8, 9, 10, 11,
					    16, 17, 18, 19, 24, 25, 26, 27 };
	uint8_t out[64], *f;
	size_t n, len = 0;
	char *path;
	int k;

	if (!ck_test_fixtures()) {
		printf("skipping the zarrs fixture check: no fixtures\n");
		return;
	}
	path = ck_test_fixture(rel);
	f = ck_test_read_file(path, &n);
	ck_assert_uint_ge(n, 104);
	ck_assert_int_eq(decode("gzip", f, 52, out, sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 32);
	for (k = 0; k < 16; k++)
		ck_assert_uint_eq(out[2 * k] | out[2 * k + 1] << 8, want0[k]);
	ck_assert_int_eq(decode("gzip", f + 52, 52, out, sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 32);
	for (k = 0; k < 16; k++)
		ck_assert_uint_eq(out[2 * k] | out[2 * k + 1] << 8, want1[k]);
	/* the two members back to back, and one cut short */
	ck_assert_int_eq(decode("gzip", f, 104, out, sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 64);
	ck_assert_int_eq(decode("gzip", f, 51, out, sizeof(out), &len), -EIO);
	free(f);
	free(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("codec");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, codec_find_should_know_every_codec_and_nothing_else);
	tcase_add_test(tc, crc32c_should_match_known_vectors);
	tcase_add_test(tc, zstd_stream_should_decode_in_windows_and_check_the_size);
	tcase_add_test(tc, crc32c_should_chain_and_agree_with_a_bitwise_reference);
	tcase_add_test(tc, crc32c_codec_should_verify_and_strip_the_checksum);
	tcase_add_test(tc, crc32c_codec_should_reject_a_checksum_mismatch);
	tcase_add_test(tc, zstd_decode_should_handle_frames_without_content_size);
	tcase_add_test(tc, zstd_decode_should_handle_concatenated_frames);
	tcase_add_test(tc, zstd_decode_should_reject_a_frame_cut_short);
	tcase_add_test(tc, zstd_decode_should_reject_trailing_garbage);
	tcase_add_test(tc, zstd_decode_should_reject_a_frame_shorter_than_its_declared_size);
	tcase_add_test(tc, zstd_decode_should_report_eoverflow_when_the_buffer_is_too_small);
	tcase_add_test(tc, zstd_decode_alloc_should_append_up_to_max_and_no_further);
	tcase_add_test(tc, zstd_decode_alloc_should_decode_an_empty_frame);
	tcase_add_test(tc, gzip_decode_should_decode_gzip_cli_output);
	tcase_add_test(tc, gzip_decode_should_reject_a_corrupted_or_truncated_member);
	tcase_add_test(tc, gzip_decode_should_accept_concatenated_members_but_not_garbage);
	tcase_add_test(tc, zlib_decode_should_decode_python_output_and_reject_garbage);
	tcase_add_test(tc, blosc_decode_should_reject_a_header_claiming_more_than_dst_cap);
	tcase_add_test(tc, blosc_decode_should_reject_a_length_mismatch_or_corruption);
	tcase_add_test(tc, lz4_decode_should_read_the_numcodecs_size_header);
	tcase_add_test(tc, every_codec_should_round_trip_and_refuse_one_byte_too_few);
	tcase_add_test(tc, gzip_decode_should_read_the_zarrs_sharded_fixture);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
