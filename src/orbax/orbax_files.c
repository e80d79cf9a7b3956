/* SPDX-License-Identifier: MIT */
/*
 * This file implements orbax_check_files(): look at every file and
 * directory of the item before anything is served from it.
 *
 *  - A symlink that leads out of the checkpoint's root (the step directory,
 *    orbax_ckpt.root) is refused, naming it, unless follow_symlinks: a
 *    daemon running as root must not serve a file it was pointed at by
 *    someone who could only write the checkpoint.
 *  - Who may read the item is collected (ck_access.h): every file's read
 *    bits, every directory's search bits, from / down, and the step's
 *    _CHECKPOINT_METADATA.  The view gives its files no more than that.
 *
 * The walk is bounded in depth and in entries; a checkpoint past either is
 * refused (a real one has at most tens of thousands of files).
 *
 * A remote checkpoint has no symlinks and no modes: it is read with the
 * credentials of the user who opened it, so that user alone may read the
 * view (owner read bits only).
 */
#include "orbax/orbax.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/source.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

#define MAX_DEPTH 32
#define MAX_ENTRIES 4000000u

struct walk {
	const struct orbax_ckpt *c;
	const char *item;		/* the item, symlinks resolved */
	struct ck_access *acc;
	unsigned entries;
};

/* 1 if the absolute path p is root or lies beneath it. */
static int beneath(const char *root, const char *p)
{
	size_t n = strlen(root);

	if (n == 1)
		return 1;
	return !strncmp(p, root, n) && (p[n] == '/' || !p[n]);
}

static int walk_dir(struct walk *w, const char *dir, int depth);

/* One entry of a directory: refuse, account for, or descend into it. */
static int walk_entry(struct walk *w, const char *path, int depth)
{
	struct stat st;
	char *target = NULL;
	int err = 0;

	if (++w->entries > MAX_ENTRIES)
		return ck_err(-E2BIG, "%s: more than %u files", w->c->item_dir,
			      MAX_ENTRIES);
	if (lstat(path, &st))
		return ck_err(-errno, "%s: %s", path, strerror(errno));
	if (S_ISLNK(st.st_mode)) {
		target = realpath(path, NULL);
		if (!target)	/* dangling: nothing to open, nothing served */
			return errno == ENOMEM ? ck_err(-ENOMEM, "out of memory") : 0;
		if (!w->c->follow_symlinks && !beneath(w->c->root, target)) {
			err = ck_err(-EXDEV, "%s: a symlink out of the checkpoint (to "
				     "%s); -o follow_symlinks allows it", path, target);
			goto out;
		}
		if (stat(target, &st)) {
			err = 0;
			goto out;
		}
		if (!beneath(w->c->root, target))
			err = ck_access_add_ancestors(w->acc, target);
	}
	if (!err && S_ISDIR(st.st_mode)) {
		err = ck_access_add(w->acc, &st, CK_ACCESS_SEARCH);
		/* A linked directory inside the item is walked as itself, and one
		 * above it would loop. */
		if (!err && !(target && (beneath(w->item, target) ||
					 beneath(target, w->item))))
			err = walk_dir(w, path, depth + 1);
	} else if (!err && S_ISREG(st.st_mode)) {
		err = ck_access_add(w->acc, &st, CK_ACCESS_READ);
	}
out:
	free(target);
	return err;
}

static int walk_dir(struct walk *w, const char *dir, int depth)
{
	struct dirent *e;
	DIR *d;
	int err = 0;

	if (depth > MAX_DEPTH)
		return ck_err(-E2BIG, "%s: more than %d levels of directories",
			      w->c->item_dir, MAX_DEPTH);
	d = opendir(dir);
	if (!d)
		return ck_err(-errno, "%s: %s", dir, strerror(errno));
	while (!err && (e = readdir(d))) {
		char *p;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		p = ck_path_join(dir, e->d_name);
		err = p ? walk_entry(w, p, depth) : ck_err(-ENOMEM, "out of memory");
		free(p);
	}
	closedir(d);
	return err;
}

/* A remote checkpoint: readable by the user who opened it. */
static int remote_access(struct orbax_ckpt *c)
{
	struct stat st;
	int err;

	memset(&st, 0, sizeof(st));
	st.st_uid = getuid();
	st.st_gid = getgid();
	st.st_mode = S_IFDIR | 0500;
	err = ck_access_add(&c->access, &st, CK_ACCESS_SEARCH);
	st.st_mode = S_IFREG | 0400;
	return err ? err : ck_access_add(&c->access, &st, CK_ACCESS_READ);
}

int orbax_check_files(struct orbax_ckpt *c)
{
	char *item, *meta;
	struct walk w = { c, NULL, &c->access, 0 };
	struct stat st;
	int err;

	if (src_is_remote(c->item_dir))
		return remote_access(c);
	item = realpath(c->item_dir, NULL);
	w.item = item;

	if (!item)
		return ck_err(-errno, "%s: %s", c->item_dir, strerror(errno));
	/* The directories from / down to the item, the item, what is in it. */
	err = ck_access_add_ancestors(&c->access, item);
	if (!err && stat(item, &st))
		err = ck_err(-errno, "%s: %s", item, strerror(errno));
	if (!err)
		err = ck_access_add(&c->access, &st, CK_ACCESS_SEARCH);
	if (!err)
		err = walk_dir(&w, item, 0);
	/* The step's own metadata, which the view is made from too. */
	meta = err ? NULL : ck_path_join(c->root, "_CHECKPOINT_METADATA");
	if (!err && !meta)
		err = ck_err(-ENOMEM, "out of memory");
	if (!err && !lstat(meta, &st)) {
		if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode))
			err = walk_entry(&w, meta, 0);
		else
			err = ck_access_add(&c->access, &st, CK_ACCESS_READ);
	}
	free(meta);
	free(item);
	return err;
}
