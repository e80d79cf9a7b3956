/* SPDX-License-Identifier: MIT */
/*
 * This file implements kvstore_open_dir(): a plain directory tree as a store.
 *
 * Legacy (pre-OCDBT) checkpoints keep every zarr chunk as its own file, so a
 * store can have 100k+ files: they are recorded by path only and opened per
 * read (kvstore_read), never held open.  Symlinks and special files are
 * skipped, and so are Orbax's in-flight ".orbax-checkpoint-tmp" directories.
 * With a root (kvstore_opts), directories are opened beneath it, entries
 * are looked at through their directory's descriptor, and each file is
 * opened beneath it for each read (kvstore_files.c).
 *
 * A remote directory (a gs:// or s3:// prefix) is walked by listing, one
 * level per request; each object becomes a key, opened at its first read.
 * HTTP has no listing: such a store cannot be opened there (-ENOTSUP).
 */
#include "kvstore/kvstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kvstore/kvstore_impl.h"
#include "remote/remote.h"
#include "source/source.h"
#include "util/ck_beneath.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

#define DIR_MAX_DEPTH 64
#define DIR_MAX_KEY 4096

struct dir_walk {
	struct kvstore *kv; /* store being filled */
	const char *root;   /* root directory */
	struct ck_buf rel;  /* current relative path (no trailing '/') */
	int depth;	    /* remote walks: depth of the listing running */
};

static int walk_entry(struct dir_walk *w, int dfd, const char *name,
		      unsigned depth);

/* Walk the directory w->root/w->rel. */
static int walk_dir(struct dir_walk *w, unsigned depth)
{
	char *path = NULL;
	DIR *d = NULL;
	struct dirent *de;
	int err = 0;

	if (depth > DIR_MAX_DEPTH)
		return ck_err(
			-EOVERFLOW, "%s/%s: directories nested deeper than %d",
			w->root, (const char *)w->rel.data, DIR_MAX_DEPTH);
	path = w->rel.len ? ck_path_join(w->root, (const char *)w->rel.data)
			  : strdup(w->root);
	if (!path)
		return ck_err(-ENOMEM, "kvstore: out of memory");
	err = ck_opendir_beneath(w->kv->files->root, path, w->kv->files->follow,
				 &d);
	if (err == -EXDEV || err == -ELOOP)
		goto out;
	if (err) {
		err = ck_err(err == -ENOENT || err == -ENOMEM ? err : -EIO,
			     "%s: %s", path, strerror(-err));
		goto out;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				err = ck_err(-EIO, "%s: %s", path,
					     strerror(errno));
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		err = walk_entry(w, dirfd(d), de->d_name, depth);
		if (err)
			break;
	}
out:
	if (d)
		closedir(d);
	free(path);
	return err;
}

/* Handle one directory entry name below w->rel, in the directory dfd. */
static int walk_entry(struct dir_walk *w, int dfd, const char *name,
		      unsigned depth)
{
	size_t saved = w->rel.len;
	char *path = NULL;
	struct stat st;
	uint32_t id;
	int err;

	if (saved)
		err = ck_buf_printf(&w->rel, "/%s", name);
	else
		err = ck_buf_printf(&w->rel, "%s", name);
	if (err)
		return err;
	if (w->rel.len > DIR_MAX_KEY) {
		err = ck_err(-EOVERFLOW,
			     "%s: path longer than %d bytes under %s", name,
			     DIR_MAX_KEY, w->root);
		goto out;
	}
	path = ck_path_join(w->root, (const char *)w->rel.data);
	if (!path) {
		err = ck_err(-ENOMEM, "kvstore: out of memory");
		goto out;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		err = ck_err(-EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if (!strstr(name, ".orbax-checkpoint-tmp"))
			err = walk_dir(w, depth + 1);
	} else if (S_ISREG(st.st_mode)) {
		err = kvfiles_add_unchecked(w->kv->files, path, &id);
		if (!err)
			err = kvstore_add_ref(w->kv, w->rel.data, w->rel.len,
					      id, 0, (uint64_t)st.st_size);
	}
out:
	free(path);
	w->rel.len = saved;
	if (w->rel.data)
		w->rel.data[saved] = '\0';
	return err;
}

/* ---- remote directories ------------------------------------------------ */

static int walk_remote(struct dir_walk *w, unsigned depth);

static int remote_entry(void *ctx, const char *name, int is_dir,
			uint64_t size)
{
	struct dir_walk *w = ctx;
	size_t saved = w->rel.len;
	unsigned depth = (unsigned)w->depth;
	char *path = NULL;
	uint32_t id;
	int err;

	err = ck_buf_printf(&w->rel, saved ? "/%s" : "%s", name);
	if (err)
		return err;
	if (w->rel.len > DIR_MAX_KEY) {
		err = ck_err(-EOVERFLOW, "%s: path longer than %d bytes under %s",
			     name, DIR_MAX_KEY, w->root);
		goto out;
	}
	if (is_dir) {
		if (!strstr(name, ".orbax-checkpoint-tmp"))
			err = walk_remote(w, depth + 1);
		w->depth = (int)depth;
		goto out;
	}
	path = ck_path_join(w->root, (const char *)w->rel.data);
	err = path ? kvfiles_add_unchecked(w->kv->files, path, &id) :
		     ck_err(-ENOMEM, "kvstore: out of memory");
	if (!err)
		err = kvstore_add_ref(w->kv, w->rel.data, w->rel.len, id, 0, size);
out:
	free(path);
	w->rel.len = saved;
	if (w->rel.data)
		w->rel.data[saved] = '\0';
	return err;
}

/* List w->root/w->rel and everything below it. */
static int walk_remote(struct dir_walk *w, unsigned depth)
{
	char *path;
	int err;

	if (depth > DIR_MAX_DEPTH)
		return ck_err(-EOVERFLOW, "%s/%s: directories nested deeper than %d",
			      w->root, (const char *)w->rel.data, DIR_MAX_DEPTH);
	path = w->rel.len ? ck_path_join(w->root, (const char *)w->rel.data)
			  : strdup(w->root);
	if (!path)
		return ck_err(-ENOMEM, "kvstore: out of memory");
	w->depth = (int)depth;
	err = rmt_list(path, remote_entry, w);
	free(path);
	return err;
}

int kvstore_open_dir_opts(const char *dir, const struct kvstore_opts *o,
			  struct kvstore **out)
{
	struct dir_walk w = {NULL, dir, CK_BUF_INIT, 0};
	int err;

	if (!src_is_dir(dir))
		return ck_err(-ENOENT, "%s: not a directory", dir);
	err = kvstore_new(KVSTORE_DIR, &w.kv);
	if (err)
		return err;
	if (o)
		err = kvfiles_set_root(w.kv->files, o->root, o->follow_symlinks);
	if (!err)
		err = src_is_remote(dir) ? walk_remote(&w, 0) : walk_dir(&w, 0);
	if (!err)
		err = kvstore_finalize(w.kv);
	ck_buf_release(&w.rel);
	if (err) {
		kvstore_free(w.kv);
		return err;
	}
	*out = w.kv;
	return 0;
}

int kvstore_open_dir(const char *dir, struct kvstore **out)
{
	return kvstore_open_dir_opts(dir, NULL, out);
}
