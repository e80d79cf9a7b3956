/* SPDX-License-Identifier: MIT */
/*
 * This file implements the gzip (zarr v3 / numcodecs "gzip") and zlib
 * (numcodecs "zlib") codecs with zlib's inflate.
 *
 * Format note: "gzip" is an RFC 1952 member (numcodecs writes it through
 * Python's gzip module, TensorStore through zlib with windowBits 31); several
 * members back to back are one valid gzip file and decode to the
 * concatenation, as Python's reader does.  "zlib" is one RFC 1950 stream, as
 * zlib.compress() writes it.  Inflate runs straight into the caller's buffer:
 *   - input exhausted before the stream end while output space remains:
 *     truncated (-EIO);
 *   - bytes after the end that are not another gzip member: -EIO;
 *   - the buffer full before the end: decoding continues into a one-byte
 *     probe, and any byte landing there means -EOVERFLOW.
 * zlib counts in uInt, so input and output are fed in pieces of at most
 * UINT_MAX bytes.
 */
#include "codec/codec.h"
#include "codec/codec_impl.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"

/* windowBits for inflateInit2/deflateInit2: 15, plus 16 for a gzip wrapper. */
#define GZ_WBITS_GZIP (15 + 16)
#define GZ_WBITS_ZLIB 15

/* Top up a zlib counter from a size_t remainder. */
static void gz_feed(uInt *avail, size_t *left)
{
	size_t n = *left > UINT_MAX ? UINT_MAX : *left;

	*avail = (uInt)n;
	*left -= n;
}

static int gz_inflate(const char *name, int wbits, const uint8_t *src,
		      size_t src_len, uint8_t *dst, size_t dst_cap,
		      size_t *dst_len)
{
	z_stream s;
	size_t in_left = src_len, out_left = dst_cap;
	uint8_t probe;
	int ret, err = 0, probing = 0;

	memset(&s, 0, sizeof(s));
	ret = inflateInit2(&s, wbits);
	if (ret == Z_MEM_ERROR)
		return ck_err(-ENOMEM, "%s: out of memory", name);
	if (ret != Z_OK)
		return ck_err(-EIO, "%s: cannot initialise inflate", name);
	s.next_in = (Bytef *)src;
	gz_feed(&s.avail_in, &in_left);
	s.next_out = dst_cap ? dst : &probe;
	gz_feed(&s.avail_out, &out_left);
	if (!dst_cap) {
		s.avail_out = 1;
		probing = 1;
	}
	for (;;) {
		uInt in_before = s.avail_in, out_before = s.avail_out;

		ret = inflate(&s, Z_NO_FLUSH);
		if (probing && s.avail_out == 0) {
			err = ck_err(-EOVERFLOW, "%s: decoded data exceeds the %zu-byte buffer",
				     name, dst_cap);
			goto out;
		}
		if (ret == Z_STREAM_END) {
			if (s.avail_in == 0 && in_left == 0)
				break;
			if (wbits == GZ_WBITS_ZLIB) {
				err = ck_err(-EIO, "%s: %zu bytes of trailing garbage",
					     name, (size_t)s.avail_in + in_left);
				goto out;
			}
			/* another gzip member follows (or garbage) */
			ret = inflateReset(&s);
			if (ret != Z_OK) {
				err = ck_err(-EIO, "%s: cannot reset inflate", name);
				goto out;
			}
			continue;
		}
		if (ret == Z_MEM_ERROR) {
			err = ck_err(-ENOMEM, "%s: out of memory", name);
			goto out;
		}
		if (ret != Z_OK && ret != Z_BUF_ERROR) {
			err = ck_err(-EIO, "%s: %s after %zu input bytes", name,
				     s.msg ? s.msg : "corrupt stream",
				     (size_t)s.total_in);
			goto out;
		}
		if (s.avail_in == 0 && in_left)
			gz_feed(&s.avail_in, &in_left);
		if (s.avail_out == 0 && out_left)
			gz_feed(&s.avail_out, &out_left);
		if (s.avail_in == 0 && s.avail_out > 0) {
			err = ck_err(-EIO, "%s: stream cut short after %zu bytes",
				     name, src_len);
			goto out;
		}
		if (s.avail_out == 0) {
			/* the buffer is full: is there more output? */
			s.next_out = &probe;
			s.avail_out = 1;
			probing = 1;
			continue;
		}
		if (s.avail_in == in_before && s.avail_out == out_before) {
			err = ck_err(-EIO, "%s: inflate stalled after %zu input bytes",
				     name, (size_t)s.total_in);
			goto out;
		}
	}
	*dst_len = dst_cap - out_left - (probing ? 0 : s.avail_out);
out:
	inflateEnd(&s);
	return err;
}

