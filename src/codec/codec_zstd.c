/* SPDX-License-Identifier: MIT */
/*
 * This file implements the zstd codec (zarr v3 / numcodecs "zstd", and OCDBT
 * node and data compression).
 *
 * Format note: a zstd stream is one or more frames back to back (skippable
 * frames included); a frame's header may or may not record the decoded size
 * (numcodecs and TensorStore write it, streaming writers do not).  So the
 * header is never trusted for sizing: every decode goes through
 * ZSTD_decompressStream straight into the caller's buffer, never staging a
 * whole chunk twice, and these outcomes are distinguished:
 *   - a call returns 0 (frame complete) with all input consumed: success;
 *   - the decoder asks for more input but none is left while output space
 *     remains: the frame was cut short (-EIO);
 *   - bytes after the last frame that do not start a valid frame: -EIO (the
 *     decoder reports them as an unknown frame descriptor);
 *   - the caller's buffer is full: decoding continues into a one-byte probe,
 *     and any byte landing there means the output does not fit (-EOVERFLOW).
 * The window size is left at libzstd's default limit (2^27), which bounds the
 * decoder's own memory for hostile frames.
 *
 * Decompression contexts are cached one per thread (a pthread key frees them
 * when the thread exits), because creating one per call costs more than
 * decoding a small OCDBT node.
 */
#include "codec/codec.h"
#include "codec/codec_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"

/* Smallest growth step of codec_zstd_decode_alloc. */
#define ZSTD_ALLOC_MIN (64u * 1024)

static pthread_key_t zstd_dctx_key;
static pthread_once_t zstd_dctx_once = PTHREAD_ONCE_INIT;
static int zstd_dctx_key_err;

static void zstd_dctx_destroy(void *p)
{
	ZSTD_freeDCtx(p);
}

static void zstd_dctx_key_init(void)
{
	zstd_dctx_key_err = pthread_key_create(&zstd_dctx_key,
					       zstd_dctx_destroy);
}

/* The calling thread's decompression context, reset for a new stream. */
static int zstd_dctx_get(ZSTD_DCtx **out)
{
	ZSTD_DCtx *d;

	pthread_once(&zstd_dctx_once, zstd_dctx_key_init);
	if (zstd_dctx_key_err)
		return ck_err(-ENOMEM, "zstd: cannot create a thread key");
	d = pthread_getspecific(zstd_dctx_key);
	if (!d) {
		d = ZSTD_createDCtx();
		if (!d)
			return ck_err(-ENOMEM, "zstd: cannot allocate a decompression context");
		if (pthread_setspecific(zstd_dctx_key, d)) {
			ZSTD_freeDCtx(d);
			return ck_err(-ENOMEM, "zstd: cannot store a decompression context");
		}
	}
	ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
	*out = d;
	return 0;
}

/* The errno of a failed libzstd call: its allocations failing is -ENOMEM. */
static int zstd_errno(size_t ret, int err)
{
	return ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation ? -ENOMEM : err;
}

/* The state of one streaming decode shared by both decoders. */
struct zstd_stream {
	ZSTD_DCtx *d;			/* the thread's context */
	ZSTD_inBuffer in;		/* the whole input */
	size_t frame_start;		/* output total when this frame began */
	unsigned long long fcs;		/* its declared size, or UNKNOWN */
	int in_frame;			/* a frame has been started */
};

enum { ZSTD_MORE, ZSTD_DONE, ZSTD_STALLED };

/*
 * One step of the streaming loop: run the decoder once into o and classify
 * the outcome.  produced is the output total before the call.  Returns
 * ZSTD_DONE when the stream is complete, ZSTD_MORE to go on, ZSTD_STALLED
 * when the decoder made no progress (it needs output space), or -errno.
 *
 * libzstd (1.5.4) does not check a frame's declared content size when the
 * frame ends with an empty last block, so the size is checked here.
 */
