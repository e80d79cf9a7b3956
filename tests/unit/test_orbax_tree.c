/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the parameter trees (orbax_tree.h) and for telling a step's
 * items apart: checkpoints written with the project's Orbax writer under the
 * PyTree paths each tree uses, opened with orbax_open().  The expected
 * canonical names are written out by hand from the table in orbax_tree.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ck_test.h"
#include "orbax/orbax.h"
#include "orbax/orbax_tree.h"
#include "orbax/orbax_writer.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

/* Write step 1 under <dir>/checkpoints with item `item` holding the arrays
 * names (float32 [2] each), then, if item2, a second item with array "x". */
static void write_step(const char *dir, const char *item, const char *const *names,
		       size_t n, const char *item2)
{
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	struct orbax_writer *w = NULL;
	struct zarr_write_spec s = { 0 };
	const float v[2] = { 1.5f, -2.0f };
	char *root = ck_path_join(dir, "checkpoints");

	s.zarr_format = 3;
	s.dtype = CK_DT_F32;
	s.rank = 1;
	s.shape[0] = s.chunk[0] = 2;
	wo.item = item;
	ck_assert_msg(orbax_writer_open(root, 1, &wo, &w) == 0, "%s", ck_err_msg());
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(orbax_writer_add(w, names[i], &s, v) == 0, "%s: %s",
			      names[i], ck_err_msg());
	if (item2) {
		ck_assert_msg(orbax_writer_next_item(w, item2) == 0, "%s", ck_err_msg());
		ck_assert_int_eq(orbax_writer_add(w, "x", &s, v), 0);
	}
	ck_assert_msg(orbax_writer_commit(w) == 0, "%s", ck_err_msg());
	orbax_writer_free(w);
	free(root);
}

static struct orbax_ckpt *open_tree(const char *const *names, size_t n)
{
	char *t = ck_test_tmpdir();
	struct orbax_ckpt *c = NULL;

	write_step(t, NULL, names, n, NULL);
	ck_assert_msg(orbax_open(t, NULL, &c) == 0, "%s", ck_err_msg());
	ck_test_rmtree(t);
	free(t);
	return c;
}

/* The array with canonical name `name` was saved at `stored`. */
static void assert_named(const struct orbax_ckpt *c, const char *name,
			 const char *stored)
{
	const struct orbax_array *a = orbax_find(c, name);

	ck_assert_msg(a != NULL, "no array named %s", name);
	ck_assert_str_eq(orbax_array_path(a), stored);
	ck_assert_ptr_eq(orbax_find_stored(c, stored), a);
}

#define N(v) (sizeof(v) / sizeof((v)[0]))

START_TEST(linen_names_should_stay_as_saved)
{
	static const char *const names[] = {
		"params.params.decoder.layers.mlp.wi_0.kernel",
		"params.params.token_embedder.embedding",
		"opt_state.0.mu.params.decoder.layers.mlp.wi_0.kernel",
		"nnx_aux.rngs.dropout.count", "step",
		"params.Tid2EidVar.decoder.layers_0.mlp.MoeBlock_0.tid2eid",
	};
	struct orbax_ckpt *c = open_tree(names, N(names));

	ck_assert_ptr_nonnull(c->tree);
	ck_assert_str_eq(c->tree->name, "linen");
	for (size_t i = 0; i < c->narrays; i++)
		ck_assert_ptr_null(c->arrays[i].stored);
	ck_assert_uint_eq(c->tree_lists, 0);
	orbax_close(c);
}
END_TEST

START_TEST(nnx_sft_weights_should_get_linen_names)
{
	static const char *const names[] = {
		"decoder.layers.self_attention.query.kernel.value",
		"decoder.layers.self_attention.value.kernel.value",
		"token_embedder.embedding.value",
		"rngs.params.key.value", "decoder.to_nnx__rngs.dropout.count.value",
		"decoder.layers.dropout_rngs.count.value",
	};
	struct orbax_ckpt *c = open_tree(names, N(names));

	ck_assert_msg(c->tree != NULL, "%s", c->tree_why);
	ck_assert_str_eq(c->tree->name, "nnx-sft");
	assert_named(c, "params.params.decoder.layers.self_attention.query.kernel",
		     "decoder.layers.self_attention.query.kernel.value");
	assert_named(c, "params.params.decoder.layers.self_attention.value.kernel",
		     "decoder.layers.self_attention.value.kernel.value");
	assert_named(c, "params.params.token_embedder.embedding",
		     "token_embedder.embedding.value");
	/* Random-number state keeps its name, outside the weights. */
	assert_named(c, "rngs.params.key.value", "rngs.params.key.value");
	ck_assert_ptr_null(orbax_find_stored(c, "rngs.params.key.value")->stored);
	assert_named(c, "decoder.to_nnx__rngs.dropout.count.value",
		     "decoder.to_nnx__rngs.dropout.count.value");
	assert_named(c, "decoder.layers.dropout_rngs.count.value",
		     "decoder.layers.dropout_rngs.count.value");
	/* Sorted by the new names: orbax_find's binary search relies on it. */
	for (size_t i = 1; i < c->narrays; i++)
		ck_assert_int_lt(strcmp(c->arrays[i - 1].name, c->arrays[i].name), 0);
	orbax_close(c);
}
END_TEST

