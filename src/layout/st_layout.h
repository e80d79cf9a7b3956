/* SPDX-License-Identifier: MIT */
/*
 * st_layout.h - the safetensors files of the Hugging Face view: which tensor
 * goes in which shard, at which offset, and the exact header bytes.
 *
 * Built once at mount time from the tensor list; immutable afterwards and
 * safe to read from many threads.  Every size, header and offset is known
 * before any tensor byte is read.
 *
 * File format (safetensors): u64 LE header length N, then N bytes of JSON
 * (padded with spaces to a multiple of 8), then the tensor data, contiguous
 * with no holes, in the order of data_offsets.  The JSON holds
 * "__metadata__": {"format": "pt"} and, per tensor,
 * {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]} with
 * offsets relative to the start of the data area.
 *
 * Sharding: tensors are placed in the order given (the caller puts tensors
 * from the same source array next to each other); a new shard starts when
 * adding a tensor would take the current shard's data past shard_size and
 * the shard is not empty.  Tensors may carry a group (tensors cut from the
 * same decoded chunks, consecutive in the order): a shard is then cut before
 * the group's first tensor rather than inside it, so that a reader going
 * shard by shard needs the groups of one shard at a time; only a group that
 * alone exceeds shard_size is cut, by size, in shards of its own.  One shard is named "model.safetensors"; several
 * are "model-00001-of-0000N.safetensors".  The index
 * "model.safetensors.index.json" is always produced:
 * {"metadata": {"total_size": <sum of tensor bytes>}, "weight_map":
 * {name: file, ...}} with names sorted, indent 2.
 */
#ifndef ST_LAYOUT_H
#define ST_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "zarr/zarr_dtype.h"
#include "zarr/zarr_array.h"

/* One tensor, as the caller describes it. */
struct st_tensor_desc {
	const char *name;		/* HF name (borrowed during build) */
	enum ck_dtype dtype;		/* output dtype (float types, ints) */
	unsigned rank;
	uint64_t shape[ZARR_MAX_RANK];
	uint32_t group;			/* 0: none; else tensors of one group,
					   consecutive, share the number */
};

/* Where one tensor landed. */
struct st_placement {
	uint32_t file;			/* index into st_layout.files */
	uint64_t offset;		/* absolute byte offset in that file */
	uint64_t nbytes;		/* tensor bytes */
};

struct st_file {
	char *name;			/* "model-00001-of-00003.safetensors" */
	uint8_t *header;		/* the first header_len bytes of the file:
					   8-byte length + padded JSON (owned) */
	uint64_t header_len;		/* 8 + N */
	uint64_t size;			/* total file size */
	uint32_t first, count;		/* tensors [first, first+count) of the
					   layout's order live here */
};

struct st_layout {
	size_t ntensors;
	struct st_placement *place;	/* per tensor, in the caller's order */
	size_t nfiles;
	struct st_file *files;
	char *index_json;		/* model.safetensors.index.json bytes */
	size_t index_len;
	uint64_t total_size;		/* sum of tensor bytes */
};

/*
 * Lay out n tensors (in the given order) into shards of at most shard_size
 * data bytes each.  -EINVAL (duplicate name; a NULL, empty, non-UTF-8 or
 * "__metadata__" name; a dtype outside BOOL, U8, I8, U16, I16, U32, I32,
 * U64, I64, F16, BF16, F32, F64; rank > ZARR_MAX_RANK; zero shard_size),
 * -EOVERFLOW (a size past 2^64, a header over safetensors' 100,000,000-byte
 * limit, more than UINT32_MAX tensors), -ENOMEM.  n == 0 gives one
 * "model.safetensors" holding only the metadata.  Header strings are
 * escaped like serde_json (UTF-8 kept), index strings like Python's
 * json.dumps (non-ASCII as \uXXXX).  Caller frees with st_layout_free().
 */
int st_layout_build(const struct st_tensor_desc *t, size_t n, uint64_t shard_size,
		    struct st_layout **out);

/*
 * Find what byte off of file f holds: returns 1 and sets *tensor and
 * *tensor_off when it is tensor data; returns 0 when it is header bytes
 * (off < header_len); -EINVAL when off >= file size.
 */
int st_layout_locate(const struct st_layout *l, uint32_t f, uint64_t off,
		     size_t *tensor, uint64_t *tensor_off);

void st_layout_free(struct st_layout *l);

#endif
