/* SPDX-License-Identifier: MIT */
/*
 * kvstore.h - a read-only key -> byte-range store, built once at open.
 *
 * Two backends fill the same in-memory table:
 *   - OCDBT (ocdbt.c): the B+tree of one generation is walked once at open and
 *     every (key, value reference) is kept, sorted; inline values are copied.
 *     Several databases (the per-process ocdbt.process_N/ of a multi-host
 *     save) can be merged into one store.
 *   - a plain directory (kvstore_dir.c): every regular file under the root is
 *     a value whose key is its relative path (legacy zarr-per-directory).
 *
 * After open the store is immutable; lookups and reads are thread-safe.  Data
 * files of an OCDBT database are opened at open time and their identity
 * (device, inode, size, mtime) recorded; the store keeps a bounded number of
 * them open (a quarter of the soft RLIMIT_NOFILE, 8 to 4096) and reopens the
 * others on demand.  A file held open keeps serving the generation opened
 * even if it is replaced; a reopened file that is no longer the one opened
 * fails the read with -EIO, so a store never serves bytes of another file.
 *
 * Keys are byte strings compared with memcmp (shorter prefix first).
 *
 * Opened with a root (struct kvstore_opts), a store opens every file it
 * reads, manifests and B+tree nodes, data files (each reopen too), a
 * directory's files, beneath that root (util/ck_beneath.h): a symlink in the
 * checkpoint cannot lead it to a file outside.  Such a file fails the open
 * (-EXDEV or -ELOOP) or, reopened later, the read (-EIO), with a message
 * naming it.
 */
#ifndef KVSTORE_H
#define KVSTORE_H

#include <stddef.h>
#include <stdint.h>

struct kvstore;

/* Where one value's bytes are.  Borrowed from the store; valid until
 * kvstore_free(). */
struct kv_value {
	const char *file;	  /* path of the file holding the value (for an
				     inline value: the B+tree node's file) */
	const uint8_t *inline_data; /* non-NULL: the value is these bytes */
	uint64_t offset;	  /* offset of the value in file (out-of-line) */
	uint64_t length;	  /* value length in bytes */
	uint32_t file_id;	  /* internal file index (out-of-line only) */
};

/* What a store was built from (for `inspect`). */
enum kvstore_kind {
	KVSTORE_OCDBT = 1,
	KVSTORE_DIR = 2,
};

/* How a store opens its files. */
struct kvstore_opts {
	const char *root;	/* every file is opened beneath this directory
				   (ck_beneath.h); NULL: files are opened as
				   named (borrowed for the open call) */
	int follow_symlinks;	/* 1: open as named even with a root */
};

#define KVSTORE_OPTS_INIT { NULL, 0 }

/*
 * Open the OCDBT databases in the directories dbdirs[0..ndb) and merge their
 * keys into one store (a key present in two databases is -EIO).  generation
 * 0 opens each database's latest generation; otherwise exactly that
 * generation number (-ENOENT if it does not exist).  Errors: -ENOENT (no
 * manifest), -EIO (corruption: bad magic, length, CRC, tree shape),
 * -ENOTSUP (unknown format version / compression), -EOVERFLOW, -ENOMEM,
 * -EXDEV/-ELOOP (a file outside o->root).  o NULL is KVSTORE_OPTS_INIT.
 * Caller frees *out with kvstore_free().
 */
int kvstore_open_ocdbt_opts(const char *const *dbdirs, size_t ndb,
			    uint64_t generation, const struct kvstore_opts *o,
			    struct kvstore **out);

/* kvstore_open_ocdbt_opts() with no root: files opened as named. */
int kvstore_open_ocdbt(const char *const *dbdirs, size_t ndb,
		       uint64_t generation, struct kvstore **out);

/*
 * Open a plain directory: every regular file below dir (not following
 * symlinks, not descending into directories whose name ends in
 * ".orbax-checkpoint-tmp*") becomes a key.  With o->root, directories are
 * opened, and files opened for each read, beneath it (o NULL: no root).
 * Caller frees with kvstore_free().
 */
int kvstore_open_dir_opts(const char *dir, const struct kvstore_opts *o,
			  struct kvstore **out);

/* kvstore_open_dir_opts() with no root: files opened as named. */
int kvstore_open_dir(const char *dir, struct kvstore **out);

/* Look up key[0..keylen).  -ENOENT if absent.  *v is borrowed. */
int kvstore_get(const struct kvstore *kv, const char *key, size_t keylen,
		struct kv_value *v);

/*
 * A hint that bytes [off, off + len) of value v will be read soon: the store
 * starts fetching them in the background (for a file, the kernel's
 * readahead of that range).  Clipped to the value; never fails.
 * Thread-safe.
 */
void kvstore_prefetch(const struct kvstore *kv, const struct kv_value *v,
		      uint64_t off, uint64_t len);

/*
 * Read len bytes at offset off within value v into buf.  -EIO if the value
 * is shorter than off+len or the file is truncated.  Thread-safe.
 */
int kvstore_read(const struct kvstore *kv, const struct kv_value *v,
		 uint64_t off, void *buf, size_t len);

/*
 * Call cb for every key starting with prefix[0..plen), in key order.  cb
 * returns 0 to continue, anything else stops the walk and is returned.
 * key and v are borrowed for the duration of the call.
 */
typedef int (*kvstore_list_cb)(void *ctx, const char *key, size_t keylen,
			       const struct kv_value *v);
int kvstore_list(const struct kvstore *kv, const char *prefix, size_t plen,
		 kvstore_list_cb cb, void *ctx);

/* Number of keys. */
size_t kvstore_count(const struct kvstore *kv);

/* Backend that built the store. */
enum kvstore_kind kvstore_kind(const struct kvstore *kv);

/* The generation opened (OCDBT: of the first database; 0 for a directory). */
uint64_t kvstore_generation(const struct kvstore *kv);

/* Keep at most n data files open between reads (0: none; reads still
 * open what they need).  The default comes from RLIMIT_NOFILE at open.
 * Thread-safe. */
void kvstore_set_max_open(struct kvstore *kv, size_t n);

/* The data files the store knows, those open now, and the open(2) calls
 * made for them so far (for tests and `inspect`).  Thread-safe. */
void kvstore_file_stats(const struct kvstore *kv, size_t *nfiles,
			size_t *nopen, uint64_t *opens);

/* 1 if the store's values are remote objects (remote/remote.h): its reads
 * wait on the network more than on the CPU. */
int kvstore_is_remote(const struct kvstore *kv);

/* A 64-bit digest of the identity of the data files opened with the store
 * (local: device, inode, size, modification time; remote: size and the
 * version pinned), for telling one generation of a checkpoint from
 * another (a disk tier's tag).  Files opened per read do not count. */
uint64_t kvstore_files_digest(const struct kvstore *kv);

/* Free the store and close its files.  NULL is allowed. */
void kvstore_free(struct kvstore *kv);

#endif