START_TEST(nnx_rl_weights_should_lose_the_base_prefix)
{
	static const char *const names[] = {
		"base.decoder.layers.mlp.wo.kernel.value",
		"base.decoder.decoder_norm.scale.value",
		"base.rngs.params.count.value",
	};
	struct orbax_ckpt *c = open_tree(names, N(names));

	ck_assert_msg(c->tree != NULL, "%s", c->tree_why);
	ck_assert_str_eq(c->tree->name, "nnx-rl");
	assert_named(c, "params.params.decoder.layers.mlp.wo.kernel",
		     "base.decoder.layers.mlp.wo.kernel.value");
	assert_named(c, "params.params.decoder.decoder_norm.scale",
		     "base.decoder.decoder_norm.scale.value");
	orbax_close(c);
}
END_TEST

START_TEST(nnx_lists_should_fold_into_linen_layer_names)
{
	static const char *const names[] = {
		"decoder.layers.0.mlp.wi_0.kernel.value",
		"decoder.layers.1.mlp.wi_0.kernel.value",
		"decoder.layers.12.mlp.wi_0.kernel.value",
		"decoder.dense_layers.0.mlp.wo.kernel.value",
		"decoder.moe_layers.3.DeepSeekMoeBlock_0.MoeBlock_0.wi_0.value",
		"decoder.decoder_norm.scale.value",
	};
	struct orbax_ckpt *c = open_tree(names, N(names));

	ck_assert_msg(c->tree != NULL, "%s", c->tree_why);
	ck_assert_str_eq(c->tree->name, "nnx-sft");
	ck_assert_uint_eq(c->tree_lists, 5);
	assert_named(c, "params.params.decoder.layers_0.mlp.wi_0.kernel",
		     "decoder.layers.0.mlp.wi_0.kernel.value");
	assert_named(c, "params.params.decoder.layers_12.mlp.wi_0.kernel",
		     "decoder.layers.12.mlp.wi_0.kernel.value");
	assert_named(c, "params.params.decoder.dense_layers_0.mlp.wo.kernel",
		     "decoder.dense_layers.0.mlp.wo.kernel.value");
	assert_named(c, "params.params.decoder.moe_layers_3.DeepSeekMoeBlock_0."
		     "MoeBlock_0.wi_0",
		     "decoder.moe_layers.3.DeepSeekMoeBlock_0.MoeBlock_0.wi_0.value");
	orbax_close(c);
}
END_TEST

/* The arrays names form no tree; tree_why contains want; nothing renamed. */
static void assert_refused(const char *const *names, size_t n, const char *want)
{
	struct orbax_ckpt *c = open_tree(names, n);

	ck_assert_ptr_null(c->tree);
	ck_assert_ptr_nonnull(c->tree_why);
	ck_assert_msg(strstr(c->tree_why, want) != NULL, "'%s' lacks '%s'",
		      c->tree_why, want);
	ck_assert_ptr_null(strchr(c->tree_why, '\n'));
	for (size_t i = 0; i < c->narrays; i++)
		ck_assert_ptr_null(c->arrays[i].stored);
	for (size_t i = 0; i < n; i++)
		ck_assert_ptr_nonnull(orbax_find(c, names[i]));
	orbax_close(c);
}

START_TEST(bad_trees_should_be_refused_in_one_line)
{
	static const char *const no_value[] = {
		"decoder.layers.mlp.wi_0.kernel.value",
		"decoder.layers.mlp.wi_1.kernel",
	};
	static const char *const mixed[] = {
		"decoder.layers_0.mlp.wi_0.kernel.value",
		"decoder.layers.1.mlp.wi_0.kernel.value",
	};
	static const char *const same[] = {
		"decoder.layers_0.mlp.wi_0.kernel.value",
		"decoder.layers.0.mlp.wi_0.kernel.value",
	};
	static const char *const base_and_not[] = {
		"base.decoder.layers.mlp.wi_0.kernel.value",
		"decoder.layers.mlp.wi_1.kernel.value",
	};
	static const char *const linen_and_nnx[] = {
		"params.params.decoder.layers.mlp.wi_0.kernel",
		"decoder.layers.mlp.wi_1.kernel.value",
	};
	static const char *const none[] = { "a", "b.c" };

	assert_refused(no_value, N(no_value),
		       "leaf 'decoder.layers.mlp.wi_1.kernel' does not end in '.value'");
	assert_refused(mixed, N(mixed), "'decoder.layers' is saved both with Linen "
		       "names ('decoder.layers_0.mlp.wi_0.kernel.value') and as an "
		       "nnx.List ('decoder.layers.1.mlp.wi_0.kernel.value')");
	assert_refused(same, N(same), "'decoder.layers' is saved both");
	assert_refused(base_and_not, N(base_and_not), "two parameter trees at once");
	assert_refused(base_and_not, N(base_and_not), "(nnx-rl)");
	assert_refused(base_and_not, N(base_and_not), "(nnx-sft)");
	assert_refused(linen_and_nnx, N(linen_and_nnx), "(linen)");
	assert_refused(none, N(none), "no array under 'params.params.' and no NNX leaf");
}
END_TEST

