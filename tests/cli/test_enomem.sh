# SPDX-License-Identifier: MIT
# Allocation failure is ENOMEM, never a crash.  An LD_PRELOAD shim
# (tests/tools/malloc_shim.c) makes the N-th allocation of the process, and
# every later one of that thread, fail.  For N spread over every allocation
# `ckptfs convert` and `ckptfs inspect` make on an example checkpoint, each
# run must end by itself with status 0 or 1, and when 1 with its last line a
# "ckptfs: error:" line; never a signal, a hang, or a sanitizer report.
# CKPT_ENOMEM_POINTS sets how many N are tried per command (default 60).
. "$(dirname "$0")/lib.sh"
command -v cc >/dev/null || { echo "skipped: cc is needed for the shim"; exit 77; }
if ldd "$CKPTFS" 2>/dev/null | grep -q 'libasan\|libtsan'; then
	echo "skipped: a sanitizer build has its own allocator"
	exit 77
fi
cc -shared -fPIC -o "$TMP/shim.so" "$(dirname "$0")/../tools/malloc_shim.c" ||
	{ not_ok "building the shim"; finish; }
POINTS=${CKPT_ENOMEM_POINTS:-60}
EX=$TMP/ex
"$CKPTFS" example "$EX" --family mixtral --layers 2 >/dev/null || not_ok "example"

# sweep NAME CMD...: run CMD once to count its allocations, then with each
# of POINTS failure points spread over them (the first 20 all included).
sweep() {
	name=$1
	shift
	rm -rf "$TMP/out"
	if ! CKPT_COUNT_ALLOC=$TMP/count LD_PRELOAD=$TMP/shim.so "$@" >/dev/null 2>"$TMP/err"; then
		not_ok "$name without failures: $(cat "$TMP/err")"
		return
	fi
	total=$(cat "$TMP/count")
	bad=0 failed=0 tried=0
	for at in $(awk -v t="$total" -v p="$POINTS" 'BEGIN {
		for (i = 1; i <= 20 && i <= t; i++) print i
		for (i = 0; i < p; i++) { n = int(21 + (t - 21) * i / p); if (n > 20 && n <= t) print n } }' | sort -un); do
		rm -rf "$TMP/out"
		CKPT_FAIL_ALLOC_AT=$at LD_PRELOAD=$TMP/shim.so timeout 60 "$@" >/dev/null 2>"$TMP/err"
		rc=$?
		tried=$((tried + 1))
		if [ "$rc" = 1 ] && tail -1 "$TMP/err" | grep -q '^ckptfs: error: '; then
			failed=$((failed + 1))
		elif [ "$rc" != 0 ] || grep -q Sanitizer "$TMP/err"; then
			bad=$((bad + 1))
			[ "$bad" -le 3 ] && echo "# $name, allocation $at of $total: exit $rc: $(tail -3 "$TMP/err")"
		fi
	done
	[ "$bad" = 0 ] &&
		ok "$name: $tried failure points of $total allocations: $failed ended with one error line, the rest succeeded" ||
		not_ok "$name: $bad of $tried failure points crashed, hung or did not report"
}

sweep "convert" "$CKPTFS" convert "$EX" "$TMP/out" -o "hf_config=$EX/config.json"
sweep "inspect" "$CKPTFS" inspect "$EX"
finish
