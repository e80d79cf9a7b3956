/* SPDX-License-Identifier: MIT */
/* Unit tests for the Orbax layer: path resolution, _METADATA, orbax_open. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck_test.h"
#include "kvstore/kv_sink.h"
#include "orbax/orbax.h"
#include "orbax/orbax_aggregate.h"
#include "orbax/orbax_meta.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "zarr/zarr_array.h"
#include "zarr/zarr_writer.h"

#define V1_STEP "orbax-compat/v1_checkpoints/composite_checkpoint/" \
		"checkpoint_metadata_present/pytree_checkpointable_has_metadata"
#define V0_ITEM "orbax-compat/v0_checkpoints/direct_checkpoint/" \
		"checkpoint_metadata_present/pytree_checkpointable_has_metadata"

static void mkdirs(const char *base, const char *rel)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", base, rel);
	ck_assert_int_eq(system(cmd), 0);
}

static void touch(const char *base, const char *rel)
{
	char *p = ck_path_join(base, rel);

	ck_test_write_file(p, "{}", 2);
	free(p);
}

static char *join(const char *a, const char *b)
{
	char *p = ck_path_join(a, b);

	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(resolve_should_pick_the_latest_committed_step_of_a_run)
{
	char *t = ck_test_tmpdir(), *item = NULL, *want;
	int64_t step = -2;

	mkdirs(t, "checkpoints/100/items");
	touch(t, "checkpoints/100/items/_METADATA");
	mkdirs(t, "checkpoints/2000/items");
	touch(t, "checkpoints/2000/items/_METADATA");
	/* An in-flight save with a higher number, and a step with no item. */
	mkdirs(t, "checkpoints/3000.orbax-checkpoint-tmp-17/items");
	touch(t, "checkpoints/3000.orbax-checkpoint-tmp-17/items/_METADATA");
	mkdirs(t, "checkpoints/4000");
	ck_assert_int_eq(orbax_resolve(t, -1, &item, &step), 0);
	want = join(t, "checkpoints/2000/items");
	ck_assert_str_eq(item, want);
	ck_assert_int_eq(step, 2000);
	free(item);
	free(want);

	ck_assert_int_eq(orbax_resolve(t, 100, &item, &step), 0);
	ck_assert_int_eq(step, 100);
	free(item);
	ck_assert_int_eq(orbax_resolve(t, 3000, &item, &step), -ENOENT);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "no committed step 3000"));
	ck_test_rmtree(t);
	free(t);
}
END_TEST

START_TEST(resolve_should_accept_checkpoints_step_and_item_directories)
{
	char *t = ck_test_tmpdir(), *item = NULL, *p, *want;
	int64_t step;

	mkdirs(t, "checkpoints/7/default");
	touch(t, "checkpoints/7/default/manifest.ocdbt");
	want = join(t, "checkpoints/7/default");

	p = join(t, "checkpoints");
	ck_assert_int_eq(orbax_resolve(p, -1, &item, &step), 0);
	ck_assert_str_eq(item, want);
	free(item);
	free(p);

	p = join(t, "checkpoints/7");
	ck_assert_int_eq(orbax_resolve(p, -1, &item, &step), 0);
	ck_assert_str_eq(item, want);
	ck_assert_int_eq(step, 7);
	free(item);
	ck_assert_int_eq(orbax_resolve(p, 8, &item, &step), -EINVAL);
	free(p);

	ck_assert_int_eq(orbax_resolve(want, -1, &item, &step), 0);
	ck_assert_str_eq(item, want);
	ck_assert_int_eq(step, -1);
	free(item);
	free(want);

	/* A step named with a prefix, holding per-process databases only. */
	mkdirs(t, "other/ckpt_42/state/ocdbt.process_0");
	p = join(t, "other");
	ck_assert_int_eq(orbax_resolve(p, -1, &item, &step), 0);
	ck_assert_int_eq(step, 42);
	ck_assert_ptr_nonnull(strstr(item, "other/ckpt_42/state"));
	free(item);
	free(p);
	ck_test_rmtree(t);
	free(t);
}
END_TEST

