# SPDX-License-Identifier: MIT
# For every family `ckptfs example` writes: the family's own real preset
# (whose dims are not the tiny example's) and a preset of another family are
# both refused cleanly, with one line naming the preset; the example's own
# config is accepted.
. "$(dirname "$0")/lib.sh"

# The real preset of each example family.
preset_of() {
	case $1 in
	llama) echo llama3.1-8b ;;
	mistral) echo mistral-7b ;;
	mixtral) echo mixtral-8x7b ;;
	qwen2) echo qwen2.5-7b ;;
	qwen3) echo qwen3-8b ;;
	qwen3_moe) echo qwen3-30b-a3b ;;
	deepseek_v2) echo deepseek2-16b ;;
	deepseek_v3) echo deepseek3-671b ;;
	deepseek_v32) echo deepseek3.2-671b ;;
	deepseek_v4) echo deepseek4-284b ;;
	olmo3) echo olmo3-7b ;;
	gemma2) echo gemma2-2b ;;
	gemma3_text | gemma3) echo gemma3-4b ;;
	gemma4*) echo gemma4-26b ;;
	gpt_oss) echo gpt-oss-20b ;;
	qwen3_next) echo qwen3-next-80b-a3b ;;
	qwen3_5*) echo qwen3.5-35b-a3b ;;
	qwen3_vl_moe) echo qwen3-vl-30b-a3b ;;
	qwen3_vl) echo qwen3-vl-2b ;;
	qwen3_omni*) echo qwen3-omni-30b-a3b ;;
	esac
}

"$CKPTFS" example --list >"$TMP/families" || not_ok "example --list"
while read -r fam layouts; do
	flags=
	case $layouts in scanned*) ;; *) flags=--unscanned ;; esac
	EX=$TMP/ex-$fam
	"$CKPTFS" example "$EX" --family "$fam" $flags >/dev/null ||
		{ not_ok "$fam: example"; continue; }
	if "$CKPTFS" plan "$EX" -o "hf_config=$EX/config.json" >/dev/null 2>"$TMP/err"; then
		ok "$fam: its own config is accepted"
	else
		not_ok "$fam: its own config: $(cat "$TMP/err")"
	fi
	p=$(preset_of "$fam")
	if [ -z "$p" ]; then
		not_ok "$fam: no preset named for this family"
		continue
	fi
	[ -f "$CKPTFS_SRC/mappings/presets/$p.json" ] && ok "$fam: preset $p exists" ||
		not_ok "$fam: preset $p missing"
	expect_fail "$fam: its family's real preset $p" "model=$p|$p" \
		"$CKPTFS" plan "$EX" -o "model=$p"
	case $fam in llama) other=qwen3-8b ;; *) other=llama3.1-8b ;; esac
	expect_fail "$fam: another family's preset $other" "model=$other|$other" \
		"$CKPTFS" plan "$EX" -o "model=$other"
done <"$TMP/families"
finish
