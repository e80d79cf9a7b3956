/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for opening a checkpoint's files beneath its root
 * (util/ck_beneath.h), through openat2 and through the component-wise walk
 * a kernel without openat2 takes; then at the checkpoint level: data files
 * and _METADATA replaced by symlinks to copies outside the checkpoint, at
 * open and at a later reopen, with and without follow_symlinks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ck_test.h"
#include "kvstore/kvstore.h"
#include "orbax/orbax.h"
#include "orbax/orbax_writer.h"
#include "util/ck_beneath.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

/* ---- a small tree ---------------------------------------------------- */

/*
 * <t>/root/a/f            "inside"
 * <t>/root/in_link     -> a/f
 * <t>/root/abs_in      -> <t>/root/a/f
 * <t>/root/out_link    -> ../outside
 * <t>/root/abs_out     -> <t>/outside
 * <t>/root/dir_link    -> ../outdir
 * <t>/outside             "outside"
 * <t>/outdir/f            "outdir"
 * <t>/alias            -> root
 */
struct tree {
	char *t, *root;
};

static char *join(const char *a, const char *b)
{
	char *p = ck_path_join(a, b);

	ck_assert_ptr_nonnull(p);
	return p;
}

static void put(const char *dir, const char *rel, const char *text)
{
	char *p = join(dir, rel);

	ck_test_write_file(p, text, strlen(text));
	free(p);
}

static void link_at(const char *dir, const char *rel, const char *target)
{
	char *p = join(dir, rel);

	ck_assert_msg(symlink(target, p) == 0, "symlink %s", p);
	free(p);
}

static void make_tree(struct tree *tr)
{
	char *tmp = ck_test_tmpdir(), *p;

	tr->t = realpath(tmp, NULL);
	ck_assert_ptr_nonnull(tr->t);
	free(tmp);
	tr->root = join(tr->t, "root");
	ck_assert_int_eq(mkdir(tr->root, 0755), 0);
	p = join(tr->root, "a");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	p = join(tr->t, "outdir");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	put(tr->root, "a/f", "inside");
	put(tr->t, "outside", "outside");
	put(tr->t, "outdir/f", "outdir");
	link_at(tr->root, "in_link", "a/f");
	p = join(tr->root, "a/f");
	link_at(tr->root, "abs_in", p);
	free(p);
	link_at(tr->root, "out_link", "../outside");
	p = join(tr->t, "outside");
	link_at(tr->root, "abs_out", p);
	free(p);
	link_at(tr->root, "dir_link", "../outdir");
	link_at(tr->t, "alias", "root");
}

static void free_tree(struct tree *tr)
{
	ck_test_rmtree(tr->t);
	free(tr->t);
	free(tr->root);
}

static int have_openat2(void)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC};
	long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));

	if (fd >= 0)
		close((int)fd);
	return fd >= 0;
}

/* Open path (dir + rel, or rel alone when dir is NULL) beneath root and
 * read what it holds into buf; 0 or the error. */
static int read_at(const char *root, const char *dir, const char *rel,
		   int follow, char *buf, size_t n)
{
	char *p = dir ? join(dir, rel) : strdup(rel);
	ssize_t got;
	int fd = -1, err;

	ck_assert_ptr_nonnull(p);
	err = ck_open_beneath(root, p, O_RDONLY, follow, &fd);
	free(p);
	if (err)
		return err;
	got = read(fd, buf, n - 1);
	close(fd);
	ck_assert_int_ge(got, 0);
	buf[got] = '\0';
	return 0;
}

static void assert_reads(const char *root, const char *dir, const char *rel,
			 int follow, const char *want)
{
	char buf[64];
	int err = read_at(root, dir, rel, follow, buf, sizeof(buf));

	ck_assert_msg(err == 0, "%s: %d %s", rel, err, ck_err_msg());
	ck_assert_str_eq(buf, want);
}

/* path is refused with the one message naming it and the root. */
static void assert_refused(const char *root, const char *dir, const char *rel)
{
	char buf[64], *p = dir ? join(dir, rel) : strdup(rel);
	int err = read_at(root, dir, rel, 0, buf, sizeof(buf));
	const char *m = ck_err_msg();

	ck_assert_msg(err == -EXDEV || err == -ELOOP, "%s: opened (%d)", rel,
		      err);
	ck_assert_msg(strstr(m, p) && strstr(m, root) &&
			      strstr(m, "leads out of the checkpoint") &&
			      strstr(m, "-o follow_symlinks allows it"),
		      "%s: message '%s'", rel, m);
	free(p);
}

