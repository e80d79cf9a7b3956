/* SPDX-License-Identifier: MIT */
/*
 * detect.h - recognise a checkpoint's model family from its array names, and
 * infer the HF config dimensions from the array shapes, for mounts given
 * neither hf_config= nor model=.
 */
#ifndef DETECT_H
#define DETECT_H

#include <stddef.h>

#include "mapping/mapping.h"
#include "orbax/orbax.h"

/*
 * The mapping whose detect.require globs all match arrays of c and whose
 * detect.forbid globs match none.
 * -ENOENT when none matches; -EINVAL when several do (the message names them
 * and asks for model= or hf_config=).
 */
int detect_family(struct mapping *const *maps, size_t n, const struct orbax_ckpt *c,
		  const struct mapping **out);

/*
 * A config.json text for c under mapping m: model_type and architectures from
 * the mapping, num_hidden_layers from the layer arrays, and each "infer"
 * field from an array shape.  *note gets a one-line summary of what was
 * inferred (caller frees both).  -EINVAL when an array to infer from is
 * missing.
 */
int detect_infer_config(const struct mapping *m, const struct orbax_ckpt *c,
			char **json, size_t *len, char **note);

#endif
