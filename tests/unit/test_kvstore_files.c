/* SPDX-License-Identifier: MIT */
/*
 * Stores of many data files: every value in a file of its own, values dealt
 * to many per-process databases, a bounded number of open descriptors,
 * files replaced under an open store, and running out of descriptors.
 * Values are a formula of (key number, byte index), so every byte read is
 * checked independently of the writer and the reader.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ck_test.h"
#include "kvstore/kvstore.h"
#include "kvstore/ocdbt_writer.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

#define NKEYS 300
#define NPROC 16

static size_t value_len(unsigned i)
{
	return 1100 + (i * 37u) % 900; /* above the 1024-byte inline limit */
}

static uint8_t value_byte(unsigned i, size_t k)
{
	return (uint8_t)((i * 131u + k * 7u + (k >> 8)) ^ (i >> 3));
}

static void key_of(unsigned i, char *buf, size_t n)
{
	snprintf(buf, n, "arr/c/%u", i);
}

/* Write NKEYS keys into dir with the given options. */
static void write_db(const char *dir, const struct ocdbt_writer_opts *o)
{
	struct ocdbt_writer *w = NULL;
	uint8_t *v = malloc(2048);

	ck_assert_ptr_nonnull(v);
	ck_assert_msg(ocdbt_writer_open(dir, o, &w) == 0, "%s", ck_err_msg());
	for (unsigned i = 0; i < NKEYS; i++) {
		char key[32];

		key_of(i, key, sizeof(key));
		for (size_t k = 0; k < value_len(i); k++)
			v[k] = value_byte(i, k);
		ck_assert_int_eq(ocdbt_writer_put(w, key, strlen(key), v,
						  value_len(i)),
				 0);
	}
	ck_assert_msg(ocdbt_writer_commit(w) == 0, "%s", ck_err_msg());
	ocdbt_writer_free(w);
	free(v);
}

/* Read key i and compare every byte with the formula: 0 or the error. */
static int check_key(const struct kvstore *kv, unsigned i)
{
	struct kv_value v;
	char key[32];
	uint8_t *buf;
	int err;

	key_of(i, key, sizeof(key));
	err = kvstore_get(kv, key, strlen(key), &v);
	if (err)
		return err;
	ck_assert_uint_eq(v.length, value_len(i));
	buf = malloc(v.length);
	ck_assert_ptr_nonnull(buf);
	err = kvstore_read(kv, &v, 0, buf, v.length);
	for (size_t k = 0; !err && k < v.length; k++)
		ck_assert_msg(buf[k] == value_byte(i, k), "key %u byte %zu", i,
			      k);
	free(buf);
	return err;
}

static void check_all(const struct kvstore *kv)
{
	for (unsigned i = 0; i < NKEYS; i++)
		ck_assert_msg(check_key(kv, i) == 0, "key %u: %s", i,
			      ck_err_msg());
}

static size_t count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static struct kvstore *open_one(const char *dir)
{
	struct kvstore *kv = NULL;

	ck_assert_msg(kvstore_open_ocdbt(&dir, 1, 0, &kv) == 0, "%s",
		      ck_err_msg());
	return kv;
}

/* A database whose NKEYS values each have a data file of their own. */
static char *one_file_each(char **tmp)
{
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	char *dir;

	*tmp = ck_test_tmpdir();
	dir = ck_path_join(*tmp, "db");
	o.file_bytes = 1;
	write_db(dir, &o);
	return dir;
}

START_TEST(every_value_in_its_own_file_should_read_back)
{
	char *tmp, *dir = one_file_each(&tmp), *d = ck_path_join(dir, "d");
	struct kvstore *kv;
	size_t nfiles, nopen;
	uint64_t opens;

	/* NKEYS value files and one node file */
	ck_assert_uint_eq(count_dir(d), NKEYS + 1);
	kv = open_one(dir);
	ck_assert_uint_eq(kvstore_count(kv), NKEYS);
	kvstore_file_stats(kv, &nfiles, &nopen, &opens);
	ck_assert_uint_eq(nfiles, NKEYS + 1);
	check_all(kv);
	kvstore_free(kv);
	ck_test_rmtree(tmp);
	free(d);
	free(dir);
	free(tmp);
}
END_TEST

struct reader {
	const struct kvstore *kv;
	unsigned first;
	int err;
};

static void *read_all(void *p)
{
	struct reader *r = p;

	for (unsigned n = 0; n < NKEYS && !r->err; n++)
		r->err = check_key(r->kv, (r->first + n * 7u) % NKEYS);
	return NULL;
}

