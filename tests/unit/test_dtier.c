/* SPDX-License-Identifier: MIT */
/* Unit tests for the disk tier of the tensor cache: round trips, LRU by
 * bytes, files kept and adopted by tag, concurrency, unusable directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/dtier.h"
#include "ck_test.h"
#include "util/ck_err.h"

#define TAG "/ckpt/run1/checkpoints|step=100|llama|bf16"

/* The byte at off of tensor id. */
static uint8_t pat(uint32_t id, uint64_t off)
{
	return (uint8_t)(id * 31 + off * 7 + (off >> 8));
}

static uint8_t *tensor(uint32_t id, uint64_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	ck_assert_ptr_nonnull(p);
	for (uint64_t i = 0; i < size; i++)
		p[i] = pat(id, i);
	return p;
}

/* "<dir>/ckptfs-<FNV-1a of tag>", as the header documents it (caller frees). */
static char *subdir(const char *dir, const char *tag)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t size = strlen(dir) + sizeof("/ckptfs-") + 16;
	char *p = malloc(size);

	ck_assert_ptr_nonnull(p);
	for (const char *s = tag; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	snprintf(p, size, "%s/ckptfs-%016" PRIx64, dir, h);
	return p;
}

static int exists(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* Entries of dir other than . and .. */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Read all of tensor id and compare it with the pattern. */
static void check_tensor(struct dtier *d, uint32_t id, uint64_t size)
{
	uint8_t *buf = malloc(size + 16);

	ck_assert_int_eq(dtier_read(d, id, buf, size + 16, 0), (ssize_t)size);
	for (uint64_t i = 0; i < size; i++)
		ck_assert_uint_eq(buf[i], pat(id, i));
	free(buf);
}

START_TEST(create_commit_and_store_should_round_trip)
{
	char *dir = ck_test_tmpdir(), *sub = subdir(dir, TAG);
	struct dtier_stats st;
	struct dtier *d;
	uint8_t *map, *src, buf[200];
	uint64_t size;

	ck_assert_int_eq(dtier_open(dir, 1 << 20, 0, TAG, 8, &d), 0);
	ck_assert(exists(sub, "TAG"));

	/* Through a mapping. */
	ck_assert_int_eq(dtier_create(d, 3, 5000, &map), 0);
	ck_assert(exists(sub, "3.tmp"));
	ck_assert(!dtier_has(d, 3));
	for (uint64_t i = 0; i < 5000; i++)
		map[i] = pat(3, i);
	ck_assert_int_eq(dtier_commit(d, 3, map, 5000, 0), 0);
	ck_assert(dtier_has(d, 3));
	ck_assert(exists(sub, "3.t") && !exists(sub, "3.tmp"));
	check_tensor(d, 3, 5000);

	/* From memory. */
	src = tensor(5, 777);
	ck_assert_int_eq(dtier_store(d, 5, src, 777), 0);
	free(src);
	check_tensor(d, 5, 777);
	ck_assert_int_eq(dtier_size(d, 5, &size), 0);
	ck_assert_uint_eq(size, 777);

	/* At offsets, across and past the end. */
	ck_assert_int_eq(dtier_read(d, 3, buf, 100, 4000), 100);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(buf[i], pat(3, 4000 + (uint64_t)i));
	ck_assert_int_eq(dtier_read(d, 3, buf, 200, 4950), 50);
	ck_assert_uint_eq(buf[49], pat(3, 4999));
	ck_assert_int_eq(dtier_read(d, 3, buf, 200, 5000), 0);
	ck_assert_int_eq(dtier_read(d, 3, buf, 200, UINT64_MAX), 0);

	/* Errors. */
	ck_assert_int_eq(dtier_read(d, 4, buf, 10, 0), -ENOENT);
	ck_assert_int_eq(dtier_read(d, 8, buf, 10, 0), -EINVAL);
	ck_assert_int_eq(dtier_store(d, 8, buf, 10), -EINVAL);
	ck_assert_int_eq(dtier_store(d, 3, buf, 10), -EEXIST);
	ck_assert_int_eq(dtier_size(d, 4, &size), -ENOENT);
	{	/* a listed file cut short under the tier is -EIO */
		char p[4096];

		snprintf(p, sizeof(p), "%s/5.t", sub);
		ck_test_truncate(p, 700);
		ck_assert_int_eq(dtier_read(d, 5, buf, 100, 650), -EIO);
		ck_assert_int_eq(dtier_read(d, 5, buf, 100, 500), 100);
	}

	/* An empty tensor. */
	ck_assert_int_eq(dtier_create(d, 0, 0, &map), 0);
	ck_assert_int_eq(dtier_commit(d, 0, map, 0, 0), 0);
	ck_assert(dtier_has(d, 0));
	ck_assert_int_eq(dtier_read(d, 0, buf, 10, 0), 0);

	dtier_stats(d, &st);
	ck_assert_uint_eq(st.bytes_written, 5777);
	ck_assert_uint_eq(st.bytes_read, 5000 + 777 + 100 + 50 + 100);
	ck_assert_uint_eq(st.bytes, 5777);
	ck_assert_uint_eq(st.files, 3);
	ck_assert_uint_eq(st.evictions, 0);
	ck_assert_uint_eq(st.peak_bytes, 5777);
	dtier_close(d);

	/* close removes the subdirectory, not dir. */
	ck_assert(!exists(dir, strrchr(sub, '/') + 1));
	ck_assert_int_eq(count_files(dir), 0);
	ck_test_rmtree(dir);
	free(sub);
	free(dir);
}
END_TEST

START_TEST(budget_should_evict_least_recently_read)
{
	char *dir = ck_test_tmpdir(), *sub = subdir(dir, TAG);
	struct dtier_stats st;
	struct dtier *d;
	uint8_t *src;
	uint8_t b;

	ck_assert_int_eq(dtier_open(dir, 2500, 0, TAG, 4, &d), 0);
	for (uint32_t id = 0; id < 2; id++) {
		src = tensor(id, 1000);
		ck_assert_int_eq(dtier_store(d, id, src, 1000), 0);
		free(src);
	}
	ck_assert_int_eq(dtier_read(d, 0, &b, 1, 0), 1); /* 1 is now LRU */
	src = tensor(2, 1000);
	ck_assert_int_eq(dtier_store(d, 2, src, 1000), 0);
	free(src);
	ck_assert(dtier_has(d, 0) && !dtier_has(d, 1) && dtier_has(d, 2));
	ck_assert(exists(sub, "0.t") && !exists(sub, "1.t") &&
		  exists(sub, "2.t"));
	ck_assert_int_eq(dtier_read(d, 1, &b, 1, 0), -ENOENT);

	/* 1600 more bytes need both gone, the least recent (0) first. */
	ck_assert_int_eq(dtier_read(d, 2, &b, 1, 0), 1);
	src = tensor(1, 1600);
	ck_assert_int_eq(dtier_store(d, 1, src, 1600), 0);
	free(src);
	ck_assert(!dtier_has(d, 0) && dtier_has(d, 1) && !dtier_has(d, 2));
	ck_assert_int_eq(count_files(sub), 2); /* TAG, 1.t */
	check_tensor(d, 1, 1600);

	dtier_stats(d, &st);
	ck_assert_uint_eq(st.evictions, 3);
	ck_assert_uint_eq(st.bytes, 1600);
	ck_assert_uint_eq(st.files, 1);
	ck_assert_uint_le(st.peak_bytes, 2500);
	dtier_close(d);
	ck_test_rmtree(dir);
	free(sub);
	free(dir);
}
END_TEST

START_TEST(oversized_and_failed_writes_should_leave_nothing)
{
	char *dir = ck_test_tmpdir(), *sub = subdir(dir, TAG);
	struct dtier_stats st;
	struct dtier *d;
	uint8_t *map = NULL, *src = tensor(1, 1000);

	ck_assert_int_eq(dtier_open(dir, 1000, 0, TAG, 4, &d), 0);
	ck_assert_int_eq(dtier_create(d, 0, 1001, &map), -EFBIG);
	ck_assert_ptr_null(map);
	ck_assert_int_eq(dtier_store(d, 0, src, 1001), -EFBIG);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "budget"));

	/* A commit with an error removes the temp file and the reservation. */
	ck_assert_int_eq(dtier_create(d, 1, 1000, &map), 0);
	ck_assert_int_eq(dtier_create(d, 1, 10, &map), -EBUSY);
	ck_assert_int_eq(dtier_create(d, 2, 10, &map),
			 -ENOSPC); /* all reserved */
	ck_assert(exists(sub, "1.tmp"));
	ck_assert_int_eq(dtier_commit(d, 1, map, 999, 0),
			 -EINVAL); /* wrong size */
	ck_assert_int_eq(dtier_commit(d, 1, map, 1000, -EIO), 0);
	ck_assert(!exists(sub, "1.tmp") && !exists(sub, "1.t"));
	ck_assert(!dtier_has(d, 1));
	dtier_stats(d, &st);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.bytes_written, 0);

	/* The reservation is free again. */
	ck_assert_int_eq(dtier_store(d, 1, src, 1000), 0);
	check_tensor(d, 1, 1000);
	ck_assert_int_eq(count_files(sub), 2);
	dtier_close(d);
	free(src);
	ck_test_rmtree(dir);
	free(sub);
	free(dir);
}
END_TEST

