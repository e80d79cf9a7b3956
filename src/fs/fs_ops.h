/* SPDX-License-Identifier: MIT */
/*
 * fs_ops.h - the FUSE front end over a ckfs view.  The only part of ckptfs
 * that includes <fuse.h>.
 */
#ifndef FS_OPS_H
#define FS_OPS_H

struct ckfs;

#include <stdint.h>

/*
 * Run the FUSE main loop for fs with the FUSE arguments argv[0..argc)
 * (program name, mountpoint, -f/-d/-s, -o options already stripped of ckptfs's
 * own).  Once mounted, the kernel's readahead for the mount is set to
 * read_ahead bytes (0: left as the kernel has it).  SIGTERM, SIGINT and
 * SIGHUP unmount and return 0.  Returns fuse_main's exit status otherwise.
 * fs must stay open until it returns.
 */
int fs_ops_main(struct ckfs *fs, uint64_t read_ahead, int argc, char **argv);

#endif
