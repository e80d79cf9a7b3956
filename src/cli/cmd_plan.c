/* SPDX-License-Identifier: MIT */
/* This file implements `ckptfs plan SRC [-o opts]`: the list of HF tensors,
 * with dtype, shape, file, offset and the source recipe. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"
#include "fs/ckfs.h"
#include "util/ck_err.h"

int cmd_plan(int argc, char **argv)
{
	struct ckfs_opts o = { 0 };
	const char *src = NULL;
	struct ckfs *fs = NULL;
	char *keep[32] = { NULL };
	int nkeep = 0, err = 0;

	o.step = -1;
	o.scan_layers = -1;	/* view=maxtext: the default, scanned */
	for (int i = 1; i < argc && !err; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc && nkeep < 32)
			err = cli_opts_parse(argv[++i], &o, NULL, &keep[nkeep++]);
		else if (argv[i][0] == '-')
			return cli_usage_error("plan: unknown option '%s'", argv[i]);
		else if (!src)
			src = argv[i];
		else
			return cli_usage_error("plan: unexpected argument '%s'", argv[i]);
	}
	if (!err && !src)
		return cli_usage_error("plan needs SRC");
	o.src = src;
	if (!err)
		err = ckfs_open(&o, &fs);
	if (!err && fs->mimg) {
		/* view=maxtext: each file, its size and where it comes from */
		printf("# %s\n", fs->summary);
		for (size_t i = 0; i < fs->nfiles && !err; i++) {
			char *text = NULL, *line, *save = NULL;
			size_t len;

			err = ckfs_describe(fs, &fs->files[i], &text, &len);
			for (line = err ? NULL : strtok_r(text, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save))
				printf("%s\t%" PRIu64 "\t%s\n", fs->files[i].name,
				       fs->files[i].size, line);
			free(text);
		}
	} else if (!err) {
		printf("# %s\n", fs->summary);
		for (size_t i = 0; i < fs->layout->nfiles; i++) {
			const struct ckfs_file *f = ckfs_find(fs, fs->layout->files[i].name);
			char *text = NULL, *line, *save = NULL;
			size_t len;
			uint32_t t = fs->layout->files[i].first;

			err = ckfs_describe(fs, f, &text, &len);
			if (err)
				break;
			for (line = strtok_r(text, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save), t++) {
				const struct plan_tensor *pt = &fs->plan->tensors[t];
				const struct st_placement *pl = &fs->layout->place[t];

				printf("%s\t%s\t[", pt->name, ck_dtype_safetensors(pt->dtype));
				for (unsigned d = 0; d < pt->shape.rank; d++)
					printf("%s%" PRIu64, d ? "," : "", pt->shape.d[d]);
				printf("]\t%s\t%" PRIu64 "\t%s\n", f->name, pl->offset,
				       strstr(line, "<- ") + 3);
			}
			free(text);
		}
	}
	ckfs_close(fs);
	for (int i = 0; i < nkeep; i++)
		free(keep[i]);
	return err ? cli_fail(err) : CLI_EXIT_OK;
}
