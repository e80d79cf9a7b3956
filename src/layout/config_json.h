/* SPDX-License-Identifier: MIT */
/*
 * config_json.h - the config.json of the Hugging Face view: a stored HF
 * config with the served dtype patched in, printed the way transformers'
 * to_json_file() prints it (json.dumps(indent=2, sort_keys=True) + "\n").
 *
 * Output rules:
 *   - objects: keys sorted bytewise (= code point order, as Python sorts),
 *     2-space indent, ": " after keys, "," at line ends, "{}" when empty;
 *     a key given twice keeps its last value (as json.loads does);
 *   - arrays: one element per line, "[]" when empty;
 *   - strings: json.dumps' ensure_ascii escaping (see json_out.h);
 *   - numbers: cJSON keeps only a double, so integral values below 2^53 in
 *     magnitude print as integers: 128256 stays 128256, and 500000.0 prints
 *     as 500000 (transformers reads either); other values print in their
 *     shortest round-trip form (1e-05, 0.02);
 *   - true, false, null as such; a trailing newline.
 * Only the top-level dtype fields change: "torch_dtype" is set (added when
 * missing), and a top-level string "dtype" (newer transformers' name for the
 * same field) is set too when present.  Nested configs are left as they are.
 */
#ifndef CONFIG_JSON_H
#define CONFIG_JSON_H

#include <stddef.h>

/*
 * Render config.json from the n bytes of base_json (an HF config.json text,
 * a JSON object) with torch_dtype one of "bfloat16", "float32", "float16",
 * or NULL to leave the dtype fields untouched.  On success *out (NUL
 * terminated; caller frees with free()) holds *outlen bytes.  -EINVAL
 * (invalid JSON, not an object, unknown torch_dtype, a string that is not
 * UTF-8), -ENOMEM.  Thread-safe apart from cJSON's global parse-error
 * pointer (call at mount time).
 */
int config_json_render(const char *base_json, size_t n, const char *torch_dtype,
		       char **out, size_t *outlen);

#endif
