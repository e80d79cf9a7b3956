/* SPDX-License-Identifier: MIT */
/* This file implements source.h: local paths and remote URLs behind one set
 * of calls. */
#include "source/source.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "remote/remote.h"
#include "util/ck_beneath.h"
#include "util/ck_err.h"

int src_is_remote(const char *path)
{
	return rmt_is_url(path);
}

int src_stat(const char *path, enum src_type *t)
{
	struct rmt_stat rs;
	struct stat st;
	int err;

	*t = SRC_NONE;
	if (!rmt_is_url(path)) {
		if (stat(path, &st))
			return errno == ENOENT || errno == ENOTDIR ? 0 :
			       ck_err(-errno, "%s: %s", path, strerror(errno));
		*t = S_ISDIR(st.st_mode) ? SRC_DIR :
		     S_ISREG(st.st_mode) ? SRC_FILE : SRC_NONE;
		return 0;
	}
	err = rmt_stat(path, &rs);
	if (err)
		return err;
	*t = rs.type == RMT_FILE ? SRC_FILE :
	     rs.type == RMT_DIR ? SRC_DIR :
	     rs.type == RMT_MAYBE_DIR ? SRC_MAYBE_DIR : SRC_NONE;
	return 0;
}

enum src_type src_type(const char *path)
{
	enum src_type t;

	src_stat(path, &t);
	return t;
}

int src_is_file(const char *path)
{
	return src_type(path) == SRC_FILE;
}

int src_is_dir(const char *path)
{
	enum src_type t = src_type(path);

	return t == SRC_DIR || t == SRC_MAYBE_DIR;
}

int src_can_list(const char *path)
{
	return strncmp(path, "http://", 7) && strncmp(path, "https://", 8);
}

int src_read_file(const char *root, const char *path, int follow, size_t max,
		  uint8_t **data, size_t *len)
{
	if (rmt_is_url(path))
		return rmt_read_all(path, max, data, len);
	return ck_read_file_beneath(root, path, follow, max, data, len);
}

/* Remote entries to the caller's callback. */
struct list_ctx {
	src_list_cb cb;
	void *ctx;
};

static int list_one(void *ctx, const char *name, int is_dir, uint64_t size)
{
	struct list_ctx *l = ctx;

	(void)size;
	return l->cb(l->ctx, name, is_dir);
}

int src_list(const char *root, const char *dir, int follow, src_list_cb cb,
	     void *ctx)
{
	struct list_ctx l = { cb, ctx };
	struct dirent *e;
	DIR *d = NULL;
	int err;

	if (rmt_is_url(dir))
		return rmt_list(dir, list_one, &l);
	err = ck_opendir_beneath(root, dir, follow, &d);
	if (err == -EXDEV || err == -ELOOP || err == -ENOMEM)
		return err;
	if (err)
		return ck_err(err, "%s: %s", dir, strerror(-err));
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno)
				err = ck_err(-EIO, "%s: %s", dir, strerror(errno));
			break;
		}
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		err = cb(ctx, e->d_name, e->d_type == DT_DIR ? 1 :
					 e->d_type == DT_UNKNOWN ? -1 : 0);
		if (err)
			break;
	}
	closedir(d);
	return err;
}

int src_realpath(const char *path, char **out)
{
	char *p = rmt_is_url(path) ? strdup(path) : realpath(path, NULL);

	if (!p)
		return ck_err(errno == ENOMEM ? -ENOMEM : -ENOENT, "%s: %s", path,
			      strerror(errno));
	*out = p;
	return 0;
}

/* 1 if the local path p lies on a gcsfuse mount (/proc/self/mountinfo: the
 * longest mount point above p, its type or source naming gcsfuse). */
static int on_gcsfuse(const char *p)
{
	char line[4096], best_type[256] = "", best_src[256] = "";
	size_t best = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], type[256], src[256];
		const char *sep = strstr(line, " - ");
		size_t n;

		/* id parent major:minor root mountpoint ... - type source */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%255s %255s", type, src) != 2)
			continue;
		n = strlen(mnt);
		if (n < best || strncmp(p, mnt, n) ||
		    (n > 1 && p[n] != '/' && p[n]))
			continue;
		best = n;
		snprintf(best_type, sizeof(best_type), "%s", type);
		snprintf(best_src, sizeof(best_src), "%s", src);
	}
	fclose(f);
	return strstr(best_type, "gcsfuse") || !strcmp(best_src, "gcsfuse");
}

int src_needs_commit_file(const char *path)
{
	char *real;
	int r;

	if (rmt_is_url(path))
		return !strncmp(path, "gs://", 5);
	real = realpath(path, NULL);
	if (!real)
		return 0;
	r = on_gcsfuse(real);
	free(real);
	return r;
}
