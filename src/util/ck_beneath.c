/* SPDX-License-Identifier: MIT */
/* This file implements ck_beneath.h: opening a checkpoint's files beneath
 * its root, with openat2(RESOLVE_BENEATH) or a component-wise walk. */
#include "util/ck_beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/ck_err.h"
#include "util/ck_file.h"

/* openat2 retries after EAGAIN (a rename raced with the lookup). */
#define BENEATH_RETRIES 16

static atomic_int force_walk; /* ck_beneath_force_walk() */
static atomic_int no_openat2; /* the kernel answered ENOSYS once */

void ck_beneath_force_walk(int on)
{
	atomic_store(&force_walk, on ? 1 : 0);
}

/* path made absolute against the working directory, without trailing
 * slashes ("/" stays "/"); a new string in *out. */
static int make_abs(const char *path, char **out)
{
	char *p, *cwd;
	size_t n;

	if (path[0] == '/') {
		p = strdup(path);
	} else {
		cwd = getcwd(NULL, 0);
		if (!cwd)
			return ck_err(errno == ENOMEM ? -ENOMEM : -errno,
				      "%s: no working directory to resolve it "
				      "against: %s",
				      path, strerror(errno));
		p = ck_path_join(cwd, path);
		free(cwd);
	}
	if (!p)
		return ck_err(-ENOMEM, "out of memory");
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	*out = p;
	return 0;
}

/* The part of abs below root when abs is root or textually below it
 * ("." for root itself), else NULL. */
static const char *below_text(const char *root, const char *abs)
{
	size_t rlen = strlen(root);
	const char *p = abs;

	if (strcmp(root, "/")) {
		if (strncmp(abs, root, rlen) || (abs[rlen] && abs[rlen] != '/'))
			return NULL;
		p = abs + rlen;
	}
	while (*p == '/')
		p++;
	return *p ? p : ".";
}

/* In *rel, the part of abs below the longest of its leading directories
 * that is the directory root_fd (the same device and inode: the path
 * reached the root through a symlink of its own), else NULL.  What lies
 * below is still opened beneath root_fd, so this only decides where root is
 * in abs.  0 or -ENOMEM. */
static int below_same_dir(int root_fd, const char *abs, const char **rel)
{
	struct stat rs, st;
	char *buf, *s;

	*rel = NULL;
	if (fstat(root_fd, &rs) < 0)
		return 0;
	buf = strdup(abs);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (stat(buf, &st) == 0 && st.st_dev == rs.st_dev &&
		    st.st_ino == rs.st_ino) {
			const char *p = abs + strlen(buf);

			while (*p == '/')
				p++;
			*rel = *p ? p : ".";
			break;
		}
		s = strrchr(buf, '/');
		if (!s || !strcmp(buf, "/"))
			break;
		if (s == buf)
			s[1] = '\0';
		else
			*s = '\0';
	}
	free(buf);
	return 0;
}

static int has_dotdot(const char *rel)
{
	for (const char *p = rel; (p = strstr(p, "..")); p += 2)
		if ((p == rel || p[-1] == '/') && (p[2] == '/' || !p[2]))
			return 1;
	return 0;
}

/* openat2(root_fd, rel, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): 0 or
 * -errno. */
static int open_openat2(int root_fd, const char *rel, int flags, int *fd)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	for (int tries = 0;; tries++) {
		long r = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));

		if (r >= 0) {
			*fd = (int)r;
			return 0;
		}
		if (errno == EINTR ||
		    (errno == EAGAIN && tries < BENEATH_RETRIES))
			continue;
		return -errno;
	}
}

/* After an openat(dfd, name, O_NOFOLLOW) failed with errno: -ELOOP when
 * name is a symlink (refused), else -errno. */