static void set_walk(int walk)
{
	ck_beneath_force_walk(walk);
}

/* ---- the files beneath a root ---------------------------------------- */

START_TEST(file_beneath_root_should_open)
{
	struct tree tr;

	make_tree(&tr);
	set_walk(_i);
	assert_reads(tr.root, tr.root, "a/f", 0, "inside");
	assert_reads(tr.root, tr.root, "a/../a/f", 0, "inside");
	assert_reads(tr.root, tr.root, "a//./f", 0, "inside");
	/* The root reached through a symlink in the part the user gave. */
	assert_reads(tr.root, tr.t, "alias/a/f", 0, "inside");
	/* A relative path against the working directory. */
	ck_assert_int_eq(chdir(tr.t), 0);
	assert_reads("root", NULL, "root/a/f", 0, "inside");
	assert_reads(tr.root, NULL, "root/a/f", 0, "inside");
	free_tree(&tr);
}
END_TEST

START_TEST(openat2_should_follow_a_symlink_that_stays_inside)
{
	struct tree tr;

	if (!have_openat2())
		return; /* this kernel takes the walk, tested below */
	make_tree(&tr);
	assert_reads(tr.root, tr.root, "in_link", 0, "inside");
	/* An absolute symlink is refused even when it names a file inside. */
	assert_refused(tr.root, tr.root, "abs_in");
	free_tree(&tr);
}
END_TEST

START_TEST(paths_leading_out_should_be_refused)
{
	struct tree tr;
	char *p;

	make_tree(&tr);
	set_walk(_i);
	assert_refused(tr.root, tr.root, "out_link");
	assert_refused(tr.root, tr.root, "abs_out");
	assert_refused(tr.root, tr.root, "dir_link/f");
	assert_refused(tr.root, tr.root, "../outside");
	assert_refused(tr.root, tr.root, "a/../../outside");
	assert_refused(tr.root, tr.t, "alias/../outside");
	p = join(tr.t, "outside");
	assert_refused(tr.root, NULL, p);
	free(p);
	assert_refused(tr.root, NULL, "/etc/passwd");
	/* A sibling whose name starts with the root's is not below it. */
	put(tr.t, "rootx", "sibling");
	assert_refused(tr.root, tr.t, "rootx");
	free_tree(&tr);
}
END_TEST

START_TEST(walk_should_refuse_every_symlink)
{
	struct tree tr;
	char buf[64];

	make_tree(&tr);
	set_walk(1);
	assert_refused(tr.root, tr.root, "in_link");
	ck_assert_int_eq(
		read_at(tr.root, tr.root, "in_link", 0, buf, sizeof(buf)),
		-ELOOP);
	assert_refused(tr.root, tr.root, "abs_in");
	link_at(tr.root, "a_link", "a");
	assert_refused(tr.root, tr.root, "a_link/f");
	free_tree(&tr);
}
END_TEST

START_TEST(follow_should_open_files_outside)
{
	struct tree tr;
	char *p;

	make_tree(&tr);
	set_walk(_i);
	assert_reads(tr.root, tr.root, "out_link", 1, "outside");
	assert_reads(tr.root, tr.root, "dir_link/f", 1, "outdir");
	p = join(tr.t, "outside");
	assert_reads(tr.root, NULL, p, 1, "outside");
	assert_reads(NULL, NULL, p, 0, "outside");
	free(p);
	free_tree(&tr);
}
END_TEST

