# SPDX-License-Identifier: MIT
# The preset library, mappings/presets/NAME.json (`-o model=NAME`): every
# model name of MaxText's conversion registries has a preset, every preset is
# such a name, and every file is valid JSON with the basic fields of a
# Hugging Face config.json. Checked with jq only, independent of ckptfs's own
# config parsing.
. "$(dirname "$0")/lib.sh"
if ! command -v jq >/dev/null 2>&1; then
	echo "skipped: jq is needed"
	exit 77
fi
SRC=${CKPTFS_SRC:-$(dirname "$0")/../..}
DIR=$SRC/mappings/presets

# MaxText's model names (the registry table of docs/maxtext-mapping.md §2),
# lower-cased as model= takes them. Both spellings of the 480B model are
# there (the registries disagree on it). deepseek4-tiny is not: it is a
# MaxText-only test size with no Hugging Face model (no HF_IDS or
# HF_MODEL_CONFIGS entry), so there is no config.json to ship.
NAMES="
gemma2-2b gemma2-9b gemma2-27b
gemma3-4b gemma3-12b gemma3-27b
gemma4-26b gemma4-31b gemma4-e2b gemma4-e4b
qwen2.5-1.5b qwen2.5-7b qwen2.5-14b
qwen3-0.6b qwen3-4b qwen3-4b-thinking-2507 qwen3-8b qwen3-14b qwen3-32b
qwen3-1.7b qwen3-1.7b-base qwen3-4b-base qwen3-8b-base qwen3-14b-base
qwen3-30b-a3b qwen3-30b-a3b-base qwen3-235b-a22b
qwen3-480b-a35b qwen3-coder-480b-a35b
qwen3-vl-2b qwen3-vl-4b qwen3-vl-30b-a3b
qwen3-omni-30b-a3b
qwen3-next-80b-a3b
qwen3.5-35b-a3b qwen3.5-397b-a17b
llama3.1-8b llama3.1-8b-instruct llama3.1-70b llama3.1-70b-instruct llama3.1-405b
mistral-7b
mixtral-8x7b mixtral-8x22b
deepseek2-16b deepseek3-671b deepseek3.2-671b deepseek4-284b
gpt-oss-20b gpt-oss-120b
olmo3-7b olmo3-7b-pt olmo3-32b
"
# shellcheck disable=SC2086 # word splitting flattens the list
NAMES=$(echo $NAMES)

# The fields transformers needs to build a model, whatever the family. The
# text model's numbers are in text_config for multimodal configs, and in
# thinker_config.text_config for Qwen3-Omni. Prints the names of the checks
# that fail (nothing when the file is fine).
CHECKS='
def posint: type == "number" and . > 0 and . == floor;
def need(name; cond): if cond then empty else name end;
if type != "object" then "not-an-object" else
  (.text_config // .thinker_config.text_config // .) as $t
  | [ need("model_type"; (.model_type | type) == "string" and (.model_type | length) > 0),
      need("architectures"; (.architectures | type) == "array" and (.architectures | length) > 0
           and all(.architectures[]; type == "string" and length > 0)),
      need("torch_dtype"; .torch_dtype == "bfloat16"),
      need("text_config"; ($t | type) == "object"),
      ($t | need("num_hidden_layers"; .num_hidden_layers | posint),
            need("hidden_size"; .hidden_size | posint),
            need("vocab_size"; .vocab_size | posint),
            need("num_attention_heads"; .num_attention_heads == null or (.num_attention_heads | posint)),
            need("num_key_value_heads"; .num_key_value_heads == null
                 or ((.num_key_value_heads | posint) and (.num_attention_heads | posint)
                     and .num_attention_heads % .num_key_value_heads == 0)),
            need("layer_types"; .layer_types == null
                 or ((.layer_types | type) == "array"
                     and (.layer_types | length) == .num_hidden_layers)),
            need("tie_word_embeddings"; .tie_word_embeddings == null
                 or (.tie_word_embeddings | type) == "boolean"))
    ] | join(" ")
end'

# check_preset FILE: prints what is wrong with FILE (nothing if it is fine).
check_preset() {
	if ! jq empty "$1" 2>"$TMP/jqerr"; then
		echo "invalid JSON: $(head -1 "$TMP/jqerr")"
		return
	fi
	jq -r "$CHECKS" "$1" 2>&1
}

# The checks themselves catch broken files.
printf '{"model_type": "llama",\n' >"$TMP/broken.json"
[ -n "$(check_preset "$TMP/broken.json")" ] && ok "a malformed file is caught" ||
	not_ok "a malformed file passes"
printf '{"architectures": ["X"], "model_type": "x", "torch_dtype": "float32",
 "text_config": {"num_hidden_layers": 2, "hidden_size": 0, "vocab_size": 8.5,
 "num_attention_heads": 4, "num_key_value_heads": 3, "layer_types": ["a"]}}\n' \
	>"$TMP/bad.json"
got=$(check_preset "$TMP/bad.json")
[ "$got" = "torch_dtype hidden_size vocab_size num_key_value_heads layer_types" ] &&
	ok "bad fields are caught" || not_ok "bad fields: got '$got'"

# Every registry name has a preset.
missing=0
for n in $NAMES; do
	if [ ! -f "$DIR/$n.json" ]; then
		not_ok "$n: no preset $DIR/$n.json"
		missing=$((missing + 1))
	fi
done
[ "$missing" -eq 0 ] && ok "all $(echo "$NAMES" | wc -w) registry names have a preset"

# Every preset is a registry name, and holds a sound config.
count=0
for f in "$DIR"/*.json; do
	[ -f "$f" ] || continue
	count=$((count + 1))
	name=$(basename "$f" .json)
	case " $NAMES " in
	*" $name "*) ;;
	*) not_ok "$name: not a MaxText model name (not in the registry list)" ;;
	esac
	bad=$(check_preset "$f")
	if [ -z "$bad" ]; then
		ok "$name: $(jq -r '.model_type + " " + (.architectures | join(","))' "$f")"
	else
		not_ok "$name: $bad"
	fi
done
[ "$count" -gt 0 ] || not_ok "no presets in $DIR"
finish
