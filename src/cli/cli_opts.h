/* SPDX-License-Identifier: MIT */
/*
 * cli_opts.h - the -o options shared by mount, convert and plan.
 *
 * ckptfs's own options fill a struct ckfs_opts; fstab-only options
 * (_netdev, nofail, auto, noauto, user, users, nouser, defaults, rw) are
 * dropped; everything else is collected for FUSE.
 */
#ifndef CLI_OPTS_H
#define CLI_OPTS_H

#include "fs/ckfs.h"
#include "util/ck_buf.h"

/*
 * Parse one comma-separated -o argument into o (strings point into a copy
 * kept in *keep, which the caller frees) and append the options meant for
 * FUSE to fuse ("a,b=c", comma-separated).  config.KEY=VALUE goes to
 * o->sets; a VALUE that starts with {, [ or " runs to its closing bracket or
 * quote, commas included.  check_mt is not kept in o: it turns on
 * plan_check_mt_always() for the process (mapping/plan.h).  -EINVAL with a
 * message for a bad value (unknown dtype, bad size or step, a malformed
 * config.KEY=VALUE).
 */
int cli_opts_parse(const char *arg, struct ckfs_opts *o, struct ck_buf *fuse,
		   char **keep);

/* -o OPTS of the commands that open a checkpoint without a view (inspect,
 * dump): step=, uncommitted, follow_symlinks and the remote options
 * (concurrency=, timeout=, retries=, http_token_file=) go into oo or are
 * applied now (ckfs_remote_configure()); the view's options are accepted
 * and unused.  -EINVAL with a message. */
int cli_source_opts(const char *arg, struct orbax_opts *oo);

/* Parse "5GB", "512MiB", "1G", "1048576" into bytes.  -EINVAL. */
int cli_parse_size(const char *s, uint64_t *v);

#endif
