/* SPDX-License-Identifier: MIT */
/*
 * This file implements the FUSE operations of the read-only ckfs views
 * (high-level API).  The tree is immutable: the root directory (inode 1),
 * the files of the view (inode = index + 2; the HF view's are all in the
 * root) and the directories their paths imply (view=maxtext: 0/, 0/items/,
 * ...; inode = nfiles + 1 + their number from ckfs_find_dir()).  Contents
 * may be cached by the kernel for as long as it likes (kernel_cache, long
 * timeouts), and no direct_io is used, so mmap works.  Every write-side
 * operation is EROFS.
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)
#include <fuse.h>

#include "fs/fs_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs/ckfs.h"
#include "util/ck_log.h"

#define FS_TIMEOUT 86400.0
#define FS_XATTR "user.ckptfs.source"
#define FS_XATTR_STATS "user.ckptfs.stats"	/* the root's only xattr */
/* A size query for the stats gets this much room on top of their length:
 * the counters may grow before the read that follows it. */
#define FS_STATS_SLACK 64

static struct ckfs *fs_of(void)
{
	return fuse_get_context()->private_data;
}

static const struct ckfs_file *lookup(const char *path)
{
	return path[0] == '/' ? ckfs_find(fs_of(), path + 1) : NULL;
}

/* The directory path names (0 for the root), or -ENOENT. */
static int lookup_dir(const char *path)
{
	return path[0] == '/' ? ckfs_find_dir(fs_of(), path + 1) : -ENOENT;
}

/* Set by fs_ops_main for fs_init (the mountpoint resolved before the
 * daemon leaves the working directory). */
static char fs_mountpoint[4096];
static uint64_t fs_read_ahead;

/*
 * Raise the kernel's readahead for the mount (its bdi, named by the device
 * number /proc/self/mountinfo gives the mountpoint): FUSE mounts start at
 * 128 KiB, which caps every cold read request at that size.  Best effort
 * (needs root): a failure is logged, nothing else.
 */
static void set_read_ahead(void)
{
	char line[8192], path[128];
	unsigned maj = 0, min = 0;
	int found = 0;
	FILE *f;

	if (!fs_read_ahead || !fs_mountpoint[0])
		return;
	f = fopen("/proc/self/mountinfo", "r");
	while (f && !found && fgets(line, sizeof(line), f)) {
		char mp[4096];

		/* id parent maj:min root mountpoint ... (no escapes expected
		 * in the mountpoints ckptfs compares; one with spaces just
		 * does not match) */
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mp) == 3 &&
		    !strcmp(mp, fs_mountpoint))
			found = 1;
	}
	if (f)
		fclose(f);
	if (!found)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%llu\n", (unsigned long long)(fs_read_ahead >> 10)) < 0 ||
	    fclose(f)) {
		ck_log(CK_LOG_DEBUG, "%s: cannot set the readahead (%s)", path,
		       strerror(errno));
		return;
	}
	ck_log(CK_LOG_DEBUG, "readahead %llu KiB (%s)",
	       (unsigned long long)(fs_read_ahead >> 10), path);
}

/*
 * SIGTERM, SIGINT and SIGHUP end the loop, and fuse_main() then unmounts.
 * Handled here rather than by libfuse, which installs its handlers only
 * over the default disposition (a daemon started in the background of a
 * script inherits SIGINT ignored) and makes fuse_main() return 1 after
 * them: a stop asked for by a signal is a clean exit.
 */
static struct fuse *volatile fs_fuse;	/* set by fs_init, cleared by
					   fs_destroy */
static volatile sig_atomic_t fs_stop_signal;

static void fs_on_signal(int sig)
{
	fs_stop_signal = sig;
	if (fs_fuse)
		fuse_exit(fs_fuse);	/* sets a flag */
}

static void fs_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fs_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* Before libfuse frees the struct fuse: a signal from now on has nothing
 * to stop (the loop is over), and must not touch it. */