static int zstd_step(struct zstd_stream *s, ZSTD_outBuffer *o, size_t produced)
{
	ZSTD_inBuffer *in = &s->in;
	size_t in_pos = in->pos, out_pos = o->pos, ret, total;

	if (!s->in_frame) {
		s->fcs = ZSTD_CONTENTSIZE_UNKNOWN;
		if (in->pos < in->size)
			s->fcs = ZSTD_getFrameContentSize(
				(const uint8_t *)in->src + in->pos,
				in->size - in->pos);
		s->frame_start = produced;
		s->in_frame = 1;
	}
	ret = ZSTD_decompressStream(s->d, o, in);
	if (ZSTD_isError(ret))
		return ck_err(zstd_errno(ret, -EIO), "zstd: %s after %zu input bytes",
			      ZSTD_getErrorName(ret), in->pos);
	total = produced + (o->pos - out_pos);
	if (ret == 0) {
		/* a frame ended; another may follow */
		if (s->fcs != ZSTD_CONTENTSIZE_UNKNOWN &&
		    s->fcs != ZSTD_CONTENTSIZE_ERROR &&
		    s->fcs != total - s->frame_start)
			return ck_err(-EIO, "zstd: frame declares %llu bytes but holds %zu",
				      s->fcs, total - s->frame_start);
		s->in_frame = 0;
		return in->pos == in->size ? ZSTD_DONE : ZSTD_MORE;
	}
	if (in->pos == in->size && o->pos < o->size)
		return ck_err(-EIO, "zstd: frame cut short after %zu bytes (%zu decoded)",
			      in->size, total);
	if (in->pos == in_pos && o->pos == out_pos)
		return ZSTD_STALLED;
	return ZSTD_MORE;
}

static int zstd_decode(const struct codec_params *params, const uint8_t *src,
		       size_t src_len, uint8_t *dst, size_t dst_cap,
		       size_t *dst_len)
{
	struct zstd_stream s = { .in = { src, src_len, 0 } };
	ZSTD_outBuffer out = { dst, dst_cap, 0 };
	uint8_t probe_byte;
	ZSTD_outBuffer probe = { &probe_byte, 1, 0 };
	int err;

	(void)params;
	err = zstd_dctx_get(&s.d);
	if (err)
		return err;
	for (;;) {
		ZSTD_outBuffer *o = out.pos < out.size ? &out : &probe;

		err = zstd_step(&s, o, out.pos);
		if (probe.pos)
			return ck_err(-EOVERFLOW, "zstd: decoded data exceeds the %zu-byte buffer",
				      dst_cap);
		if (err < 0)
			return err;
		if (err == ZSTD_STALLED)
			return ck_err(-EIO, "zstd: decoder stalled after %zu input bytes",
				      s.in.pos);
		if (err == ZSTD_DONE)
			break;
	}
	*dst_len = out.pos;
	return 0;
}

int codec_zstd_decode_stream(const struct codec_zstd_stream *s)
{
	size_t inb = ZSTD_DStreamInSize(), opos = 0;
	uint8_t *ibuf = malloc(inb), *obuf = malloc(s->win ? s->win : 1), probe;
	ZSTD_inBuffer in = { ibuf, 0, 0 };
	uint64_t fetched = 0, emitted = 0;
	unsigned idle = 0;
	ZSTD_DCtx *d = NULL;
	int err = ibuf && obuf && s->win ? zstd_dctx_get(&d) : -ENOMEM;

	while (!err) {
		uint64_t left = s->out_len - emitted;
		size_t cap = left < s->win ? (size_t)left : s->win, ipos, ret;
		/* Past out_len the decoder writes into a probe byte: any byte
		 * landing there is an error. */
		ZSTD_outBuffer out = cap > opos ? (ZSTD_outBuffer){ obuf, cap, opos } :
						  (ZSTD_outBuffer){ &probe, 1, 0 };

		if (in.pos == in.size && fetched < s->in_len) {
			in.size = s->in_len - fetched < inb ? (size_t)(s->in_len - fetched) : inb;
			in.pos = 0;
			err = s->read(s->ctx, fetched, ibuf, in.size);
			fetched += in.size;
			if (err)
				break;
		}
		ipos = in.pos;
		ret = ZSTD_decompressStream(d, &out, &in);
		if (ZSTD_isError(ret)) {
			err = ck_err(zstd_errno(ret, -EIO), "zstd: %s after %llu input bytes",
				     ZSTD_getErrorName(ret),
				     (unsigned long long)(fetched - in.size + in.pos));
			break;
		}
		if (out.dst == &probe && out.pos) {
			err = ck_err(-EIO, "zstd: chunk decodes to more than %llu bytes",
				     (unsigned long long)s->out_len);
			break;
		}
		idle = in.pos == ipos && (out.dst == &probe || out.pos == opos) ? idle + 1 : 0;
		if (out.dst == obuf)
			opos = out.pos;
		if (cap && opos == cap) {
			err = s->emit(s->ctx, emitted, obuf, opos);
			emitted += opos;
			opos = 0;
		}
		if (!err && ret == 0 && in.pos == in.size && fetched == s->in_len)
			break;	/* every frame complete, the input used up */
		if (!err && idle >= 2)
			err = ck_err(-EIO, "zstd: stream cut short after %llu bytes (%llu decoded)",
				     (unsigned long long)fetched,
				     (unsigned long long)(emitted + opos));
	}
	if (!err && opos) {
		err = s->emit(s->ctx, emitted, obuf, opos);
		emitted += opos;
	}
	if (!err && emitted != s->out_len)
		err = ck_err(-EIO, "zstd: chunk decodes to %llu bytes, expected %llu",
			     (unsigned long long)emitted, (unsigned long long)s->out_len);
	free(ibuf);
	free(obuf);
	return err;
}