START_TEST(missing_files_and_dirs_should_keep_their_errors)
{
	struct tree tr;
	uint8_t *data = NULL;
	size_t len = 0;
	char *p;
	DIR *d = NULL;

	make_tree(&tr);
	set_walk(_i);
	p = join(tr.root, "a/none");
	ck_assert_int_eq(ck_read_file_beneath(tr.root, p, 0, 100, &data, &len),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), p));
	ck_assert_ptr_null(strstr(ck_err_msg(), "leads out"));
	free(p);
	p = join(tr.root, "a/f");
	ck_assert_int_eq(ck_read_file_beneath(tr.root, p, 0, 100, &data, &len),
			 0);
	ck_assert_uint_eq(len, 6);
	ck_assert_mem_eq(data, "inside", 6);
	free(data);
	ck_assert_int_eq(ck_read_file_beneath(tr.root, p, 0, 3, &data, &len),
			 -EOVERFLOW);
	free(p);
	/* Directories. */
	p = join(tr.root, "a");
	ck_assert_int_eq(ck_opendir_beneath(tr.root, p, 0, &d), 0);
	closedir(d);
	free(p);
	p = join(tr.root, "dir_link");
	ck_assert_int_lt(ck_opendir_beneath(tr.root, p, 0, &d), 0);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "leads out"));
	ck_assert_int_eq(ck_opendir_beneath(tr.root, p, 1, &d), 0);
	closedir(d);
	free(p);
	ck_assert_int_eq(ck_opendir_beneath(tr.root, tr.root, 0, &d), 0);
	closedir(d);
	free_tree(&tr);
}
END_TEST

/* ---- at the checkpoint level ----------------------------------------- */

#define NBIG 2048
#define NSMALL 16

static float big_value(unsigned i)
{
	uint32_t x = i * 2654435761u + 12345u;
	float f;

	x ^= x >> 13;
	x = (x & 0x007fffffu) | 0x3f800000u; /* in [1, 2): no NaN */
	memcpy(&f, &x, sizeof(f));
	return f;
}

/* Write step 1 under <t>/ck/checkpoints with arrays params.big (NBIG
 * pseudo-random floats, stored out of line) and params.small; the item
 * directory is returned (caller frees). */
static char *write_ckpt(const char *t, int layout)
{
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	struct orbax_writer *w = NULL;
	struct zarr_write_spec s = {0};
	float big[NBIG], small[NSMALL];
	char *ck = join(t, "ck/checkpoints"), *item;

	for (unsigned i = 0; i < NBIG; i++)
		big[i] = big_value(i);
	for (unsigned i = 0; i < NSMALL; i++)
		small[i] = (float)i - 3.5f;
	wo.layout = layout;
	s.zarr_format = layout == ORBAX_LAYOUT_DIR ? 2 : 3;
	s.dtype = CK_DT_F32;
	s.rank = 1;
	s.shape[0] = s.chunk[0] = NBIG;
	ck_assert_msg(orbax_writer_open(ck, 1, &wo, &w) == 0, "%s",
		      ck_err_msg());
	ck_assert_msg(orbax_writer_add(w, "params.big", &s, big) == 0, "%s",
		      ck_err_msg());
	s.shape[0] = s.chunk[0] = NSMALL;
	ck_assert_msg(orbax_writer_add(w, "params.small", &s, small) == 0, "%s",
		      ck_err_msg());
	ck_assert_msg(orbax_writer_commit(w) == 0, "%s", ck_err_msg());
	orbax_writer_free(w);
	item = join(ck, "1/items");
	free(ck);
	return item;
}

/* Read both arrays: 0 or the first error. */
static int read_arrays(const struct orbax_ckpt *c)
{
	const struct orbax_array *big = orbax_find(c, "params.big"),
				 *small = orbax_find(c, "params.small");
	float b[NBIG], s[NSMALL];
	uint64_t start = 0, count = NBIG;
	int err;

	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(small);
	err = orbax_array_read(big, &start, &count, b);
	if (err)
		return err;
	for (unsigned i = 0; i < NBIG; i++) {
		float want = big_value(i);

		ck_assert_msg(!memcmp(&b[i], &want, sizeof(want)), "big[%u]",
			      i);
	}
	count = NSMALL;
	err = orbax_array_read(small, &start, &count, s);
	if (err)
		return err;
	for (unsigned i = 0; i < NSMALL; i++)
		ck_assert_msg(s[i] == (float)i - 3.5f, "small[%u]", i);
	return 0;
}

/* The first regular file of dir (caller frees the path). */
static char *first_file(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *p = NULL;

	ck_assert_ptr_nonnull(d);
	while (!p && (e = readdir(d))) {
		char *q;

		if (e->d_name[0] == '.')
			continue;
		q = join(dir, e->d_name);
		if (ck_is_file(q))
			p = q;
		else
			free(q);
	}
	closedir(d);
	ck_assert_msg(p != NULL, "%s: no file", dir);
	return p;
}

/* Move file to a copy at <t>/<name> and leave a symlink to it in its
 * place. */