START_TEST(meta_parse_should_name_leaves_and_flag_skipped_ones)
{
	static const char text[] =
		"{\"tree_metadata\": {"
		"\"('params', 'params', 'decoder', 'layers', 'mlp', 'wi_0', 'kernel')\":"
		" {\"key_metadata\": [{\"key\": \"params\", \"key_type\": 2},"
		" {\"key\": \"params\", \"key_type\": 2}, {\"key\": \"decoder\", \"key_type\": 2},"
		" {\"key\": \"layers\", \"key_type\": 2}, {\"key\": \"mlp\", \"key_type\": 2},"
		" {\"key\": \"wi_0\", \"key_type\": 2}, {\"key\": \"kernel\", \"key_type\": 2}],"
		" \"value_metadata\": {\"value_type\": \"jax.Array\", \"skip_deserialize\": false}},"
		"\"('opt_state',)\": {\"key_metadata\": [{\"key\": \"opt_state\", \"key_type\": 2}],"
		" \"value_metadata\": {\"value_type\": \"Dict\", \"skip_deserialize\": true}},"
		"\"('name',)\": {\"value_metadata\": {\"value_type\": \"string\"}},"
		"\"('step',)\": {\"value_metadata\": {\"value_type\": \"scalar\"}},"
		"\"('x', '0')\": {}"
		"}, \"use_zarr3\": true}";
	struct orbax_meta m;

	ck_assert_int_eq(orbax_meta_parse(text, strlen(text), &m), 0);
	ck_assert_uint_eq(m.nleaves, 5);
	ck_assert_int_eq(m.use_zarr3, 1);
	ck_assert_str_eq(m.leaves[0].name, "params.params.decoder.layers.mlp.wi_0.kernel");
	ck_assert_int_eq(m.leaves[0].skip, 0);
	ck_assert_int_eq(m.leaves[0].is_array, 1);
	ck_assert_str_eq(m.leaves[1].name, "opt_state");
	ck_assert_int_eq(m.leaves[1].skip, 1);
	ck_assert_int_eq(m.leaves[1].is_array, 0);
	ck_assert_str_eq(m.leaves[2].name, "name");
	ck_assert_int_eq(m.leaves[2].skip, 0);
	ck_assert_int_eq(m.leaves[2].is_array, 0);
	ck_assert_str_eq(m.leaves[3].name, "step");
	ck_assert_int_eq(m.leaves[3].skip, 0);
	ck_assert_int_eq(m.leaves[3].is_array, 1);
	ck_assert_str_eq(m.leaves[4].name, "x.0");
	orbax_meta_release(&m);
}
END_TEST

