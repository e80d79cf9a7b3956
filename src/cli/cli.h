/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the ckptfs subcommands and what they share.
 *
 * Exit codes: 0 success, 1 the checkpoint could not be read (the one-line
 * message names the file, the key and the reason), 2 bad usage.
 */
#ifndef CLI_H
#define CLI_H

#include <stdint.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

int cmd_inspect(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_convert(int argc, char **argv);
struct ckfs_opts;
/* convert --to maxtext, its arguments parsed by cmd_convert(): SRC in
 * o->src, written to out; returns the exit status. */
int cli_to_maxtext(const struct ckfs_opts *o, const char *out);
int cmd_plan(int argc, char **argv);
int cmd_example(int argc, char **argv);

/* Print "ckptfs: error: <ck_err_msg()>" (or the errno text) to stderr and
 * return CLI_EXIT_FAIL. */
int cli_fail(int err);

/* Print "ckptfs: <msg> (try 'ckptfs --help')" on one line; return
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse "N" into *step (>= 0).  -EINVAL if not a number. */
int cli_parse_step(const char *s, int64_t *step);

#endif
