/* SPDX-License-Identifier: MIT */
/*
 * kvstore_files.h - the data files of one store, and a bounded set of open
 * descriptors for them (private to src/kvstore/).
 *
 * A checkpoint may have thousands of data files (a 671B model at the 2 GiB
 * target is about 700, and a multi-host save adds every process's files),
 * while a daemon may be started with a soft limit of 256 descriptors.  So a
 * file is not held open for the life of the store: at most max_open
 * descriptors are kept, least recently used first out, and a file is
 * reopened on demand.
 *
 * A checked file (kvfiles_add_checked(), OCDBT data files) is opened once
 * when added, and its identity is recorded then: device, inode, size and
 * modification time.  A reopen must find the same identity, or the read is
 * -EIO naming the file ("changed since the checkpoint was opened"): a store
 * serves the generation it opened or nothing, never bytes of another file.
 * An unchecked file (kvfiles_add_unchecked(), a plain directory's) is opened
 * for each read and closed after it.
 *
 * With a root (kvfiles_set_root()), every open, the first and each reopen,
 * is made beneath it (ck_beneath.h): a file a symlink leads out of the
 * checkpoint to is refused when added (-EXDEV or -ELOOP, the message naming
 * it) and fails a later read with -EIO and the same message.
 *
 * Building (the add functions) is single-threaded.  kvfiles_pread() and
 * kvfiles_size() are thread-safe once building is over: the table does not
 * move any more, and one mutex guards the descriptors and their LRU list.
 * A descriptor in use by a read is pinned and never closed under it; while
 * more reads are in flight than max_open allows, the set grows past it and
 * shrinks back as they finish.
 *
 * A file whose path is a remote URL (remote/remote.h) is an object, opened
 * once (one metadata request: its size and version pinned, so that a read
 * of a replaced object fails with -EIO, never mixing versions) and kept
 * open until the table is released; it holds no descriptor.  A checked one
 * is added without a request (size KVFILES_SIZE_UNKNOWN) and opened by
 * kvfiles_open_remote(), many at once, or at its first read; an unchecked
 * one at its first read.
 */
#ifndef KVSTORE_FILES_H
#define KVSTORE_FILES_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KVFILES_NONE UINT32_MAX
#define KVFILES_SIZE_UNKNOWN UINT64_MAX

struct rmt_obj;

struct kvstore_file {
	char *path;	   /* owned: the path as given (for messages) */
	char *abspath;	   /* owned: the same made absolute when added, for
			      reopening after a daemon's chdir("/") */
	int fd;		   /* open descriptor, or -1 */
	int checked;	   /* 1: identity below recorded; reopen must match */
	unsigned pins;	   /* reads using fd now */
	dev_t dev;	   /* identity at first open (checked files) */
	ino_t ino;
	uint64_t size;	   /* size at first open (checked files) */
	int64_t mtime_ns;
	uint32_t prev, next; /* LRU list of open unpinned files, or NONE */
	struct rmt_obj *robj; /* owned: the remote object (remote files), or
				 NULL until opened */
	int remote;	   /* 1: path is a remote URL */
};

struct kvstore_files {
	struct kvstore_file *v; /* owned; index = file id */
	size_t n, cap;		/* used / allocated */
	pthread_mutex_t lock;	/* guards fd, pins, the list, nopen */
	size_t nopen;		/* descriptors open now */
	size_t max_open;	/* kept open at most (when none is pinned) */
	uint32_t head, tail;	/* LRU list: least recently used at head */
	uint64_t opens;		/* open(2) calls made so far */
	char *root;		/* owned: files are opened beneath it
				   (ck_beneath.h); NULL: as named */
	int follow;		/* 1: open as named even with a root */
};

/* The number of descriptors a store keeps open by default: a quarter of
 * the soft RLIMIT_NOFILE, at least 8 and at most 4096. */
size_t kvfiles_default_max_open(void);

/* An empty table keeping at most kvfiles_default_max_open() open.
 * -ENOMEM (mutex). */
int kvfiles_init(struct kvstore_files *t);

/* Open every file beneath root (copied; NULL: open files as named) unless
 * follow is set (ck_beneath.h).  Call before adding files.  -ENOMEM. */
int kvfiles_set_root(struct kvstore_files *t, const char *root, int follow);

/* Close every descriptor and free the table. */
void kvfiles_release(struct kvstore_files *t);

/*
 * Add the regular file path (copied), open it and record its identity;
 * *id is its index.  Errors: -EIO cannot be opened or not a regular file,
 * -EXDEV/-ELOOP it lies outside the table's root (kvfiles_set_root()),
 * -EMFILE no descriptor left even after closing the unused ones, -ENOMEM,
 * -EOVERFLOW (too many files); each with a message naming path.
 */
int kvfiles_add_checked(struct kvstore_files *t, const char *path,
			uint32_t *id);

/* Open the remote checked files not open yet (kvfiles_open_remote() of
 * each, up to 32 at once), or just file id when id != KVFILES_NONE.  Each
 * gets its size.  -EIO (a file missing, naming it), the errors of
 * rmt_obj_open(), -ENOMEM.  Building only (single-threaded caller). */
int kvfiles_open_remote(struct kvstore_files *t, uint32_t id);

/* Add path (copied), to be opened for each read.  -ENOMEM, -EOVERFLOW. */
int kvfiles_add_unchecked(struct kvstore_files *t, const char *path,
			  uint32_t *id);

/*
 * Read exactly len bytes at off of file id into buf.  -EIO short file,
 * identity changed or the file now outside the root, -ENOENT (unchecked
 * file gone), -EMFILE, -EINVAL bad id; each with a message naming the file.
 * Thread-safe.
 */
int kvfiles_pread(struct kvstore_files *t, uint32_t id, void *buf, size_t len,
		  uint64_t off);

/* Ask the kernel to start reading len bytes at off of file id into the page
 * cache now (posix_fadvise WILLNEED), for a pread soon after.  A hint: files
 * that cannot be had now are skipped, nothing is reported.  Thread-safe. */
void kvfiles_prefetch(struct kvstore_files *t, uint32_t id, uint64_t len, uint64_t off);

/* Change the bound on descriptors kept open between reads (0: none);
 * closes unused ones above it.  For tests and tuning.  Thread-safe. */
void kvfiles_set_max_open(struct kvstore_files *t, size_t max_open);

/* Descriptors open now, and open(2) calls so far.  Thread-safe. */
void kvfiles_stats(struct kvstore_files *t, size_t *nopen, uint64_t *opens);

#endif
