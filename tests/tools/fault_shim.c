/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for the fault-injection tests: while the file named by
 * $CKPT_FAULT_FLAG exists, pread() on any file whose path contains
 * $CKPT_FAULT_PATH fails with EIO.  Everything else passes through.
 *
 *   cc -shared -fPIC -o fault_shim.so fault_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int failing(int fd)
{
	const char *flag = getenv("CKPT_FAULT_FLAG"), *part = getenv("CKPT_FAULT_PATH");
	char link[64], path[PATH_MAX];
	ssize_t n;

	if (!flag || !part || access(flag, F_OK) != 0)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	return strstr(path, part) != NULL;
}

ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);

	if (!real)
		real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
	if (failing(fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd, buf, count, off);
}

ssize_t pread64(int fd, void *buf, size_t count, off_t off)
{
	return pread(fd, buf, count, off);
}
