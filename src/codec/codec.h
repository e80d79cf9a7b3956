/* SPDX-License-Identifier: MIT */
/*
 * codec.h - bytes-to-bytes decoders used by OCDBT and zarr.
 *
 * A codec decodes one encoded value into a caller buffer.  All input is
 * hostile: a decoder never writes past dst_cap, never reads past src_len, and
 * reports corruption as -EIO with a ck_err message that starts with the codec
 * name ("zstd: frame cut short").  Decoded output larger than dst_cap is
 * -EOVERFLOW.  Codecs are stateless and thread-safe.
 *
 * The zarr layer looks codecs up by name once, when it parses array metadata
 * (codec_find), and keeps the pointer.
 */
#ifndef CODEC_H
#define CODEC_H

#include <stddef.h>
#include <stdint.h>

struct ck_buf;

/*
 * Per-array codec parameters, parsed from zarr metadata.  Only the fields a
 * codec's decoder needs are here: the rest of the configuration (levels, etc.)
 * only matters when encoding.
 */
struct codec_params {
	int level;		/* compression level (encode only) */
	unsigned typesize;	/* element size, for blosc shuffle on encode */
};

struct codec {
	const char *name;	/* zarr v3 / numcodecs name: "zstd", "gzip", ... */
	/*
	 * Decode src[0..src_len) into dst[0..dst_cap); on success *dst_len is the
	 * number of bytes written.  -EIO corrupt/truncated, -EOVERFLOW output
	 * larger than dst_cap, -ENOMEM.
	 */
	int (*decode)(const struct codec_params *p, const uint8_t *src,
		      size_t src_len, uint8_t *dst, size_t dst_cap,
		      size_t *dst_len);
	/*
	 * Encode src into out (appended).  Used by the writer and the tests.
	 * -ENOMEM.  NULL for codecs that cannot encode.
	 */
	int (*encode)(const struct codec_params *p, const uint8_t *src,
		      size_t src_len, struct ck_buf *out);
};

/*
 * The codec registered under name (zarr v3 names "zstd", "gzip", "blosc",
 * "crc32c"; numcodecs names "zlib", "lz4" also accepted), or NULL.
 */
const struct codec *codec_find(const char *name);

/*
 * Decode a whole zstd stream (one or more frames, with or without the content
 * size in the header) into a new buffer of at most max bytes, appended to out.
 * -EIO truncated/corrupt, -EOVERFLOW if the output would exceed max.
 * Used for OCDBT node bodies, whose decoded size is only bounded.
 */
int codec_zstd_decode_alloc(const uint8_t *src, size_t src_len, size_t max,
			    struct ck_buf *out);

/*
 * A zstd stream decoded a window at a time: in_len compressed bytes, fetched
 * by read(ctx, off, buf, n) in pieces, that must decode to exactly out_len
 * bytes, handed to emit(ctx, out_off, p, n) in order, in pieces of exactly
 * win bytes but the last.  Neither the input nor the output is ever held
 * whole: the memory is one input buffer and one window.
 */
struct codec_zstd_stream {
	uint64_t in_len, out_len;
	size_t win;
	int (*read)(void *ctx, uint64_t off, void *buf, size_t n);
	int (*emit)(void *ctx, uint64_t out_off, const uint8_t *p, size_t n);
	void *ctx;
};

/* Decode s.  -EIO corrupt, cut short, or not exactly out_len bytes; the
 * errors of read and emit; -ENOMEM.  Thread-safe. */
int codec_zstd_decode_stream(const struct codec_zstd_stream *s);

/* Compress src as one zstd frame at level, appended to out. */
int codec_zstd_encode_level(const uint8_t *src, size_t src_len, int level,
			    struct ck_buf *out);

/* CRC-32C (Castagnoli): crc32c(0, p, n) is the standard checksum; the first
 * argument chains calls: crc32c(crc32c(0, a, n), b, m) == crc of a||b. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

#endif