/*
 * Grow out for more output: by the first frame's declared size the first time
 * (so a well-formed node is allocated once), then by what has been produced
 * so far (doubling), never past max in total.
 */
static int zstd_alloc_grow(struct ck_buf *out, size_t produced, size_t max,
			   size_t first)
{
	size_t want = produced ? produced : first;

	if (want < ZSTD_ALLOC_MIN && !(produced == 0 && first))
		want = ZSTD_ALLOC_MIN;
	if (want > max - produced)
		want = max - produced;
	return ck_buf_grow(out, want);
}

int codec_zstd_decode_alloc(const uint8_t *src, size_t src_len, size_t max,
			    struct ck_buf *out)
{
	struct zstd_stream s = { .in = { src, src_len, 0 } };
	uint8_t probe_byte;
	ZSTD_outBuffer probe = { &probe_byte, 1, 0 }, ob;
	size_t base = out->len, produced = 0, first = 0;
	unsigned long long hint = ZSTD_CONTENTSIZE_UNKNOWN;
	int err, stalled = 1;	/* grow before the first call if full */

	err = zstd_dctx_get(&s.d);
	if (err)
		return err;
	/* The first frame's declared size, if any, is only a sizing hint. */
	if (src_len)
		hint = ZSTD_getFrameContentSize(src, src_len);
	if (hint != ZSTD_CONTENTSIZE_UNKNOWN &&
	    hint != ZSTD_CONTENTSIZE_ERROR && hint <= max)
		first = (size_t)hint;
	for (;;) {
		ZSTD_outBuffer *o = &probe;

		if (produced < max) {
			/*
			 * With the buffer full, first let the decoder finish
			 * what needs no output (a frame's checksum, the next
			 * header); grow only when it stalls for space.
			 */
			if (out->len == out->cap && stalled) {
				err = zstd_alloc_grow(out, produced, max, first);
				if (err)
					goto out_fail;
			}
			ob.dst = out->data ? out->data + out->len : &probe_byte;
			ob.size = out->cap - out->len;
			if (ob.size > max - produced)
				ob.size = max - produced;
			ob.pos = 0;
			o = &ob;
		}
		err = zstd_step(&s, o, produced);
		if (probe.pos) {
			err = ck_err(-EOVERFLOW, "zstd: decoded data exceeds the %zu-byte limit",
				     max);
			goto out_fail;
		}
		if (o != &probe) {
			out->len += ob.pos;
			produced += ob.pos;
		}
		if (err < 0)
			goto out_fail;
		if (err == ZSTD_DONE)
			return 0;
		stalled = err == ZSTD_STALLED;
		if (stalled && o->size > 0) {
			err = ck_err(-EIO, "zstd: decoder stalled after %zu input bytes",
				     s.in.pos);
			goto out_fail;
		}
	}
out_fail:
	out->len = base;
	return err;
}

int codec_zstd_encode_level(const uint8_t *src, size_t src_len, int level,
			    struct ck_buf *out)
{
	size_t bound = ZSTD_compressBound(src_len), n;
	int err;

	if (ZSTD_isError(bound))
		return ck_err(-EOVERFLOW, "zstd: input of %zu bytes is too large",
			      src_len);
	err = ck_buf_grow(out, bound);
	if (err)
		return err;
	n = ZSTD_compress(out->data + out->len, out->cap - out->len, src,
			  src_len, level);
	if (ZSTD_isError(n))
		return ck_err(zstd_errno(n, -EINVAL), "zstd: cannot compress: %s",
			      ZSTD_getErrorName(n));
	out->len += n;
	return 0;
}

static int zstd_encode(const struct codec_params *params, const uint8_t *src,
		       size_t src_len, struct ck_buf *out)
{
	return codec_zstd_encode_level(src, src_len, params ? params->level : 0,
				       out);
}

const struct codec codec_zstd = {
	.name = "zstd",
	.decode = zstd_decode,
	.encode = zstd_encode,
};
