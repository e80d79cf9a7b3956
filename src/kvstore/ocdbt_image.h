/* SPDX-License-Identifier: MIT */
/*
 * ocdbt_image.h - an OCDBT database (generation 1) held in memory as a
 * read-only image of its files, byte for byte what ocdbt_writer.h would
 * write for the same keys and values (orbax-format.md §2), except for its
 * data file names, uuid and commit time, which are deterministic.
 *
 * Usage: ocdbt_image_new(), any number of ocdbt_image_put() and
 * ocdbt_image_put_virtual(), one ocdbt_image_commit(); then list the files
 * with ocdbt_image_nfiles(), _file_name(), _file_size() and read them with
 * ocdbt_image_read(); ocdbt_image_free().
 *
 * Values up to max_inline_value_bytes put with ocdbt_image_put() stay in the
 * leaves; larger ones are copied into the current data file, held in
 * memory.  A virtual value (ocdbt_image_put_virtual()) has only a length and
 * a tag: it takes its place in the current data file like a copied one, and
 * its bytes are produced when a read covers them, by the caller's fill
 * callback, never kept.  Values are appended to the data files in put
 * order, back to back; a data file is closed once it holds file_bytes
 * (a file can exceed it by its last value).  Commit builds the B+tree nodes
 * (one node file) and manifest.ocdbt in memory.  Memory: the keys, the
 * inline and copied values, and the encoded nodes; after commit the keys
 * and inline values live only in the nodes.
 *
 * The files, in this order: "manifest.ocdbt", the data files "d/<32 hex>"
 * in the order they were opened, then the node file "d/<32 hex>" (absent in
 * an image without keys).  Names are derived from a digest of the options
 * and of everything put (keys, lengths, tags, copied bytes), so the same
 * puts give the same names, and differ from one another by construction.
 * The uuid derives from the same digest; the commit time is
 * ocdbt_image_set_commit_time()'s, or 0.
 *
 * Building is not thread-safe (one thread at a time); after a successful
 * commit the image is immutable and every function but ocdbt_image_free()
 * may be called from any number of threads at once.
 */
#ifndef OCDBT_IMAGE_H
#define OCDBT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "kvstore/ocdbt_writer.h"

struct ocdbt_image;

/* Cap on one file's size (a file offset must fit an off_t). */
#define OCDBT_IMAGE_MAX_FILE_BYTES ((uint64_t)INT64_MAX)

/*
 * Start an image.  o NULL means OCDBT_WRITER_OPTS_INIT; of o, the image
 * uses max_inline_value_bytes, max_leaf_entries, max_interior_entries,
 * zstd_level and file_bytes, with the writer's meanings and defaults (1024
 * inline bytes, data files cut at 2 GiB); o is copied.  Errors: -EINVAL a
 * node limit of 1, or a data_base, data_base_db or processes (an image is
 * one database); -ENOMEM.  Caller frees *out with ocdbt_image_free().
 */
int ocdbt_image_new(const struct ocdbt_writer_opts *o,
		    struct ocdbt_image **out);

/*
 * Add key[0..keylen) -> val[0..len); both are copied.  Keys are arbitrary
 * bytes of at most 65535 bytes; a duplicate key fails the commit.  A value
 * above max_inline_value_bytes is appended to the current data file.
 * Errors: -EINVAL key too long or image committed (or failed); -EOVERFLOW
 * a data file or the total of out-of-line bytes would pass its cap;
 * -ENOMEM.  A failed put leaves the image as it was.
 */
int ocdbt_image_put(struct ocdbt_image *img, const void *key, size_t keylen,
		    const void *val, size_t len);

/*
 * Add key[0..keylen) -> a value of len bytes produced at read time by the
 * fill callback with this tag (the tag is the caller's; several keys may
 * share one).  It is always out-of-line, appended to the current data file,
 * whatever its size - except len 0, stored as an empty inline value (there
 * are no bytes to produce).  Errors as ocdbt_image_put().
 */
int ocdbt_image_put_virtual(struct ocdbt_image *img, const void *key,
			    size_t keylen, uint64_t len, uint64_t tag);

/* The commit time (ns since the epoch) the manifest records; 0 unless set.
 * Call before ocdbt_image_commit(). */
void ocdbt_image_set_commit_time(struct ocdbt_image *img, uint64_t ns);

/*
 * Build the B+tree nodes and manifest.ocdbt.  An image without keys is an
 * empty database (a manifest alone).  Errors: -EINVAL a duplicate key (the
 * message names it) or already committed; -EOVERFLOW; -ENOMEM.  After a
 * failure the image can only be freed.
 */
int ocdbt_image_commit(struct ocdbt_image *img);

/* Number of files of the committed image (0 before commit). */
size_t ocdbt_image_nfiles(const struct ocdbt_image *img);

/* Relative path of file i < ocdbt_image_nfiles(): "manifest.ocdbt" or
 * "d/<32 hex>"; borrowed, valid until ocdbt_image_free().  NULL if i is out
 * of range. */
const char *ocdbt_image_file_name(const struct ocdbt_image *img, size_t i);

/* Size in bytes of file i (0 if i is out of range). */
uint64_t ocdbt_image_file_size(const struct ocdbt_image *img, size_t i);

/*
 * Produce bytes [off, off + len) of the virtual value put with tag into
 * buf; 0 or -errno (with a ck_err message).  Called only with ranges inside
 * the value, possibly from several threads at once.
 */
typedef int (*ocdbt_image_fill_fn)(void *ctx, uint64_t tag, uint64_t off,
				   void *buf, size_t len);

/*
 * Read bytes [off, off + len) of file i into buf; *got is the number of
 * bytes read: len, or fewer at the end of the file (0 at or past it).  A
 * range may cover several values; the bytes of virtual values come from
 * fill(ctx, ...), one call per value covered.  Errors (*got untouched):
 * -EINVAL not committed, i out of range, or fill NULL where a virtual
 * value is covered; fill's error (the message gains the file name).
 * Thread-safe.
 */
int ocdbt_image_read(const struct ocdbt_image *img, size_t i, uint64_t off,
		     void *buf, size_t len, size_t *got,
		     ocdbt_image_fill_fn fill, void *ctx);

/* Free the image, committed or not.  NULL is allowed. */
void ocdbt_image_free(struct ocdbt_image *img);

#endif
