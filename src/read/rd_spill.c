/* SPDX-License-Identifier: MIT */
/*
 * This file implements the spill of decoded source pieces (rd_tensor.h): each
 * piece the visitor gets is appended to an unnamed file with its position,
 * extent and strides, and handed back in the same form when replayed.
 */
#include "read/rd_direct.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/ck_err.h"
#include "util/ck_file.h"

/* Where one recorded piece lies. */
struct spill_piece {
	uint64_t pos[ZARR_MAX_RANK], n[ZARR_MAX_RANK], stride[ZARR_MAX_RANK];
	uint64_t off, len;		/* its bytes in the file */
};

struct rd_spill {
	int fd;
	pthread_mutex_t lock;		/* guards the fields below */
	struct spill_piece *v;
	size_t n, cap;
	uint64_t end;			/* bytes written */
	int recorded;			/* a whole recording is there */
};

int rd_spill_open(const char *dir, struct rd_spill **out)
{
	struct rd_spill *s = calloc(1, sizeof(*s));
	char path[4096];

	if (!s)
		return ck_err(-ENOMEM, "out of memory");
	s->fd = -1;
#ifdef O_TMPFILE
	s->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
	if (s->fd < 0) {
		snprintf(path, sizeof(path), "%s/.ckptfs-spill-XXXXXX", dir);
		s->fd = mkstemp(path);
		if (s->fd >= 0)
			unlink(path);
	}
	if (s->fd < 0) {
		int e = errno;

		free(s);
		return ck_err(-e, "%s: cannot create a spill file: %s", dir, strerror(e));
	}
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
}

uint64_t rd_spill_bytes(const struct rd_spill *s)
{
	return s->end;
}

void rd_spill_close(struct rd_spill *s)
{
	if (!s)
		return;
	close(s->fd);
	pthread_mutex_destroy(&s->lock);
	free(s->v);
	free(s);
}

int rd_spill_recorded(const struct rd_spill *s)
{
	return s->recorded;
}

void rd_spill_mark(struct rd_spill *s, int ok)
{
	s->recorded = ok;
	if (!ok) {	/* start over next time */
		s->n = 0;
		s->end = 0;
	}
}

/* Append one dense piece: the n-box at data with strides, gathered. */
static int record_one(struct rd_spill *s, unsigned rank, size_t isz,
		      const uint64_t *pos, const uint64_t *n, const uint8_t *data,
		      const uint64_t *stride)
{
	uint64_t idx[ZARR_MAX_RANK] = { 0 }, total = 1, off, dense[ZARR_MAX_RANK];
	size_t row = (size_t)n[rank - 1] * isz, len;
	struct spill_piece *p;
	uint8_t *buf;
	int err = 0;

	for (unsigned a = 0; a < rank; a++)
		total *= n[a];
	len = (size_t)(total * isz);
	buf = malloc(len + 1);
	if (!buf)
		return ck_err(-ENOMEM, "out of memory");
	/* Rows of the last axis, gathered in C order. */
	for (uint64_t r = 0; r < total / n[rank - 1]; r++) {
		const uint8_t *src = data;
		int a;

		for (unsigned j = 0; j + 1 < rank; j++)
			src += idx[j] * stride[j] * isz;
		if (stride[rank - 1] == 1) {
			memcpy(buf + r * row, src, row);
		} else {
			for (uint64_t x = 0; x < n[rank - 1]; x++)
				memcpy(buf + r * row + x * isz, src + x * stride[rank - 1] * isz,
				       isz);
		}
		for (a = (int)rank - 2; a >= 0; a--) {
			if (++idx[a] < n[a])
				break;
			idx[a] = 0;
		}
	}
	for (unsigned a = rank; a-- > 0;)
		dense[a] = a + 1 < rank ? dense[a + 1] * n[a + 1] : 1;
	pthread_mutex_lock(&s->lock);
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct spill_piece *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&s->lock);
			free(buf);
			return ck_err(-ENOMEM, "out of memory");
		}
		s->v = v;
		s->cap = cap;
	}
	off = s->end;
	s->end += len;
	p = &s->v[s->n++];
	memset(p, 0, sizeof(*p));	/* axes past rank read as 0 on replay */
	memcpy(p->pos, pos, rank * sizeof(*pos));
	memcpy(p->n, n, rank * sizeof(*n));
	memcpy(p->stride, dense, rank * sizeof(*dense));
	p->off = off;
	p->len = len;
	pthread_mutex_unlock(&s->lock);
	err = ck_pwrite_full(s->fd, buf, len, off, "spill file");
	free(buf);
	return err;
}

int rd_spill_record(struct rd_spill *s, unsigned rank, size_t isz,
		      const uint64_t *selstride, const uint64_t *pos, const uint64_t *n,
		      const void *data, const uint64_t *stride)
{
	uint64_t p1[ZARR_MAX_RANK], n1[ZARR_MAX_RANK], idx[ZARR_MAX_RANK] = { 0 };
	int err = 0, any = 0;

	if (rank == 0)
		return ck_err(-EINVAL, "spill: rank 0");
	for (unsigned a = 0; selstride && a < rank; a++)
		any |= selstride[a] != 0;
	if (!any)
		return record_one(s, rank, isz, pos, n, data, stride);
	/* One piece per position over the stacked axes, so that a batch reads
	 * only its own. */
	memcpy(n1, n, rank * sizeof(*n));
	for (unsigned a = 0; a < rank; a++)
		if (selstride[a])
			n1[a] = 1;
	while (!err) {
		uint64_t off = 0;
		int a;

		for (unsigned b = 0; b < rank; b++) {
			p1[b] = pos[b] + idx[b];
			off += idx[b] * stride[b];
		}
		err = record_one(s, rank, isz, p1, n1, (const uint8_t *)data + off * isz,
				 stride);
		for (a = (int)rank - 1; a >= 0; a--) {
			if (!selstride[a])
				continue;
			if (++idx[a] < n[a])
				break;
			idx[a] = 0;
		}
		if (a < 0)
			break;
	}
	return err;
}

int rd_spill_replay(struct rd_spill *s, const uint64_t *selstride,
		      const void *const *want, zarr_visit_fn fn, void *ctx)
{
	uint8_t *buf = NULL;
	size_t cap = 0;
	int err = 0;

	for (size_t i = 0; i < s->n && !err; i++) {
		const struct spill_piece *p = &s->v[i];

		if (selstride && want) {
			uint64_t at = 0;

			for (unsigned a = 0; a < ZARR_MAX_RANK; a++)
				at += p->pos[a] * selstride[a];
			if (!want[at])
				continue;
		}
		if (cap < p->len) {
			free(buf);
			buf = malloc(p->len);
			cap = buf ? p->len : 0;
			if (!buf)
				return ck_err(-ENOMEM, "out of memory");
		}
		err = ck_pread_full(s->fd, buf, p->len, p->off, "spill file");
		if (!err)
			err = fn(ctx, p->pos, p->n, buf, p->stride);
	}
	free(buf);
	return err;
}
