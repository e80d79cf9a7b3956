#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every libFuzzer target of a fuzz build for N seconds on its seed corpus.
#   sh tests/fuzz/run.sh BUILD_DIR SECONDS [RUNS [TARGET...]]
# With RUNS, each target runs until it has executed RUNS inputs (SECONDS is
# then only a cap); TARGETs (names without fuzz_) limit the run to those.
# Seeds are derived from the real fixtures at run time (make_seeds*.sh) plus
# the hand-written seeds under tests/fuzz/seeds/; new corpus entries go to
# BUILD_DIR/corpus/<target>, never into the source tree.
set -eu
build=$(cd "$1" && pwd)
secs=${2:-60}
runs=${3:--1}
[ $# -gt 3 ] && shift 3 && only=" $* " || only=
here=$(cd "$(dirname "$0")" && pwd)
fix=${CKPTFS_REAL_FIXTURES:-$here/../../../shared/fixtures/real}
seeds=$build/seeds
rm -rf "$seeds"
mkdir -p "$seeds"
for gen in "$here"/make_seeds*.sh; do
	[ -f "$gen" ] && CKPTFS_REAL_FIXTURES=$fix sh "$gen" "$seeds"
done
status=0
for bin in "$build"/tests/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	target=${name#fuzz_}
	case "$only" in "" | *" $target "*) ;; *) continue ;; esac
	corpus=$build/corpus/$name
	mkdir -p "$corpus"
	dirs="$corpus"
	for d in "$seeds/$target" "$here/seeds/$target"; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	echo "== $name for ${secs}s on: $dirs"
	# shellcheck disable=SC2086
	if ! (cd "$build" && "$bin" -max_total_time="$secs" -runs="$runs" -print_final_stats=1 \
		-artifact_prefix="$build/" $dirs 2>"$build/$name.log"); then
		tail -40 "$build/$name.log"
		status=1
	fi
	grep -E 'stat::number_of_executed_units|Done' "$build/$name.log" | tail -2
done
exit $status