START_TEST(meta_parse_should_reject_malformed_documents)
{
	struct orbax_meta m;
	static const char *const bad[] = {
		"dummy", "{}", "{\"tree_metadata\": 3}",
		"{\"tree_metadata\": {\"a\": {}}}",
		"{\"tree_metadata\": {\"('a',)\": {\"key_metadata\": [{\"key\": 1}]}}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(orbax_meta_parse(bad[i], strlen(bad[i]), &m), -EINVAL);
}
END_TEST

START_TEST(step_meta_should_read_maxtext_scan_layers)
{
	static const char t[] = "{\"custom_metadata\": {\"scan_layers\": true}}";
	static const char f[] = "{\"custom_metadata\": {\"scan_layers\": false}}";
	static const char n[] = "{\"custom_metadata\": {}}";

	ck_assert_int_eq(orbax_step_meta_scan_layers(t, strlen(t)), 1);
	ck_assert_int_eq(orbax_step_meta_scan_layers(f, strlen(f)), 0);
	ck_assert_int_eq(orbax_step_meta_scan_layers(n, strlen(n)), -1);
}
END_TEST

static void check_ab(const struct orbax_ckpt *c, int zarr_format)
{
	const struct orbax_array *a = orbax_find(c, "a"), *bc = orbax_find(c, "b.c");
	uint64_t start = 0, count = 8;
	int32_t v[8];
	struct zarr_info info;

	ck_assert_uint_eq(c->narrays, 2);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(bc);
	ck_assert_ptr_null(orbax_find(c, "b"));
	ck_assert_int_eq(zarr_array_info(a->za, &info), 0);
	ck_assert_int_eq(info.zarr_format, zarr_format);
	ck_assert_int_eq(info.dtype, CK_DT_I32);
	ck_assert_int_eq(zarr_array_read(a->za, &start, &count, v), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(v[i], i);
	count = 3;
	ck_assert_int_eq(zarr_array_read(bc->za, &start, &count, v), 0);
	ck_assert_int_eq(v[0], 1);
	ck_assert_int_eq(v[1], 2);
	ck_assert_int_eq(v[2], 3);
	ck_assert_uint_eq(orbax_total_bytes(c), 44);
}

START_TEST(open_should_read_a_v1_composite_step_and_a_v0_item)
{
	char *p = ck_test_fixture(V1_STEP);
	struct orbax_ckpt *c = NULL;

	ck_assert_int_eq(orbax_open(p, NULL, &c), 0);
	ck_assert_str_eq(c->format, "OCDBT/zarr3");
	ck_assert_ptr_nonnull(strstr(c->item_dir, "/state"));
	ck_assert_ptr_null(c->note);
	check_ab(c, 3);
	orbax_close(c);
	free(p);

	p = ck_test_fixture(V0_ITEM);
	ck_assert_int_eq(orbax_open(p, NULL, &c), 0);
	ck_assert_str_eq(c->format, "OCDBT/zarr2");
	check_ab(c, 2);
	orbax_close(c);
	free(p);
}
END_TEST

START_TEST(open_should_fall_back_to_the_per_process_database_and_say_so)
{
	char *p = ck_test_fixture("orbax-compat/v1_checkpoints/composite_checkpoint/"
				  "critical_metadata_alterations/"
				  "missing_pytree_data_file_manifest.ocdbt");
	struct orbax_ckpt *c = NULL;

	ck_assert_int_eq(orbax_open(p, NULL, &c), 0);
	ck_assert_ptr_nonnull(c->note);
	ck_assert_ptr_nonnull(strstr(c->note, "ocdbt.process_"));
	check_ab(c, 3);
	orbax_close(c);
	free(p);
}
END_TEST

START_TEST(open_should_discover_arrays_without_metadata)
{
	char *p = ck_test_fixture("orbax-compat/v1_checkpoints/composite_checkpoint/"
				  "checkpoint_metadata_missing/"
				  "pytree_checkpointable_missing_metadata");
	struct orbax_ckpt *c = NULL;

	ck_assert_int_eq(orbax_open(p, NULL, &c), 0);
	check_ab(c, 3);
	orbax_close(c);
	free(p);

	/* A plain TensorStore OCDBT dataset: groups are skipped. */
	p = ck_test_fixture("neuroglancer-ocdbt/ome_zarr/simple_0.5.ocdbt");
	ck_assert_int_eq(orbax_open(p, NULL, &c), 0);
	ck_assert_ptr_nonnull(orbax_find(c, "scale0/image"));
	for (size_t i = 0; i < c->narrays; i++)
		ck_assert_str_ne(c->arrays[i].name, "");
	orbax_close(c);
	free(p);
}
END_TEST

START_TEST(open_should_fail_cleanly_on_a_missing_node_file)
{
	char *p = ck_test_fixture("orbax-compat/v0_checkpoints/direct_checkpoint/"
				  "critical_metadata_alterations/"
				  "missing_pytree_data_dir_d");
	struct orbax_ckpt *c = NULL;
	int err = orbax_open(p, NULL, &c);

	ck_assert_int_lt(err, 0);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "/d/"));
	free(p);
}
END_TEST

