/* SPDX-License-Identifier: MIT */
/*
 * kv_sink.h - where a writer puts keys: an OCDBT database being written, or
 * a plain directory (one file per key, the legacy zarr layout), plus the
 * small file-creation helpers the writers share.
 *
 * A struct kv_sink is a borrowed view: it owns nothing, and what it points at
 * (the OCDBT writer, the root string) must outlive it.  Not thread-safe.
 */
#ifndef KV_SINK_H
#define KV_SINK_H

#include <stddef.h>

struct ocdbt_writer;

/* put: store key -> val (both borrowed for the call); 0 or -errno. */
typedef int (*kv_sink_put_fn)(void *ctx, const void *key, size_t keylen,
			      const void *val, size_t len);

struct kv_sink {
	kv_sink_put_fn put; /* stores one key */
	void *ctx;	    /* the sink's target (borrowed) */
};

/* A sink that puts into w (see ocdbt_writer_put() for its errors). */
int kv_sink_ocdbt(struct ocdbt_writer *w, struct kv_sink *s);

/*
 * A sink writing key "a/b/c" to the file root/a/b/c, creating directories
 * as needed.  root must exist when put is called and outlive the sink.  put
 * errors: -EINVAL key not a safe relative path (ck_path_check_relative);
 * -EEXIST the file exists (duplicate key); -EIO; -ENOMEM.
 */
int kv_sink_dir(const char *root, struct kv_sink *s);

/* Create directory path and its missing parents (mode 0755).  -EIO, -ENOMEM. */
int kv_sink_mkdirs(const char *path);

/*
 * Create the file path (O_EXCL, mode 0644) holding p[0..n).  -EEXIST if it
 * exists, -EIO on failure (a partly written file is removed).
 */
int kv_sink_write_file(const char *path, const void *p, size_t n);

/* Write all of p[0..n) to fd (path names it in messages).  -EIO. */
int kv_sink_write_all(int fd, const void *p, size_t n, const char *path);

#endif
