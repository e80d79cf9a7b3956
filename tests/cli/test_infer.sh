# SPDX-License-Identifier: MIT
# Inference for every family `ckptfs example` writes, in each layout: with
# neither hf_config= nor model=, the refusal names exactly the values the
# shapes cannot give; given those (config.KEY=VALUE, taken from the
# example's config.json), the converted files are byte-identical to those
# converted with the full config, and every inferred config.json field has
# the example config's value.  Families whose config nests its text model
# (multimodal) are refused with a pointer to model=/hf_config=; where the
# arrays fit several families, config.model_type chooses.
. "$(dirname "$0")/lib.sh"

"$CKPTFS" example --list >"$TMP/families" || not_ok "example --list"
while read -r fam layouts; do
	for layout in $layouts; do
		v="$fam $layout"
		EX=$TMP/ex-$fam-$layout
		flags=
		[ "$layout" = unscanned ] && flags=--unscanned
		"$CKPTFS" example "$EX" --family "$fam" $flags >/dev/null ||
			{ not_ok "$v: example"; continue; }
		mt=
		"$CKPTFS" plan "$EX" >/dev/null 2>"$TMP/err"
		if grep -q "fit several families" "$TMP/err"; then
			# Llama and Mistral look alike: config.model_type chooses.
			mt="config.model_type=$(jq -r .model_type "$EX/config.json")"
			ok "$v: ambiguous ($(sed 's/.*several families //; s/;.*//' "$TMP/err"))"
			"$CKPTFS" plan "$EX" -o "$mt" >/dev/null 2>"$TMP/err"
		fi
		if grep -q "has no 'infer' list" "$TMP/err"; then
			jq -e '.text_config or .thinker_config' "$EX/config.json" >/dev/null &&
				ok "$v: refused, nested config ($(cut -c1-60 "$TMP/err")...)" ||
				not_ok "$v: no infer list: $(cat "$TMP/err")"
			continue
		fi
		needs=$(sed -n 's/.*cannot infer \(.*\) from the checkpoint; pass model=NAME.*/\1/p' "$TMP/err")
		if [ -z "$needs" ]; then
			not_ok "$v: no refusal naming the values: $(cat "$TMP/err")"
			continue
		fi
		grep -q "config\.$(echo "$needs" | cut -d, -f1)=VALUE" "$TMP/err" &&
			ok "$v: refusal names $needs and config.KEY=VALUE" ||
			not_ok "$v: refusal: $(cat "$TMP/err")"
		opts=$mt
		for f in $(echo "$needs" | tr -d ' ' | tr , ' '); do
			opts="$opts${opts:+,}config.$f=$(jq -c ".$f" "$EX/config.json")"
		done
		if ! "$CKPTFS" convert "$EX" "$TMP/inf-$fam-$layout" -o "$opts" \
			>/dev/null 2>"$TMP/err"; then
			not_ok "$v: convert with inference: $(cat "$TMP/err")"
			continue
		fi
		"$CKPTFS" convert "$EX" "$TMP/full-$fam-$layout" \
			-o "hf_config=$EX/config.json" >/dev/null 2>&1 ||
			not_ok "$v: convert with hf_config"
		same=1
		for x in "$TMP/full-$fam-$layout"/*.safetensors*; do
			cmp -s "$x" "$TMP/inf-$fam-$layout/$(basename "$x")" || same=0
		done
		[ $same = 1 ] && ok "$v: inferred dims give the same files" ||
			not_ok "$v: inferred dims give different files"
		bad=$(jq -r --slurpfile full "$EX/config.json" 'to_entries[] |
			select(.key != "torch_dtype" and .value != $full[0][.key]) | .key' \
			"$TMP/inf-$fam-$layout/config.json")
		[ -z "$bad" ] && ok "$v: inferred config.json agrees" ||
			not_ok "$v: inferred config.json differs in: $bad"
	done
done <"$TMP/families"
finish