START_TEST(store_should_keep_at_most_max_open_files_and_reopen_the_rest)
{
	char *tmp, *dir = one_file_each(&tmp);
	struct kvstore *kv = open_one(dir);
	struct reader r[4];
	pthread_t th[4];
	size_t nfiles, nopen;
	uint64_t before, after;

	kvstore_set_max_open(kv, 4);
	kvstore_file_stats(kv, &nfiles, &nopen, &before);
	ck_assert_uint_le(nopen, 4);
	for (int i = 0; i < 4; i++) {
		r[i].kv = kv;
		r[i].first = (unsigned)i * 75u;
		r[i].err = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, read_all, &r[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(r[i].err == 0, "reader %d: %s", i, ck_err_msg());
	}
	kvstore_file_stats(kv, &nfiles, &nopen, &after);
	ck_assert_uint_le(nopen, 4);
	/* most reads had to reopen their file */
	ck_assert_uint_ge(after - before, NKEYS);
	kvstore_set_max_open(kv, 0);
	kvstore_file_stats(kv, &nfiles, &nopen, &after);
	ck_assert_uint_eq(nopen, 0);
	check_all(kv);
	kvstore_file_stats(kv, &nfiles, &nopen, &after);
	ck_assert_uint_eq(nopen, 0);
	kvstore_free(kv);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
}
END_TEST

/* Replace the file holding key i by a new file (rename over it) with the
 * same bytes, or with zeros. */
static const char *replace_file_of(const struct kvstore *kv, unsigned i,
				   int zeros)
{
	static char path[4096];
	struct kv_value v;
	char key[32], tmpname[4200];
	uint8_t *b;
	size_t n;

	key_of(i, key, sizeof(key));
	ck_assert_int_eq(kvstore_get(kv, key, strlen(key), &v), 0);
	snprintf(path, sizeof(path), "%s", v.file);
	b = ck_test_read_file(path, &n);
	if (zeros)
		memset(b, 0, n);
	snprintf(tmpname, sizeof(tmpname), "%s.new", path);
	ck_test_write_file(tmpname, b, n);
	ck_assert_int_eq(rename(tmpname, path), 0);
	free(b);
	return path;
}

START_TEST(a_file_replaced_after_open_should_serve_the_old_bytes_or_fail_eio)
{
	char *tmp, *dir = one_file_each(&tmp);
	struct kvstore *kv = open_one(dir);
	const char *path;

	/* held open: the old file keeps being served */
	kvstore_set_max_open(kv, 1000);
	ck_assert_int_eq(check_key(kv, 7), 0);
	replace_file_of(kv, 7, 1);
	ck_assert_msg(check_key(kv, 7) == 0, "%s", ck_err_msg());

	/* closed, then reopened: another file (even with the same bytes) is
	 * refused, naming it; the other keys still read */
	kvstore_set_max_open(kv, 0);
	path = replace_file_of(kv, 8, 0);
	ck_assert_int_eq(check_key(kv, 8), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), path));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "changed since"));
	ck_assert_int_eq(check_key(kv, 9), 0);
	ck_assert_int_eq(check_key(kv, 7), -EIO);
	kvstore_free(kv);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
}
END_TEST

START_TEST(running_out_of_descriptors_should_be_emfile_naming_the_file)
{
	char *tmp, *dir = one_file_each(&tmp);
	struct kvstore *kv = open_one(dir);
	struct rlimit rl, saved;
	int fds[64], n = 0, fd;

	kvstore_set_max_open(kv, 0);
	/* a low soft limit, then every descriptor below it taken */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	saved = rl;
	fd = dup(0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	rl.rlim_cur = (rlim_t)fd + 16;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (n < 64 && (fd = dup(0)) >= 0)
		fds[n++] = fd;
	ck_assert_int_lt(n, 64);
	ck_assert_int_eq(check_key(kv, 3), -EMFILE);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "out of file descriptors"));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "/d/"));
	while (n)
		close(fds[--n]);
	/* the suite may run in one process (CK_FORK=no, valgrind) */
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	ck_assert_msg(check_key(kv, 3) == 0, "%s", ck_err_msg());
	kvstore_free(kv);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
}
END_TEST

START_TEST(values_dealt_to_many_process_databases_should_merge_back)
{
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "items");
	char *procs[NPROC];
	struct kvstore *kv;

	o.processes = NPROC;
	o.data_base_db = 1;
	o.file_bytes = 1;
	o.max_leaf_entries = 16;
	write_db(dir, &o);

	/* the merged top-level database holds every key */
	kv = open_one(dir);
	ck_assert_uint_eq(kvstore_count(kv), NKEYS);
	check_all(kv);
	kvstore_free(kv);

	/* each process database alone holds the keys dealt to it */
	for (unsigned p = 0; p < NPROC; p++) {
		char name[32];
		unsigned want = 0;

		snprintf(name, sizeof(name), "ocdbt.process_%u", p);
		procs[p] = ck_path_join(dir, name);
		kv = open_one(procs[p]);
		for (unsigned i = 0; i < NKEYS; i++) {
			int err = check_key(kv, i);

			ck_assert_int_eq(err, i % NPROC == p ? 0 : -ENOENT);
			want += i % NPROC == p;
		}
		ck_assert_uint_eq(kvstore_count(kv), want);
		kvstore_free(kv);
	}

	/* and all of them merged (a save whose top-level merge was lost) */
	ck_assert_msg(kvstore_open_ocdbt((const char *const *)procs, NPROC, 0,
					 &kv) == 0,
		      "%s", ck_err_msg());
	ck_assert_uint_eq(kvstore_count(kv), NKEYS);
	check_all(kv);
	kvstore_free(kv);
	for (unsigned p = 0; p < NPROC; p++)
		free(procs[p]);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
}
END_TEST

START_TEST(writer_should_refuse_processes_with_a_data_base)
{
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	struct ocdbt_writer *w = NULL;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "x");

	o.processes = 2;
	o.data_base = "ocdbt.process_0/";
	ck_assert_int_eq(ocdbt_writer_open(dir, &o, &w), -EINVAL);
	o.data_base = "";
	o.processes = OCDBT_WRITER_MAX_PROCESSES + 1;
	ck_assert_int_eq(ocdbt_writer_open(dir, &o, &w), -EINVAL);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kvstore_files");
	TCase *tc = tcase_create("kvstore_files");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_value_in_its_own_file_should_read_back);
	tcase_add_test(tc,
		       store_should_keep_at_most_max_open_files_and_reopen_the_rest);
	tcase_add_test(
		tc,
		a_file_replaced_after_open_should_serve_the_old_bytes_or_fail_eio);
	tcase_add_test(tc,
		       running_out_of_descriptors_should_be_emfile_naming_the_file);
	tcase_add_test(tc,
		       values_dealt_to_many_process_databases_should_merge_back);
	tcase_add_test(tc, writer_should_refuse_processes_with_a_data_base);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
