/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: every codec decoder.  The first input byte picks the
 * codec, the rest is the encoded value; it is decoded into a fixed 1 MiB
 * buffer and into a small one (to exercise -EOVERFLOW), and for zstd also
 * through codec_zstd_decode_alloc with a cap and through the streaming
 * decoder (input fetched in pieces, output in 4093-byte windows), which must
 * agree with the one-shot decode.  A successful decode is re-encoded and
 * decoded again, which must give the same bytes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "util/ck_buf.h"

#define FUZZ_DST_CAP (1u << 20)
#define FUZZ_SMALL_CAP 64
#define FUZZ_ALLOC_MAX (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The streaming decoder's two ends over memory. */
struct fuzz_stream {
	const uint8_t *in;
	uint8_t *out;
	size_t cap;
	uint64_t next;			/* where the next piece must start */
	int short_seen;			/* a piece shorter than a window came */
};

static int fuzz_read(void *ctx, uint64_t off, void *buf, size_t n)
{
	const struct fuzz_stream *f = ctx;

	memcpy(buf, f->in + off, n);
	return 0;
}

/* Pieces come in order, never past out_len, all a whole window but the
 * last (which is short when the stream ends early; the decode then fails). */
static int fuzz_emit(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	struct fuzz_stream *f = ctx;

	if (off != f->next || off + n > f->cap || f->short_seen || n == 0)
		abort();
	f->short_seen = n != 4093;
	f->next = off + n;
	memcpy(f->out + off, p, n);
	return 0;
}

/* Stream-decode data expecting want bytes: those of a successful one-shot
 * decode (it must give the same bytes), one less (it must fail), or a guess
 * for input the one-shot decoder refused (it must not crash; it may accept
 * a frame whose declared size is wrong, which the one-shot decoder checks). */
static void fuzz_stream(const uint8_t *data, size_t size, const uint8_t *ref,
			size_t want, int ref_ok, uint8_t *tmp)
{
	struct fuzz_stream f = { data, tmp, want, 0, 0 };
	struct codec_zstd_stream s = { size, want, 4093, fuzz_read, fuzz_emit, &f };
	int err = codec_zstd_decode_stream(&s);

	if (ref_ok > 0 && (err != 0 || memcmp(tmp, ref, want) != 0))
		abort();
	if (ref_ok == 0 && err == 0)
		abort();
}

static const char *const fuzz_names[] = {
	"zstd", "gzip", "zlib", "blosc", "lz4", "crc32c",
};

static void fuzz_round_trip(const struct codec *c, const uint8_t *plain,
			    size_t n, uint8_t *tmp)
{
	struct codec_params p = { 1, 2 };
	struct ck_buf b = CK_BUF_INIT;
	size_t len;

	if (c->encode(&p, plain, n, &b) == 0) {
		if (c->decode(&p, b.data, b.len, tmp, n, &len) != 0 ||
		    len != n || (n && memcmp(tmp, plain, n) != 0))
			abort();
	}
	ck_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t dst[FUZZ_DST_CAP], tmp[FUZZ_DST_CAP];
	uint8_t small[FUZZ_SMALL_CAP];
	struct codec_params p = { 0, 1 };
	const struct codec *c;
	struct ck_buf b = CK_BUF_INIT;
	size_t len = 0, small_len = 0;
	int err, err_small;

	if (size < 1)
		return 0;
	c = codec_find(fuzz_names[data[0] % (sizeof(fuzz_names) /
					      sizeof(fuzz_names[0]))]);
	if (!c)
		abort();
	data++;
	size--;
	err = c->decode(&p, data, size, dst, sizeof(dst), &len);
	if (err == 0 && len > sizeof(dst))
		abort();
	err_small = c->decode(&p, data, size, small, sizeof(small), &small_len);
	/* a small buffer can only add -EOVERFLOW, and agrees on success */
	if (err_small == 0 && (err != 0 || small_len != len ||
			       memcmp(small, dst, len) != 0))
		abort();
	if (err == 0 && len <= sizeof(small) && err_small != 0)
		abort();
	if (err == 0)
		fuzz_round_trip(c, dst, len, tmp);
	if (strcmp(c->name, "zstd") == 0) {
		err_small = codec_zstd_decode_alloc(data, size, FUZZ_ALLOC_MAX,
						    &b);
		if (err_small == 0 && err == 0 &&
		    (b.len != len || memcmp(b.data, dst, len) != 0))
			abort();
		if (err_small != 0 && b.len != 0)
			abort();
		ck_buf_release(&b);
		if (err == 0) {
			fuzz_stream(data, size, dst, len, 1, tmp);
			if (len)
				fuzz_stream(data, size, dst, len - 1, 0, tmp);
		} else if (err != -EOVERFLOW) {
			fuzz_stream(data, size, dst, 100, -1, tmp);
		}
	}
	return 0;
}
