/* SPDX-License-Identifier: MIT */
/*
 * ck_access.h - who may read something made of several files.
 *
 * A file of the view is made of source files, which a user reaches through
 * directories.  Someone may read it only if they could read every one of
 * those files and search every directory on the way.  ck_access collects
 * the files and directories (their owner, group and mode), then gives one
 * owner, group and read bits that grant no one more than that:
 *
 *   owner  the common owner of the files added as CK_ACCESS_READ that are
 *          not world-readable (of all of them when every one is), else
 *          root: the one user who might read them all;
 *   group  their common group likewise, else root's;
 *   user   r if the owner could read and search everything, by the POSIX
 *          rule (owner bits if it owns the object, else group bits if it is
 *          in the object's group, primary or supplementary, else other bits);
 *   group  r if every member of the group but the owner could, whichever
 *          of the object's classes a member may fall in (its group bits
 *          where the object is the group's, else its group and other bits;
 *          its owner bits too unless the object is the owner's);
 *   other  r if anyone else could: the object's other bits, its group bits
 *          unless the object is the group's, its owner bits unless it is
 *          the owner's.
 *
 * That is a conservative reading (a member of the group who owns a file
 * with fewer owner bits than group bits loses access), never a generous one.
 * Not thread-safe; a struct ck_access is used by one thread at a time.
 */
#ifndef CK_ACCESS_H
#define CK_ACCESS_H

#include <sys/stat.h>
#include <sys/types.h>

/* What a user needs of an object: read a file, search a directory. */
enum { CK_ACCESS_READ = 4, CK_ACCESS_SEARCH = 1 };

struct ck_access_obj {
	uid_t uid;
	gid_t gid;
	mode_t mode;
	unsigned want;		/* CK_ACCESS_READ or CK_ACCESS_SEARCH */
};

struct ck_access {
	struct ck_access_obj *v;	/* distinct objects (owned) */
	size_t n, cap;
};

#define CK_ACCESS_INIT { NULL, 0, 0 }

/* Add an object as stat() gives it.  Returns 0 or -ENOMEM. */
int ck_access_add(struct ck_access *a, const struct stat *st, unsigned want);

/*
 * Add the search permission of every directory from / down to path's parent
 * (path itself is not added).  Returns 0, -ENOMEM, or -errno of a stat.
 */
int ck_access_add_ancestors(struct ck_access *a, const char *path);

/* Add everything of b to a.  Returns 0 or -ENOMEM. */
int ck_access_merge(struct ck_access *a, const struct ck_access *b);

/*
 * The owner, group and read bits (a subset of 0444) of something made of
 * the objects added (see above); with none added, root's and 0444.
 */
void ck_access_result(const struct ck_access *a, uid_t *uid, gid_t *gid,
		      mode_t *read_bits);

void ck_access_release(struct ck_access *a);

#endif
