#!/bin/sh
# SPDX-License-Identifier: MIT
# Build ckptfs and its tests with GCC and with clang, as Release,
# RelWithDebInfo and Debug, warnings as errors: a distribution or a user
# picks the compiler and the optimisation level, and each one warns about
# different things.  Builds only; the tests run in the builds of run-all.sh.
#   tests/build-matrix.sh [DIR]   (build directories go under DIR, default
#                                  build-matrix)
set -eu
jobs=$(nproc 2>/dev/null || echo 2)
top=${1:-build-matrix}
for cc in gcc clang; do
	command -v "$cc" >/dev/null || { echo "build-matrix: no $cc" >&2; exit 1; }
	for type in Release RelWithDebInfo Debug; do
		dir=$top/$cc-$type
		CC=$cc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=$type -DCKPT_WERROR=ON \
			-DCKPT_TESTS=ON >/dev/null
		if cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1; then
			echo "ok - $cc $type"
		else
			grep -E 'error|warning' "$dir/build.log" | head -20 >&2
			echo "not ok - $cc $type (log: $dir/build.log)"
			exit 1
		fi
	done
done