static void fs_destroy(void *private_data)
{
	(void)private_data;
	fs_fuse = NULL;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	fs_fuse = fuse_get_context()->fuse;
	if (fs_stop_signal)	/* asked to stop while mounting */
		fuse_exit(fs_fuse);
	cfg->kernel_cache = 1;
	cfg->use_ino = 1;
	cfg->entry_timeout = FS_TIMEOUT;
	cfg->attr_timeout = FS_TIMEOUT;
	cfg->negative_timeout = FS_TIMEOUT;
	cfg->direct_io = 0;
	if (conn->max_background < 64)
		conn->max_background = 64;
	if (conn->congestion_threshold < 48)
		conn->congestion_threshold = 48;
	conn->max_readahead = UINT32_MAX;
	set_read_ahead();
	return fuse_get_context()->private_data;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	const struct ckfs_file *f;
	struct ckfs *fs = fs_of();
	int dir = lookup_dir(path);

	(void)fi;
	memset(st, 0, sizeof(*st));
	st->st_uid = fs->dir_uid;
	st->st_gid = fs->dir_gid;
	st->st_mtime = (time_t)fs->mtime;
	st->st_ctime = (time_t)fs->mtime;
	st->st_atime = (time_t)fs->mtime;
	if (dir >= 0) {
		st->st_mode = S_IFDIR | fs->dir_mode;
		st->st_nlink = 2;
		st->st_ino = dir ? (ino_t)(fs->nfiles + 1 + (size_t)dir) : 1;
		return 0;
	}
	f = lookup(path);
	if (!f)
		return -ENOENT;
	st->st_mode = S_IFREG | f->mode;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_nlink = 1;
	st->st_size = (off_t)f->size;
	st->st_blocks = (blkcnt_t)((f->size + 511) / 512);
	st->st_blksize = 1 << 20;
	st->st_ino = (ino_t)(f - fs->files) + 2;
	return 0;
}

/* fs_readdir's ckfs_list_dir() callback: one entry to FUSE. */
struct fs_dir_fill {
	void *buf;
	fuse_fill_dir_t fill;
};

static int fs_dir_entry(void *ctx, const char *name, const struct ckfs_file *f)
{
	struct fs_dir_fill *d = ctx;

	(void)f;
	return d->fill(d->buf, name, NULL, 0, 0);
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct fs_dir_fill d = { buf, fill };
	int dir = lookup_dir(path);

	(void)off;
	(void)fi;
	(void)flags;
	if (dir < 0)
		return lookup(path) ? -ENOTDIR : -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	ckfs_list_dir(fs_of(), dir, fs_dir_entry, &d);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	const struct ckfs_file *f = lookup(path);

	if (!f)
		return -ENOENT;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->keep_cache = 1;
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	const struct ckfs_file *f = (const struct ckfs_file *)(uintptr_t)fi->fh;

	(void)path;
	if (off < 0)
		return -EINVAL;
	return (int)ckfs_read(fs_of(), f, buf, size, (uint64_t)off);
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
	struct ckfs *fs = fs_of();
	uint64_t total = 0;

	(void)path;
	for (size_t i = 0; i < fs->nfiles; i++)
		total += fs->files[i].size;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_blocks = (fsblkcnt_t)((total + 4095) / 4096);
	sv->f_files = (fsfilcnt_t)(fs->nfiles + fs->ndirs) + 1;
	sv->f_namemax = 255;
	sv->f_flag = ST_RDONLY;
	return 0;
}

/* The root's user.ckptfs.stats: the counters as one line of JSON. */
static int root_getxattr(const char *name, char *value, size_t size)
{
	char *text = NULL;
	size_t len = 0;
	int err;

	if (strcmp(name, FS_XATTR_STATS))
		return -ENODATA;
	err = ckfs_stats_json(fs_of(), &text, &len);
	if (err)
		return err;
	if (!size)
		len += FS_STATS_SLACK;
	else if (len > size)
		err = -ERANGE;
	else
		memcpy(value, text, len);
	free(text);
	return err ? err : (int)len;
}

