/* SPDX-License-Identifier: MIT */
/*
 * This file implements `ckptfs convert SRC OUT [-o opts]`: the files of the
 * Hugging Face view written to a directory, byte-identical to what a mount
 * serves (ckfs_convert.h), with a progress bar on a terminal; --stats prints
 * the counters of ckfs_stats_json on stdout at the end.  The tensors in
 * memory at once are at most cache_size bytes (the default cache's without
 * it), and never more than the largest group of siblings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"
#include "cli/cli_progress.h"
#include "fs/ckfs.h"
#include "fs/ckfs_convert.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

int cmd_convert(int argc, char **argv)
{
	struct ckfs_opts o = { 0 };
	const char *src = NULL, *out = NULL;
	char *keep[32] = { NULL };
	int nkeep = 0, err = 0, tty = isatty(STDERR_FILENO), stats = 0;
	const char *to = "hf";
	struct ckfs *fs = NULL;
	uint64_t total = 0;
	struct cli_bar bar = { 0, 0 };

	o.step = -1;
	o.scan_layers = -1;	/* view=maxtext: the default, scanned */
	for (int i = 1; i < argc && !err; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc && nkeep < 32)
			err = cli_opts_parse(argv[++i], &o, NULL, &keep[nkeep++]);
		else if (!strcmp(argv[i], "--to") && i + 1 < argc) {
			to = argv[++i];
			if (strcmp(to, "maxtext") && strcmp(to, "hf"))
				return cli_usage_error("convert: --to %s: use maxtext or hf", to);
		} else if (!strcmp(argv[i], "--stats"))
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
	if (!err && !strcmp(to, "maxtext")) {
		int rc = stats ? cli_usage_error("convert: --stats is for --to hf") :
			 cli_to_maxtext(&o, out);

		for (int i = 0; i < nkeep; i++)
			free(keep[i]);
		return rc;
	}
	if (!err)
		err = ckfs_open(&o, &fs);
	if (!err && mkdir(out, 0755) && errno != EEXIST)
		err = ck_err(-errno, "%s: %s", out, strerror(errno));
	for (size_t i = 0; !err && i < fs->nfiles; i++)
		total += fs->files[i].size;
	bar.t0 = cli_now();
	if (!err)
		err = ckfs_convert(fs, out, o.cache_size ? o.cache_size : CKFS_DEFAULT_CACHE_SIZE,
				   tty ? cli_progress : NULL, &bar);
	if (tty)
		fputc('\n', stderr);
	if (!err)
		fprintf(stderr, "ckptfs: wrote %zu files, %llu bytes to %s (%s)\n",
			fs->nfiles, (unsigned long long)total, out, fs->summary);
	if (!err && stats) {
		char *json;
		size_t len;

		err = ckfs_stats_json(fs, &json, &len);
		if (!err) {
			printf("%s\n", json);
			free(json);
		}
	}
	ckfs_close(fs);
	for (int i = 0; i < nkeep; i++)
		free(keep[i]);
	return err ? cli_fail(err) : CLI_EXIT_OK;
}
