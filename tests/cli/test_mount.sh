# SPDX-License-Identifier: MIT
# Real FUSE mounts of the example checkpoint: the served files pass the
# strict safetensors check, every tensor equals its numpy expectation,
# convert writes the same bytes, writes are refused, the mount helpers work,
# and a mapping that does not fit is refused before anything is mounted.
. "$(dirname "$0")/lib.sh"
need_numpy
need_fuse
TOOLS=$(cd "$(dirname "$0")/../tools" && pwd)
MNT=$TMP/mnt
mkdir -p "$MNT"
cleanup() {
	fusermount3 -u "$MNT" 2>/dev/null
	[ -n "${HELPER:-}" ] && rm -f "$HELPER"
	rm -rf "$TMP"
}
trap cleanup EXIT

# Every family `ckptfs example` writes, scanned bfloat16 at --scale 2
# (head_dim 32: the query scale sqrt(32) of Llama/Mistral/Mixtral needs
# rounding) and unscanned float32, in the layouts MaxText has for it; plus
# Llama float32 served as bfloat16.
variants="llama:f32-as-bf16"
while read -r fam layouts; do
	for l in $layouts; do variants="$variants $fam:$l"; done
done <<EOF
$("$CKPTFS" example --list)
EOF
for v in $variants; do
	fam=${v%%:*}
	variant=${v#*:}
	EX=$TMP/ex-$fam-$variant
	case $variant in
	scanned) flags="--scale 2" extra="" want_dtype=bfloat16 ;;
	unscanned) flags="--unscanned --float32" extra="" want_dtype=float32 ;;
	*) flags="--unscanned --float32" extra=",dtype=bfloat16" want_dtype=bfloat16 ;;
	esac
	v="$fam $variant"
	# shellcheck disable=SC2086
	"$CKPTFS" example "$EX" --family "$fam" $flags >/dev/null || not_ok "example $v"
	opts="hf_config=$EX/config.json,shard_size=60KB,cache_size=40KB$extra"
	if "$CKPTFS" "$EX" "$MNT" -o "$opts" 2>"$TMP/err" && mounted; then
		ok "$v: mounted"
	else
		not_ok "$v: mount failed: $(cat "$TMP/err")"
		continue
	fi
	n=$(ls "$MNT" | grep -c '^model-[0-9]*-of-[0-9]*\.safetensors$')
	[ "$n" -ge 3 ] && ok "$v: $n shards listed" || not_ok "$v: $n shards"
	# config.json is the given one, with torch_dtype set to the served dtype.
	if [ "$(jq -S 'del(.torch_dtype)' "$MNT/config.json")" = \
	     "$(jq -S 'del(.torch_dtype)' "$EX/config.json")" ]; then
		ok "$v: config.json"
	else
		not_ok "$v: config.json differs from the given one"
	fi
	[ "$(jq -r .torch_dtype "$MNT/config.json")" = $want_dtype ] &&
		ok "$v: torch_dtype $want_dtype" || not_ok "$v: torch_dtype"
	if "$PY" "$TOOLS/st_check.py" "$MNT"/model-*.safetensors >"$TMP/out" 2>&1; then
		ok "$v: every shard passes the strict safetensors check"
	else
		not_ok "$v: strict check: $(tail -3 "$TMP/out")"
	fi
	if "$PY" "$TOOLS/verify_example.py" "$MNT" >"$TMP/out" 2>&1; then
		ok "$v: $(cat "$TMP/out")"
	else
		not_ok "$v: tensors: $(cat "$TMP/out")"
	fi
	# convert writes exactly what the mount serves.
	"$CKPTFS" convert "$EX" "$TMP/conv-$fam-$variant" -o "$opts" 2>/dev/null
	same=1
	for x in "$MNT"/*; do
		cmp -s "$x" "$TMP/conv-$fam-$variant/$(basename "$x")" || same=0
	done
	[ $same = 1 ] && ok "$v: convert output equals the mount" ||
		not_ok "$v: convert output differs"
	if [ "$fam" = llama ]; then
		# A read at an odd offset, across tensors.
		f=$(ls "$MNT"/model-00002-*.safetensors)
		dd if="$f" bs=1 skip=1000 count=5000 status=none >"$TMP/dd1"
		tail -c +1001 "$f" | head -c 5000 >"$TMP/dd2"
		cmp -s "$TMP/dd1" "$TMP/dd2" && ok "$v: dd at an odd offset" ||
			not_ok "$v: dd at an odd offset differs"
		# Zero-copy inspection.
		getfattr -n user.ckptfs.source "$f" 2>/dev/null | grep -q ' <- params.params.' &&
			ok "$v: getfattr names the sources" || not_ok "$v: getfattr"
		# Read-only.
		if (echo x >"$MNT/new") 2>/dev/null || (echo x >>"$f") 2>/dev/null; then
			not_ok "$v: a write succeeded"
		else
			ok "$v: writes are refused"
		fi
	fi
	fusermount3 -u "$MNT" && ! mounted && ok "$v: fusermount3 -u" ||
		not_ok "$v: unmount"
done

# mount.fuse3 (fstab type fuse.ckptfs, or the legacy "PROGRAM#SRC" form used
# here to name the binary under test) runs `ckptfs SRC MNT -o opts`.
EX=$TMP/ex-llama-scanned
if command -v mount.fuse3 >/dev/null && [ "$(id -u)" = 0 ]; then
	if mount -t fuse "$CKPTFS#$EX" "$MNT" \
		-o "hf_config=$EX/config.json,_netdev,nofail" 2>"$TMP/err" && mounted; then
		ok "mount through mount.fuse3 (with _netdev,nofail dropped)"
		fusermount3 -u "$MNT"
	else
		not_ok "mount -t fuse.ckptfs: $(cat "$TMP/err")"
	fi
	# mount -t ckptfs runs /sbin/mount.ckptfs: link it to the binary under
	# test for the duration of the test, as `make install` links it.
	if [ ! -e /sbin/mount.ckptfs ] && [ -w /sbin ]; then
		HELPER=/sbin/mount.ckptfs
		ln -s "$CKPTFS" "$HELPER"
	fi
	if [ -e /sbin/mount.ckptfs ]; then
		if mount -t ckptfs "$EX" "$MNT" -o "hf_config=$EX/config.json,user,auto" \
			2>"$TMP/err" && mounted; then
			ok "mount -t ckptfs"
			umount "$MNT" && ! mounted && ok "umount" || not_ok "umount"
		else
			not_ok "mount -t ckptfs: $(cat "$TMP/err")"
		fi
		# An fstab line (read from a private fstab file).
		printf '%s %s ckptfs ro,nofail,_netdev,noauto,hf_config=%s,tokenizer=%s 0 0\n' \
			"$EX" "$MNT" "$EX/config.json" "$TMP/tok" >"$TMP/fstab"
		mkdir -p "$TMP/tok"
		printf '{"model_max_length": 2048}\n' >"$TMP/tok/tokenizer_config.json"
		printf '{"do_sample": false}\n' >"$TMP/tok/generation_config.json"
		if mount -T "$TMP/fstab" "$MNT" 2>"$TMP/err" && mounted; then
			ok "fstab line"
			cmp -s "$MNT/tokenizer_config.json" "$TMP/tok/tokenizer_config.json" &&
				cmp -s "$MNT/generation_config.json" "$TMP/tok/generation_config.json" &&
				ok "tokenizer files passed through" || not_ok "tokenizer files"
			df -k "$MNT" | awk 'NR == 2 { exit !($2 > 0) }' &&
				ok "statfs reports a size" || not_ok "statfs"
			umount "$MNT"
		else
			not_ok "fstab line: $(cat "$TMP/err")"
		fi
	fi
else
	echo "skip mount -t: needs root and mount.fuse3"
fi

# A mapping that does not fit: refused before anything is mounted.
sed 's/"llama"/"qwen3"/' "$EX/config.json" >"$TMP/qwen3.json"
if "$CKPTFS" "$EX" "$MNT" -o "hf_config=$TMP/qwen3.json" 2>"$TMP/err"; then
	not_ok "wrong family: mounted anyway"
	fusermount3 -u "$MNT"
elif mounted; then
	not_ok "wrong family: left a mount"
elif [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "query_norm" "$TMP/err"; then
	ok "wrong family refused: $(cat "$TMP/err")"
else
	not_ok "wrong family: $(cat "$TMP/err")"
fi
finish
