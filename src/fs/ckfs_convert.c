/* SPDX-License-Identifier: MIT */
/*
 * This file implements ckfs_convert() (ckfs_convert.h).  The small files
 * (config.json, the index, tokenizer files) are copied through ckfs_read();
 * each shard gets its header and its size, then rd_export() hands over the
 * tensors one by one, each written at its offset in its shard.  The files
 * of view=maxtext are all copied through ckfs_read(), in their
 * directories.
 */
#include "fs/ckfs_convert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "read/rd_export.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

#define COPY_CHUNK ((size_t)1 << 20)

struct conv {
	struct ckfs *fs;
	int *fd;			/* per layout file (shard) */
	char **path;			/* per layout file */
	uint64_t done, total;
	ckfs_progress_fn progress;
	void *ctx;
};

static void advance(struct conv *c, uint64_t n, const char *name)
{
	c->done += n;
	if (c->progress)
		c->progress(c->ctx, c->done, c->total, name);
}

/* Copy a file that is not a shard, through ckfs_read(). */
static int copy_small(struct conv *c, const struct ckfs_file *f, int fd, const char *path)
{
	uint8_t *buf = malloc(COPY_CHUNK);
	uint64_t off = 0;
	int err = buf ? 0 : ck_err(-ENOMEM, "out of memory");

	while (!err && off < f->size) {
		ssize_t n = ckfs_read(c->fs, f, buf, COPY_CHUNK, off);

		if (n <= 0)
			err = n < 0 ? ck_err_ctx((int)n, "%s", f->name) :
				      ck_err(-EIO, "%s: short read", f->name);
		else
			err = ck_pwrite_full(fd, buf, (size_t)n, off, path);
		off += n > 0 ? (uint64_t)n : 0;
	}
	free(buf);
	if (!err)
		advance(c, f->size, f->name);
	return err;
}

/* Write tensor id at its place (rd_sink_fn). */
static int put_tensor(void *ctx, uint32_t id, const uint8_t *data, uint64_t size)
{
	struct conv *c = ctx;
	const struct st_placement *pl = &c->fs->layout->place[id];
	int err;

	if (size > SIZE_MAX)
		return ck_err(-EOVERFLOW, "tensor '%s'", c->fs->plan->tensors[id].name);
	err = ck_pwrite_full(c->fd[pl->file], data, (size_t)size, pl->offset,
			     c->path[pl->file]);
	if (err)
		return err;
	atomic_fetch_add_explicit(&c->fs->bytes_served, size, memory_order_relaxed);
	advance(c, size, c->fs->plan->tensors[id].name);
	return 0;
}

/* Create out/f->name and write what is not a tensor: a small file whole,
 * a shard's header and size. */
static int start_file(struct conv *c, const struct ckfs_file *f, const char *out)
{
	const struct st_file *sf;
	char *path = ck_path_join(out, f->name);
	int fd, err;

	if (!path)
		return ck_err(-ENOMEM, "out of memory");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = ck_err(-errno, "%s: %s", path, strerror(errno));
		free(path);
		return err;
	}
	if (f->kind != CKFS_SAFETENSORS) {
		err = copy_small(c, f, fd, path);
		if (close(fd) && !err)
			err = ck_err(-errno, "%s: %s", path, strerror(errno));
		free(path);
		return err;
	}
	sf = &c->fs->layout->files[f->shard];
	c->fd[f->shard] = fd;
	c->path[f->shard] = path;
	err = ck_pwrite_full(fd, sf->header, (size_t)sf->header_len, 0, path);
	if (!err && ftruncate(fd, (off_t)sf->size))
		err = ck_err(-errno, "%s: %s", path, strerror(errno));
	if (!err) {
		atomic_fetch_add_explicit(&c->fs->bytes_served, sf->header_len,
					  memory_order_relaxed);
		advance(c, sf->header_len, f->name);
	}
	return err;
}

/* view=maxtext: the directories, then every file through ckfs_read(). */
static int convert_maxtext(struct ckfs *fs, const char *out,
			   ckfs_progress_fn progress, void *ctx)
{
	struct conv c = { fs, NULL, NULL, 0, 0, progress, ctx };
	int err = 0;

	for (size_t i = 0; i < fs->nfiles; i++)
		c.total += fs->files[i].size;
	for (size_t k = 0; k < fs->ndirs && !err; k++) {
		char *path = ck_path_join(out, fs->dirs[k]);

		if (!path)
			err = ck_err(-ENOMEM, "out of memory");
		else if (mkdir(path, 0755) && errno != EEXIST)
			err = ck_err(-errno, "%s: %s", path, strerror(errno));
		free(path);
	}
	for (size_t i = 0; i < fs->nfiles && !err; i++)
		err = start_file(&c, &fs->files[i], out);
	return err;
}

int ckfs_convert(struct ckfs *fs, const char *out, uint64_t budget,
		 ckfs_progress_fn progress, void *ctx)
{
	size_t nshards = fs->mimg ? 0 : fs->layout->nfiles;
	struct conv c = { fs, calloc(nshards + 1, sizeof(int)),
			  calloc(nshards + 1, sizeof(char *)), 0, 0, progress, ctx };
	int err = c.fd && c.path ? 0 : ck_err(-ENOMEM, "out of memory");

	if (fs->mimg) {
		free(c.fd);
		free(c.path);
		return convert_maxtext(fs, out, progress, ctx);
	}
	for (size_t i = 0; c.fd && i < nshards; i++)
		c.fd[i] = -1;
	for (size_t i = 0; i < fs->nfiles; i++)
		c.total += fs->files[i].size;
	for (size_t i = 0; !err && i < fs->nfiles; i++)
		err = start_file(&c, &fs->files[i], out);
	if (!err)
		err = rd_export(fs->engine, budget, put_tensor, &c);
	for (size_t i = 0; c.fd && c.path && i < nshards; i++) {
		if (c.fd[i] >= 0 && close(c.fd[i]) && !err)
			err = ck_err(-errno, "%s: %s", c.path[i], strerror(errno));
		free(c.path[i]);
	}
	free(c.fd);
	free(c.path);
	return err;
}