static void replace_by_outside_link(const char *t, const char *file,
				    const char *name)
{
	char *copy = join(t, name);
	size_t n;
	uint8_t *data = ck_test_read_file(file, &n);

	ck_test_write_file(copy, data, n);
	free(data);
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(symlink(copy, file), 0);
	free(copy);
}

/* Replace every file of dir by a symlink to a copy outside (<t>/<n>_<i>);
 * the number replaced. */
static unsigned replace_all_by_outside_links(const char *t, const char *dir)
{
	unsigned n = 0;
	char *file, name[32];
	struct stat st;

	for (;;) {
		DIR *d = opendir(dir);
		struct dirent *e;

		ck_assert_ptr_nonnull(d);
		file = NULL;
		while (!file && (e = readdir(d))) {
			char *q = join(dir, e->d_name);

			if (e->d_name[0] != '.' && !lstat(q, &st) &&
			    S_ISREG(st.st_mode))
				file = q;
			else
				free(q);
		}
		closedir(d);
		if (!file)
			return n;
		snprintf(name, sizeof(name), "copy_%u", n++);
		replace_by_outside_link(t, file, name);
		free(file);
	}
}

static int open_ckpt(const char *path, int follow, struct orbax_ckpt **c)
{
	struct orbax_opts o = ORBAX_OPTS_INIT;

	o.follow_symlinks = follow;
	*c = NULL;
	return orbax_open(path, &o, c);
}

/* orbax_open() of <t>/ck fails naming file; with follow_symlinks it opens
 * and the arrays read right. */
static void assert_open_refused_unless_follow(const char *t, const char *file)
{
	struct orbax_ckpt *c = NULL;
	char *ck = join(t, "ck");
	int err = open_ckpt(ck, 0, &c);

	ck_assert_msg(err == -EXDEV || err == -ELOOP, "opened (%d)", err);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(ck_err_msg(), file) &&
			      strstr(ck_err_msg(), "out of the checkpoint") &&
			      strstr(ck_err_msg(), "follow_symlinks"),
		      "message '%s'", ck_err_msg());
	ck_assert_ptr_null(strchr(ck_err_msg(), '\n'));
	ck_assert_msg(open_ckpt(ck, 1, &c) == 0, "%s", ck_err_msg());
	ck_assert_msg(read_arrays(c) == 0, "%s", ck_err_msg());
	orbax_close(c);
	free(ck);
}

START_TEST(ckpt_should_open_and_read_without_symlinks)
{
	char *t = ck_test_tmpdir(), *item, *ck, *alias;
	struct orbax_ckpt *c = NULL;

	set_walk(_i);
	item = write_ckpt(t, ORBAX_LAYOUT_OCDBT);
	ck = join(t, "ck");
	ck_assert_msg(open_ckpt(ck, 0, &c) == 0, "%s", ck_err_msg());
	ck_assert_msg(read_arrays(c) == 0, "%s", ck_err_msg());
	orbax_close(c);
	/* The checkpoint named through a symlink of the user's. */
	alias = join(t, "alias");
	ck_assert_int_eq(symlink(ck, alias), 0);
	ck_assert_msg(open_ckpt(alias, 0, &c) == 0, "%s", ck_err_msg());
	ck_assert_msg(read_arrays(c) == 0, "%s", ck_err_msg());
	orbax_close(c);
	ck_test_rmtree(t);
	free(alias);
	free(ck);
	free(item);
	free(t);
}
END_TEST

START_TEST(ckpt_data_file_leading_out_should_fail_the_open)
{
	char *t = ck_test_tmpdir(), *item, *d, *file;

	set_walk(_i);
	item = write_ckpt(t, ORBAX_LAYOUT_OCDBT);
	d = join(item, "d");
	file = first_file(d);
	replace_by_outside_link(t, file, "data_copy");
	assert_open_refused_unless_follow(t, file);
	ck_test_rmtree(t);
	free(file);
	free(d);
	free(item);
	free(t);
}
END_TEST

START_TEST(ckpt_metadata_leading_out_should_fail_the_open)
{
	char *t = ck_test_tmpdir(), *item, *file;

	set_walk(_i);
	item = write_ckpt(t, ORBAX_LAYOUT_OCDBT);
	file = join(item, "_METADATA");
	replace_by_outside_link(t, file, "metadata_copy");
	assert_open_refused_unless_follow(t, file);
	ck_test_rmtree(t);
	free(file);
	free(item);
	free(t);
}
END_TEST

