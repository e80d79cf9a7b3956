/* SPDX-License-Identifier: MIT */
/* This file implements the progress bar of cli_progress.h. */
#include "cli/cli_progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress(void *ctx, uint64_t done, uint64_t total, const char *name)
{
	struct cli_bar *b = ctx;
	int width = 30, fill = total ? (int)((double)done / (double)total * width) : width;
	double t = cli_now(), secs = t - b->t0;
	size_t len = strlen(name);

	if (t - b->last < 0.1 && done < total)
		return;
	b->last = t;
	fprintf(stderr, "\r[%.*s%*s] %3d%% %7.1f MiB %6.1f MiB/s  %-40.40s",
		fill, "##############################", width - fill, "",
		total ? (int)(100.0 * (double)done / (double)total) : 100,
		(double)done / 1048576.0, secs > 0 ? (double)done / 1048576.0 / secs : 0.0,
		name + (len > 40 ? len - 40 : 0));
}
