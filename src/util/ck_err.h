/* SPDX-License-Identifier: MIT */
/*
 * ck_err.h - one error message per failure, with context added on the way up.
 *
 * Every fallible function in ckptfs returns 0 (or a count) on success and a
 * negative errno on failure.  The errno vocabulary:
 *   -ENOENT     no such key, array, file or tensor
 *   -EIO        corrupt or short data, bad checksum, bad magic
 *   -ENOTSUP    a codec, dtype or format version ckptfs does not handle
 *   -EINVAL     a bad option, path or mapping
 *   -EOVERFLOW  a size that does not fit (or exceeds a cap)
 *   -ENOMEM     allocation failure
 *
 * Alongside the errno, the layer that detects a failure records a message with
 * ck_err(); each layer above that knows more (the key, the file) prepends it
 * with ck_err_ctx().  The front end prints ck_err_msg() as one line, e.g.
 *   "/ckpt/items/d/ab12: key 'a/c/0': zstd: frame cut short".
 * The message lives in thread-local storage, so concurrent readers do not mix.
 * Non-printable bytes are replaced by '?', so hostile names never reach a log
 * raw.
 */
#ifndef CK_ERR_H
#define CK_ERR_H

/* Record a new message (replacing any previous one) and return err. */
int ck_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Prefix the current message with "<context>: " and return err.  If no
 * message was recorded, the context becomes the message, followed by
 * strerror(-err).
 */
int ck_err_ctx(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's current message ("" if none).  Valid until the next
 * ck_err* call on this thread. */
const char *ck_err_msg(void);

/* Forget the calling thread's message. */
void ck_err_clear(void);

#endif
