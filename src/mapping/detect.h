/* SPDX-License-Identifier: MIT */
/*
 * detect.h - recognise a checkpoint's model family from its array names,
 * infer the HF config dimensions from the array shapes (for mounts given
 * neither hf_config= nor model=), apply the user's config.KEY=VALUE fields
 * to a config, and find the presets a checkpoint fits.
 *
 * Inference never guesses silently: what the shapes cannot give (rope_theta,
 * rms_norm_eps, ...) is listed in the mapping's "needs", and each of those
 * fields must be set by the user, or the inference is refused.
 */
#ifndef DETECT_H
#define DETECT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "mapping/mapping.h"
#include "orbax/orbax.h"

/* Most config.KEY=VALUE fields one mount takes. */
#define DETECT_MAX_SETS 64

/*
 * One config.json field set by the user (the option config.KEY=VALUE).
 * Both strings are borrowed (from the option text).
 */
struct detect_set {
	const char *key;	/* a top-level field: [A-Za-z0-9_]+ */
	const char *value;	/* JSON text, or else a plain string */
};

/*
 * The JSON value of a config.KEY=VALUE option: text parsed as JSON when it
 * parses (a number, true, false, null, an object, an array, a "string"),
 * else the text itself as a string.  -EINVAL, with a message quoting the
 * option, for a bad key (empty, or not [A-Za-z0-9_]: nested fields are set
 * as a whole object), an empty value, or a value that starts like JSON ({,
 * [ or ") but does not parse.  key alone is checked when out is NULL.
 * Caller frees *out with cJSON_Delete().
 */
int detect_set_value(const char *key, const char *text, cJSON **out);

/*
 * Apply sets (in order; a key set twice keeps its last value) to the config
 * text json: each replaces the top-level field of that name or adds it.
 * *out (NUL terminated; caller frees) holds *outlen bytes.  -EINVAL for a
 * config that is not a JSON object or a bad set (detect_set_value),
 * -ENOMEM.
 */
int detect_config_apply(const char *json, size_t len, const struct detect_set *sets,
			size_t nsets, char **out, size_t *outlen);

/*
 * The mappings whose detect.require globs all match arrays of c and whose
 * detect.forbid globs match none, in the order of maps: the first cap go to
 * out.  Returns how many match (possibly more than cap).
 */
size_t detect_matches(struct mapping *const *maps, size_t n,
		      const struct orbax_ckpt *c, const struct mapping **out,
		      size_t cap);

/*
 * The one mapping detect_matches() finds.
 * -ENOENT when none matches; -EINVAL when several do (the message names them
 * and asks for model= or hf_config=).
 */
int detect_family(struct mapping *const *maps, size_t n, const struct orbax_ckpt *c,
		  const struct mapping **out);

/*
 * detect_family(), except that when the arrays fit several families the
 * user's config.model_type (among sets, if any) chooses the one serving it.
 */
int detect_family_given(struct mapping *const *maps, size_t n,
			const struct orbax_ckpt *c, const struct detect_set *sets,
			size_t nsets, const struct mapping **out);

/*
 * A config.json text for c under mapping m: model_type and architectures from
 * the mapping, num_hidden_layers from the layer arrays, each "infer" field
 * from an array shape, then the user's sets (which override inferred fields).
 * *note gets a one-line summary of what was inferred and given (caller frees
 * both).  Errors: -EINVAL when an array to infer from is missing, when the
 * mapping has no "infer" list, when a set gives another family's model_type,
 * or when a field of the mapping's "needs" is not among sets: the message
 * names every missing field and the options that supply them
 * ("SRC: cannot infer rope_theta, rms_norm_eps from the checkpoint; pass
 * model=NAME, hf_config=FILE or config.rope_theta=VALUE,..."); -ENOTSUP for
 * a layer layout too complex to infer from.
 */
int detect_infer_config(const struct mapping *m, const struct orbax_ckpt *c,
			const struct detect_set *sets, size_t nsets,
			char **json, size_t *len, char **note);

/*
 * The presets (dir/NAME.json, HF config.json files) that c fits: those whose
 * model_type is one of the model_types of a mapping in fams and for which
 * plan_build() succeeds, i.e. every array and shape agrees.  *names gets the
 * NAMEs, sorted (caller frees each and the array), *n their count.  A
 * missing dir has no presets; a preset that does not parse fits nothing.
 * -ENOMEM, -EOVERFLOW (too many files), or the error opening dir.
 */
int detect_presets(const struct mapping *const *fams, size_t nfams,
		   const struct orbax_ckpt *c, const char *dir, char ***names,
		   size_t *n);

#endif
