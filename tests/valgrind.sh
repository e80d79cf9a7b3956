#!/bin/sh
# SPDX-License-Identifier: MIT
# Memcheck: every unit test binary of BUILD_DIR in-process (CK_FORK=no), and
# the command line on an example of each layout (convert, inspect, plan,
# dump, and the errors of a damaged checkpoint), under valgrind; any error
# or definite leak fails.  A test that exits 77 with a "skipped:" line (as
# test_enomem does without its LD_PRELOAD shim) is reported as skipped.
# Run from the project root.
#   sh tests/valgrind.sh [BUILD_DIR]
set -eu
build=${1:-build}
command -v valgrind >/dev/null || { echo "valgrind.sh: skipped, no valgrind"; exit 0; }
vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
export CKPTFS_MAPPINGS="$PWD/mappings"
export CKPTFS_REAL_FIXTURES=${CKPTFS_REAL_FIXTURES:-$PWD/../shared/fixtures/real}
tmp=$(mktemp -d /tmp/ckptfs-vg-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
status=0
run() {
	if "$@" >"$tmp/out" 2>"$tmp/err"; then
		rc=0
	else
		rc=$?
	fi
	# 77 with a "skipped:" line and no valgrind report is a test that
	# cannot run here (test_enomem needs its LD_PRELOAD shim)
	if [ $rc = 77 ] && ! grep -q "^==" "$tmp/err" &&
	    why=$(grep -m1 "^skipped: " "$tmp/out"); then
		echo "valgrind.sh: skipped: $*: ${why#skipped: }"
		return
	fi
	if [ $rc != 0 ]; then
		# exit 1 with one error line is an expected refusal; 99 is valgrind
		if grep -q "^==" "$tmp/err" || ! grep -q "^ckptfs: error" "$tmp/err"; then
			echo "valgrind.sh: FAILED: $*"
			tail -30 "$tmp/err"
			status=1
			return
		fi
	fi
	echo "valgrind.sh: clean: $*"
}
for t in "$build"/tests/test_*; do
	[ -x "$t" ] && CK_FORK=no run $vg "$t"
done
ck="$build/ckptfs"
"$ck" example "$tmp/ex" --family mixtral --layers 2 >/dev/null
"$ck" example "$tmp/ex2" --unscanned --float32 >/dev/null
run $vg "$ck" convert "$tmp/ex" "$tmp/out1" -o "hf_config=$tmp/ex/config.json,cache_size=64KiB"
run $vg "$ck" convert "$tmp/ex2" "$tmp/out2" -o "hf_config=$tmp/ex2/config.json,dtype=bf16"
run $vg "$ck" inspect "$tmp/ex"
run $vg "$ck" plan "$tmp/ex" -o "hf_config=$tmp/ex/config.json"
run $vg "$ck" dump "$tmp/ex" params.params.token_embedder.embedding
cp -r "$tmp/ex" "$tmp/cut"
big=$(find "$tmp/cut/checkpoints" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
truncate -s 100 "$big"
run $vg "$ck" convert "$tmp/cut" "$tmp/out3" -o "hf_config=$tmp/ex/config.json"
exit $status