static void check_i64(const struct orbax_ckpt *c, const char *name, unsigned rank,
		      const uint64_t *shape, int64_t step)
{
	const struct orbax_array *a = orbax_find(c, name);
	uint64_t start[2] = { 0, 0 }, n = 1;
	struct zarr_info info;
	int64_t *v;

	ck_assert_msg(a != NULL, "array %s", name);
	ck_assert_int_eq(orbax_array_info(a, &info), 0);
	ck_assert_int_eq(info.dtype, CK_DT_I64);
	ck_assert_uint_eq(info.rank, rank);
	for (unsigned i = 0; i < rank; i++) {
		ck_assert_uint_eq(info.shape[i], shape[i]);
		n *= shape[i];
	}
	v = malloc(n * sizeof(*v));
	ck_assert_int_eq(orbax_array_read(a, start, shape, v), 0);
	for (uint64_t i = 0; i < n; i++)
		ck_assert_int_eq(v[i], (int64_t)i * step);
	if (rank == 2) {
		/* A box: rows 1.., columns 1..2 of the row-major i*step. */
		uint64_t s2[2] = { 1, 1 }, c2[2] = { shape[0] - 1, 2 };

		ck_assert_int_eq(orbax_array_read(a, s2, c2, v), 0);
		for (uint64_t r = 0; r < c2[0]; r++)
			for (uint64_t k = 0; k < 2; k++)
				ck_assert_int_eq(v[r * 2 + k],
						 (int64_t)((r + 1) * shape[1] + k + 1) * step);
		c2[1] = shape[1];
		ck_assert_int_eq(orbax_array_read(a, s2, c2, v), -EINVAL);
	}
	free(v);
}

START_TEST(open_should_read_the_legacy_msgpack_aggregate)
{
	static const uint64_t s8[] = { 8 }, s16[] = { 16 }, s24[] = { 2, 4 },
			      s44[] = { 4, 4 };
	char *p = ck_test_fixture("orbax-legacy-aggregate/aggregate_all.checkpoint");
	struct orbax_ckpt *c = NULL;

	ck_assert_int_eq(orbax_open(p, NULL, &c), 0);
	ck_assert_uint_eq(c->narrays, 4);
	check_i64(c, "a", 1, s8, 1);
	check_i64(c, "b", 1, s16, 2);
	check_i64(c, "c.a", 2, s24, 3);
	check_i64(c, "c.e", 2, s44, 4);
	orbax_close(c);
	free(p);

	/* a and b are zarr directories there, c.* stay in the aggregate. */
	p = ck_test_fixture("orbax-legacy-aggregate/aggregate_some.checkpoint");
	ck_assert_int_eq(orbax_open(p, NULL, &c), 0);
	ck_assert_uint_eq(c->narrays, 4);
	ck_assert_ptr_nonnull(orbax_find(c, "a")->za);
	ck_assert_ptr_null(orbax_find(c, "c.a")->za);
	check_i64(c, "c.a", 2, s24, 3);
	check_i64(c, "c.e", 2, s44, 4);
	orbax_close(c);
	free(p);
}
END_TEST

/*
 * Without _METADATA, zarr arrays shadow the aggregate's leaves of the same
 * name.  Zarr arrays c.a and c.e beside the aggregate of a, b, c.a, c.e: the
 * leaves a and b come after them in the table before it is sorted again, and
 * the shadowing check must not search past the sorted zarr arrays (it used
 * to miss c.a there and list it twice).
 */