START_TEST(skipped_subtrees_should_be_the_documented_ones)
{
	ck_assert(orbax_tree_skipped("opt_state.0.mu.params.x"));
	ck_assert(orbax_tree_skipped("optimizer.opt_state.mu.x.value"));
	ck_assert(orbax_tree_skipped("optimizer_state.x"));
	ck_assert(orbax_tree_skipped("nnx_aux.rngs.key"));
	ck_assert(orbax_tree_skipped("step"));
	ck_assert(orbax_tree_skipped("rngs.default.key.value"));
	ck_assert(orbax_tree_skipped("decoder.layers.attn.dropout_rngs.count.value"));
	ck_assert(orbax_tree_skipped("decoder.to_nnx__rngs.count.value"));
	ck_assert(!orbax_tree_skipped("steps.x.value"));
	ck_assert(!orbax_tree_skipped("decoder.step.kernel.value"));
	ck_assert(!orbax_tree_skipped("decoder.rngsx.value"));
	ck_assert(!orbax_tree_skipped("params.params.decoder.layers.mlp.wo.kernel"));
	/* The table's rows, as orbax_tree.h lists them. */
	ck_assert_str_eq(orbax_tree_at(0)->name, "linen");
	ck_assert_str_eq(orbax_tree_at(1)->root, "base.");
	ck_assert_str_eq(orbax_tree_at(2)->leaf, ".value");
	ck_assert_ptr_null(orbax_tree_at(3));
}
END_TEST

START_TEST(a_step_should_give_the_item_that_holds_the_model)
{
	static const char *const w[] = { "decoder.decoder_norm.scale.value" };
	char *t = ck_test_tmpdir(), *item = NULL, *want, *p;
	struct orbax_ckpt *c = NULL;
	int64_t step;
	char cmd[4096];

	/* Tunix: model_params/ beside optimizer_state/. */
	write_step(t, "model_params", w, 1, "optimizer_state");
	ck_assert_msg(orbax_open(t, NULL, &c) == 0, "%s", ck_err_msg());
	want = ck_path_join(t, "checkpoints/1/model_params");
	ck_assert_str_eq(c->item_dir, want);
	ck_assert_str_eq(c->other_items, "optimizer_state");
	ck_assert_str_eq(c->tree->name, "nnx-sft");
	orbax_close(c);
	/* The item named directly: the same, and its sibling still named. */
	ck_assert_int_eq(orbax_open(want, NULL, &c), 0);
	ck_assert_str_eq(c->other_items, "optimizer_state");
	orbax_close(c);

	/* A second model item makes the step ambiguous. */
	snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s/checkpoints/1/items'", want, t);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(orbax_resolve(t, -1, &item, &step), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "(items, model_params)") ?
			      strstr(ck_err_msg(), "(items, model_params)") :
			      strstr(ck_err_msg(), "(model_params, items)"));
	p = ck_path_join(t, "checkpoints/1/items");
	ck_assert_int_eq(orbax_resolve(p, -1, &item, &step), 0);
	ck_assert_str_eq(item, p);
	free(item);
	free(p);

	/* Two unknown items and no known one: ambiguous; one unknown: taken. */
	snprintf(cmd, sizeof(cmd), "cd '%s/checkpoints/1' && mv items a && "
		 "mv model_params b", t);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(orbax_resolve(t, -1, &item, &step), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "several items"));
	snprintf(cmd, sizeof(cmd), "rm -r '%s/checkpoints/1/a'", t);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(orbax_resolve(t, -1, &item, &step), 0);
	ck_assert_ptr_nonnull(strstr(item, "checkpoints/1/b"));
	ck_assert_int_eq(step, 1);
	free(item);
	free(want);
	ck_test_rmtree(t);
	free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("orbax_tree");
	TCase *tc = tcase_create("orbax_tree");

	tcase_add_test(tc, linen_names_should_stay_as_saved);
	tcase_add_test(tc, nnx_sft_weights_should_get_linen_names);
	tcase_add_test(tc, nnx_rl_weights_should_lose_the_base_prefix);
	tcase_add_test(tc, nnx_lists_should_fold_into_linen_layer_names);
	tcase_add_test(tc, bad_trees_should_be_refused_in_one_line);
	tcase_add_test(tc, skipped_subtrees_should_be_the_documented_ones);
	tcase_add_test(tc, a_step_should_give_the_item_that_holds_the_model);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
