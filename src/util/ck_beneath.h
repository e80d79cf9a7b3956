/* SPDX-License-Identifier: MIT */
/*
 * ck_beneath.h - open a file of a checkpoint without leaving the checkpoint.
 *
 * ckptfs usually runs as root, on checkpoints it did not write.  A symlink
 * planted inside a checkpoint must not make it open a file elsewhere (a
 * confused deputy): every file of a checkpoint is opened beneath the
 * checkpoint's root directory.
 *
 * path must lie beneath root.  Both are made absolute (a relative one
 * against the working directory) and compared as text; a path whose
 * leading directories are not root as text, but one of which is root
 * itself (the same directory, reached through a symlink in the part of the
 * path the user gave), is taken relative to that directory.  Any other path
 * is refused.  The part below root is then opened with
 * openat2(root, rel, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): a relative
 * symlink inside the tree that stays inside is followed; one that leads
 * out, an absolute symlink (even one naming a file inside), a /proc magic
 * link, or a ".." that climbs out is refused.
 *
 * Where the kernel has no openat2 (before Linux 5.6, or a seccomp filter
 * that answers ENOSYS or EPERM), rel is walked a component at a time from
 * root, every directory opened with O_NOFOLLOW, the last component opened
 * with O_NOFOLLOW: stricter, no symlink at all is followed.  A ".." there
 * is resolved as text (every directory above it is a real one) and may not
 * climb above root.
 *
 * follow = 1 (the mount option -o follow_symlinks), or root NULL: path is
 * opened as it is, with open(2).
 *
 * A refusal is -EXDEV (outside root, a ".." climbing out, openat2's
 * refusal) or -ELOOP (a symlink the walk met, or openat2's), with one
 * message:
 *   "<path>: leads out of the checkpoint <root> (a symlink); -o
 *    follow_symlinks allows it"
 * Other failures are -errno with "<path>: <strerror>".  Every descriptor is
 * opened O_CLOEXEC.  Thread-safe.
 */
#ifndef CK_BENEATH_H
#define CK_BENEATH_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Open path (beneath root, see above) with the open(2) flags flags
 * (O_RDONLY, optionally O_DIRECTORY; never O_CREAT).  *fd is the new
 * descriptor.
 */
int ck_open_beneath(const char *root, const char *path, int flags, int follow,
		    int *fd);

/*
 * ck_read_file() (ck_file.h) of a file opened with ck_open_beneath():
 * -ENOENT if absent, -EOVERFLOW if larger than max, a refusal as above.
 */
int ck_read_file_beneath(const char *root, const char *path, int follow,
			 size_t max, uint8_t **data, size_t *len);

/* opendir(3) of a directory opened with ck_open_beneath().  Caller
 * closes *out with closedir(). */
int ck_opendir_beneath(const char *root, const char *path, int follow,
		       DIR **out);

/*
 * For tests: 1 makes every open take the component-wise walk, as on a
 * kernel without openat2; 0 (the default) uses openat2 where the kernel has
 * it.  Affects the whole process.
 */
void ck_beneath_force_walk(int on);

#endif
