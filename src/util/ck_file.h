/* SPDX-License-Identifier: MIT */
/*
 * ck_file.h - file helpers: full preads and pwrites, capped whole-file
 * reads, paths.
 *
 * Only ck_pwrite_full() writes, to an fd its caller opened for writing
 * (never a checkpoint file).  Errors carry a ck_err message naming the path.
 */
#ifndef CK_FILE_H
#define CK_FILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read exactly len bytes at off from fd.  A short read (end of file) is -EIO
 * "file truncated"; `path` names the file in messages.
 */
int ck_pread_full(int fd, void *buf, size_t len, uint64_t off, const char *path);

/* Write exactly len bytes of buf at off to fd, through short writes and
 * EINTR.  -errno (-EIO when no progress) with a message naming path. */
int ck_pwrite_full(int fd, const void *buf, size_t len, uint64_t off, const char *path);

/*
 * Read the whole file at path into a new NUL-terminated buffer (caller frees
 * *data).  -ENOENT if absent, -EOVERFLOW if larger than max bytes, -EIO.
 */
int ck_read_file(const char *path, size_t max, uint8_t **data, size_t *len);

/* The same for the open descriptor fd (read from offset 0; not closed);
 * path names the file in messages. */
int ck_read_fd(int fd, const char *path, size_t max, uint8_t **data, size_t *len);

/* Join a and b with one '/' into a new string (caller frees); NULL on ENOMEM. */
char *ck_path_join(const char *a, const char *b);

/*
 * 0 if rel is a safe relative path: not absolute, no "." or ".." component,
 * no empty component, no NUL.  Otherwise -EINVAL with a message.
 */
int ck_path_check_relative(const char *rel, size_t len);

/* 1 if path names an existing regular file / directory, else 0. */
int ck_is_file(const char *path);
int ck_is_dir(const char *path);

#endif
