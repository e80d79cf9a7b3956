#!/bin/sh
# SPDX-License-Identifier: MIT
# Memcheck over the command-line tests: every tests/cli/test_*.sh runs with
# CKPTFS pointing at tests/tools/vg_ckptfs.sh, so each ckptfs process they
# start (mount daemons after they fork, the mount(8) helper, convert,
# inspect...) runs under valgrind with its own report.  A test must pass as
# it does without valgrind, and every report must be empty: no error, no
# definite leak, daemons included (they are waited for after each test).
# test_enomem (its malloc shim replaces valgrind's allocator) and test_deb
# (it builds and runs its own package) run only in the plain build.
#   sh tests/valgrind-cli.sh [BUILD_DIR]     (from the project root)
#   CKPT_VG_TESTS="mount faults"  only these tests
set -eu
build=$(cd "${1:-build}" && pwd)
command -v valgrind >/dev/null || { echo "valgrind-cli.sh: skipped, no valgrind"; exit 0; }
root=$PWD
logs=$(mktemp -d /tmp/ckptfs-vgcli-XXXXXX)
trap 'rm -rf "$logs"' EXIT
# The binary is copied so that a rebuild during the run cannot swap it.
cp "$build/ckptfs" "$logs/ckptfs"
export CKPTFS="$root/tests/tools/vg_ckptfs.sh" CKPT_SOAK_DAEMON="$root/tests/tools/vg_ckptfs.sh"
export CKPT_VG_BIN="$logs/ckptfs" CKPTFS_SRC="$root" CKPTFS_MAPPINGS="$root/mappings"
export CKPTFS_REAL_FIXTURES=${CKPTFS_REAL_FIXTURES:-$root/../shared/fixtures/real}
export CKPT_SOAK_SECONDS=${CKPT_SOAK_SECONDS:-10}
# Valgrind 3.19 does not know openat2 (syscall 437): it answers ENOSYS,
# ckptfs falls back to its O_NOFOLLOW walk (ck_beneath.h), and valgrind
# writes a warning that is no error of ckptfs's.
cat >"$logs/known" <<'EOF'
unhandled amd64-linux syscall: 437
You may be able to write your own handler
README_MISSING_SYSCALL_OR_IOCTL
Nevertheless we consider this a bug
valgrind.org/support/bug_reports.html
EOF
status=0
for t in "$root"/tests/cli/test_*.sh; do
	name=$(basename "$t" .sh)
	# test_orbax_read_py checks the Python reader, ckptfs only making its
	# inputs, which the other tests run under memcheck already
	case "$name" in test_enomem | test_deb | test_orbax_read_py) continue ;; esac
	case " ${CKPT_VG_TESTS:-${name#test_}} " in *" ${name#test_} "*) ;; *) continue ;; esac
	export CKPT_VG_LOGS="$logs/$name"
	mkdir -p "$CKPT_VG_LOGS"
	start=$(date +%s)
	rc=0
	timeout 1800 sh "$t" >"$logs/$name.out" 2>&1 || rc=$?
	# daemons end after their unmount: wait for every one of this test
	for _ in $(seq 600); do
		pgrep -f "valgrind.*$logs/" >/dev/null || break
		sleep 0.1
	done
	secs=$(($(date +%s) - start))
	reports=
	for r in $(find "$CKPT_VG_LOGS" -name '*.log' -size +0 | sort); do
		grep -qv -f "$logs/known" "$r" && reports="$reports $r"
	done
	if [ "$rc" = 77 ]; then
		echo "valgrind-cli.sh: $name skipped: $(grep -m1 skipped "$logs/$name.out")"
	elif [ "$rc" != 0 ] || [ -n "$reports" ]; then
		echo "valgrind-cli.sh: FAILED: $name (exit $rc, ${secs}s)"
		grep '^not ok' "$logs/$name.out" | head -10
		for r in $reports; do
			echo "--- $r"
			head -60 "$r"
		done
		status=1
	else
		echo "valgrind-cli.sh: clean: $name ($(find "$CKPT_VG_LOGS" -name '*.log' | wc -l) processes, ${secs}s)"
	fi
done
exit $status
