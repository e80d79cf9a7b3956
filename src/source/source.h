/* SPDX-License-Identifier: MIT */
/*
 * source.h - a checkpoint's files by path, wherever they are: a local path
 * or a remote URL (gs://, s3://, http[s]://; remote/remote.h).
 *
 * The layers above (kvstore, orbax) name files by path strings, joined with
 * ck_path_join(); these functions send a URL to the remote backends and a
 * local path to the file system.  Local paths keep their guard: with a root,
 * a file or directory is opened beneath it, never through a symlink that
 * leads out (util/ck_beneath.h); remote stores have no symlinks.
 *
 * Errors are -errno with a message naming the path (util/ck_err.h).
 */
#ifndef SOURCE_H
#define SOURCE_H

#include <stddef.h>
#include <stdint.h>

/* 1 if path is a remote URL. */
int src_is_remote(const char *path);

/* What a path names. */
enum src_type {
	SRC_NONE = 0,	/* nothing, or it cannot be looked at */
	SRC_FILE = 1,	/* a regular file or an object */
	SRC_DIR = 2,	/* a directory, or a prefix with objects under it */
	SRC_MAYBE_DIR = 3, /* HTTP: not an object, may be a directory (there
			      is no listing to tell) */
};

/* What a path names (local: stat(2), following symlinks), into *t.  Absent
 * is 0 with SRC_NONE; an error is a failure to ask (remote.h: unreachable,
 * unauthorised, no such bucket). */
int src_stat(const char *path, enum src_type *t);

/* src_stat()'s type, SRC_NONE on error (the reason left in ck_err_msg()). */
enum src_type src_type(const char *path);

/* src_type() is SRC_FILE. */
int src_is_file(const char *path);

/* src_type() is SRC_DIR or SRC_MAYBE_DIR. */
int src_is_dir(const char *path);

/* 1 if directory listings can be had for path (not on http[s]://). */
int src_can_list(const char *path);

/*
 * The whole file at path, at most max bytes, into *data (malloc'd, caller
 * frees; NUL-terminated past *len).  Local: opened beneath root (NULL:
 * as named) unless follow.  -ENOENT (absent), -EFBIG (larger than max),
 * -EXDEV/-ELOOP (out of root), -EIO, -ENOMEM; remote errors of remote.h.
 */
int src_read_file(const char *root, const char *path, int follow, size_t max,
		  uint8_t **data, size_t *len);

/*
 * Call cb for each entry of directory dir (not "." or ".."), with is_dir 1
 * for a directory, -1 when the kind is not known without a stat (local
 * DT_UNKNOWN), 0 for anything else (a file, an object, a symlink).  Local: opened beneath root
 * unless follow.  cb returns nonzero to stop (returned).  -ENOENT,
 * -ENOTDIR, -ENOTSUP (http[s]: no listing), -EXDEV/-ELOOP, -EIO, -ENOMEM.
 */
typedef int (*src_list_cb)(void *ctx, const char *name, int is_dir);
int src_list(const char *root, const char *dir, int follow, src_list_cb cb,
	     void *ctx);

/*
 * The canonical form of a path, for deciding what lies beneath what:
 * realpath(3) for a local path, the URL as given for a remote one.  Caller
 * frees.  -ENOENT, -ENOMEM.
 */
int src_realpath(const char *path, char **out);

/*
 * 1 if a step directory on this source is committed only once it holds
 * Orbax's commit_success.txt: steps written to Cloud Storage (gs://, or a
 * local path on a gcsfuse mount), where Orbax cannot rename a temporary
 * directory and marks the step committed with that file instead.
 */
int src_needs_commit_file(const char *path);

#endif
