/* SPDX-License-Identifier: MIT */
/* This file implements the file helpers of ck_file.h. */
#include "util/ck_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/ck_err.h"

int ck_pread_full(int fd, void *buf, size_t len, uint64_t off, const char *path)
{
	uint8_t *p = buf;
	size_t done = 0;

	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return ck_err(-EOVERFLOW, "%s: read at offset %llu overflows", path,
			      (unsigned long long)off);
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ck_err(-errno, "%s: read failed: %s", path, strerror(errno));
		}
		if (n == 0)
			return ck_err(-EIO, "%s: file truncated (wanted %zu bytes at "
				      "offset %llu, got %zu)", path, len,
				      (unsigned long long)off, done);
		done += (size_t)n;
	}
	return 0;
}

int ck_pwrite_full(int fd, const void *buf, size_t len, uint64_t off, const char *path)
{
	const uint8_t *p = buf;
	size_t done = 0;

	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return ck_err(-EOVERFLOW, "%s: write at offset %llu overflows", path,
			      (unsigned long long)off);
	while (done < len) {
		ssize_t n = pwrite(fd, p + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ck_err(n < 0 ? -errno : -EIO, "%s: write failed: %s", path,
				      n < 0 ? strerror(errno) : "no progress");
		done += (size_t)n;
	}
	return 0;
}

int ck_read_fd(int fd, const char *path, size_t max, uint8_t **data, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int err;

	if (fstat(fd, &st) < 0)
		return ck_err(-errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ck_err(-EINVAL, "%s: not a regular file", path);
	if ((uint64_t)st.st_size > max)
		return ck_err(-EOVERFLOW, "%s: %lld bytes is larger than the %zu-byte limit",
			      path, (long long)st.st_size, max);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return ck_err(-ENOMEM, "%s: out of memory", path);
	err = ck_pread_full(fd, buf, (size_t)st.st_size, 0, path);
	if (err) {
		free(buf);
		return err;
	}
	buf[st.st_size] = '\0';
	*data = buf;
	*len = (size_t)st.st_size;
	return 0;
}

int ck_read_file(const char *path, size_t max, uint8_t **data, size_t *len)
{
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ck_err(-errno, "%s: %s", path, strerror(errno));
	err = ck_read_fd(fd, path, max, data, len);
	close(fd);
	return err;
}

char *ck_path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p;

	while (la > 1 && a[la - 1] == '/')
		la--;
	p = malloc(la + lb + 2);
	if (!p)
		return NULL;
	memcpy(p, a, la);
	if (la && a[la - 1] != '/')
		p[la++] = '/';
	memcpy(p + la, b, lb + 1);
	return p;
}

int ck_path_check_relative(const char *rel, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return ck_err(-EINVAL, "empty path");
	if (rel[0] == '/')
		return ck_err(-EINVAL, "absolute path '%.*s'", (int)len, rel);
	while (i < len) {
		size_t j = i;

		while (j < len && rel[j] != '/') {
			if (rel[j] == '\0')
				return ck_err(-EINVAL, "path contains a NUL byte");
			j++;
		}
		if (j == i && j != len)
			return ck_err(-EINVAL, "empty component in path '%.*s'", (int)len, rel);
		if ((j - i == 1 && rel[i] == '.') ||
		    (j - i == 2 && rel[i] == '.' && rel[i + 1] == '.'))
			return ck_err(-EINVAL, "path '%.*s' leaves its directory",
				      (int)len, rel);
		i = j + 1;
	}
	return 0;
}

int ck_is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int ck_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
