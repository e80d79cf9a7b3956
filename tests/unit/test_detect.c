/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the parts of detect.c that need no checkpoint: the values
 * of config.KEY=VALUE options, applying them to a config, and the "needs"
 * list of a mapping file.  (Detection, inference and preset matching run on
 * written checkpoints in test_plan.c.)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ck_test.h"
#include "mapping/detect.h"
#include "mapping/mapping.h"
#include "util/ck_err.h"
#include "util/ck_json.h"

START_TEST(set_value_should_parse_json_or_keep_a_string)
{
	cJSON *v = NULL;

	ck_assert_int_eq(detect_set_value("rope_theta", "500000.0", &v), 0);
	ck_assert(cJSON_IsNumber(v));
	ck_assert_double_eq(v->valuedouble, 500000.0);
	cJSON_Delete(v);
	ck_assert_int_eq(detect_set_value("rms_norm_eps", "1e-5", &v), 0);
	ck_assert_double_eq(v->valuedouble, 1e-5);
	cJSON_Delete(v);
	ck_assert_int_eq(detect_set_value("norm_topk_prob", "true", &v), 0);
	ck_assert(cJSON_IsTrue(v));
	cJSON_Delete(v);
	ck_assert_int_eq(detect_set_value("sliding_window", "null", &v), 0);
	ck_assert(cJSON_IsNull(v));
	cJSON_Delete(v);
	ck_assert_int_eq(detect_set_value("rope_scaling",
					  "{\"rope_type\": \"llama3\", \"factor\": 8.0}", &v), 0);
	ck_assert(cJSON_IsObject(v));
	ck_assert_str_eq(ck_json_get(v, "rope_type")->valuestring, "llama3");
	cJSON_Delete(v);
	ck_assert_int_eq(detect_set_value("eos_token_id", "[1, 2]", &v), 0);
	ck_assert_int_eq(cJSON_GetArraySize(v), 2);
	cJSON_Delete(v);
	ck_assert_int_eq(detect_set_value("hidden_act", "silu", &v), 0);
	ck_assert_str_eq(v->valuestring, "silu");
	cJSON_Delete(v);
	ck_assert_int_eq(detect_set_value("hidden_act", "\"gelu\"", &v), 0);
	ck_assert_str_eq(v->valuestring, "gelu");
	cJSON_Delete(v);
	/* Not JSON and not JSON-looking: a string, as written. */
	ck_assert_int_eq(detect_set_value("name", "5abc", &v), 0);
	ck_assert_str_eq(v->valuestring, "5abc");
	cJSON_Delete(v);
}
END_TEST

START_TEST(set_value_should_refuse_bad_keys_and_values)
{
	static const struct { const char *key, *text, *msg; } bad[] = {
		{ "", "1", "no field name" },
		{ "rope_scaling.factor", "8", "whole object (config.rope_scaling={...})" },
		{ "rope theta", "1", "letters, digits and _" },
		{ "rope_theta", "", "no value" },
		{ "rope_scaling", "{\"factor\": 8", "not valid JSON" },
		{ "eos_token_id", "[1, 2", "not valid JSON" },
		{ "hidden_act", "\"silu", "not valid JSON" },
	};
	cJSON *v = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(detect_set_value(bad[i].key, bad[i].text, &v), -EINVAL);
		ck_assert_msg(strstr(ck_err_msg(), bad[i].msg) != NULL, "%s=%s: %s",
			      bad[i].key, bad[i].text, ck_err_msg());
	}
	/* The key alone. */
	ck_assert_int_eq(detect_set_value("rope_theta", NULL, NULL), 0);
	ck_assert_int_eq(detect_set_value("a-b", NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(config_apply_should_set_and_override_fields)
{
	static const char base[] = "{\"model_type\": \"qwen3\", \"rope_theta\": 10000, "
		"\"rope_theta\": 20000, \"hidden_size\": 64}";
	static const struct detect_set sets[] = {
		{ "rope_theta", "1e6" }, { "rms_norm_eps", "1e-06" },
		{ "hidden_size", "32" }, { "hidden_size", "48" },
		{ "rope_scaling", "{\"rope_type\": \"linear\", \"factor\": 2}" },
	};
	char *out = NULL;
	size_t len = 0;
	cJSON *doc, *e;
	int count = 0;

	ck_assert_int_eq(detect_config_apply(base, strlen(base), sets, 5, &out, &len), 0);
	ck_assert_uint_eq(len, strlen(out));
	ck_assert_int_eq(ck_json_parse(out, len, &doc), 0);
	cJSON_ArrayForEach(e, doc)
		count += !strcmp(e->string, "rope_theta");
	ck_assert_int_eq(count, 1);	/* both copies replaced by one */
	ck_assert_double_eq(ck_json_get(doc, "rope_theta")->valuedouble, 1e6);
	ck_assert_double_eq(ck_json_get(doc, "rms_norm_eps")->valuedouble, 1e-6);
	ck_assert_double_eq(ck_json_get(doc, "hidden_size")->valuedouble, 48);
	ck_assert_str_eq(ck_json_get(ck_json_get(doc, "rope_scaling"), "rope_type")->valuestring,
			 "linear");
	ck_assert_str_eq(ck_json_get(doc, "model_type")->valuestring, "qwen3");
	cJSON_Delete(doc);
	free(out);
	/* No sets: the same fields. */
	ck_assert_int_eq(detect_config_apply(base, strlen(base), NULL, 0, &out, &len), 0);
	free(out);
	/* Not an object, not JSON. */
	ck_assert_int_eq(detect_config_apply("[1]", 3, sets, 1, &out, &len), -EINVAL);
	ck_assert_int_eq(detect_config_apply("{", 1, sets, 1, &out, &len), -EINVAL);
}
END_TEST

START_TEST(mapping_should_parse_needs)
{
	static const char ok[] = "{\"family\": \"x\", \"prefix\": \"p.\", "
		"\"needs\": [\"rope_theta\", \"rms_norm_eps\"], "
		"\"tensors\": [{\"hf\": \"a\", \"from\": \"b\", \"shape\": [1]}]}";
	static const char none[] = "{\"family\": \"x\", \"prefix\": \"p.\", "
		"\"tensors\": [{\"hf\": \"a\", \"from\": \"b\", \"shape\": [1]}]}";
	static const char bad[] = "{\"family\": \"x\", \"prefix\": \"p.\", "
		"\"needs\": [\"rope_theta\", 5], "
		"\"tensors\": [{\"hf\": \"a\", \"from\": \"b\", \"shape\": [1]}]}";
	struct mapping *m = NULL;

	ck_assert_int_eq(mapping_parse(ok, strlen(ok), "t.json", &m), 0);
	ck_assert_uint_eq(m->nneeds, 2);
	ck_assert_str_eq(m->needs[0], "rope_theta");
	ck_assert_str_eq(m->needs[1], "rms_norm_eps");
	mapping_free(m);
	ck_assert_int_eq(mapping_parse(none, strlen(none), "t.json", &m), 0);
	ck_assert_uint_eq(m->nneeds, 0);
	mapping_free(m);
	ck_assert_int_eq(mapping_parse(bad, strlen(bad), "t.json", &m), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "'needs'"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("detect");
	TCase *tc = tcase_create("detect");

	tcase_add_test(tc, set_value_should_parse_json_or_keep_a_string);
	tcase_add_test(tc, set_value_should_refuse_bad_keys_and_values);
	tcase_add_test(tc, config_apply_should_set_and_override_fields);
	tcase_add_test(tc, mapping_should_parse_needs);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
