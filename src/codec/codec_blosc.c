/* SPDX-License-Identifier: MIT */
/*
 * This file implements the blosc codec (zarr v3 / numcodecs "blosc") on top
 * of libblosc 1.x.
 *
 * Why a library: blosc is a meta-format.  A 16-byte header (version, flags,
 * typesize, nbytes, blocksize, cbytes) is followed by a block offset table
 * and blocks, each compressed by one of six inner compressors (blosclz, lz4,
 * lz4hc, snappy, zlib, zstd) after an optional byte or bit shuffle, with
 * optional per-block stream splitting.  Reimplementing all of that would add
 * far more hostile-input surface than calling the maintained, fuzzed
 * libblosc.  What this file adds is a gate: blosc_cbuffer_validate() plus our
 * own checks (the header's cbytes must equal the input length, its nbytes
 * must fit the caller's buffer) run before libblosc decompresses anything,
 * and only the thread-safe *_ctx entry points are used, single-threaded, so
 * no global blosc state is touched.
 */
#include "codec/codec.h"
#include "codec/codec_impl.h"

#include <blosc.h>
#include <errno.h>
#include <stdlib.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"

/* numcodecs' default Blosc level. */
#define BLOSC_DEFAULT_LEVEL 5

/*
 * libblosc 1.x does not check its own allocations: a decode allocates one
 * 32-byte aligned scratch buffer of two blocks plus 4 * typesize bytes and
 * writes through it even when that failed.  The same allocation is made and
 * freed here first, so that memory running out is -ENOMEM here rather than
 * a NULL dereference in libblosc (which remains possible only if memory
 * runs out in between).
 */
static int blosc_scratch_check(const uint8_t *src, size_t blocksize)
{
	void *p;

	if (posix_memalign(&p, 32, 2 * blocksize + 4 * (size_t)src[3]))
		return ck_err(-ENOMEM, "blosc: out of memory for a %zu-byte block",
			      blocksize);
	free(p);
	return 0;
}

static int blosc_codec_decode(const struct codec_params *params,
			      const uint8_t *src, size_t src_len, uint8_t *dst,
			      size_t dst_cap, size_t *dst_len)
{
	size_t nbytes = 0, hdr_nbytes, hdr_cbytes, blocksize;
	int n;

	(void)params;
	if (src_len < BLOSC_MIN_HEADER_LENGTH)
		return ck_err(-EIO, "blosc: input of %zu bytes is shorter than the header",
			      src_len);
	blosc_cbuffer_sizes(src, &hdr_nbytes, &hdr_cbytes, &blocksize);
	if (hdr_cbytes != src_len)
		return ck_err(-EIO, "blosc: header says %zu compressed bytes, input has %zu",
			      hdr_cbytes, src_len);
	if (blosc_cbuffer_validate(src, src_len, &nbytes) != 0)
		return ck_err(-EIO, "blosc: invalid header");
	if (nbytes != hdr_nbytes)
		return ck_err(-EIO, "blosc: inconsistent header");
	if (nbytes > dst_cap)
		return ck_err(-EOVERFLOW, "blosc: %zu decoded bytes exceed the %zu-byte buffer",
			      nbytes, dst_cap);
	if (nbytes == 0) {
		*dst_len = 0;
		return 0;
	}
	/* libblosc writes blocks of at most nbytes (it cuts the block size to
	 * the data); a larger one would make the output buffer's size, not
	 * the data, decide whether the frame decodes. */
	if (blocksize > nbytes)
		return ck_err(-EIO, "blosc: a block of %zu bytes for %zu decoded bytes",
			      blocksize, nbytes);
	/* libblosc refuses a block larger than the output before allocating. */
	if (blocksize && blocksize <= dst_cap) {
		int err = blosc_scratch_check(src, blocksize);

		if (err)
			return err;
	}
	n = blosc_decompress_ctx(src, dst, dst_cap, 1);
	if (n < 0)
		return ck_err(-EIO, "blosc: corrupt data (error %d)", n);
	if ((size_t)n != nbytes)
		return ck_err(-EIO, "blosc: decoded %d bytes, header says %zu",
			      n, nbytes);
	*dst_len = nbytes;
	return 0;
}

static int blosc_codec_encode(const struct codec_params *params,
			      const uint8_t *src, size_t src_len,
			      struct ck_buf *out)
{
	int level = params ? params->level : BLOSC_DEFAULT_LEVEL;
	unsigned typesize = params && params->typesize ? params->typesize : 1;
	size_t cap = src_len + BLOSC_MAX_OVERHEAD;
	int n, err;

	if (src_len > BLOSC_MAX_BUFFERSIZE)
		return ck_err(-EOVERFLOW, "blosc: input of %zu bytes is too large",
			      src_len);
	if (level < 0 || level > 9)
		level = BLOSC_DEFAULT_LEVEL;
	if (typesize > BLOSC_MAX_TYPESIZE)
		typesize = 1;
	err = ck_buf_grow(out, cap);
	if (err)
		return err;
	n = blosc_compress_ctx(level, BLOSC_SHUFFLE, typesize, src_len, src,
			       out->data + out->len, cap, "lz4", 0, 1);
	if (n <= 0)
		return ck_err(-EIO, "blosc: compression failed (%d)", n);
	out->len += (size_t)n;
	return 0;
}

const struct codec codec_blosc = {
	.name = "blosc",
	.decode = blosc_codec_decode,
	.encode = blosc_codec_encode,
};
