/* SPDX-License-Identifier: MIT */
/*
 * This file implements ckfs_access_view(): who may read each file of the
 * view (ckfs_access.h).
 */
#include "fs/ckfs_access.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/ck_access.h"
#include "util/ck_err.h"

/* Add a file and the directories down to it (its own directory too). */
static int add_file_path(struct ck_access *a, const char *path, const struct stat *st)
{
	char *real = realpath(path, NULL);
	int err;

	if (!real)
		return ck_err(-errno, "%s: %s", path, strerror(errno));
	err = ck_access_add_ancestors(a, real);
	free(real);
	return err ? err : ck_access_add(a, st, CK_ACCESS_READ);
}

/* A tokenizer file: itself, its directory and the ones down to it. */
static int passthrough_access(const char *dir, struct ckfs_file *f)
{
	struct ck_access a = CK_ACCESS_INIT;
	char *real = realpath(dir, NULL);
	struct stat st;
	int err;

	if (!real)
		return ck_err(-errno, "tokenizer=%s: %s", dir, strerror(errno));
	err = ck_access_add_ancestors(&a, real);
	if (!err && stat(real, &st))
		err = ck_err(-errno, "tokenizer=%s: %s", dir, strerror(errno));
	if (!err)
		err = ck_access_add(&a, &st, CK_ACCESS_SEARCH);
	if (!err)
		err = ck_access_add(&a, &f->src, CK_ACCESS_READ);
	if (!err)
		ck_access_result(&a, &f->uid, &f->gid, &f->mode);
	free(real);
	ck_access_release(&a);
	return err;
}

int ckfs_access_view(struct ckfs *fs, const struct ckfs_opts *o)
{
	struct ck_access cfg = CK_ACCESS_INIT;
	uid_t uid, cuid;
	gid_t gid, cgid;
	mode_t mode, cmode;
	int err;

	ck_access_result(&fs->ckpt->access, &uid, &gid, &mode);
	fs->dir_uid = uid;
	fs->dir_gid = gid;
	fs->dir_mode = mode | (mode >> 2);	/* r-x where r-- */
	/* config.json: the checkpoint's arrays and the given config. */
	err = ck_access_merge(&cfg, &fs->ckpt->access);
	if (!err && o->hf_config) {
		struct stat st;

		if (stat(o->hf_config, &st))
			err = ck_err(-errno, "hf_config=%s: %s", o->hf_config,
				     strerror(errno));
		else
			err = add_file_path(&cfg, o->hf_config, &st);
	}
	if (!err)
		ck_access_result(&cfg, &cuid, &cgid, &cmode);
	ck_access_release(&cfg);
	for (size_t i = 0; !err && i < fs->nfiles; i++) {
		struct ckfs_file *f = &fs->files[i];

		if (f->kind == CKFS_PASSTHROUGH) {
			err = passthrough_access(o->tokenizer, f);
		} else if (!strcmp(f->name, "config.json")) {
			f->uid = cuid;
			f->gid = cgid;
			f->mode = cmode;
		} else {
			f->uid = uid;
			f->gid = gid;
			f->mode = mode;
		}
	}
	return err;
}
