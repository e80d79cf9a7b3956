# SPDX-License-Identifier: MIT
# Shared helpers for the command-line tests (sourced, POSIX sh).
# Environment (set by ctest): CKPTFS (the binary), CKPTFS_REAL_FIXTURES.

set -u
: "${CKPTFS:?set CKPTFS to the ckptfs binary}"
FIX=${CKPTFS_REAL_FIXTURES:-../shared/fixtures/real}
PY=/usr/bin/python3
failures=0
checks=0

need_fixtures() {
	if [ ! -d "$FIX" ]; then
		echo "skipped: real fixtures not found at $FIX"
		exit 77
	fi
}

# need_fuse [TOOL...]: skip unless FUSE can be mounted here and every TOOL
# is on PATH.  Then mounted (is $MNT a ckptfs mount?) and stats (the
# user.ckptfs.stats of $MNT) serve the mount tests.
need_fuse() {
	if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
		echo "skipped: no /dev/fuse or fusermount3"
		exit 77
	fi
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "skipped: $tool is needed"
			exit 77
		fi
	done
}
mounted() { grep -q " $MNT fuse.ckptfs " /proc/mounts; }

# mount_tmp: MNT, a mountpoint under $TMP; on exit it is unmounted, the
# foreground daemon $PID (if set) killed, and $TMP removed.
mount_tmp() {
	MNT=$TMP/mnt
	PID=
	mkdir -p "$MNT"
	trap 'fusermount3 -u "$MNT" 2>/dev/null; [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT
}
# wait_mounted: until $MNT is a ckptfs mount; 1 after 10 s, or as soon as
# the foreground daemon $PID (if set) has exited.
wait_mounted() {
	for _ in $(seq 200); do
		mounted && return 0
		[ -n "${PID:-}" ] && ! kill -0 "$PID" 2>/dev/null && break
		sleep 0.05
	done
	mounted
}
stats() { getfattr --absolute-names --only-values -n user.ckptfs.stats "$MNT"; }

need_numpy() {
	if ! "$PY" -c 'import numpy' 2>/dev/null; then
		echo "skipped: $PY with numpy is needed"
		exit 77
	fi
}

ok() { checks=$((checks + 1)); echo "ok - $*"; }
not_ok() { checks=$((checks + 1)); failures=$((failures + 1)); echo "not ok - $*"; }

# mktmp: a private scratch directory, removed on exit.
TMP=$(mktemp -d /tmp/ckptfs-cli-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# check_npy FILE DTYPE SHAPE EXPR: the .npy file loads with numpy, has that
# dtype and shape, and equals the numpy expression EXPR (e.g. "np.arange(8)").
check_npy() {
	"$PY" - "$1" "$2" "$3" "$4" <<'PYEOF'
import sys, numpy as np
path, dtype, shape, expr = sys.argv[1:]
a = np.load(path)
want = np.asarray(eval(expr, {"np": np}))
shape = tuple(int(s) for s in shape.split("x") if s) if shape else ()
if str(a.dtype) != dtype or a.shape != shape or not np.array_equal(a, want.reshape(shape)):
    print("got dtype=%s shape=%s values=%s" % (a.dtype, a.shape, a.ravel()[:16]))
    sys.exit(1)
PYEOF
}

# expect_fail NAME PATTERN CMD...: CMD exits 1 or 2 (not a signal, not a
# hang: 60 s limit), prints exactly one line on stderr, matching PATTERN.
expect_fail() {
	name=$1 pat=$2
	shift 2
	timeout 60 "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	lines=$(wc -l <"$TMP/err")
	if [ "$rc" -ne 1 ] && [ "$rc" -ne 2 ]; then
		not_ok "$name: exit status $rc (want 1 or 2): $(cat "$TMP/err")"
	elif [ "$lines" -ne 1 ]; then
		not_ok "$name: $lines lines on stderr (want 1): $(cat "$TMP/err")"
	elif ! grep -Eq "$pat" "$TMP/err"; then
		not_ok "$name: message does not match /$pat/: $(cat "$TMP/err")"
	else
		ok "$name: $(cat "$TMP/err")"
	fi
}

finish() {
	echo "$((checks - failures)) passed, $failures failed"
	[ "$failures" -eq 0 ]
	exit $?
}