START_TEST(ckpt_manifest_and_step_metadata_leading_out_should_fail_the_open)
{
	char *t = ck_test_tmpdir(), *item, *file, *copy;

	set_walk(_i);
	item = write_ckpt(t, ORBAX_LAYOUT_OCDBT);
	file = join(item, "manifest.ocdbt");
	copy = join(t, "manifest_copy");
	replace_by_outside_link(t, file, "manifest_copy");
	assert_open_refused_unless_follow(t, file);
	ck_assert_int_eq(rename(copy, file), 0);
	free(copy);
	free(file);
	file = join(t, "ck/checkpoints/1/_CHECKPOINT_METADATA");
	replace_by_outside_link(t, file, "step_metadata_copy");
	assert_open_refused_unless_follow(t, "_CHECKPOINT_METADATA");
	ck_test_rmtree(t);
	free(file);
	free(item);
	free(t);
}
END_TEST

/* A data file replaced by a symlink after the open: the reopen fails the
 * read with -EIO and the message; with follow_symlinks the identity check
 * still refuses another file. */
START_TEST(ckpt_data_file_reopened_out_should_fail_the_read)
{
	char *t = ck_test_tmpdir(), *item, *d, *ck;
	struct orbax_ckpt *c = NULL, *cf = NULL;

	set_walk(_i);
	item = write_ckpt(t, ORBAX_LAYOUT_OCDBT);
	ck = join(t, "ck");
	ck_assert_msg(open_ckpt(ck, 0, &c) == 0, "%s", ck_err_msg());
	ck_assert_msg(open_ckpt(ck, 1, &cf) == 0, "%s", ck_err_msg());
	kvstore_set_max_open(c->kv, 0);
	kvstore_set_max_open(cf->kv, 0);
	d = join(item, "d");
	ck_assert_uint_gt(replace_all_by_outside_links(t, d), 0);
	ck_assert_int_eq(read_arrays(c), -EIO);
	ck_assert_msg(strstr(ck_err_msg(), "leads out of the checkpoint"),
		      "message '%s'", ck_err_msg());
	ck_assert_int_eq(read_arrays(cf), -EIO);
	ck_assert_msg(strstr(ck_err_msg(), "changed since"), "message '%s'",
		      ck_err_msg());
	orbax_close(c);
	orbax_close(cf);
	ck_test_rmtree(t);
	free(ck);
	free(d);
	free(item);
	free(t);
}
END_TEST

/* The legacy directory store opens each chunk file per read: one replaced
 * by a symlink leading out fails the read. */
START_TEST(ckpt_dir_chunk_leading_out_should_fail_the_read)
{
	char *t = ck_test_tmpdir(), *item, *ck, *file;
	struct orbax_ckpt *c = NULL;

	set_walk(_i);
	item = write_ckpt(t, ORBAX_LAYOUT_DIR);
	ck = join(t, "ck");
	ck_assert_msg(open_ckpt(ck, 0, &c) == 0, "%s", ck_err_msg());
	ck_assert_msg(read_arrays(c) == 0, "%s", ck_err_msg());
	file = join(item, "params.big/0");
	ck_assert_msg(ck_is_file(file), "%s: no chunk file", file);
	replace_by_outside_link(t, file, "chunk_copy");
	ck_assert_int_eq(read_arrays(c), -EIO);
	ck_assert_msg(strstr(ck_err_msg(), "leads out of the checkpoint") &&
			      strstr(ck_err_msg(), file),
		      "message '%s'", ck_err_msg());
	orbax_close(c);
	ck_test_rmtree(t);
	free(file);
	free(ck);
	free(item);
	free(t);
}
END_TEST

/* The stores themselves, opened with a root: a data file or the manifest
 * leading out fails the open with the message, unless follow_symlinks. */
