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
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"
#include "cli/cli_progress.h"
#include "fs/mtview.h"
#include "util/ck_err.h"

int cli_to_maxtext(const struct ckfs_opts *o, const char *out)
{
	struct ckfs_opts fwd;
	struct mtview_opts mo;
	struct mtview *v = NULL;
	int err = 0, tty = isatty(STDERR_FILENO);
	struct cli_bar bar = { 0, 0 };

	mtview_opts_from(o, &fwd, &mo);
	if (mo.dtype != CK_DT_INVALID && mo.dtype != CK_DT_BF16 && mo.dtype != CK_DT_F32)
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
	return err ? cli_fail(err) : CLI_EXIT_OK;
}