static int gz_deflate(const char *name, int wbits, int level,
		      const uint8_t *src, size_t src_len, struct ck_buf *out)
{
	z_stream s;
	uLong bound;
	int ret, err = 0;

	if (src_len > UINT_MAX)
		return ck_err(-EOVERFLOW, "%s: input of %zu bytes is too large",
			      name, src_len);
	if (level < Z_DEFAULT_COMPRESSION || level > Z_BEST_COMPRESSION)
		level = Z_DEFAULT_COMPRESSION;
	memset(&s, 0, sizeof(s));
	ret = deflateInit2(&s, level, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY);
	if (ret == Z_MEM_ERROR)
		return ck_err(-ENOMEM, "%s: out of memory", name);
	if (ret != Z_OK)
		return ck_err(-EINVAL, "%s: cannot initialise deflate", name);
	bound = deflateBound(&s, (uLong)src_len);
	if (bound > UINT_MAX) {
		err = ck_err(-EOVERFLOW, "%s: input of %zu bytes is too large",
			     name, src_len);
		goto out;
	}
	err = ck_buf_grow(out, bound);
	if (err)
		goto out;
	s.next_in = (Bytef *)src;
	s.avail_in = (uInt)src_len;
	s.next_out = out->data + out->len;
	s.avail_out = (uInt)bound;
	ret = deflate(&s, Z_FINISH);
	if (ret != Z_STREAM_END) {
		err = ck_err(-EIO, "%s: deflate did not finish (%d)", name, ret);
		goto out;
	}
	out->len += bound - s.avail_out;
out:
	deflateEnd(&s);
	return err;
}

static int gzip_decode(const struct codec_params *params, const uint8_t *src,
		       size_t src_len, uint8_t *dst, size_t dst_cap,
		       size_t *dst_len)
{
	(void)params;
	return gz_inflate("gzip", GZ_WBITS_GZIP, src, src_len, dst, dst_cap,
			  dst_len);
}

static int zlib_decode(const struct codec_params *params, const uint8_t *src,
		       size_t src_len, uint8_t *dst, size_t dst_cap,
		       size_t *dst_len)
{
	(void)params;
	return gz_inflate("zlib", GZ_WBITS_ZLIB, src, src_len, dst, dst_cap,
			  dst_len);
}

static int gzip_encode(const struct codec_params *params, const uint8_t *src,
		       size_t src_len, struct ck_buf *out)
{
	return gz_deflate("gzip", GZ_WBITS_GZIP,
			  params ? params->level : Z_DEFAULT_COMPRESSION, src,
			  src_len, out);
}

static int zlib_encode(const struct codec_params *params, const uint8_t *src,
		       size_t src_len, struct ck_buf *out)
{
	return gz_deflate("zlib", GZ_WBITS_ZLIB,
			  params ? params->level : Z_DEFAULT_COMPRESSION, src,
			  src_len, out);
}

const struct codec codec_gzip = {
	.name = "gzip",
	.decode = gzip_decode,
	.encode = gzip_encode,
};

const struct codec codec_zlib = {
	.name = "zlib",
	.decode = zlib_decode,
	.encode = zlib_encode,
};
