/* SPDX-License-Identifier: MIT */
/*
 * fs_ops.h - the FUSE front end over a ckfs view.  The only part of ckptfs
 * that includes <fuse.h>.
 */
#ifndef FS_OPS_H
#define FS_OPS_H

struct ckfs;

/*
 * Run the FUSE main loop for fs with the FUSE arguments argv[0..argc)
 * (program name, mountpoint, -f/-d/-s, -o options already stripped of ckptfs's
 * own).  Returns fuse_main's exit status.  fs must stay open until it
 * returns.
 */
int fs_ops_main(struct ckfs *fs, int argc, char **argv);

#endif
