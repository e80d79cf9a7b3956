/* SPDX-License-Identifier: MIT */
/*
 * This file implements `ckptfs convert SRC OUT [-o opts]`: the files of the
 * Hugging Face view written to a directory, byte-identical to what a mount
 * serves (both go through ckfs_read), with a progress bar on a terminal;
 * --stats prints the counters of ckfs_stats_json on stdout at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"
#include "fs/ckfs.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

#define CONVERT_CHUNK ((size_t)8 << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(uint64_t done, uint64_t total, double t0, const char *name)
{
	int width = 30, fill = total ? (int)((double)done / (double)total * width) : width;
	double secs = now() - t0;

	fprintf(stderr, "\r[%.*s%*s] %3d%% %7.1f MiB %6.1f MiB/s  %-40.40s",
		fill, "##############################", width - fill, "",
		total ? (int)(100.0 * (double)done / (double)total) : 100,
		(double)done / 1048576.0, secs > 0 ? (double)done / 1048576.0 / secs : 0.0,
		name);
}

static int write_file(struct ckfs *fs, const struct ckfs_file *f, const char *out,
		      uint8_t *buf, uint64_t *done, uint64_t total, double t0, int tty)
{
	char *path = ck_path_join(out, f->name);
	uint64_t off = 0;
	int fd, err = 0;

	if (!path)
		return ck_err(-ENOMEM, "out of memory");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = ck_err(-errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	while (off < f->size) {
		ssize_t n = ckfs_read(fs, f, buf, CONVERT_CHUNK, off);

		if (n <= 0) {
			err = n < 0 ? (int)n : ck_err(-EIO, "%s: short read", f->name);
			if (!*ck_err_msg())
				ck_err(err, "%s: read failed", f->name);
			break;
		}
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(fd, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				err = ck_err(-EIO, "%s: write failed: %s", path,
					     k < 0 ? strerror(errno) : "short write");
				goto out_close;
			}
			w += k;
		}
		off += (uint64_t)n;
		*done += (uint64_t)n;
		if (tty)
			progress(*done, total, t0, f->name);
	}
out_close:
	if (close(fd) && !err)
		err = ck_err(-EIO, "%s: %s", path, strerror(errno));
out:
	free(path);
	return err;
}

int cmd_convert(int argc, char **argv)
{
	struct ckfs_opts o = { 0 };
	const char *src = NULL, *out = NULL;
	char *keep[32] = { NULL };
	int nkeep = 0, err = 0, tty = isatty(STDERR_FILENO), stats = 0;
	struct ckfs *fs = NULL;
	uint64_t total = 0, done = 0;
	uint8_t *buf = NULL;
	double t0;

	o.step = -1;
	for (int i = 1; i < argc && !err; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc && nkeep < 32)
			err = cli_opts_parse(argv[++i], &o, NULL, &keep[nkeep++]);
		else if (!strcmp(argv[i], "--stats"))
			stats = 1;
		else if (argv[i][0] == '-')
			return cli_usage_error("convert: unknown option '%s'", argv[i]);
		else if (!src)
			src = argv[i];
		else if (!out)
			out = argv[i];
		else
			return cli_usage_error("convert: unexpected argument '%s'", argv[i]);
	}
	if (!err && (!src || !out))
		return cli_usage_error("convert needs SRC and OUT");
	o.src = src;
	if (!err)
		err = ckfs_open(&o, &fs);
	if (!err && mkdir(out, 0755) && errno != EEXIST)
		err = ck_err(-errno, "%s: %s", out, strerror(errno));
	buf = malloc(CONVERT_CHUNK);
	if (!err && !buf)
		err = ck_err(-ENOMEM, "out of memory");
	for (size_t i = 0; !err && i < fs->nfiles; i++)
		total += fs->files[i].size;
	t0 = now();
	for (size_t i = 0; !err && i < fs->nfiles; i++)
		err = write_file(fs, &fs->files[i], out, buf, &done, total, t0, tty);
	if (tty)
		fputc('\n', stderr);
	if (!err)
		fprintf(stderr, "ckptfs: wrote %zu files, %llu bytes to %s (%s)\n",
			fs->nfiles, (unsigned long long)done, out, fs->summary);
	if (!err && stats) {
		char *json;
		size_t len;

		err = ckfs_stats_json(fs, &json, &len);
		if (!err) {
			printf("%s\n", json);
			free(json);
		}
	}
	free(buf);
	ckfs_close(fs);
	for (int i = 0; i < nkeep; i++)
		free(keep[i]);
	return err ? cli_fail(err) : CLI_EXIT_OK;
}
