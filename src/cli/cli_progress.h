/* SPDX-License-Identifier: MIT */
/*
 * cli_progress.h - the progress bar `ckptfs convert` draws on a terminal.
 */
#ifndef CLI_PROGRESS_H
#define CLI_PROGRESS_H

#include <stdint.h>

struct cli_bar {
	double t0;			/* when the work started (cli_now()) */
	double last;			/* when the bar was last drawn */
};

/* Seconds on the monotonic clock. */
double cli_now(void);

/* Draw the bar on stderr for done of total bytes, the item being name (its
 * last 40 characters), at most 10 times a second; ctx is a struct
 * cli_bar.  Fits ckfs_progress_fn and mtview_progress_fn. */
void cli_progress(void *ctx, uint64_t done, uint64_t total, const char *name);

#endif
