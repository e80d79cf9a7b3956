/* SPDX-License-Identifier: MIT */
/*
 * hf_dir.h - a Hugging Face model directory opened for reading: its
 * config.json and the tensors of its safetensors files, for the reverse
 * conversion (HF -> MaxText).
 *
 * What is read:
 *   - config.json, required, read whole (at most HF_DIR_CONFIG_MAX bytes);
 *   - if model.safetensors.index.json exists, the shards its weight_map
 *     names ({"weight_map": {tensor: shard file}}; other members are
 *     ignored); every shard named must exist and be a plain file name (no
 *     '/', not "." or ".."), and the index and the shards' headers must list
 *     the same tensors in the same shards; files the index does not name are
 *     not read;
 *   - otherwise model.safetensors alone.
 * Each safetensors header is checked as st_read.h says.  A tensor name held
 * by two shards is refused.
 *
 * Files are opened beneath the directory by their plain names, following
 * symlinks (a Hugging Face cache's snapshots/ links into blobs/), read-only;
 * nothing is ever written.  Each shard is mapped whole (MAP_SHARED,
 * PROT_READ) at open and its descriptor closed, so a model holds no
 * descriptors however many shards it has.  A shard truncated by someone
 * else after open raises SIGBUS on access, as any mmap does.
 *
 * After hf_dir_open() returns, the struct is immutable: every function
 * here may be called from many threads at once, until hf_dir_close().
 * hf_dir_open() parses JSON with cJSON, whose global parse-error pointer a
 * failed parse writes (see st_read.h): open models at start-up.
 */
#ifndef HF_DIR_H
#define HF_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "zarr/zarr_array.h"
#include "zarr/zarr_dtype.h"

#define HF_DIR_CONFIG_MAX (16u << 20)	/* config.json size cap */
#define HF_DIR_INDEX_MAX (64u << 20)	/* index size cap */

/* One tensor of the model. */
struct hf_tensor {
	const char *name;		/* non-empty, NUL-terminated (owned by
					   the hf_dir) */
	enum ck_dtype dtype;		/* BOOL, U8..I64, F16, BF16, F32, F64 */
	unsigned rank;			/* <= ZARR_MAX_RANK; 0: a scalar */
	uint64_t shape[ZARR_MAX_RANK];	/* [0, rank) used */
	uint64_t nbytes;		/* prod(shape) * itemsize */
	unsigned file;			/* index into hf_dir.files */
	uint64_t offset;		/* absolute byte offset in that file;
					   offset + nbytes <= its size */
};

/* One safetensors file. */
struct hf_file {
	char *name;			/* plain name in the directory, e.g.
					   "model-00001-of-00002.safetensors"
					   (owned) */
	uint64_t size;			/* bytes, as at open */
	const uint8_t *map;		/* the whole file, mapped read-only and
					   shared (owned; unmapped at close) */
};

struct hf_dir {
	char *path;			/* the directory as given (owned) */
	char *config;			/* config.json text, NUL-terminated
					   (owned) */
	size_t config_len;		/* bytes before the NUL */
	int sharded;			/* 1: read through the index */
	size_t nfiles;
	struct hf_file *files;		/* sorted by name (strcmp) */
	size_t ntensors;
	struct hf_tensor *tensors;	/* sorted by name (strcmp) */
};

/*
 * Open the model directory dir.  On success *out is the new hf_dir (caller
 * closes it with hf_dir_close()).  Errors, each with a ck_err message
 * naming the file and, where there is one, the tensor:
 *   -ENOENT     dir, config.json, or both model.safetensors and the index
 *               absent ("dir: no model.safetensors or
 *               model.safetensors.index.json"); a shard the index names
 *               absent ("dir/model.safetensors.index.json: tensor 'X':
 *               shard 'F' is missing");
 *   -EINVAL     a shard name that is not a plain file name; a tensor listed
 *               twice in the index; a tensor in two shards; a tensor the
 *               index names that its shard lacks, or one in a shard that
 *               the index does not name, or names with another shard; a
 *               file that is not a regular file;
 *   -EIO        a corrupt index or safetensors header (st_read.h), a read
 *               error;
 *   -ENOTSUP    a dtype ckptfs does not read;
 *   -EOVERFLOW  a file over its cap or too large to map, a rank over
 *               ZARR_MAX_RANK;
 *   -ENOMEM, or another -errno from open(2), mmap(2).
 * *out is written only on success.
 */
int hf_dir_open(const char *dir, struct hf_dir **out);

/* The tensor named name, or NULL.  Binary search. */
const struct hf_tensor *hf_dir_find(const struct hf_dir *d, const char *name);

/*
 * The tensor's t->nbytes bytes, little-endian as safetensors stores them:
 * a pointer into the read-only shared mapping of its file, valid until
 * hf_dir_close().  t must be one of d->tensors.  Reading it faults the
 * pages in; nothing is copied.
 */
const void *hf_dir_data(const struct hf_dir *d, const struct hf_tensor *t);

/*
 * Drop the pages of t's mapping that lie wholly inside t from the process
 * (madvise MADV_DONTNEED), so that a conversion reading every tensor once
 * does not keep them all resident.  The data stay valid: a later read
 * faults them back in from the file (or the page cache).  Pages shared with
 * a neighbouring tensor are kept.
 */
void hf_dir_drop(const struct hf_dir *d, const struct hf_tensor *t);

/* Unmap and free everything.  NULL is fine. */
void hf_dir_close(struct hf_dir *d);

#endif
