#!/bin/sh
# SPDX-License-Identifier: MIT
# Build ckptfs with GCC and clang as Release, RelWithDebInfo and Debug,
# warnings as errors (tests/build-matrix.sh); build it twice more (plain, and
# with ASan+UBSan) and run every test under ctest in both builds; then the unit tests and the command line under
# valgrind memcheck (tests/valgrind.sh), and every command-line and mount
# test again with ckptfs under memcheck (tests/valgrind-cli.sh); then the concurrency soak against a
# ThreadSanitizer build of the daemon; then build the libFuzzer targets and
# run each one briefly on its seed corpus.  Run from the project root.
#   CKPT_FUZZ_SECONDS=N  seconds per fuzz target (default 30; 0 skips)
#   CKPT_SOAK_SECONDS=N  seconds of each soak (default 10)
set -eu
jobs=$(nproc 2>/dev/null || echo 2)

sh tests/build-matrix.sh build-matrix

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCKPT_WERROR=ON -DCKPT_TESTS=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCKPT_SANITIZE=ON -DCKPT_WERROR=ON \
	-DCKPT_TESTS=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --test-dir build-asan --output-on-failure -j"$jobs"

sh tests/valgrind.sh build
sh tests/valgrind-cli.sh build

if command -v clang >/dev/null; then
	CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCKPT_TSAN=ON \
		-DCKPT_TESTS=OFF >/dev/null
	cmake --build build-tsan -j"$jobs" --target ckptfs
	CKPTFS=build/ckptfs CKPT_SOAK_DAEMON=build-tsan/ckptfs sh tests/cli/test_soak.sh
fi

secs=${CKPT_FUZZ_SECONDS:-30}
if [ "$secs" -gt 0 ] && command -v clang >/dev/null; then
	CC=clang cmake -S . -B build-fuzz -DCKPT_FUZZ=ON -DCKPT_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-fuzz -j"$jobs"
	sh tests/fuzz/run.sh build-fuzz "$secs"
fi
echo "all test stages passed"
