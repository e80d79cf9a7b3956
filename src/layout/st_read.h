/* SPDX-License-Identifier: MIT */
/*
 * st_read.h - the header of a safetensors file someone else wrote, parsed
 * and checked: which tensors it holds, their dtypes, shapes and byte ranges.
 *
 * File format: u64 LE header length N, then N bytes of JSON (UTF-8, an
 * object; trailing whitespace allowed, as the reference pads with spaces),
 * then the data area.  The JSON maps each tensor name to
 * {"dtype": "BF16", "shape": [..], "data_offsets": [b, e]} with offsets
 * relative to the start of the data area (byte 8 + N), and may hold one
 * "__metadata__" object whose values are all strings, or null (checked, not
 * kept).
 * Unknown members of a tensor entry are ignored, as the reference does.
 *
 * The checks are those of the safetensors reference reader
 * (huggingface/safetensors, Metadata::validate) that reading a tensor needs:
 *   - N at most 100,000,000 (ST_READ_HEADER_MAX), 8 + N within the file;
 *   - the JSON parses, is valid UTF-8, and is an object;
 *   - dtype one of BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16,
 *     F32, F64 (others, e.g. F8_E4M3 or C64, are -ENOTSUP naming the tensor);
 *   - rank at most ZARR_MAX_RANK;
 *   - b <= e, and prod(shape) * itemsize == e - b without overflow;
 *   - the data inside the file; ranges of different tensors do not overlap;
 *   - names non-empty and unique.
 * Unlike the reference, holes between tensors and bytes after the last one
 * are tolerated: they do not change any tensor's bytes.
 *
 * Every failure names the file (the caller's `path`) and, where there is
 * one, the tensor, e.g.
 *   "dir/model.safetensors: tensor 'w': data ends at byte 96, the file has
 *    80 bytes".
 * Pure functions over the caller's bytes; thread-safe apart from cJSON's
 * global parse-error pointer, which a failed parse writes (harmless: the
 * position reported here comes from the parse itself).
 */
#ifndef ST_READ_H
#define ST_READ_H

#include <stddef.h>
#include <stdint.h>

#include "zarr/zarr_array.h"
#include "zarr/zarr_dtype.h"

#define ST_READ_HEADER_MAX 100000000ull /* safetensors' MAX_HEADER_SIZE */

/* One tensor of the file. */
struct st_entry {
	char *name;			/* non-empty, NUL-terminated (owned) */
	enum ck_dtype dtype;		/* one of the 13 types above */
	unsigned rank;			/* <= ZARR_MAX_RANK; 0: a scalar */
	uint64_t shape[ZARR_MAX_RANK];	/* [0, rank) used */
	uint64_t begin, end;		/* absolute byte offsets in the file:
					   data_start <= begin <= end <= size */
};

struct st_header {
	size_t n;			/* number of tensors */
	struct st_entry *e;		/* n entries sorted by name (strcmp),
					   owned; may be NULL when n == 0 */
	uint64_t data_start;		/* 8 + N: where the data area starts */
};

/*
 * How many bytes the header takes (8 + N), from the first n >= 8 bytes of a
 * file of file_size bytes: for a reader that fetches the header before
 * parsing it.  -EIO (file_size < 8: too short for a header; 8 + N past
 * the end of the file), -EOVERFLOW (N over ST_READ_HEADER_MAX), -EINVAL
 * (n < 8 though the file is longer).  `path` names the file in messages.
 * *size is written only on success.
 */
int st_header_size(const void *p, size_t n, uint64_t file_size,
		   const char *path, uint64_t *size);

/*
 * Parse the header of a file of file_size bytes, whose first n bytes are at
 * p (n <= file_size; n must cover the header's 8 + N bytes: the whole file,
 * or exactly what st_header_size() said).  On success *out holds the
 * tensors (caller releases with st_header_release()); on failure *out is
 * left zeroed.  -EIO (a corrupt header: see the checks above), -ENOTSUP (an
 * unknown dtype), -EOVERFLOW (N over the limit, a rank over ZARR_MAX_RANK,
 * a size past 2^64), -EINVAL (n does not cover the header though the file
 * does: the caller's mistake), -ENOMEM.  `path` names the file in messages.
 */
int st_header_parse(const void *p, size_t n, uint64_t file_size,
		    const char *path, struct st_header *out);

/* Free the entries and zero *h.  NULL and a zeroed header are fine. */
void st_header_release(struct st_header *h);

#endif