static int fs_getxattr(const char *path, const char *name, char *value, size_t size)
{
	const struct ckfs_file *f = lookup(path);
	char *text = NULL;
	size_t len = 0;
	int err;

	if (!f && !strcmp(path, "/"))
		return root_getxattr(name, value, size);
	if (!f)
		return lookup_dir(path) < 0 ? -ENOENT : -ENODATA;
	if (strcmp(name, FS_XATTR))
		return -ENODATA;
	err = ckfs_describe(fs_of(), f, &text, &len);
	if (err)
		return err;
	if (size && len > size)
		err = -ERANGE;
	else if (size)
		memcpy(value, text, len);
	free(text);
	return err ? err : (int)len;
}

static int fs_listxattr(const char *path, char *list, size_t size)
{
	static const char file_names[] = FS_XATTR;
	static const char root_names[] = FS_XATTR_STATS;
	const char *names = file_names;
	size_t len = sizeof(file_names);

	if (!lookup(path)) {
		if (lookup_dir(path) < 0)
			return -ENOENT;
		if (strcmp(path, "/"))
			return 0;	/* a directory below the root: none */
		names = root_names;
		len = sizeof(root_names);
	}
	if (size && size < len)
		return -ERANGE;
	if (size)
		memcpy(list, names, len);
	return (int)len;
}

static int fs_erofs_path(const char *path, mode_t mode)
{
	(void)path;
	(void)mode;
	return -EROFS;
}

static int fs_erofs_1(const char *path)
{
	(void)path;
	return -EROFS;
}

static int fs_erofs_2(const char *from, const char *to, unsigned int flags)
{
	(void)from;
	(void)to;
	(void)flags;
	return -EROFS;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)path;
	(void)buf;
	(void)size;
	(void)off;
	(void)fi;
	return -EROFS;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	return fs_erofs_path(path, mode);
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)path;
	(void)size;
	(void)fi;
	return -EROFS;
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	return fs_erofs_path(path, mode);
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)path;
	(void)uid;
	(void)gid;
	(void)fi;
	return -EROFS;
}

static int fs_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	(void)path;
	(void)tv;
	(void)fi;
	return -EROFS;
}

static int fs_setxattr(const char *path, const char *name, const char *value,
		       size_t size, int flags)
{
	(void)path;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	return -EROFS;
}

static int fs_removexattr(const char *path, const char *name)
{
	(void)name;
	return fs_erofs_1(path);
}

static int fs_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)dev;
	return fs_erofs_path(path, mode);
}

static int fs_symlink(const char *from, const char *to)
{
	return fs_erofs_2(from, to, 0);
}

static int fs_link(const char *from, const char *to)
{
	return fs_erofs_2(from, to, 0);
}

static const struct fuse_operations fs_operations = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.read = fs_read,
	.statfs = fs_statfs,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.write = fs_write,
	.create = fs_create,
	.mknod = fs_mknod,
	.mkdir = fs_erofs_path,
	.unlink = fs_erofs_1,
	.rmdir = fs_erofs_1,
	.symlink = fs_symlink,
	.link = fs_link,
	.rename = fs_erofs_2,
	.truncate = fs_truncate,
	.chmod = fs_chmod,
	.chown = fs_chown,
	.utimens = fs_utimens,
	.setxattr = fs_setxattr,
	.removexattr = fs_removexattr,
	.destroy = fs_destroy,
};

int fs_ops_main(struct ckfs *fs, uint64_t read_ahead, int argc, char **argv)
{
	int rc;

	if (argc < 2 || !realpath(argv[1], fs_mountpoint))
		fs_mountpoint[0] = '\0';
	fs_read_ahead = read_ahead;
	fs_catch_signals();
	rc = fuse_main(argc, argv, &fs_operations, fs);
	return rc && fs_stop_signal ? 0 : rc;
}