static void set_mtime(const char *sub, const char *name, time_t t)
{
	struct timespec ts[2] = {{t, 0}, {t, 0}};
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", sub, name);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

START_TEST(keep_should_let_the_same_tag_adopt_the_files)
{
	char *dir = ck_test_tmpdir(), *sub = subdir(dir, TAG);
	struct dtier_stats st;
	struct dtier *d, *d2;
	uint8_t *src;

	ck_assert_int_eq(dtier_open(dir, 10000, 1, TAG, 4, &d), 0);
	for (uint32_t id = 0; id < 3; id++) {
		src = tensor(id, 1000 + id);
		ck_assert_int_eq(dtier_store(d, id, src, 1000 + id), 0);
		free(src);
	}
	/* A second open of the same view while this one is open is refused. */
	ck_assert_int_eq(dtier_open(dir, 10000, 1, TAG, 4, &d2), -EBUSY);
	dtier_close(d);
	ck_assert(exists(sub, "TAG") && exists(sub, "0.t") &&
		  exists(sub, "2.t"));

	/* Leftovers that are not whole tensors of this view go. */
	{
		char p[4096];

		snprintf(p, sizeof(p), "%s/3.tmp", sub);
		ck_test_write_file(p, "x", 1);
		snprintf(p, sizeof(p), "%s/4.t", sub); /* id >= ntensors */
		ck_test_write_file(p, "x", 1);
		snprintf(p, sizeof(p), "%s/junk", sub);
		ck_test_write_file(p, "x", 1);
		snprintf(p, sizeof(p), "%s/01.t", sub);
		ck_test_write_file(p, "x", 1);
	}
	ck_assert_int_eq(dtier_open(dir, 10000, 1, TAG, 4, &d), 0);
	for (uint32_t id = 0; id < 3; id++)
		check_tensor(d, id, 1000 + id);
	dtier_stats(d, &st);
	ck_assert_uint_eq(st.files, 3);
	ck_assert_uint_eq(st.bytes, 3003);
	ck_assert_uint_eq(st.bytes_written, 0);
	ck_assert_int_eq(count_files(sub), 4);
	dtier_close(d);

	/* Adopted past a smaller budget: the oldest files (by mtime) go. */
	set_mtime(sub, "0.t", 3000);
	set_mtime(sub, "1.t", 1000);
	set_mtime(sub, "2.t", 2000);
	ck_assert_int_eq(dtier_open(dir, 2100, 1, TAG, 4, &d), 0);
	ck_assert(dtier_has(d, 0) && !dtier_has(d, 1) && dtier_has(d, 2));
	ck_assert(!exists(sub, "1.t"));
	/* ... and the LRU order continues from there: 2 goes before 0. */
	src = tensor(3, 1000);
	ck_assert_int_eq(dtier_store(d, 3, src, 1000), 0);
	free(src);
	ck_assert(dtier_has(d, 0) && !dtier_has(d, 2) && dtier_has(d, 3));
	dtier_close(d);

	/* Another tag is another directory; these files stay untouched. */
	ck_assert_int_eq(dtier_open(dir, 10000, 1, "other", 4, &d), 0);
	ck_assert(!dtier_has(d, 0));
	dtier_close(d);
	ck_assert(exists(sub, "0.t"));

	/* A TAG that does not match (a hash collision) wipes the files. */
	{
		char p[4096];

		snprintf(p, sizeof(p), "%s/TAG", sub);
		ck_test_write_file(p, "stale", 5);
	}
	ck_assert_int_eq(dtier_open(dir, 10000, 1, TAG, 4, &d), 0);
	ck_assert(!dtier_has(d, 0) && !dtier_has(d, 3));
	ck_assert_int_eq(count_files(sub), 1); /* TAG */
	dtier_close(d);

	/* keep=0 never adopts, and removes the directory at close. */
	src = tensor(0, 10);
	ck_assert_int_eq(dtier_open(dir, 10000, 1, TAG, 4, &d), 0);
	ck_assert_int_eq(dtier_store(d, 0, src, 10), 0);
	dtier_close(d);
	ck_assert_int_eq(dtier_open(dir, 10000, 0, TAG, 4, &d), 0);
	ck_assert(!dtier_has(d, 0));
	dtier_close(d);
	ck_assert(!exists(dir, strrchr(sub, '/') + 1));
	free(src);
	ck_test_rmtree(dir);
	free(sub);
	free(dir);
}
END_TEST

/* Four threads read, store and create tensors of a small tier that must
 * evict all the time; every byte read must be the tensor's. */
#define CONC_IDS 24

struct worker {
	struct dtier *d;
	unsigned seed;
	int bad; /* a check failed */
	unsigned reads, writes;
};

static uint64_t conc_size(uint32_t id)
{
	return 3000 + id * 517;
}

static int write_one(struct worker *w, uint32_t id, int mapped)
{
	uint64_t size = conc_size(id);
	uint8_t *p;
	int err;

	if (!mapped) {
		p = tensor(id, size);
		err = dtier_store(w->d, id, p, size);
		free(p);
		return err;
	}
	err = dtier_create(w->d, id, size, &p);
	if (err)
		return err;
	for (uint64_t i = 0; i < size; i++)
		p[i] = pat(id, i);
	return dtier_commit(w->d, id, p, size, 0);
}

static void *hammer(void *arg)
{
	struct worker *w = arg;
	uint8_t buf[4096];

	for (int it = 0; it < 3000 && !w->bad; it++) {
		uint32_t id = (uint32_t)rand_r(&w->seed) % CONC_IDS;
		uint64_t size = conc_size(id),
			 off = (uint64_t)rand_r(&w->seed) % size;
		size_t n = (size_t)rand_r(&w->seed) % sizeof(buf) + 1;
		ssize_t got = dtier_read(w->d, id, buf, n, off);
		int err;

		if (got == -ENOENT) {
			err = write_one(w, id, rand_r(&w->seed) & 1);
			w->writes += !err;
			w->bad |= err && err != -EEXIST && err != -EBUSY &&
				  err != -ENOSPC;
			continue;
		}
		w->reads++;
		if (got != (ssize_t)(n < size - off ? n : size - off)) {
			w->bad = 1;
			break;
		}
		for (ssize_t i = 0; i < got; i++)
			if (buf[i] != pat(id, off + (uint64_t)i))
				w->bad = 1;
	}
	return NULL;
}

START_TEST(concurrent_use_should_serve_right_bytes_within_budget)
{
	char *dir = ck_test_tmpdir(), *sub = subdir(dir, TAG);
	struct worker w[4];
	pthread_t th[4];
	struct dtier_stats st;
	struct dtier *d;
	uint64_t budget = 40000; /* about 4 of the 24 tensors */

	ck_assert_int_eq(dtier_open(dir, budget, 0, TAG, CONC_IDS, &d), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.d = d, .seed = 17u + (unsigned)i};
		ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, &w[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(!w[i].bad, "worker %d read wrong bytes", i);
		ck_assert_uint_gt(w[i].reads, 0);
		ck_assert_uint_gt(w[i].writes, 0);
	}
	dtier_stats(d, &st);
	ck_assert_uint_gt(st.evictions, 0);
	ck_assert_uint_le(st.bytes, budget);
	ck_assert_uint_le(st.peak_bytes, budget);
	ck_assert_int_eq(count_files(sub), (int)st.files + 1); /* + TAG */
	dtier_close(d);
	ck_assert_int_eq(count_files(dir), 0);
	ck_test_rmtree(dir);
	free(sub);
	free(dir);
}
END_TEST

START_TEST(unusable_dir_should_be_an_error)
{
	char *dir = ck_test_tmpdir(), path[4096];
	struct dtier *d = NULL;

	snprintf(path, sizeof(path), "%s/absent", dir);
	ck_assert_int_eq(dtier_open(path, 1000, 0, TAG, 4, &d), -ENOENT);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), path));

	snprintf(path, sizeof(path), "%s/file", dir);
	ck_test_write_file(path, "x", 1);
	ck_assert_int_eq(dtier_open(path, 1000, 0, TAG, 4, &d), -ENOTDIR);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), path));

	ck_assert_int_eq(dtier_open(dir, 0, 0, TAG, 4, &d), -EINVAL);
	ck_assert_int_eq(dtier_open(dir, 1000, 0, NULL, 4, &d), -EINVAL);

	if (geteuid() != 0) { /* root writes anywhere */
		snprintf(path, sizeof(path), "%s/ro", dir);
		ck_assert_int_eq(mkdir(path, 0500), 0);
		ck_assert_int_eq(dtier_open(path, 1000, 0, TAG, 4, &d),
				 -EACCES);
		ck_assert_ptr_nonnull(strstr(ck_err_msg(), path));
		chmod(path, 0700);
	}
	ck_assert_ptr_null(d);
	dtier_close(NULL);
	ck_test_rmtree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dtier");
	TCase *tc = tcase_create("dtier");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, create_commit_and_store_should_round_trip);
	tcase_add_test(tc, budget_should_evict_least_recently_read);
	tcase_add_test(tc, oversized_and_failed_writes_should_leave_nothing);
	tcase_add_test(tc, keep_should_let_the_same_tag_adopt_the_files);
	tcase_add_test(tc,
		       concurrent_use_should_serve_right_bytes_within_budget);
	tcase_add_test(tc, unusable_dir_should_be_an_error);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
