/* SPDX-License-Identifier: MIT */
/*
 * This file implements the disk tier of the tensor cache.
 *
 * Design: a slot per tensor id holds its state.  FREE: no file.  WRITING:
 * "<id>.tmp" is being written and its size is reserved in the budget.
 * LISTED: "<id>.t" is whole, counted in bytes and on the LRU list (most
 * recent at the head).  REMOVING: evicted, its file being unlinked with no
 * lock held; a new write of the same id waits for the unlink (on `removed`),
 * so it can never delete the new file.  Each state owns its file names, so
 * the I/O on them needs no lock.  Readers open the file per read: an
 * unlinked file stays readable through an fd already open, and an open that
 * finds no file means "evicted meanwhile", which is -ENOENT.
 */
#include "cache/dtier.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/ck_err.h"
#include "util/ck_file.h"

enum slot_state { FREE, WRITING, LISTED, REMOVING };

struct slot {
	enum slot_state state;
	uint64_t size;			/* WRITING: reserved, LISTED: on disk */
	struct slot *prev, *next;	/* LRU links; REMOVING: next victim */
};

struct dtier {
	pthread_mutex_t lock;
	pthread_cond_t removed;		/* broadcast when REMOVING slots free */
	char *path;			/* the subdirectory (owned) */
	int dfd;			/* open on path and flock()ed, or -1 */
	int keep;			/* leave the files at close */
	uint32_t n;			/* ntensors */
	uint64_t max;			/* the budget */
	uint64_t reserved;		/* bytes of WRITING slots; under lock */
	struct slot *slots;		/* per id; under lock */
	struct slot *head, *tail;	/* LRU of LISTED slots; under lock */
	struct dtier_stats st;		/* under lock, but for the two below */
	_Atomic uint64_t bytes_read, bytes_written;
};

/* "<id>.t", or "<id>.tmp" for a file being written. */
static void file_name(char nm[24], uint32_t id, int tmp)
{
	snprintf(nm, 24, "%u.%s", id, tmp ? "tmp" : "t");
}

static uint32_t slot_id(const struct dtier *d, const struct slot *s)
{
	return (uint32_t)(s - d->slots);
}

static void unlink_lru(struct dtier *d, struct slot *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		d->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		d->tail = s->prev;
	s->prev = s->next = NULL;
}

static void push_front(struct dtier *d, struct slot *s)
{
	s->prev = NULL;
	s->next = d->head;
	if (d->head)
		d->head->prev = s;
	d->head = s;
	if (!d->tail)
		d->tail = s;
}

/* Unlist LRU files until need more bytes fit; returns the victims, marked
 * REMOVING and chained through next, for remove_victims().  Lock held. */
static struct slot *evict_locked(struct dtier *d, uint64_t need)
{
	struct slot *victims = NULL, *s;

	while (d->st.bytes + d->reserved + need > d->max && (s = d->tail)) {
		unlink_lru(d, s);
		s->state = REMOVING;
		d->st.bytes -= s->size;
		d->st.files--;
		d->st.evictions++;
		s->next = victims;
		victims = s;
	}
	return victims;
}

/* Unlink the victims' files with no lock held, then free their slots. */
static void remove_victims(struct dtier *d, struct slot *victims)
{
	struct slot *s, *next;
	char nm[24];

	if (!victims)
		return;
	for (s = victims; s; s = s->next) {
		file_name(nm, slot_id(d, s), 0);
		unlinkat(d->dfd, nm, 0);
	}
	pthread_mutex_lock(&d->lock);
	for (s = victims; s; s = next) {
		next = s->next;
		s->next = NULL;
		s->state = FREE;
	}
	pthread_cond_broadcast(&d->removed);
	pthread_mutex_unlock(&d->lock);
}

/* Write the n bytes of p at the start of fd, through short writes and
 * EINTR; what names the file in messages. */
static int write_all(int fd, const uint8_t *p, uint64_t n, const char *what)
{
	int err = n > SIZE_MAX ? ck_err(-EFBIG, "'%s' is too large", what) :
				 ck_pwrite_full(fd, p, (size_t)n, 0, what);

	return err ? ck_err_ctx(err, "disk tier") : 0;
}

/*
 * End the write of tensor id: with err 0 rename "<id>.tmp" into place and
 * list it; else remove it.  Either way the reservation ends.  Returns err,
 * or the rename's error.
 */
