/* SPDX-License-Identifier: MIT */
/*
 * This file implements mounting: `ckptfs SRC MNT [-o opts]`, also reached as
 * `mount.ckptfs SRC MNT [-sfnv] [-o opts]` from mount(8) and through
 * mount.fuse3 for fstab type fuse.ckptfs.  The view is built completely
 * before FUSE starts, so a checkpoint the mapping does not fit (or, with
 * view=maxtext, a Hugging Face directory it does not fit) is refused before
 * anything is mounted.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"
#include "fs/ckfs.h"
#include "fs/fs_ops.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_log.h"

#define MOUNT_MAX_OPTS 64

/* Whether the comma-separated FUSE options hold `debug` (as libfuse reads
 * them: the whole option, not a part of another). */
static int fuse_opts_debug(const struct ck_buf *fuse)
{
	const char *s = fuse->data ? (const char *)fuse->data : "", *p = s;

	while ((p = strstr(p, "debug"))) {
		if ((p == s || p[-1] == ',') && (p[5] == ',' || !p[5]))
			return 1;
		p += 5;
	}
	return 0;
}

int cmd_mount(int argc, char **argv)
{
	struct ckfs_opts o = { 0 };
	struct ck_buf fuse = CK_BUF_INIT, fsname = CK_BUF_INIT;
	char *keep[MOUNT_MAX_OPTS] = { NULL }, *fargv[16];
	const char *src = NULL, *mnt = NULL;
	int nkeep = 0, fargc = 0, foreground = 0, debug = 0, fuse_debug = 0, single = 0;
	struct ckfs *fs = NULL;
	int err = 0, rc;

	o.step = -1;
	o.scan_layers = -1;	/* view=maxtext: the default, scanned */
	for (int i = 1; i < argc && !err; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-o") && i + 1 < argc) {
			if (nkeep == MOUNT_MAX_OPTS)
				return cli_usage_error("too many -o options");
			err = cli_opts_parse(argv[++i], &o, &fuse, &keep[nkeep++]);
		} else if (!strncmp(a, "-o", 2) && a[2]) {
			if (nkeep == MOUNT_MAX_OPTS)
				return cli_usage_error("too many -o options");
			err = cli_opts_parse(a + 2, &o, &fuse, &keep[nkeep++]);
		} else if (!strcmp(a, "-f")) {
			foreground = 1;
		} else if (!strcmp(a, "-d")) {
			debug = 1;
		} else if (!strcmp(a, "-s")) {
			single = 1;
		} else if (!strcmp(a, "-n") || !strcmp(a, "-v")) {
			/* mount(8) helper flags: no mtab, verbose. */
		} else if (a[0] == '-') {
			return cli_usage_error("unknown option '%s'", a);
		} else if (!src) {
			src = a;
		} else if (!mnt) {
			mnt = a;
		} else {
			return cli_usage_error("unexpected argument '%s'", a);
		}
	}
	if (err) {
		rc = cli_fail(err);
		goto out;
	}
	if (!src || !mnt) {
		rc = cli_usage_error("mount needs SRC and MOUNTPOINT");
		goto out;
	}
	/* -o debug is -d for libfuse: its debug mode, which also keeps it in
	 * the foreground. */
	fuse_debug = fuse_opts_debug(&fuse);
	ck_log_set_level(debug || fuse_debug ? CK_LOG_DEBUG : CK_LOG_INFO);
	/*
	 * Tensor buffers are large and short-lived: have glibc map each one
	 * and unmap it when freed, instead of raising its mmap threshold and
	 * keeping freed megabytes in per-thread arenas.  Without this the
	 * daemon's RSS grows well past cache_size.
	 */
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_ARENA_MAX, 4);
	o.src = src;
	err = ckfs_open(&o, &fs);
	if (err) {
		rc = cli_fail(err);
		goto out;
	}
	ck_log(CK_LOG_INFO, "serving %s", fs->summary);
	/* syslog only when libfuse daemonizes: never with -f, -d or -o debug. */
	if (!foreground && !debug && !fuse_debug)
		ck_log_use_syslog(1);
	/* Read-only, shown as fuse.ckptfs with the checkpoint as its source;
	 * the kernel checks the files' modes for every user (ckfs_access.h).
	 * max_idle_threads given: libfuse 3.14 takes its default of -1 for a
	 * bad value and prints a warning on every mount. */
	ck_buf_printf(&fsname, "ro,default_permissions,subtype=ckptfs,max_idle_threads=16,"
		      "fsname=");
	/* fuse_opt splits at commas: a source (a URL) may hold one. */
	for (const char *p = src; *p; p++)
		ck_buf_printf(&fsname, "%s%c", *p == ',' || *p == '\\' ? "\\" : "", *p);
	ck_buf_printf(&fsname, "%s%s", fuse.len ? "," : "", fuse.len ? (char *)fuse.data : "");
	fargv[fargc++] = argv[0];
	fargv[fargc++] = (char *)mnt;
	if (foreground)
		fargv[fargc++] = "-f";
	if (debug)
		fargv[fargc++] = "-d";
	if (single)
		fargv[fargc++] = "-s";
	fargv[fargc++] = "-o";
	fargv[fargc++] = (char *)fsname.data;
	fargv[fargc] = NULL;
	rc = fs_ops_main(fs, o.keep_read_ahead ? 0 : o.read_ahead ? o.read_ahead :
			 ckfs_default_read_ahead(o.cache_size), fargc, fargv) ?
		     CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
	ckfs_close(fs);
	for (int i = 0; i < nkeep; i++)
		free(keep[i]);
	ck_buf_release(&fuse);
	ck_buf_release(&fsname);
	return rc;
}
