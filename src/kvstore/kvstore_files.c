/* SPDX-License-Identifier: MIT */
/* This file implements kvstore_files.h: data files and their bounded set of
 * open descriptors. */
#include "kvstore/kvstore_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remote/remote.h"
#include "util/ck_beneath.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

/* Caps on what one table may hold (hostile databases cannot exhaust memory
 * through them). */
#define KVFILES_MAX ((size_t)1 << 24)
#define KVFILES_MIN_OPEN 8
#define KVFILES_MAX_OPEN 4096

size_t kvfiles_default_max_open(void)
{
	struct rlimit rl;
	size_t n = 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		n = rl.rlim_cur == RLIM_INFINITY ? KVFILES_MAX_OPEN :
						   (size_t)(rl.rlim_cur / 4);
	if (n < KVFILES_MIN_OPEN)
		n = KVFILES_MIN_OPEN;
	if (n > KVFILES_MAX_OPEN)
		n = KVFILES_MAX_OPEN;
	return n;
}

int kvfiles_init(struct kvstore_files *t)
{
	memset(t, 0, sizeof(*t));
	if (pthread_mutex_init(&t->lock, NULL))
		return ck_err(-ENOMEM, "kvstore: cannot create a mutex");
	t->max_open = kvfiles_default_max_open();
	t->head = t->tail = KVFILES_NONE;
	return 0;
}

int kvfiles_set_root(struct kvstore_files *t, const char *root, int follow)
{
	char *r = NULL;

	if (root) {
		r = strdup(root);
		if (!r)
			return ck_err(-ENOMEM, "kvstore: out of memory");
	}
	free(t->root);
	t->root = r;
	t->follow = follow;
	return 0;
}

void kvfiles_release(struct kvstore_files *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].fd >= 0)
			close(t->v[i].fd);
		rmt_obj_close(t->v[i].robj);
		free(t->v[i].path);
		free(t->v[i].abspath);
	}
	free(t->v);
	free(t->root);
	pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof(*t));
}

/* ---- the LRU list of open, unpinned files (lock held) -------------------- */

static void lru_unlink(struct kvstore_files *t, uint32_t id)
{
	struct kvstore_file *f = &t->v[id];

	if (f->prev != KVFILES_NONE)
		t->v[f->prev].next = f->next;
	else
		t->head = f->next;
	if (f->next != KVFILES_NONE)
		t->v[f->next].prev = f->prev;
	else
		t->tail = f->prev;
	f->prev = f->next = KVFILES_NONE;
}

static void lru_append(struct kvstore_files *t, uint32_t id)
{
	struct kvstore_file *f = &t->v[id];

	f->prev = t->tail;
	f->next = KVFILES_NONE;
	if (t->tail != KVFILES_NONE)
		t->v[t->tail].next = id;
	else
		t->head = id;
	t->tail = id;
}

/* Close the least recently used unpinned file; 0 if there was none. */
static int evict_one(struct kvstore_files *t)
{
	uint32_t id = t->head;

	if (id == KVFILES_NONE)
		return 0;
	lru_unlink(t, id);
	close(t->v[id].fd);
	t->v[id].fd = -1;
	t->nopen--;
	return 1;
}

/* Close unpinned files until fewer than keep are open. */
static void shrink_to(struct kvstore_files *t, size_t keep)
{
	while (t->nopen >= keep && evict_one(t))
		;
}

/* ---- opening --------------------------------------------------------- */

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Open path read-only beneath the table's root; on EMFILE/ENFILE close
 * every unused descriptor of this table and try once more (lock held when
 * locked).  A refusal (-EXDEV, -ELOOP) keeps ck_open_beneath()'s message;
 * other messages name the file as name. */
