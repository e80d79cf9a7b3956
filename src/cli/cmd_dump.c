/* SPDX-License-Identifier: MIT */
/*
 * This file implements `ckptfs dump`: one array written to stdout as a .npy
 * file (format version 1.0), streamed in C-order slabs of bounded size so
 * that memory stays small whatever the array size.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"
#include "orbax/orbax.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "zarr/zarr_array.h"

#define DUMP_SLAB_BYTES ((uint64_t)64 << 20)

static int write_all(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(STDOUT_FILENO, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ck_err(-EIO, "cannot write to stdout: %s",
				      w < 0 ? strerror(errno) : "short write");
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The .npy header: magic, version 1.0, header length, dict padded to 64. */
static int write_npy_header(const char *descr, const struct zarr_info *info)
{
	struct ck_buf h = CK_BUF_INIT;
	uint8_t pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0 };
	size_t total;
	int err;

	err = ck_buf_printf(&h, "{'descr': '%s', 'fortran_order': False, 'shape': (",
			    descr);
	for (unsigned i = 0; !err && i < info->rank; i++)
		err = ck_buf_printf(&h, "%" PRIu64 ",%s", info->shape[i],
				    i + 1 < info->rank ? " " : "");
	if (!err)
		err = ck_buf_printf(&h, "), }");
	while (!err && (10 + h.len + 1) % 64)
		err = ck_buf_append(&h, " ", 1);
	if (!err)
		err = ck_buf_append(&h, "\n", 1);
	if (!err && h.len > 0xffff)
		err = ck_err(-EOVERFLOW, "npy header too long");
	if (err)
		goto out;
	pre[8] = (uint8_t)h.len;
	pre[9] = (uint8_t)(h.len >> 8);
	total = h.len;
	err = write_all(pre, sizeof(pre));
	if (!err)
		err = write_all(h.data, total);
out:
	ck_buf_release(&h);
	return err;
}

/*
 * Walk the array in C-order boxes of at most DUMP_SLAB_BYTES (at least one
 * element): with k the first axis such that prod(shape[k+1:]) fits, each box
 * is 1 along axes < k, a run along axis k, and whole along axes > k.
 */
static int dump_array(const struct orbax_array *a, const struct zarr_info *info,
		      int widen)
{
	uint64_t start[ZARR_MAX_RANK] = { 0 }, count[ZARR_MAX_RANK];
	size_t isz = ck_dtype_size(info->dtype);
	uint64_t inner = isz, run;
	uint8_t *slab = NULL;
	float *wide = NULL;
	unsigned k, rank = info->rank;
	int err = 0;

	if (info->nbytes == 0)
		return 0;
	if (rank == 0) {
		k = 0;
		run = 1;
	} else {
		k = rank - 1;
		while (k > 0 && inner * info->shape[k] <= DUMP_SLAB_BYTES) {
			inner *= info->shape[k];
			k--;
		}
		run = DUMP_SLAB_BYTES / inner;
		if (run < 1)
			run = 1;
		if (run > info->shape[k])
			run = info->shape[k];
	}
	slab = malloc((size_t)(run * inner));
	if (widen)
		wide = malloc((size_t)(run * inner / isz) * sizeof(float));
	if (!slab || (widen && !wide)) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < rank; i++)
		count[i] = i > k ? info->shape[i] : 1;
	for (;;) {
		uint64_t n;
		size_t elems;

		if (rank) {
			n = info->shape[k] - start[k];
			count[k] = n < run ? n : run;
		}
		err = orbax_array_read(a, start, count, slab);
		if (err)
			goto out;
		elems = (size_t)((rank ? count[k] : 1) * inner / isz);
		if (widen) {
			for (size_t i = 0; i < elems; i++) {
				uint16_t b;

				memcpy(&b, slab + 2 * i, 2);
				wide[i] = ck_bf16_to_f32(b);
			}
			err = write_all(wide, elems * sizeof(float));
		} else {
			err = write_all(slab, elems * isz);
		}
		if (err || rank == 0)
			goto out;
		/* Advance the C-order odometer over axes 0..k. */
		start[k] += count[k];
		for (int ax = (int)k; ax > 0 && start[ax] >= info->shape[ax]; ax--) {
			start[ax] = 0;
			start[ax - 1]++;
		}
		if (start[0] >= info->shape[0])
			break;
	}
out:
	free(slab);
	free(wide);
	return err;
}

int cmd_dump(int argc, char **argv)
{
	struct orbax_opts opts = ORBAX_OPTS_INIT;
	const struct orbax_array *a;
	struct orbax_ckpt *c = NULL;
	const char *src = NULL, *name = NULL, *descr;
	struct zarr_info info;
	int raw = 0, widen, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--raw")) {
			raw = 1;
		} else if (!strcmp(argv[i], "--step") && i + 1 < argc) {
			if (cli_parse_step(argv[++i], &opts.step))
				return cli_usage_error("bad step '%s'", argv[i]);
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			err = cli_source_opts(argv[++i], &opts);
			if (err)
				return cli_fail(err);
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return cli_usage_error("dump: unknown option '%s'", argv[i]);
		} else if (!src) {
			src = argv[i];
		} else if (!name) {
			name = argv[i];
		} else {
			return cli_usage_error("dump: unexpected argument '%s'", argv[i]);
		}
	}
	if (!src || !name)
		return cli_usage_error("dump: need SRC and ARRAY");
	if (isatty(STDOUT_FILENO))
		return cli_usage_error("dump: refusing to write binary .npy data "
				       "to a terminal; redirect stdout");
	err = orbax_open(src, &opts, &c);
	if (err)
		goto out;
	a = orbax_find_stored(c, name);
	if (!a)		/* a weight of an NNX tree by its Linen name */
		a = orbax_find(c, name);
	if (!a) {
		err = ck_err(-ENOENT, "%s: no array '%s' (see `ckptfs inspect`)",
			     c->item_dir, name);
		goto out;
	}
	err = orbax_array_info(a, &info);
	if (err)
		goto out;
	widen = info.dtype == CK_DT_BF16 && !raw;
	descr = info.dtype == CK_DT_BF16 ? (raw ? "<u2" : "<f4") :
					   ck_dtype_numpy(info.dtype);
	if (!descr) {
		err = ck_err(-ENOTSUP, "array '%s': dtype %s has no numpy name", name,
			     ck_dtype_name(info.dtype));
		goto out;
	}
	err = write_npy_header(descr, &info);
	if (!err)
		err = dump_array(a, &info, widen);
	if (err)
		err = ck_err_ctx(err, "array '%s'", name);
out:
	orbax_close(c);
	return err ? cli_fail(err) : CLI_EXIT_OK;
}
