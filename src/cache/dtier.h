/* SPDX-License-Identifier: MIT */
/*
 * dtier.h - the disk tier of the tensor cache: transformed tensors (the
 * served bytes of one HF tensor, keyed by tensor id) kept in files under a
 * local directory, bounded in bytes, evicted least recently used first.
 *
 * The files live in a subdirectory of the given directory,
 * "ckptfs-<16 hex digits of the 64-bit FNV-1a hash of tag>", one per tensor,
 * named "<id>.t"; a file "TAG" holds tag.  The tag names the generation of
 * the view (checkpoint path, step, mapping, dtype), so two views never share
 * files.  A tensor is written to "<id>.tmp" and renamed into place when
 * complete: a "<id>.t" file always holds a whole tensor.  The subdirectory is
 * flock()ed while open, so two mounts of the same view do not share it.
 *
 * Ownership: struct dtier owns its directory fd, its file names and, unless
 * keep was asked for, the files themselves, which dtier_close() removes.
 * Borrowed arguments (dir, tag, data, buf) are used only during the call.
 *
 * Thread-safety: every function may be called from any thread.  One mutex
 * guards the index and the LRU list; file I/O (writes, reads, unlinks)
 * happens with no lock held.  A reader opens the file for each dtier_read(),
 * so the number of fds is bounded by the readers running, and an eviction
 * during a read is harmless (the unlinked file lives until its fd closes).
 *
 * Sizes: the budget counts listed files plus the bytes reserved by writes in
 * progress, so concurrent writers never push the listed and reserved bytes
 * past max_bytes.  (The disk use may briefly exceed it by files being
 * unlinked, or held open by readers, after their eviction.)
 */
#ifndef DTIER_H
#define DTIER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dtier;

/* Counters, readable at any time (dtier_stats). */
struct dtier_stats {
	uint64_t bytes_written;		/* bytes listed by commit and store */
	uint64_t bytes_read;		/* bytes returned by dtier_read */
	uint64_t bytes;			/* bytes of listed files now */
	uint64_t files;			/* listed files now */
	uint64_t evictions;		/* files removed to make room */
	uint64_t peak_bytes;		/* highest bytes + bytes being written;
					   never above max_bytes */
};

/*
 * Open the disk tier for tensor ids [0, ntensors) in a subdirectory of dir
 * (created with mode 0700; dir itself must exist), with a budget of max_bytes.
 *
 * With keep != 0 and an existing subdirectory whose TAG equals tag, the
 * "<id>.t" files there are adopted, most recently modified first in the LRU
 * order, and the oldest removed past max_bytes; files that are not whole
 * tensors of this view are removed.  Otherwise the subdirectory is emptied.
 * Either way TAG holds tag afterwards.
 *
 * Errors: -EINVAL (max_bytes 0, NULL dir or tag); -ENOENT, -EACCES, -ENOTDIR
 * and the like with a message naming dir when it is unusable; -EACCES when
 * the subdirectory belongs to another user; -EBUSY when another open tier
 * uses it; -ENOMEM.  The caller frees *out with dtier_close().
 */
int dtier_open(const char *dir, uint64_t max_bytes, int keep, const char *tag,
	       uint32_t ntensors, struct dtier **out);

/*
 * Make a new file of size bytes for tensor id and map it: *map is a
 * writable MAP_SHARED mapping of the whole file (NULL when size is 0), into
 * which the caller writes the tensor, then calls dtier_commit() exactly once.
 * The blocks are allocated here (fallocate), so a full disk is -ENOSPC now
 * rather than SIGBUS while writing the mapping.  Evicts least recently used
 * files first so that the budget holds.
 *
 * Errors: -EINVAL id >= ntensors; -EFBIG size > max_bytes; -EEXIST tensor id
 * is listed already; -EBUSY it is being written by another call; -ENOSPC the
 * budget is taken by writes in progress, or the disk is full; other -errno
 * from the file system, with a message.  On error nothing is reserved.
 */
int dtier_create(struct dtier *d, uint32_t id, uint64_t size, uint8_t **map);

/*
 * End dtier_create(id, size): unmap map.  With err == 0 the file is renamed
 * into place and listed as most recent (with keep, it is msync()ed first, so
 * an adopted file is never a partial one after a crash); with err != 0 the
 * file is removed and the reservation released.  Returns 0 (also when err !=
 * 0 and the file is gone), -EINVAL when id was not created with this size,
 * or -errno when the file could not be put in place (then it is removed).
 */
int dtier_commit(struct dtier *d, uint32_t id, uint8_t *map, uint64_t size,
		 int err);

/*
 * Write size bytes of tensor id from data (e.g. an entry spilled from the
 * RAM cache) and list it as most recent.  Errors as dtier_create(), plus
 * those of the writes (-ENOSPC, -EIO, ...), with a message; on any error
 * the tensor is not listed and no file is left.
 */
int dtier_store(struct dtier *d, uint32_t id, const uint8_t *data,
		uint64_t size);

/* 1 if tensor id is listed (a hint: it may be evicted the next moment). */
int dtier_has(struct dtier *d, uint32_t id);

/* The size of listed tensor id in *size, or -ENOENT. */
int dtier_size(struct dtier *d, uint32_t id, uint64_t *size);

/*
 * Read up to n bytes at off of tensor id into buf, and make it the most
 * recent.  Returns the bytes read (0 at or past the end), -ENOENT when the
 * tensor is not listed (the caller computes it), -EIO when its file is
 * shorter than listed, -EINVAL id >= ntensors, or another -errno.
 */
ssize_t dtier_read(struct dtier *d, uint32_t id, void *buf, size_t n,
		   uint64_t off);

void dtier_stats(struct dtier *d, struct dtier_stats *st);

/*
 * Close the tier: remove every file and the subdirectory, unless keep was
 * given (then the files and TAG stay for the next open).  Every
 * dtier_create() must have been committed.  NULL is a no-op.
 */
void dtier_close(struct dtier *d);

#endif