static int open_fd(struct kvstore_files *t, const char *path,
		   const char *name, int *out)
{
	int err = ck_open_beneath(t->root, path, O_RDONLY, t->follow, out);

	t->opens++;
	if ((err == -EMFILE || err == -ENFILE) && t->head != KVFILES_NONE) {
		shrink_to(t, 0);
		err = ck_open_beneath(t->root, path, O_RDONLY, t->follow, out);
		t->opens++;
	}
	if (err == -EMFILE || err == -ENFILE)
		return ck_err(-EMFILE,
			      "%s: cannot open data file: out of file "
			      "descriptors (%s; raise ulimit -n)",
			      name, strerror(-err));
	if (err == -EXDEV || err == -ELOOP || err == -ENOMEM)
		return err;
	if (err)
		return ck_err(-EIO, "%s: cannot open data file: %s", name,
			      strerror(-err));
	return 0;
}

/* Make f's descriptor open and pinned (lock held). */
static int acquire(struct kvstore_files *t, uint32_t id)
{
	struct kvstore_file *f = &t->v[id];
	struct stat st;
	int fd, err;

	if (f->fd >= 0) {
		if (!f->pins)
			lru_unlink(t, id);
		f->pins++;
		return 0;
	}
	shrink_to(t, t->max_open);
	err = open_fd(t, f->abspath, f->path, &fd);
	/* A file now outside the root fails this read, not the mount. */
	if (err == -EXDEV || err == -ELOOP)
		return -EIO;
	if (err)
		return err;
	if (fstat(fd, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino ||
	    (uint64_t)st.st_size != f->size || mtime_ns(&st) != f->mtime_ns) {
		close(fd);
		return ck_err(-EIO,
			      "%s: data file changed since the checkpoint was "
			      "opened (replaced or rewritten); remount to read "
			      "the new one",
			      f->path);
	}
	f->fd = fd;
	f->pins = 1;
	t->nopen++;
	return 0;
}

static void release(struct kvstore_files *t, uint32_t id)
{
	struct kvstore_file *f = &t->v[id];

	if (--f->pins == 0) {
		lru_append(t, id);
		if (t->nopen > t->max_open)
			shrink_to(t, t->max_open + 1);
	}
}

/* ---- building ---------------------------------------------------------- */

/* path made absolute against the working directory (a new string; NULL
 * when out of memory).  Without a working directory, path as it is. */
static char *absolute(const char *path)
{
	char *cwd, *p;

	if (path[0] == '/' || rmt_is_url(path))
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return errno == ENOMEM ? NULL : strdup(path);
	p = ck_path_join(cwd, path);
	free(cwd);
	return p;
}

static int add(struct kvstore_files *t, const char *path, uint32_t *id)
{
	struct kvstore_file *f;

	if (t->n >= KVFILES_MAX)
		return ck_err(-EOVERFLOW, "kvstore: more than %zu files",
			      KVFILES_MAX);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;

		f = realloc(t->v, cap * sizeof(*f));
		if (!f)
			return ck_err(-ENOMEM, "kvstore: out of memory");
		t->v = f;
		t->cap = cap;
	}
	f = &t->v[t->n];
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->prev = f->next = KVFILES_NONE;
	f->remote = rmt_is_url(path);
	f->path = strdup(path);
	f->abspath = absolute(path);
	if (!f->path || !f->abspath) {
		free(f->path);
		free(f->abspath);
		return ck_err(-ENOMEM, "kvstore: out of memory");
	}
	*id = (uint32_t)t->n++;
	return 0;
}

int kvfiles_add_unchecked(struct kvstore_files *t, const char *path,
			  uint32_t *id)
{
	return add(t, path, id);
}

/* A remote object: registered now, opened by kvfiles_open_remote() or at
 * its first read. */
static int add_remote(struct kvstore_files *t, const char *path, uint32_t *id)
{
	uint32_t i = 0;
	int err = add(t, path, &i);

	if (err)
		return err;
	t->v[i].checked = 1;
	t->v[i].size = KVFILES_SIZE_UNKNOWN;
	*id = i;
	return 0;
}