static int refused_link(int dfd, const char *name)
{
	int e = errno;
	struct stat st;

	if ((e == ELOOP || e == ENOTDIR) &&
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return -ELOOP;
	return -e;
}

/*
 * Split rel into its components in place, "." dropped and ".." taking the
 * one before it away (every directory the walk opens is a real one, so the
 * text is the tree).  -EXDEV if a ".." climbs above root, -ENOMEM.
 */
static int split(char *rel, char ***comps, size_t *n)
{
	size_t cap = 1, k = 0;
	char **v, *save = NULL;

	for (const char *p = rel; *p; p++)
		cap += *p == '/';
	v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (char *c = strtok_r(rel, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (!k) {
				free(v);
				return -EXDEV;
			}
			k--;
			continue;
		}
		v[k++] = c;
	}
	*comps = v;
	*n = k;
	return 0;
}

/*
 * Open rel below root_fd a component at a time, following no symlink:
 * directories with O_PATH | O_NOFOLLOW | O_DIRECTORY, the last component
 * with O_NOFOLLOW.  0, -ELOOP (a symlink on the way), -EXDEV (".." above
 * root), or -errno.
 */
static int open_walk(int root_fd, const char *rel, int flags, int *fd)
{
	char *copy = strdup(rel), **comps = NULL;
	size_t n = 0;
	int cur = root_fd, err, f;

	if (!copy)
		return -ENOMEM;
	err = split(copy, &comps, &n);
	if (err)
		goto out;
	for (size_t i = 0; i + 1 < n; i++) {
		int next =
			openat(cur, comps[i],
			       O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);

		if (next < 0) {
			err = refused_link(cur, comps[i]);
			goto out;
		}
		if (cur != root_fd)
			close(cur);
		cur = next;
	}
	f = openat(cur, n ? comps[n - 1] : ".", flags | O_NOFOLLOW | O_CLOEXEC);
	if (f < 0) {
		err = n ? refused_link(cur, comps[n - 1]) : -errno;
		goto out;
	}
	*fd = f;
out:
	if (cur != root_fd)
		close(cur);
	free(comps);
	free(copy);
	return err;
}

static int refuse(int err, const char *path, const char *root, const char *why)
{
	return ck_err(err,
		      "%s: leads out of the checkpoint %s (%s); -o "
		      "follow_symlinks allows it",
		      path, root, why);
}

int ck_open_beneath(const char *root, const char *path, int flags, int follow,
		    int *fd)
{
	char *rabs = NULL, *pabs = NULL;
	const char *rel;
	int root_fd = -1, err, walk;

	if (follow || !root) {
		int f = open(path, flags | O_CLOEXEC);

		if (f < 0)
			return ck_err(-errno, "%s: %s", path, strerror(errno));
		*fd = f;
		return 0;
	}
	err = make_abs(root, &rabs);
	if (!err)
		err = make_abs(path, &pabs);
	if (err)
		goto out;
	root_fd = open(rabs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		err = ck_err(-errno, "%s: the checkpoint's root %s: %s", path,
			     rabs, strerror(errno));
		goto out;
	}
	rel = below_text(rabs, pabs);
	if (!rel && below_same_dir(root_fd, pabs, &rel)) {
		err = ck_err(-ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if (!rel) {
		err = refuse(-EXDEV, path, rabs, "not below it");
		goto out;
	}
	walk = atomic_load(&force_walk) || atomic_load(&no_openat2);
	if (!walk) {
		err = open_openat2(root_fd, rel, flags, fd);
		if (err == -ENOSYS)
			atomic_store(&no_openat2, 1);
		/* No openat2 here, or a seccomp filter refusing it. */
		walk = err == -ENOSYS || err == -EPERM;
		if (err == -EXDEV && has_dotdot(rel))
			err = refuse(err, path, rabs, "a symlink or '..'");
		else if (err == -EXDEV || err == -ELOOP)
			err = refuse(err, path, rabs, "a symlink");
	}
	if (walk) {
		err = open_walk(root_fd, rel, flags, fd);
		if (err == -ELOOP)
			err = refuse(err, path, rabs, "a symlink");
		else if (err == -EXDEV)
			err = refuse(err, path, rabs, "'..'");
	}
	if (err == -ENOMEM)
		err = ck_err(err, "%s: out of memory", path);
	else if (err && err != -EXDEV && err != -ELOOP)
		err = ck_err(err, "%s: %s", path, strerror(-err));
out:
	if (root_fd >= 0)
		close(root_fd);
	free(rabs);
	free(pabs);
	return err;
}

int ck_read_file_beneath(const char *root, const char *path, int follow,
			 size_t max, uint8_t **data, size_t *len)
{
	int fd, err = ck_open_beneath(root, path, O_RDONLY, follow, &fd);

	if (err)
		return err;
	err = ck_read_fd(fd, path, max, data, len);
	close(fd);
	return err;
}

int ck_opendir_beneath(const char *root, const char *path, int follow,
		       DIR **out)
{
	int fd, err = ck_open_beneath(root, path, O_RDONLY | O_DIRECTORY,
				      follow, &fd);
	DIR *d;

	if (err)
		return err;
	d = fdopendir(fd);
	if (!d) {
		err = ck_err(-errno, "%s: %s", path, strerror(errno));
		close(fd);
		return err;
	}
	*out = d;
	return 0;
}
