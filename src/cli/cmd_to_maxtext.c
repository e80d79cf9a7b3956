/* SPDX-License-Identifier: MIT */
/*
 * This file implements `ckptfs convert --to maxtext SRC OUT [-o opts]`: a
 * Hugging Face model directory written as the MaxText checkpoint
 * to_maxtext.py would write (fs/mtview.h), OUT/0/items, with a progress bar
 * on a terminal.  SRC may also be a MaxText checkpoint, written in the
 * other layout (scan_layers=).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"
#include "cli/cli_progress.h"
#include "fs/mtview.h"
#include "util/ck_err.h"

int cmd_to_maxtext(int argc, char **argv)
{
	struct ckfs_opts o = { 0 }, fwd;
	struct mtview_opts mo = { 0 };
	struct mtview *v = NULL;
	const char *src = NULL, *out = NULL;
	char *keep[32] = { NULL };
	int nkeep = 0, err = 0, tty = isatty(STDERR_FILENO);
	struct cli_bar bar = { 0, 0 };

	o.step = -1;
	o.scan_layers = -1;
	for (int i = 1; i < argc && !err; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc && nkeep < 32)
			err = cli_opts_parse(argv[++i], &o, NULL, &keep[nkeep++]);
		else if (!strcmp(argv[i], "--to") && i + 1 < argc)
			i++;	/* cmd_convert() checked it */
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
		return cli_usage_error("convert --to maxtext needs HF_DIR and OUT");
	o.src = src;
	fwd = o;
	fwd.dtype = CK_DT_INVALID;	/* the HF side as stored */
	mo.fwd = &fwd;
	mo.src = src;
	mo.mappings = o.mappings;
	mo.hf_config = o.hf_config;
	mo.model = o.model;
	mo.scan_layers = o.scan_layers;
	mo.dtype = o.dtype;
	mo.chunks = o.chunks;
	mo.vocab_rows = o.vocab_rows;
	mo.sets = o.sets;
	mo.nsets = o.nsets;
	if (!err && mo.dtype != CK_DT_INVALID && mo.dtype != CK_DT_BF16 &&
	    mo.dtype != CK_DT_F32)
		err = ck_err(-EINVAL, "dtype=: use bfloat16 or float32 for MaxText");
	if (!err)
		err = mtview_open(&mo, &v);
	bar.t0 = cli_now();
	if (!err)
		err = mtview_write(v, out, 0, tty ? cli_progress : NULL, &bar);
	if (tty && v)
		fputc('\n', stderr);
	if (!err)
		fprintf(stderr, "ckptfs: wrote %s/0/items: %s, %llu bytes\n", out,
			v->summary, (unsigned long long)v->total_bytes);
	mtview_close(v);
	for (int i = 0; i < nkeep; i++)
		free(keep[i]);
	return err ? cli_fail(err) : CLI_EXIT_OK;
}
