# SPDX-License-Identifier: MIT
# Concurrency soak: 32 threads read random ranges of every file of a mounted
# example (MoE, scanned) for CKPT_SOAK_SECONDS seconds (default 10; 60 is the
# full soak), half of them with O_DIRECT so that the daemon serves their
# every read, with a cache of 64 KiB that evicts all the time; then again
# with a disk tier small enough to evict too.  Every byte
# must equal convert's, the daemon must stay up, exit 0 on unmount and print
# no sanitizer report.  CKPT_SOAK_DAEMON names another ckptfs binary to
# serve the mount (tests/run-all.sh passes its ThreadSanitizer build).
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$PY" ] || { echo "skipped: $PY is needed"; exit 77; }
DAEMON=${CKPT_SOAK_DAEMON:-$CKPTFS}
SECS=${CKPT_SOAK_SECONDS:-10}
mount_tmp

EX=$TMP/ex
"$CKPTFS" example "$EX" --family mixtral --layers 4 --scale 2 --chunks 4 >/dev/null ||
	not_ok "example"
opts="hf_config=$EX/config.json,shard_size=200KB,cache_size=64KiB"
"$CKPTFS" convert "$EX" "$TMP/ref" -o "$opts" >/dev/null 2>"$TMP/err" ||
	not_ok "convert: $(cat "$TMP/err")"

# soak NAME OPTS: one mount, the readers, the checks.
soak() {
	TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}" \
		"$DAEMON" "$EX" "$MNT" -f -o "$2" 2>"$TMP/daemon.err" &
	PID=$!
	if ! wait_mounted; then
		not_ok "$1: mount with $DAEMON: $(cat "$TMP/daemon.err")"
		return
	fi
	if "$PY" "$(dirname "$0")/soak_reader.py" "$MNT" "$TMP/ref" "$SECS" 32 \
		>"$TMP/soak" 2>&1; then
		ok "$1: $(cat "$TMP/soak")"
	else
		not_ok "$1: $(cat "$TMP/soak"); the daemon: $(grep -v '^ckptfs: serving' "$TMP/daemon.err" | tail -3)"
	fi
	kill -0 "$PID" 2>/dev/null && ok "$1: the daemon is up after the soak" ||
		not_ok "$1: the daemon died: $(tail -5 "$TMP/daemon.err")"
	getfattr --absolute-names --only-values -n user.ckptfs.stats "$MNT" \
		>"$TMP/stats" 2>/dev/null && echo "# $1: $(cat "$TMP/stats")"
	fusermount3 -u "$MNT"
	wait "$PID"
	rc=$?
	PID=
	[ "$rc" = 0 ] && ok "$1: the daemon exited 0 on unmount" ||
		not_ok "$1: daemon exit status $rc"
	if grep -q "Sanitizer" "$TMP/daemon.err"; then
		not_ok "$1: sanitizer report: $(grep -m1 -A12 "Sanitizer" "$TMP/daemon.err")"
	else
		ok "$1: no sanitizer report from the daemon"
	fi
}

echo "# daemon: $DAEMON"
soak "cache_size=64KiB" "$opts"
mkdir -p "$TMP/tier"
soak "with cache_dir" "$opts,cache_dir=$TMP/tier,cache_dir_size=600KiB"
finish