START_TEST(kvstore_with_root_should_refuse_files_leading_out)
{
	char *t = ck_test_tmpdir(), *item, *d, *file, *root, *step;
	struct kvstore_opts ko = KVSTORE_OPTS_INIT;
	struct kvstore *kv = NULL;
	const char *dir;
	int err;

	set_walk(_i);
	item = write_ckpt(t, ORBAX_LAYOUT_OCDBT);
	dir = item;
	step = join(t, "ck/checkpoints/1");
	root = realpath(step, NULL);
	ck_assert_ptr_nonnull(root);
	ko.root = root;
	ck_assert_msg(kvstore_open_ocdbt_opts(&dir, 1, 0, &ko, &kv) == 0, "%s",
		      ck_err_msg());
	kvstore_free(kv);
	kv = NULL;
	d = join(item, "d");
	file = first_file(d);
	replace_by_outside_link(t, file, "data_copy");
	err = kvstore_open_ocdbt_opts(&dir, 1, 0, &ko, &kv);
	ck_assert_msg(err == -EXDEV || err == -ELOOP, "opened (%d)", err);
	ck_assert_msg(
		strstr(ck_err_msg(), file) &&
			strstr(ck_err_msg(), "leads out of the checkpoint"),
		"message '%s'", ck_err_msg());
	/* Without a root, or with follow_symlinks, as before. */
	ck_assert_msg(kvstore_open_ocdbt(&dir, 1, 0, &kv) == 0, "%s",
		      ck_err_msg());
	kvstore_free(kv);
	ko.follow_symlinks = 1;
	ck_assert_msg(kvstore_open_ocdbt_opts(&dir, 1, 0, &ko, &kv) == 0, "%s",
		      ck_err_msg());
	kvstore_free(kv);
	ko.follow_symlinks = 0;
	free(file);
	file = join(item, "manifest.ocdbt");
	replace_by_outside_link(t, file, "manifest_copy");
	err = kvstore_open_ocdbt_opts(&dir, 1, 0, &ko, &kv);
	ck_assert_msg(err == -EXDEV || err == -ELOOP, "opened (%d)", err);
	ck_assert_msg(
		strstr(ck_err_msg(), file) &&
			strstr(ck_err_msg(), "leads out of the checkpoint"),
		"message '%s'", ck_err_msg());
	/* A directory store whose item is reached through a symlink leading
	 * out of the root. */
	free(file);
	file = join(t, "elsewhere");
	ck_assert_int_eq(mkdir(file, 0755), 0);
	put(file, "k", "v");
	free(d);
	d = join(step, "linked");
	ck_assert_int_eq(symlink(file, d), 0);
	err = kvstore_open_dir_opts(d, &ko, &kv);
	ck_assert_msg(err == -EXDEV || err == -ELOOP, "opened (%d)", err);
	ck_assert_msg(strstr(ck_err_msg(), "leads out of the checkpoint"),
		      "message '%s'", ck_err_msg());
	ko.follow_symlinks = 1;
	ck_assert_msg(kvstore_open_dir_opts(d, &ko, &kv) == 0, "%s",
		      ck_err_msg());
	ck_assert_uint_eq(kvstore_count(kv), 1);
	kvstore_free(kv);
	ck_test_rmtree(t);
	free(file);
	free(d);
	free(root);
	free(step);
	free(item);
	free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("beneath");
	TCase *tc = tcase_create("beneath");

	/* Loop 0: openat2 (where the kernel has it); 1: the walk. */
	tcase_add_loop_test(tc, file_beneath_root_should_open, 0, 2);
	tcase_add_test(tc, openat2_should_follow_a_symlink_that_stays_inside);
	tcase_add_loop_test(tc, paths_leading_out_should_be_refused, 0, 2);
	tcase_add_test(tc, walk_should_refuse_every_symlink);
	tcase_add_loop_test(tc, follow_should_open_files_outside, 0, 2);
	tcase_add_loop_test(tc, missing_files_and_dirs_should_keep_their_errors,
			    0, 2);
	tcase_add_loop_test(
		tc, kvstore_with_root_should_refuse_files_leading_out, 0, 2);
	tcase_add_loop_test(tc, ckpt_should_open_and_read_without_symlinks, 0,
			    2);
	tcase_add_loop_test(tc, ckpt_data_file_leading_out_should_fail_the_open,
			    0, 2);
	tcase_add_loop_test(tc, ckpt_metadata_leading_out_should_fail_the_open,
			    0, 2);
	tcase_add_loop_test(
		tc,
		ckpt_manifest_and_step_metadata_leading_out_should_fail_the_open,
		0, 2);
	tcase_add_loop_test(
		tc, ckpt_data_file_reopened_out_should_fail_the_read, 0, 2);
	tcase_add_loop_test(tc, ckpt_dir_chunk_leading_out_should_fail_the_read,
			    0, 2);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