static int end_write(struct dtier *d, uint32_t id, int err)
{
	struct slot *s = &d->slots[id];
	char tmp[24], nm[24];

	file_name(tmp, id, 1);
	file_name(nm, id, 0);
	if (!err && renameat(d->dfd, tmp, d->dfd, nm) < 0)
		err = ck_err(-errno, "disk tier: cannot rename '%s/%s': %s",
			     d->path, tmp, strerror(errno));
	if (err)
		unlinkat(d->dfd, tmp, 0);
	pthread_mutex_lock(&d->lock);
	d->reserved -= s->size;
	if (err) {
		s->state = FREE;
	} else {
		s->state = LISTED;
		d->st.bytes += s->size;
		d->st.files++;
		push_front(d, s);
		atomic_fetch_add(&d->bytes_written, s->size);
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

/*
 * Start writing tensor id: reserve size bytes (evicting as needed), mark it
 * WRITING and open "<id>.tmp" into *fd.  On error nothing stays reserved.
 */
static int begin_write(struct dtier *d, uint32_t id, uint64_t size, int *fd)
{
	struct slot *s, *victims;
	uint64_t used;
	char nm[24];
	int err = 0;

	if (id >= d->n)
		return ck_err(-EINVAL, "disk tier: tensor id %u out of range",
			      id);
	if (size > d->max || size > (uint64_t)INT64_MAX || size > SIZE_MAX)
		return ck_err(-EFBIG,
			      "disk tier: tensor %u (%" PRIu64
			      " bytes) is larger than the %" PRIu64
			      "-byte budget",
			      id, size, d->max);
	pthread_mutex_lock(&d->lock);
	s = &d->slots[id];
	while (s->state == REMOVING)
		pthread_cond_wait(&d->removed, &d->lock);
	if (s->state == LISTED)
		err = -EEXIST;
	else if (s->state == WRITING)
		err = -EBUSY;
	else if (d->reserved + size > d->max)
		err = -ENOSPC;
	if (err) {
		pthread_mutex_unlock(&d->lock);
		return ck_err(err, "disk tier: cannot write tensor %u: %s", id,
			      err == -ENOSPC ? "budget held by other writes"
					     : strerror(-err));
	}
	victims = evict_locked(d, size);
	s->state = WRITING;
	s->size = size;
	d->reserved += size;
	used = d->st.bytes + d->reserved;
	if (used > d->st.peak_bytes)
		d->st.peak_bytes = used;
	pthread_mutex_unlock(&d->lock);

	remove_victims(d, victims);
	file_name(nm, id, 1);
	*fd = openat(d->dfd, nm,
		     O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (*fd < 0)
		return end_write(d, id,
				 ck_err(-errno,
					"disk tier: cannot create '%s/%s': %s",
					d->path, nm, strerror(errno)));
	return 0;
}

int dtier_create(struct dtier *d, uint32_t id, uint64_t size, uint8_t **map)
{
	void *p = NULL;
	int fd, err;

	err = begin_write(d, id, size, &fd);
	if (err)
		return err;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    (size && fallocate(fd, 0, 0, (off_t)size) < 0 &&
	     errno != EOPNOTSUPP))
		err = ck_err(-errno,
			     "disk tier: cannot allocate %" PRIu64
			     " bytes in '%s': %s",
			     size, d->path, strerror(errno));
	if (!err && size) {
		p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		if (p == MAP_FAILED)
			err = ck_err(-errno,
				     "disk tier: cannot map %" PRIu64
				     " bytes: %s",
				     size, strerror(errno));
	}
	close(fd);
	if (err)
		return end_write(d, id, err);
	*map = p;
	return 0;
}

int dtier_commit(struct dtier *d, uint32_t id, uint8_t *map, uint64_t size,
		 int err)
{
	int ok, sync_err = 0;

	pthread_mutex_lock(&d->lock);
	ok = id < d->n && d->slots[id].state == WRITING &&
	     d->slots[id].size == size;
	pthread_mutex_unlock(&d->lock);
	if (!ok)
		return ck_err(
			-EINVAL,
			"disk tier: tensor %u was not created with %" PRIu64
			" bytes",
			id, size);
	/* The pages are the page cache: readers see them after munmap.  Only
	 * a file kept for a later mount must be on disk before its rename. */
	if (!err && d->keep && size && msync(map, (size_t)size, MS_SYNC) < 0)
		sync_err =
			ck_err(-errno, "disk tier: cannot sync tensor %u: %s",
			       id, strerror(errno));
	if (size)
		munmap(map, (size_t)size);
	if (err) {
		end_write(d, id, err);
		return 0;
	}
	return end_write(d, id, sync_err);
}

int dtier_store(struct dtier *d, uint32_t id, const uint8_t *data,
		uint64_t size)
{
	char nm[24];
	int fd, err;

	err = begin_write(d, id, size, &fd);
	if (err)
		return err;
	file_name(nm, id, 1);
	err = write_all(fd, data, size, nm);
	if (!err && d->keep && fdatasync(fd) < 0)
		err = ck_err(-errno, "disk tier: cannot sync '%s': %s", nm,
			     strerror(errno));
	if (close(fd) < 0 && !err)
		err = ck_err(-errno, "disk tier: cannot write '%s': %s", nm,
			     strerror(errno));
	return end_write(d, id, err);
}

int dtier_size(struct dtier *d, uint32_t id, uint64_t *size)
{
	int err = -ENOENT;

	pthread_mutex_lock(&d->lock);
	if (id < d->n && d->slots[id].state == LISTED) {
		*size = d->slots[id].size;
		err = 0;
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

int dtier_has(struct dtier *d, uint32_t id)
{
	uint64_t size;

	return dtier_size(d, id, &size) == 0;
}

ssize_t dtier_read(struct dtier *d, uint32_t id, void *buf, size_t n,
		   uint64_t off)
{
	struct slot *s;
	uint64_t size;
	char nm[24];
	int fd, err;

	if (id >= d->n)
		return ck_err(-EINVAL, "disk tier: tensor id %u out of range",
			      id);
	pthread_mutex_lock(&d->lock);
	s = &d->slots[id];
	if (s->state != LISTED) {
		pthread_mutex_unlock(&d->lock);
		return ck_err(-ENOENT, "disk tier: tensor %u not on disk", id);
	}
	unlink_lru(d, s);
	push_front(d, s);
	size = s->size;
	pthread_mutex_unlock(&d->lock);

	if (off >= size)
		return 0;
	if (n > size - off)
		n = (size_t)(size - off);
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	file_name(nm, id, 0);
	fd = openat(d->dfd, nm, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) /* ENOENT: evicted since the lookup */
		return ck_err(-errno, "disk tier: cannot open '%s/%s': %s",
			      d->path, nm, strerror(errno));
	err = ck_pread_full(fd, buf, n, off, nm);
	close(fd);
	if (err)
		return ck_err_ctx(err, "disk tier '%s'", d->path);
	atomic_fetch_add(&d->bytes_read, n);
	return (ssize_t)n;
}

void dtier_stats(struct dtier *d, struct dtier_stats *st)
{
	pthread_mutex_lock(&d->lock);
	*st = d->st;
	pthread_mutex_unlock(&d->lock);
	st->bytes_read = atomic_load(&d->bytes_read);
	st->bytes_written = atomic_load(&d->bytes_written);
}

/* FNV-1a, 64 bits. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

/* Create (0700) and open the subdirectory, ours alone: owned by this user
 * and locked against other opens. */
static int open_subdir(struct dtier *d, const char *dir)
{
	struct stat st;
	int fd;

	if (mkdir(d->path, 0700) < 0 && errno != EEXIST)
		return ck_err(-errno, "cache_dir '%s': cannot create '%s': %s",
			      dir, d->path, strerror(errno));
	fd = open(d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ck_err(-errno, "cache_dir '%s': cannot open '%s': %s",
			      dir, d->path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
		close(fd);
		return ck_err(-EACCES,
			      "cache_dir '%s': '%s' belongs to another user",
			      dir, d->path);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return ck_err(-EBUSY,
			      "cache_dir '%s': '%s' is in use by another mount",
			      dir, d->path);
	}
	d->dfd = fd;
	return 0;
}

/* 1 if the TAG file holds exactly tag. */
static int tag_matches(struct dtier *d, const char *tag)
{
	size_t len = strlen(tag);
	struct stat st;
	char *buf;
	int fd, same = 0;

	fd = openat(d->dfd, "TAG", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	buf = malloc(len + 1);
	if (buf && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == len &&
	    ck_pread_full(fd, buf, len, 0, "TAG") == 0)
		same = !memcmp(buf, tag, len);
	free(buf);
	close(fd);
	ck_err_clear();
	return same;
}

static int write_tag(struct dtier *d, const char *tag)
{
	int fd, err;

	fd = openat(d->dfd, "TAG",
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return ck_err(-errno, "disk tier: cannot create '%s/TAG': %s",
			      d->path, strerror(errno));
	err = write_all(fd, (const uint8_t *)tag, strlen(tag), "TAG");
	close(fd);
	return err;
}

/* The id of a file named "<id>.t" (decimal, no leading zero, < n), or -1. */
static int64_t parse_name(const struct dtier *d, const char *name)
{
	char *end;
	unsigned long long v;

	if (name[0] < '0' || name[0] > '9' ||
	    (name[0] == '0' && name[1] != '.'))
		return -1;
	errno = 0;
	v = strtoull(name, &end, 10);
	if (errno || strcmp(end, ".t") || v >= d->n)
		return -1;
	return (int64_t)v;
}

/* A file found at open, put in LRU order by mtime. */
struct found {
	uint32_t id;
	int64_t mtime;			/* nanoseconds */
};

static int by_mtime(const void *a, const void *b)
{
	int64_t x = ((const struct found *)a)->mtime;
	int64_t y = ((const struct found *)b)->mtime;

	return (x > y) - (x < y);
}

/*
 * Go through the subdirectory: with found == NULL remove every file; else
 * note each whole tensor file of this view in found[*nfound] and remove the
 * rest but TAG.
 */
static int scan(struct dtier *d, struct found *found, uint32_t *nfound)
{
	struct dirent *e;
	struct stat st;
	DIR *dir;
	int fd;

	fd = openat(d->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return ck_err(-errno, "disk tier: cannot list '%s': %s",
			      d->path, strerror(errno));
	}
	while ((e = readdir(dir))) {
		int64_t id = found ? parse_name(d, e->d_name) : -1;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    (found && !strcmp(e->d_name, "TAG")))
			continue;
		if (id >= 0 &&
		    fstatat(d->dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && (uint64_t)st.st_size <= d->max &&
		    (uint64_t)st.st_size <= SIZE_MAX) {
			d->slots[id].state = LISTED;
			d->slots[id].size = (uint64_t)st.st_size;
			found[*nfound].id = (uint32_t)id;
			found[(*nfound)++].mtime =
				(int64_t)st.st_mtim.tv_sec * 1000000000 +
				st.st_mtim.tv_nsec;
			continue;
		}
		unlinkat(d->dfd, e->d_name, 0);
	}
	closedir(dir);
	return 0;
}

/* Adopt the whole tensor files of this view, oldest last in the LRU. */
static int adopt(struct dtier *d)
{
	struct found *found = calloc((size_t)d->n + 1, sizeof(*found));
	uint32_t nfound = 0;
	int err;

	if (!found)
		return ck_err(-ENOMEM, "out of memory");
	err = scan(d, found, &nfound);
	qsort(found, nfound, sizeof(*found), by_mtime);
	for (uint32_t i = 0; i < nfound; i++) {
		struct slot *s = &d->slots[found[i].id];

		push_front(d, s);
		d->st.bytes += s->size;
		d->st.files++;
	}
	free(found);
	remove_victims(d, evict_locked(d, 0));
	d->st.peak_bytes = d->st.bytes;
	return err;
}

int dtier_open(const char *dir, uint64_t max_bytes, int keep, const char *tag,
	       uint32_t ntensors, struct dtier **out)
{
	struct dtier *d;
	size_t len;
	int err;

	if (!dir || !tag || !max_bytes)
		return ck_err(-EINVAL, "disk tier: %s",
			      !max_bytes ? "budget of 0 bytes"
					 : "no directory or tag");
	d = calloc(1, sizeof(*d));
	len = strlen(dir) + sizeof("/ckptfs-0123456789abcdef");
	if (!d || !(d->path = malloc(len)) ||
	    !(d->slots = calloc((size_t)ntensors + 1, sizeof(*d->slots)))) {
		if (d)
			free(d->path);
		free(d);
		return ck_err(-ENOMEM, "out of memory");
	}
	snprintf(d->path, len, "%s/ckptfs-%016" PRIx64, dir, fnv1a(tag));
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->removed, NULL);
	d->dfd = -1;
	d->keep = keep;
	d->n = ntensors;
	d->max = max_bytes;
	err = open_subdir(d, dir);
	if (!err && keep && tag_matches(d, tag))
		err = adopt(d);
	else if (!err && !(err = scan(d, NULL, NULL)))
		err = write_tag(d, tag);
	if (err) {
		d->keep = 0; /* a half-made directory is not worth keeping */
		dtier_close(d);
		return err;
	}
	*out = d;
	return 0;
}

void dtier_close(struct dtier *d)
{
	if (!d)
		return;
	if (d->dfd >= 0) {
		if (!d->keep) {
			scan(d, NULL, NULL);
			rmdir(d->path);
		}
		close(d->dfd);
	}
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->removed);
	free(d->slots);
	free(d->path);
	free(d);
}