/* Open remote file f: 0, or -errno with a message naming it. */
static int open_remote(struct kvstore_file *f, struct rmt_obj **o)
{
	int err = rmt_obj_open(f->path, o);

	if (err == -ENOENT)
		return ck_err(-EIO, "%s: data file missing", f->path);
	return err;
}

/* The opens of kvfiles_open_remote(), shared by its threads. */
struct opener {
	struct kvstore_files *t;
	size_t next;		/* the next file to look at (under t->lock) */
	int err;		/* the first failure */
	char msg[512];		/* its message */
};

static void *open_some(void *arg)
{
	struct opener *op = arg;
	struct kvstore_files *t = op->t;

	for (;;) {
		struct kvstore_file *f = NULL;
		struct rmt_obj *o = NULL;
		int err;

		pthread_mutex_lock(&t->lock);
		while (op->next < t->n && !op->err) {
			struct kvstore_file *c = &t->v[op->next++];

			if (c->remote && c->checked && !c->robj) {
				f = c;
				break;
			}
		}
		pthread_mutex_unlock(&t->lock);
		if (!f)
			return NULL;
		err = open_remote(f, &o);
		pthread_mutex_lock(&t->lock);
		if (err && !op->err) {
			op->err = err;
			snprintf(op->msg, sizeof(op->msg), "%s", ck_err_msg());
		}
		if (!err) {
			f->robj = o;
			f->size = rmt_obj_size(o);
		}
		pthread_mutex_unlock(&t->lock);
	}
}

int kvfiles_open_remote(struct kvstore_files *t, uint32_t id)
{
	struct opener op = { t, 0, 0, "" };
	pthread_t th[31];
	unsigned started = 0, want;

	if (id != KVFILES_NONE) {
		struct kvstore_file *f = &t->v[id];
		struct rmt_obj *o = NULL;
		int err;

		if (!f->remote || f->robj)
			return 0;
		err = open_remote(f, &o);
		if (err)
			return err;
		f->robj = o;
		f->size = rmt_obj_size(o);
		return 0;
	}
	/* One metadata request per file: at a round trip each, hundreds of
	 * data files would take seconds one after the other. */
	want = t->n > 32 ? 32 : (unsigned)t->n;
	while (started + 1 < want &&
	       !pthread_create(&th[started], NULL, open_some, &op))
		started++;
	open_some(&op);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (op.err)
		return ck_err(op.err, "%s", op.msg);
	return 0;
}

int kvfiles_add_checked(struct kvstore_files *t, const char *path,
			uint32_t *id)
{
	struct kvstore_file *f;
	struct stat st;
	uint32_t i = 0;
	int fd, err;

	if (rmt_is_url(path))
		return add_remote(t, path, id);

	shrink_to(t, t->max_open);
	err = open_fd(t, path, path, &fd);
	if (err)
		return err;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ck_err(-EIO, "%s: not a regular data file", path);
	}
	err = add(t, path, &i);
	if (err) {
		close(fd);
		return err;
	}
	f = &t->v[i];
	f->checked = 1;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = (uint64_t)st.st_size;
	f->mtime_ns = mtime_ns(&st);
	f->fd = fd;
	t->nopen++;
	lru_append(t, i);
	if (t->nopen > t->max_open)
		shrink_to(t, t->max_open + 1);
	*id = i;
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

/* A remote file's read: an unchecked one is opened at its first read and
 * kept.  An object replaced since it was opened fails the read. */
static int pread_remote(struct kvstore_files *t, struct kvstore_file *f,
			void *buf, size_t len, uint64_t off)
{
	struct rmt_obj *o;
	int err = 0;

	pthread_mutex_lock(&t->lock);
	o = f->robj;
	pthread_mutex_unlock(&t->lock);
	if (!o) {
		err = f->checked ? open_remote(f, &o) : rmt_obj_open(f->path, &o);
		if (err)
			return err == -ENOENT ? -ENOENT : -EIO;
		pthread_mutex_lock(&t->lock);
		if (f->robj) {		/* another reader opened it first */
			rmt_obj_close(o);
			o = f->robj;
		} else {
			f->robj = o;
			if (f->checked)
				f->size = rmt_obj_size(o);
		}
		pthread_mutex_unlock(&t->lock);
	}
	err = rmt_obj_pread(o, buf, len, off);
	/* -ESTALE (replaced) keeps the backend's message, which says so. */
	return err == -ENOMEM ? err : err ? -EIO : 0;
}

