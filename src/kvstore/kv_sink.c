/* SPDX-License-Identifier: MIT */
/*
 * This file implements the key sinks of kv_sink.h (OCDBT writer, plain
 * directory) and the exclusive file creation the writers share.
 */
#include "kvstore/kv_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvstore/ocdbt_writer.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

int kv_sink_write_all(int fd, const void *p, size_t n, const char *path)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t k = write(fd, b, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return ck_err(-EIO, "%s: cannot write: %s", path,
				      k < 0 ? strerror(errno) : "no progress");
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

int kv_sink_write_file(const char *path, const void *p, size_t n)
{
	int fd, err;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			return ck_err(-EEXIST, "%s: file exists", path);
		return ck_err(-EIO, "%s: cannot create: %s", path,
			      strerror(errno));
	}
	err = kv_sink_write_all(fd, p, n, path);
	if (close(fd) < 0 && !err)
		err = ck_err(-EIO, "%s: cannot close: %s", path,
			     strerror(errno));
	if (err)
		unlink(path);
	return err;
}

int kv_sink_mkdirs(const char *path)
{
	char *p = strdup(path);
	int err = 0;

	if (!p)
		return ck_err(-ENOMEM, "kv_sink: out of memory");
	for (char *s = p + 1; !err; s++) {
		int end = *s == '\0';

		if (*s != '/' && !end)
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			err = ck_err(-EIO, "%s: cannot create directory: %s", p,
				     strerror(errno));
		else if (!ck_is_dir(p))
			err = ck_err(-EIO, "%s: not a directory", p);
		if (end)
			break;
		*s = '/';
	}
	free(p);
	return err;
}

static int ocdbt_put(void *ctx, const void *key, size_t keylen,
		     const void *val, size_t len)
{
	return ocdbt_writer_put(ctx, key, keylen, val, len);
}

int kv_sink_ocdbt(struct ocdbt_writer *w, struct kv_sink *s)
{
	if (!w)
		return ck_err(-EINVAL, "kv_sink: no OCDBT writer");
	s->put = ocdbt_put;
	s->ctx = w;
	return 0;
}

static int dir_put(void *ctx, const void *key, size_t keylen, const void *val,
		   size_t len)
{
	const char *root = ctx;
	char *rel, *path = NULL, *slash;
	int err;

	err = ck_path_check_relative(key, keylen);
	if (err)
		return ck_err_ctx(err, "%s: key", root);
	if (((const char *)key)[keylen - 1] == '/')
		return ck_err(-EINVAL, "%s: key '%.*s' names a directory", root,
			      (int)keylen, (const char *)key);
	rel = strndup(key, keylen);
	if (!rel)
		return ck_err(-ENOMEM, "kv_sink: out of memory");
	path = ck_path_join(root, rel);
	if (!path) {
		err = ck_err(-ENOMEM, "kv_sink: out of memory");
		goto out;
	}
	slash = strrchr(path, '/');
	if (slash && slash != path) {
		*slash = '\0';
		err = kv_sink_mkdirs(path);
		*slash = '/';
		if (err)
			goto out;
	}
	err = kv_sink_write_file(path, val, len);
out:
	free(path);
	free(rel);
	return err;
}

int kv_sink_dir(const char *root, struct kv_sink *s)
{
	if (!root || !*root)
		return ck_err(-EINVAL, "kv_sink: no directory given");
	s->put = dir_put;
	s->ctx = (void *)(uintptr_t)root;
	return 0;
}