START_TEST(zarr_arrays_should_shadow_aggregate_leaves_whatever_their_order)
{
	static const uint64_t s24[] = { 2, 4 }, s44[] = { 4, 4 }, s8[] = { 8 };
	char *src = ck_test_fixture("orbax-legacy-aggregate/aggregate_all.checkpoint");
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "agg"), *meta;
	struct zarr_write_spec z = { 0 };
	struct orbax_ckpt *c = NULL;
	struct kv_sink sink;
	int64_t v[16];

	ck_test_copy_tree(src, dir);
	meta = ck_path_join(dir, "_METADATA");
	ck_assert_int_eq(unlink(meta), 0);
	free(meta);
	ck_assert_int_eq(kv_sink_dir(dir, &sink), 0);
	z.zarr_format = 2;
	z.dtype = CK_DT_I64;
	z.rank = 2;
	z.zstd_level = 1;
	for (int64_t i = 0; i < 16; i++)
		v[i] = i * 10;
	memcpy(z.shape, s24, sizeof(s24));
	memcpy(z.chunk, s24, sizeof(s24));
	ck_assert_msg(zarr_write_array(&sink, "c.a", &z, v) == 0, "%s", ck_err_msg());
	memcpy(z.shape, s44, sizeof(s44));
	memcpy(z.chunk, s44, sizeof(s44));
	ck_assert_msg(zarr_write_array(&sink, "c.e", &z, v) == 0, "%s", ck_err_msg());

	ck_assert_msg(orbax_open(dir, NULL, &c) == 0, "%s", ck_err_msg());
	ck_assert_uint_eq(c->narrays, 4);
	ck_assert_ptr_nonnull(orbax_find(c, "c.a")->za);
	ck_assert_ptr_nonnull(orbax_find(c, "c.e")->za);
	ck_assert_ptr_null(orbax_find(c, "a")->za);
	check_i64(c, "c.a", 2, s24, 10);
	check_i64(c, "c.e", 2, s44, 10);
	check_i64(c, "a", 1, s8, 1);
	orbax_close(c);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
	free(src);
}
END_TEST

START_TEST(aggregate_parse_should_reject_bad_msgpack)
{
	/* {"a": ext1 [[2], "int64", bin(8)]}: data too short for the shape. */
	static const uint8_t short_data[] = {
		0x81, 0xa1, 'a', 0xc7, 0x13, 0x01, 0x93, 0x91, 0x02, 0xa5,
		'i', 'n', 't', '6', '4', 0xc4, 0x08, 0, 0, 0, 0, 0, 0, 0, 0 };
	/* A map claiming 2^32-1 entries in five bytes. */
	static const uint8_t huge[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t bad_type[] = { 0x81, 0xa1, 'a', 0xc1 };
	struct orbax_aggregate agg;

	ck_assert_int_eq(orbax_aggregate_parse(short_data, sizeof(short_data), &agg),
			 -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "needs 16"));
	ck_assert_int_eq(orbax_aggregate_parse(huge, sizeof(huge), &agg), -EIO);
	ck_assert_int_eq(orbax_aggregate_parse(bad_type, sizeof(bad_type), &agg), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "0xc1"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("orbax");
	TCase *tc = tcase_create("orbax");

	ck_test_require_fixtures();
	tcase_add_test(tc, resolve_should_pick_the_latest_committed_step_of_a_run);
	tcase_add_test(tc, resolve_should_accept_checkpoints_step_and_item_directories);
	tcase_add_test(tc, meta_parse_should_name_leaves_and_flag_skipped_ones);
	tcase_add_test(tc, meta_parse_should_reject_malformed_documents);
	tcase_add_test(tc, step_meta_should_read_maxtext_scan_layers);
	tcase_add_test(tc, open_should_read_a_v1_composite_step_and_a_v0_item);
	tcase_add_test(tc, open_should_fall_back_to_the_per_process_database_and_say_so);
	tcase_add_test(tc, open_should_discover_arrays_without_metadata);
	tcase_add_test(tc, open_should_fail_cleanly_on_a_missing_node_file);
	tcase_add_test(tc, open_should_read_the_legacy_msgpack_aggregate);
	tcase_add_test(tc, aggregate_parse_should_reject_bad_msgpack);
	tcase_add_test(tc, zarr_arrays_should_shadow_aggregate_leaves_whatever_their_order);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