static int pread_unchecked(const struct kvstore_files *t,
			   const struct kvstore_file *f, void *buf, size_t len,
			   uint64_t off)
{
	int fd = -1, err;

	err = ck_open_beneath(t->root, f->abspath, O_RDONLY, t->follow, &fd);
	if (err == -EMFILE || err == -ENFILE)
		return ck_err(-EMFILE,
			      "%s: out of file descriptors (%s; raise "
			      "ulimit -n)",
			      f->path, strerror(-err));
	/* A refusal keeps its message: the file leads out of the root. */
	if (err == -EXDEV || err == -ELOOP)
		return -EIO;
	if (err == -ENOMEM)
		return err;
	if (err)
		return ck_err(err == -ENOENT ? -ENOENT : -EIO, "%s: %s",
			      f->path, strerror(-err));
	err = ck_pread_full(fd, buf, len, off, f->path);
	close(fd);
	return err;
}

int kvfiles_pread(struct kvstore_files *t, uint32_t id, void *buf, size_t len,
		  uint64_t off)
{
	struct kvstore_file *f;
	int fd = -1, err;

	if (id >= t->n)
		return ck_err(-EINVAL, "kvstore: bad file id %u", id);
	f = &t->v[id];
	if (f->remote)
		return pread_remote(t, f, buf, len, off);
	if (!f->checked)
		return pread_unchecked(t, f, buf, len, off);
	pthread_mutex_lock(&t->lock);
	err = acquire(t, id);
	if (!err)
		fd = f->fd;
	pthread_mutex_unlock(&t->lock);
	if (err)
		return err;
	/* fd stays open while pinned: only unpinned files are closed. */
	err = ck_pread_full(fd, buf, len, off, f->path);
	pthread_mutex_lock(&t->lock);
	release(t, id);
	pthread_mutex_unlock(&t->lock);
	return err;
}

void kvfiles_prefetch(struct kvstore_files *t, uint32_t id, uint64_t len, uint64_t off)
{
	struct kvstore_file *f;
	int fd = -1;

	if (id >= t->n || !len || off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX)
		return;
	f = &t->v[id];
	if (f->remote) {
		struct rmt_obj *o;

		pthread_mutex_lock(&t->lock);
		o = f->robj;	/* once set, kept until release */
		pthread_mutex_unlock(&t->lock);
		if (o)
			rmt_obj_prefetch(o, off, len);
		return;
	}
	if (!f->checked)
		return;
	pthread_mutex_lock(&t->lock);
	if (acquire(t, id) == 0)
		fd = f->fd;
	pthread_mutex_unlock(&t->lock);
	if (fd < 0) {
		ck_err_clear();
		return;
	}
	/* A hint: the kernel starts reading the range now, in the background,
	 * at the disk's queue depth; nothing to do if it declines. */
	(void)posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
	pthread_mutex_lock(&t->lock);
	release(t, id);
	pthread_mutex_unlock(&t->lock);
}

void kvfiles_set_max_open(struct kvstore_files *t, size_t max_open)
{
	pthread_mutex_lock(&t->lock);
	t->max_open = max_open;
	shrink_to(t, t->max_open + 1);
	pthread_mutex_unlock(&t->lock);
}

void kvfiles_stats(struct kvstore_files *t, size_t *nopen, uint64_t *opens)
{
	pthread_mutex_lock(&t->lock);
	*nopen = t->nopen;
	*opens = t->opens;
	pthread_mutex_unlock(&t->lock);
}
