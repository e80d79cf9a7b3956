/* SPDX-License-Identifier: MIT */
/*
 * ocdbt_writer.h - write one OCDBT database (generation 1), byte for byte in
 * the format TensorStore writes for Orbax (orbax-format.md §2).
 *
 * Usage: ocdbt_writer_open(), any number of ocdbt_writer_put(), one
 * ocdbt_writer_commit(), ocdbt_writer_free().  Values larger than
 * max_inline_value_bytes go to a data file d/<32 hex> at once (raw, no
 * envelope), so memory holds only the keys and the small values.  Commit
 * sorts the keys and writes the B+tree (leaves, then interior levels up to a
 * single root, every node in the standard envelope with one zstd frame) into
 * a node data file, then manifest.ocdbt last: a database without a manifest
 * is simply not there for a reader.
 *
 * Multi-host layout (§2.8): with data_base "ocdbt.process_0/" the value
 * files are placed in <dbdir>/ocdbt.process_0/d/ and the leaves reference
 * them through data-file-table entries with that base path, as the merged
 * top-level database of a multi-host Orbax save does.  With data_base_db set,
 * commit also writes <dbdir>/ocdbt.process_0/ as a complete database of its
 * own (its own nodes and manifest, the same keys, the same value bytes),
 * which is what each host leaves behind before the merge.  With processes
 * N, the keys are dealt in turn to N such databases ocdbt.process_0/ ..
 * ocdbt.process_<N-1>/, as N hosts each save their own, and data_base_db
 * writes each of them with its own keys.
 *
 * Files are created with O_EXCL and never modified once written; nothing is
 * fsync'ed.  A writer is not thread-safe: one thread at a time.
 */
#ifndef OCDBT_WRITER_H
#define OCDBT_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct ocdbt_writer;

/* A data file is closed once it reaches this size (MaxText's target). */
#define OCDBT_WRITER_TARGET_FILE_BYTES ((uint64_t)2 << 30)
#define OCDBT_WRITER_MAX_PROCESSES 4096u

struct ocdbt_writer_opts {
	uint32_t max_inline_value_bytes; /* values up to this size stay in the
					    leaves; 0 = 1024 (Orbax) */
	uint32_t max_leaf_entries;	 /* entries per leaf node; 0 = as many
					    as the node size allows; else >= 2 */
	uint32_t max_interior_entries;	 /* entries per interior node; 0 =
					    unlimited; else >= 2 */
	int zstd_level;			 /* node compression level; 0 = zstd's
					    default (as TensorStore) */
	const char *data_base;		 /* NULL or "": value files in d/;
					    else a relative directory ending in
					    '/' ("ocdbt.process_0/") */
	int data_base_db;		 /* 1: also write <dbdir>/<data_base>
					    as a database of its own (needs a
					    data_base or processes) */
	uint64_t file_bytes;		 /* a value file is closed once it
					    holds this many bytes; 0 = the
					    2 GiB target; 1 = one value a
					    file */
	uint32_t processes;		 /* 0: data_base as above; N: values
					    dealt to ocdbt.process_<i>/, i < N
					    (data_base must be "") */
};

#define OCDBT_WRITER_OPTS_INIT { 1024, 0, 0, 0, "", 0, 0, 0 }

/*
 * Create the database directory dbdir (and its parents, and d/, and the
 * data_base directory) and start a writer.  o NULL means
 * OCDBT_WRITER_OPTS_INIT; o is copied (data_base too).
 * Errors: -EEXIST dbdir (or the data_base database) already has a
 * manifest.ocdbt; -EINVAL bad options; -EIO a directory cannot be created;
 * -ENOMEM.  Caller frees *out with ocdbt_writer_free().
 */
int ocdbt_writer_open(const char *dbdir, const struct ocdbt_writer_opts *o,
		      struct ocdbt_writer **out);

/*
 * Add key[0..keylen) -> val[0..len).  Keys are arbitrary bytes of at most
 * 65535 bytes; key and val are borrowed for the call only.  A value above
 * max_inline_value_bytes is appended to the current data file now.
 * Errors: -EINVAL duplicate key, key too long, or writer already committed;
 * -EIO write failure; -ENOMEM.
 */
int ocdbt_writer_put(struct ocdbt_writer *w, const void *key, size_t keylen,
		     const void *val, size_t len);

/*
 * Write the B+tree and the manifest (generation 1) - for data_base_db first
 * the per-process database, then the top-level one.  An empty writer makes
 * an empty database.  Errors: -EINVAL already committed; -EIO write
 * failure; -EEXIST a manifest appeared meanwhile; -EOVERFLOW; -ENOMEM.  After
 * a failure the writer can only be freed.
 */
int ocdbt_writer_commit(struct ocdbt_writer *w);

/* Number of keys put so far. */
size_t ocdbt_writer_count(const struct ocdbt_writer *w);

/* Close files and free the writer, committed or not (files stay on disk).
 * NULL is allowed. */
void ocdbt_writer_free(struct ocdbt_writer *w);

#endif
