# SPDX-License-Identifier: MIT
# Mount lifetime: SIGTERM and SIGINT unmount cleanly (the daemon exits 0,
# the mount is gone, and the same mountpoint mounts again); when `ckptfs SRC
# MNT` returns, the mount is ready (no polling), and a checkpoint it cannot
# serve is refused by that command, in one line, with nothing mounted; a
# killed daemon leaves a mount that a plain `fusermount3 -u` clears, or none
# at all with -o auto_unmount.
. "$(dirname "$0")/lib.sh"
need_fuse
mount_tmp

EX=$TMP/ex
"$CKPTFS" example "$EX" >/dev/null || not_ok "example"
opts="hf_config=$EX/config.json"

# fg_mount: the daemon in the foreground, in the background of this shell.
fg_mount() {
	"$CKPTFS" "$EX" "$MNT" -f -o "$opts${1:+,$1}" 2>"$TMP/daemon.err" &
	PID=$!
	wait_mounted
}
# gone: the daemon $PID has exited (within 20 s: a loaded machine, with
# ctest -j and a benchmark beside it, once took over 5 s); its status in $rc.
gone() {
	for _ in $(seq 400); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$PID" 2>/dev/null; then
		rc=running
	else
		wait "$PID" 2>/dev/null
		rc=$?
	fi
}

for sig in TERM INT; do
	if ! fg_mount; then
		not_ok "SIG$sig: mount failed: $(cat "$TMP/daemon.err")"
		continue
	fi
	cat "$MNT/config.json" >/dev/null
	kill -"$sig" "$PID"
	gone
	if [ "$rc" = 0 ] && ! mounted; then
		ok "SIG$sig: the daemon exited 0 and the mount is gone"
	else
		not_ok "SIG$sig: exit $rc, mounted: $(grep " $MNT " /proc/mounts)"
	fi
	PID=
done
if fg_mount && cmp -s "$MNT/config.json" "$EX/config.json" ||
	[ "$(jq -r .model_type "$MNT/config.json" 2>/dev/null)" = llama ]; then
	ok "the same mountpoint mounts again"
else
	not_ok "remount: $(cat "$TMP/daemon.err")"
fi
fusermount3 -u "$MNT"
gone
PID=

# Daemonized: ready when the command returns.
if "$CKPTFS" "$EX" "$MNT" -o "$opts" 2>"$TMP/err"; then
	if mounted && [ -s "$MNT/config.json" ] && ls "$MNT" | grep -q safetensors; then
		ok "ckptfs returned with the mount ready"
	else
		not_ok "ckptfs returned before the mount was ready"
	fi
	PID=$(pgrep -f "$EX $MNT" | head -1)
	if [ -n "$PID" ]; then
		kill -TERM "$PID"
		for _ in $(seq 100); do
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.05
		done
		! kill -0 "$PID" 2>/dev/null && ! mounted &&
			ok "SIGTERM to the background daemon: it exited, the mount is gone" ||
			not_ok "background daemon after SIGTERM: still there or still mounted"
	else
		not_ok "no background daemon found"
	fi
	PID=
	fusermount3 -u "$MNT" 2>/dev/null
else
	not_ok "daemonized mount failed: $(cat "$TMP/err")"
fi
expect_fail "a bad checkpoint is refused before mounting" "nothing|not|no " \
	"$CKPTFS" "$TMP/nonexistent" "$MNT" -o "$opts"
mounted && not_ok "something was mounted for a bad checkpoint" && fusermount3 -u "$MNT"

# SIGKILL: a plain fusermount3 -u clears the mount it leaves.
if fg_mount; then
	kill -9 "$PID"
	gone
	PID=
	if fusermount3 -u "$MNT" 2>"$TMP/err" && ! mounted; then
		ok "after SIGKILL, fusermount3 -u clears the mount"
	else
		not_ok "after SIGKILL: $(cat "$TMP/err"); $(grep " $MNT " /proc/mounts)"
	fi
	fg_mount && ok "and the mountpoint mounts again" || not_ok "remount after SIGKILL"
	fusermount3 -u "$MNT"
	gone
	PID=
fi
# With auto_unmount the mount goes with the daemon.
if fg_mount auto_unmount; then
	kill -9 "$PID"
	gone
	PID=
	# fusermount3's watcher unmounts once it sees the daemon gone; on a
	# loaded machine (ctest -j beside the soak) that took over 5 s once
	for _ in $(seq 400); do
		mounted || break
		sleep 0.05
	done
	if mounted; then
		not_ok "auto_unmount: still mounted after SIGKILL"
		fusermount3 -u "$MNT"
	else
		ok "auto_unmount: the mount went with the killed daemon"
	fi
else
	not_ok "auto_unmount: mount failed: $(cat "$TMP/daemon.err")"
fi
finish
