/* SPDX-License-Identifier: MIT */
/*
 * This file implements the view=maxtext side of ckfs (ckfs_mt.h): the
 * options passed on to mtview_open(), the image's files listed as the
 * view's, and who may read them: no one who could not read the HF
 * directory's config.json, its safetensors files and index (and the
 * hf_config= file), nor search the directories down to them.
 */
#include "fs/ckfs_mt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/mtview.h"
#include "fs/mtview_image.h"
#include "util/ck_access.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

static int check_opts(const struct ckfs_opts *o)
{
	if (o->dtype != CK_DT_INVALID && o->dtype != CK_DT_BF16 &&
	    o->dtype != CK_DT_F32)
		return ck_err(-EINVAL, "view=maxtext: dtype= must be bfloat16 or "
			      "float32");
	if (o->tokenizer)
		return ck_err(-EINVAL, "view=maxtext: tokenizer= does not apply (a "
			      "MaxText checkpoint has no tokenizer files)");
	return 0;
}

/* Add a file or directory, as stat() gives it, to a. */
static int access_add(struct ck_access *a, const char *path, unsigned want)
{
	struct stat st;

	if (stat(path, &st))
		return ck_err(-errno, "%s: %s", path, strerror(errno));
	return ck_access_add(a, &st, want);
}

/* A file named relative to dir (NULL: dir itself). */
static int access_add_in(struct ck_access *a, const char *dir, const char *name,
			 unsigned want)
{
	char *p = name ? ck_path_join(dir, name) : strdup(dir);
	int err = p ? access_add(a, p, want) : ck_err(-ENOMEM, "out of memory");

	free(p);
	return err;
}

/* A path given on the command line: itself and the directories to it. */
static int access_add_path(struct ck_access *a, const char *path, unsigned want)
{
	char *real = realpath(path, NULL);
	int err;

	if (!real)
		return ck_err(-errno, "%s: %s", path, strerror(errno));
	err = ck_access_add_ancestors(a, real);
	if (!err)
		err = access_add(a, real, want);
	free(real);
	return err;
}

/* Owner, group and modes of every file and directory of the view. */
static int set_access(struct ckfs *fs, const struct ckfs_opts *o)
{
	const struct hf_dir *hf = fs->mt->hf;
	struct ck_access a = CK_ACCESS_INIT;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	int err;

	if (fs->mt->fwd) {
		/* a MaxText source: as its HF view allows */
		const struct ckfs *fwd = fs->mt->fwd;

		fs->dir_uid = fwd->dir_uid;
		fs->dir_gid = fwd->dir_gid;
		fs->dir_mode = fwd->dir_mode;
		for (size_t i = 0; i < fs->nfiles; i++) {
			fs->files[i].uid = fwd->dir_uid;
			fs->files[i].gid = fwd->dir_gid;
			fs->files[i].mode = fwd->dir_mode & 0444;
		}
		return 0;
	}
	err = access_add_path(&a, hf->path, CK_ACCESS_SEARCH);
	if (!err)
		err = access_add_in(&a, hf->path, "config.json", CK_ACCESS_READ);
	if (!err && hf->sharded)
		err = access_add_in(&a, hf->path, "model.safetensors.index.json",
				    CK_ACCESS_READ);
	for (size_t i = 0; i < hf->nfiles && !err; i++)
		err = access_add_in(&a, hf->path, hf->files[i].name, CK_ACCESS_READ);
	if (!err && o->hf_config)
		err = access_add_path(&a, o->hf_config, CK_ACCESS_READ);
	if (!err) {
		ck_access_result(&a, &uid, &gid, &mode);
		fs->dir_uid = uid;
		fs->dir_gid = gid;
		fs->dir_mode = mode | (mode >> 2);	/* r-x where r-- */
		for (size_t i = 0; i < fs->nfiles; i++) {
			fs->files[i].uid = uid;
			fs->files[i].gid = gid;
			fs->files[i].mode = mode;
		}
	}
	ck_access_release(&a);
	return err;
}

static int add_files(struct ckfs *fs)
{
	size_t n = mtview_image_nfiles(fs->mimg);

	fs->files = calloc(n + 1, sizeof(*fs->files));
	if (!fs->files)
		return ck_err(-ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct ckfs_file *f = &fs->files[i];

		f->fd = -1;
		f->name = strdup(mtview_image_file_name(fs->mimg, i));
		if (!f->name)
			return ck_err(-ENOMEM, "out of memory");
		f->kind = CKFS_MAXTEXT;
		f->mt_file = (uint32_t)i;
		f->size = mtview_image_file_size(fs->mimg, i);
		fs->nfiles++;
	}
	return 0;
}

int ckfs_mt_open(struct ckfs *fs, const struct ckfs_opts *o)
{
	struct mtview_opts mo;
	struct ckfs_opts fwd;
	struct ck_buf sum = CK_BUF_INIT;
	struct stat st;
	uint64_t total = 0;
	int err = check_opts(o);

	mtview_opts_from(o, &fwd, &mo);
	if (!err)
		err = mtview_open(&mo, &fs->mt);
	if (!err)
		err = mtview_image_new(fs->mt, o->cache_size ? o->cache_size :
				       CKFS_DEFAULT_CACHE_SIZE, 0, &fs->mimg);
	if (!err)
		err = add_files(fs);
	if (!err)
		err = set_access(fs, o);
	if (err)
		return err;
	if (fs->mt->fwd)
		fs->mtime = fs->mt->fwd->mtime;
	else if (stat(fs->mt->hf->path, &st) == 0)
		fs->mtime = (int64_t)st.st_mtime;
	for (size_t i = 0; i < fs->nfiles; i++)
		total += fs->files[i].size;
	err = ck_buf_printf(&sum, "%s: MaxText view (%s), step 0, %zu files, "
			    "%llu bytes", fs->mt->hf->path, fs->mt->summary,
			    fs->nfiles, (unsigned long long)total);
	if (err) {
		ck_buf_release(&sum);
		return err;
	}
	fs->summary = (char *)ck_buf_detach(&sum, NULL);
	return 0;
}

int ckfs_mt_stats_json(struct ckfs *fs, char **json, size_t *len)
{
	struct ck_buf b = CK_BUF_INIT;
	struct mtview_image_stats s;
	int err;

	mtview_image_stats(fs->mimg, &s);
	err = ck_buf_printf(&b, "{\"view\":\"maxtext\",\"bytes_served\":%llu,"
			    "\"pieces\":%llu,\"pieces_computed\":%llu,"
			    "\"bytes_computed\":%llu,"
			    "\"cache_hits\":%llu,\"cache_misses\":%llu,"
			    "\"cache_evictions\":%llu,\"cache_bytes\":%llu,"
			    "\"cache_peak_bytes\":%llu,\"cache_budget\":%llu,"
			    "\"array_bytes\":%llu}",
			    (unsigned long long)s.bytes_served,
			    (unsigned long long)s.pieces,
			    (unsigned long long)s.pieces_computed,
			    (unsigned long long)s.bytes_computed,
			    (unsigned long long)s.cache.hits,
			    (unsigned long long)s.cache.misses,
			    (unsigned long long)s.cache.evictions,
			    (unsigned long long)s.cache.bytes,
			    (unsigned long long)s.cache.peak_bytes,
			    (unsigned long long)s.cache_budget,
			    (unsigned long long)fs->mt->total_bytes);
	if (!err)
		err = ck_buf_append(&b, "", 1);
	if (err) {
		ck_buf_release(&b);
		return err;
	}
	*len = b.len - 1;
	*json = (char *)ck_buf_detach(&b, NULL);
	return 0;
}
