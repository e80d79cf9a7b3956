# SPDX-License-Identifier: MIT
# Logging through a real mount: one line per event, to stderr in the
# foreground and to syslog when daemonized; `-o debug` gives more.
#  - Daemonized (`ckptfs SRC MNT`): a read that fails (a damaged chunk, EIO)
#    gives exactly one syslog line: facility daemon, level err or warning,
#    ident ckptfs[PID] with the daemon's PID, naming the served file, the
#    data file and the key, printable ASCII only (the checkpoint's path holds
#    a UTF-8 letter); nothing of it reaches the command's stderr.
#  - Foreground (-f): the same lines on stderr, nothing to syslog.
#  - `-o debug` (FUSE's debug mode, which keeps libfuse in the foreground):
#    more lines than without it, on the sink that fits where the process
#    runs.
#  - Each mount unmounts with fusermount3 -u and its process exits.
# syslog(3) sends datagrams to /dev/log: the checks run in a private mount
# namespace (unshare -m, as root) whose /dev is a copy holding the few
# devices needed and, as log, the socket of a listener that writes each
# datagram to a file.  The host's /dev is never changed.  Where it can, the
# namespace has its own PID namespace too, so that however the test ends no
# daemon outlives it.
. "$(dirname "$0")/lib.sh"

# The listener: each datagram as one line, "+ TEXT" when printable ASCII,
# else "! TEXT" with the other bytes as \xNN.
LISTENER='
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        d = s.recv(65536)
        if all(0x20 <= b < 0x7f for b in d):
            out.write(b"+ " + d + b"\n")
        else:
            out.write(b"! " + b"".join(bytes([b]) if 0x20 <= b < 0x7f
                                       else b"\\x%02x" % b for b in d) + b"\n")
'

# reads MNT: one O_DIRECT read (one FUSE request) of the first bytes of each
# tensor of each shard, in file order; one line per tensor, "ok NAME" or
# "eio NAME".
reads() {
	"$PY" - "$1" <<'PYEOF'
import json, mmap, os, struct, sys
mnt = sys.argv[1]
buf = mmap.mmap(-1, 4096)
for fn in sorted(f for f in os.listdir(mnt) if f.endswith(".safetensors")):
    fd = os.open(os.path.join(mnt, fn), os.O_RDONLY | os.O_DIRECT)
    def pread(n, off):
        k = os.preadv(fd, [memoryview(buf)[:n]], off)
        return bytes(buf[:k])
    (hl,) = struct.unpack("<Q", pread(8, 0))
    hdr = b""
    while len(hdr) < hl:
        hdr += pread(min(4096, hl - len(hdr)), 8 + len(hdr))
    hdr = json.loads(hdr)
    hdr.pop("__metadata__", None)
    for name, t in sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        a, b = t["data_offsets"]
        try:
            os.preadv(fd, [memoryview(buf)[:min(4096, b - a)]], 8 + hl + a)
            print("ok " + name)
        except OSError:
            print("eio " + name)
    os.close(fd)
PYEOF
}

# server: the pids of the ckptfs processes serving $CUT (one mount at a
# time), matched by their arguments, so that $CKPTFS may be a wrapper.
server() { pgrep -f -- " $CUT $MNT( |\$)"; }

if [ "${1:-}" = --inner ]; then
	# In the namespace.  SH: the outer test's directory (checkpoints,
	# the copy of /dev, the captured datagrams).
	SH=$2
	CUT=$(cat "$SH/cut")
	D=$SH/dev
	LOG=$SH/syslog
	MNT=$TMP/mnt
	mkdir -p "$MNT"
	: >"$TMP/a.reads"
	: >"$TMP/b.reads"
	: >"$TMP/c.reads"
	LPID=
	PID=
	cleanup() {
		for p in $(server) $PID; do
			kill -9 "$p" 2>/dev/null
		done
		fusermount3 -u -z "$MNT" 2>/dev/null
		[ -n "$LPID" ] && kill "$LPID" 2>/dev/null
		rm -rf "$TMP"
	}
	trap cleanup EXIT
	trap 'exit 143' TERM INT HUP

	mkdir "$D" || { echo "skipped: cannot create $D"; exit 77; }
	for n in null zero full random urandom tty fuse; do
		[ -e "/dev/$n" ] || continue
		: >"$D/$n"
		if ! mount --bind "/dev/$n" "$D/$n"; then
			echo "skipped: mount --bind in a mount namespace failed"
			exit 77
		fi
	done
	for n in fd stdin stdout stderr; do
		[ -L "/dev/$n" ] && cp -P "/dev/$n" "$D/$n"
	done
	: >"$LOG"
	"$PY" -c "$LISTENER" "$D/log" "$LOG" &
	LPID=$!
	for _ in $(seq 100); do
		[ -S "$D/log" ] && break
		sleep 0.05
	done
	[ -S "$D/log" ] || { not_ok "the syslog listener did not start"; finish; }
	if ! mount --rbind "$D" /dev; then
		echo "skipped: cannot bind a copy of /dev in the mount namespace"
		exit 77
	fi
	[ -S /dev/log ] && [ -c /dev/fuse ] && [ -c /dev/null ] ||
		{ not_ok "the namespace's /dev: $(ls -l /dev | tr '\n' ' ')"; finish; }

	# mark NAME: a datagram "MARK NAME" through /dev/log, once the listener
	# has written it (so every datagram sent before it is in $LOG too).
	mark() {
		"$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(("MARK " + sys.argv[1]).encode(), "/dev/log")' "$1"
		for _ in $(seq 200); do
			grep -qx "+ MARK $1" "$LOG" && return 0
			sleep 0.05
		done
		not_ok "marker $1 not received"
		return 1
	}
	# between A B: the datagrams between markers A and B.
	between() {
		sed -n "/^+ MARK $1\$/,/^+ MARK $2\$/p" "$LOG" | grep -v '^+ MARK '
	}
	# gone P: process P has exited within 10 s (in a PID namespace this
	# shell is its init, and a daemon that exited is its zombie for a while).
	gone() {
		for _ in $(seq 200); do
			kill -0 "$1" 2>/dev/null || return 0
			[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] && return 0
			sleep 0.05
		done
		return 1
	}
	big=$(cat "$SH/big")
	opts="hf_config=$SH/ex/config.json"
	# The line of a failed read names the served file; an event line names
	# the damaged data file and the key too.
	failed="[^ ]*\.safetensors: "
	event="$failed.*$(basename "$big"): key '"

	# 1. Daemonized.
	mark a-start
	"$CKPTFS" "$CUT" "$MNT" -o "$opts" 2>"$TMP/a.err" &
	ppid=$!
	wait "$ppid"
	rc=$?
	dpid=$(server)
	if [ "$rc" != 0 ] || ! mounted; then
		not_ok "daemonized mount: exit $rc: $(cat "$TMP/a.err")"
		finish
	fi
	if [ "$(echo "$dpid" | wc -w)" = 1 ] && [ "$dpid" != "$ppid" ]; then
		ok "daemonized: the command returned, the daemon is pid $dpid"
	else
		not_ok "daemonized: the daemon's pid: '$dpid' (the command's: $ppid)"
	fi
	mark a0
	reads "$MNT" >"$TMP/a.reads"
	mark a1
	n_eio=$(grep -c '^eio ' "$TMP/a.reads")
	n_ok=$(grep -c '^ok ' "$TMP/a.reads")
	[ "$n_eio" -gt 0 ] && [ "$n_ok" -gt 0 ] &&
		ok "daemonized: $n_eio reads failed with EIO, $n_ok served" ||
		not_ok "daemonized reads: $n_eio EIO, $n_ok served"
	between a0 a1 >"$TMP/a.log"
	n=$(wc -l <"$TMP/a.log")
	[ "$n" = "$n_eio" ] && ok "syslog: one line per failed read ($n)" ||
		not_ok "syslog: $n lines for $n_eio failed reads: $(head -3 "$TMP/a.log")"
	bad=$(grep -v '^+ ' "$TMP/a.log")
	[ -z "$bad" ] && ok "syslog: printable ASCII only" ||
		not_ok "syslog: bytes that are not printable ASCII: $(echo "$bad" | head -2)"
	# <PRI>Mmm dd hh:mm:ss ckptfs[PID]: MESSAGE
	hdr="^. <[0-9]+>[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} ckptfs\[$dpid\]: "
	n_id=$(grep -Ec "$hdr" "$TMP/a.log")
	[ "$n" -gt 0 ] && [ "$n_id" = "$n" ] && ok "syslog: ident ckptfs[$dpid]" ||
		not_ok "syslog: $n_id of $n lines with ident ckptfs[$dpid]: $(head -1 "$TMP/a.log")"
	pris=$(sed -n 's/^. <\([0-9]*\)>.*/\1/p' "$TMP/a.log" | sort -u | tr '\n' ' ')
	pri_ok=1
	for p in $pris; do
		# LOG_DAEMON is facility 3; LOG_ERR 3, LOG_WARNING 4.
		[ $((p >> 3)) = 3 ] && [ $((p & 7)) -ge 3 ] && [ $((p & 7)) -le 4 ] || pri_ok=0
	done
	[ -n "$pris" ] && [ "$pri_ok" = 1 ] &&
		ok "syslog: priority $pris(facility daemon, err or warning)" ||
		not_ok "syslog: priorities '$pris' (want daemon.err or daemon.warning)"
	n_ev=$(grep -c -- "$event" "$TMP/a.log")
	[ "$n" -gt 0 ] && [ "$n_ev" = "$n" ] &&
		ok "syslog: each line names the file and the key: $(sed -n 1p "$TMP/a.log" | cut -c1-300)" ||
		not_ok "syslog: $n_ev of $n lines name the file, $(basename "$big") and a key: $(sed -n 1p "$TMP/a.log")"
	grep -qF "cut-??/" "$TMP/a.log" && ok "syslog: the UTF-8 letter of the path is sanitized" ||
		not_ok "syslog: no '?' for the UTF-8 letter of the path: $(sed -n 1p "$TMP/a.log")"
	if grep -q "safetensors\|key '\|$(basename "$big")" "$TMP/a.err" ||
		grep -vq '^ckptfs: ' "$TMP/a.err"; then
		not_ok "daemonized: the command's stderr: $(cat "$TMP/a.err")"
	else
		ok "daemonized: nothing of the events on the command's stderr"
	fi
	kill -0 "$dpid" 2>/dev/null && ok "the daemon is up after the failed reads" ||
		not_ok "the daemon died"
	fusermount3 -u "$MNT" 2>"$TMP/umount.err"
	if gone "$dpid" && ! mounted; then
		ok "daemonized: fusermount3 -u unmounted, the daemon exited"
	else
		not_ok "daemonized: after fusermount3 -u: $(cat "$TMP/umount.err"), $(grep " $MNT " /proc/mounts)"
		kill -9 "$dpid" 2>/dev/null
		fusermount3 -u -z "$MNT" 2>/dev/null
	fi
	mark a-end
	n_a=$(( $(between a-start a-end | wc -l) + $(grep -c '^ckptfs: ' "$TMP/a.err") ))
	sed 's/^. <[0-9]*>[^]]*]: //' "$TMP/a.log" >"$TMP/a.msgs"

	# 2. Foreground.
	mark b-start
	"$CKPTFS" "$CUT" "$MNT" -f -o "$opts" 2>"$TMP/b.err" &
	PID=$!
	if wait_mounted; then
		reads "$MNT" >"$TMP/b.reads"
		kill -0 "$PID" 2>/dev/null && ok "foreground: up after the failed reads" ||
			not_ok "foreground: the daemon died"
		fusermount3 -u "$MNT"
		gone "$PID" && wait "$PID" && ! mounted &&
			ok "foreground: fusermount3 -u unmounted, the process exited 0" ||
			not_ok "foreground: after fusermount3 -u: $(grep " $MNT " /proc/mounts)"
	else
		not_ok "foreground mount: $(cat "$TMP/b.err")"
	fi
	PID=
	mark b-end
	n_eio=$(grep -c '^eio ' "$TMP/b.reads")
	grep -v '^ckptfs: serving ' "$TMP/b.err" >"$TMP/b.ev"
	n=$(wc -l <"$TMP/b.ev")
	[ "$n_eio" -gt 0 ] && [ "$n" = "$n_eio" ] && [ "$(grep -c "^ckptfs: $failed" "$TMP/b.ev")" = "$n" ] &&
		ok "foreground: one stderr line per failed read ($n)" ||
		not_ok "foreground: $n lines for $n_eio failed reads: $(cat "$TMP/b.err")"
	[ "$n" -gt 0 ] && [ "$(grep -c -- "$event" "$TMP/b.ev")" = "$n" ] &&
		ok "foreground: each line names the file and the key" ||
		not_ok "foreground: lines that do not name the file, $(basename "$big") and a key: $(grep -v -- "$event" "$TMP/b.ev" | head -2)"
	sed 's/^ckptfs: //' "$TMP/b.ev" | cmp -s - "$TMP/a.msgs" &&
		ok "foreground: the same lines as in syslog" ||
		not_ok "foreground: not the syslog lines: $(sed -n 2p "$TMP/b.err") / $(sed -n 1p "$TMP/a.msgs")"
	n=$(between b-start b-end | wc -l)
	[ "$n" = 0 ] && ok "foreground: nothing to syslog" ||
		not_ok "foreground: $n lines to syslog: $(between b-start b-end | head -2)"

	# 3. -o debug, without -f: FUSE's debug mode, in which libfuse stays in
	# the foreground; the lines go to stderr then, to syslog had it
	# daemonized; either way more of them than without debug.
	n_b=$(( $(between b-start b-end | wc -l) + $(grep -c '^ckptfs: ' "$TMP/b.err") ))
	mark c-start
	"$CKPTFS" "$CUT" "$MNT" -o "$opts,debug" >/dev/null 2>"$TMP/c.err" &
	PID=$!
	s=
	if wait_mounted; then
		# the process serving it: the command itself, or its daemon once
		# the command has returned
		for _ in $(seq 100); do
			s=$(server)
			[ "$(echo "$s" | wc -w)" = 1 ] && break
			sleep 0.05
		done
		reads "$MNT" >"$TMP/c.reads"
		fusermount3 -u "$MNT"
		gone "$s" && ! mounted &&
			ok "-o debug: fusermount3 -u unmounted, the process exited" ||
			not_ok "-o debug: after fusermount3 -u: $(grep " $MNT " /proc/mounts)"
		gone "$PID"
		wait "$PID"
	else
		not_ok "-o debug mount: $(cat "$TMP/c.err")"
	fi
	cpid=$PID
	PID=
	mark c-end
	n_sys=$(between c-start c-end | wc -l)
	n_err=$(grep -c '^ckptfs: ' "$TMP/c.err")
	n_ev=$(( $(between c-start c-end | grep -c -- "]: $failed") + $(grep -c -- "^ckptfs: $failed" "$TMP/c.err") ))
	n_eio=$(grep -c '^eio ' "$TMP/c.reads")
	if [ "$(echo "$s" | wc -w)" != 1 ]; then
		not_ok "-o debug: no single process served the mount: '$s'"
		n_prev=$n_b
	elif [ "$s" = "$cpid" ]; then
		n_prev=$n_b
		[ "$n_sys" = 0 ] &&
			ok "-o debug: in the foreground (FUSE's debug mode), nothing to syslog" ||
			not_ok "-o debug: in the foreground, yet $n_sys lines to syslog: $(between c-start c-end | head -2)"
	else
		n_prev=$n_a
		grep -q -- "$failed" "$TMP/c.err" &&
			not_ok "-o debug: daemonized, yet events on stderr: $(grep -- "$failed" "$TMP/c.err" | head -2)" ||
			ok "-o debug: daemonized, the events to syslog only"
	fi
	[ "$n_eio" -gt 0 ] && [ "$n_ev" = "$n_eio" ] &&
		ok "-o debug: one line per failed read ($n_ev)" ||
		not_ok "-o debug: $n_ev event lines for $n_eio failed reads"
	[ "$((n_sys + n_err))" -gt "$n_prev" ] &&
		ok "-o debug: more lines ($((n_sys + n_err))) than without it ($n_prev)" ||
		not_ok "-o debug: $((n_sys + n_err)) lines, without it $n_prev: $(grep '^ckptfs: ' "$TMP/c.err" | head -3) $(between c-start c-end | head -3)"
	finish
fi

# Outside the namespace.
need_fuse unshare timeout pgrep mount
[ -x "$PY" ] || { echo "skipped: $PY is needed"; exit 77; }
if [ "$(id -u)" != 0 ]; then
	echo "skipped: root is needed (for unshare -m)"
	exit 77
elif unshare --kill-child -m -p -f --mount-proc true 2>/dev/null; then
	ns="--kill-child -m -p -f --mount-proc"
elif unshare -m true 2>/dev/null; then
	ns=-m
else
	echo "skipped: unshare -m (a private mount namespace) failed"
	exit 77
fi
CUT=$TMP/cut-$(printf '\303\251')
# A daemon leaves the process group, so a timeout does not reach it: kill
# any left.
trap 'for p in $(server); do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

EX=$TMP/ex
"$CKPTFS" example "$EX" --family mixtral --layers 2 --scale 8 --chunks 4 --random >/dev/null ||
	{ not_ok "example"; finish; }
# The damaged copy, at a path with a UTF-8 letter: the shard index at the
# end of the largest data file overwritten (its CRC-32C no longer matches),
# so the tensors that need that chunk fail with EIO.  (A data file cut
# short is refused at mount time.)
cp -r "$EX" "$CUT"
big=$(find "$CUT/checkpoints" -path '*/d/*' -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
size=$(stat -c %s "$big")
"$PY" -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); f.write(b"\xa5" * 6)' \
	"$big" $((size - 10))
printf '%s\n' "$CUT" >"$TMP/cut"
printf '%s\n' "$big" >"$TMP/big"

# In the background, so that a signal to this shell reaches the namespace
# at once (timeout passes it on to its own process group).
# shellcheck disable=SC2086 # $ns: the unshare options
timeout -k 5 240 unshare $ns sh "$0" --inner "$TMP" &
tpid=$!
trap 'kill -TERM "$tpid" 2>/dev/null; wait "$tpid"; exit 143' TERM INT HUP
wait "$tpid"
rc=$?
[ "$rc" = 77 ] && exit 77
left=$(server)
[ -z "$left" ] && ok "no ckptfs process left" || not_ok "ckptfs processes left: $left"
[ "$rc" = 0 ] || not_ok "the checks in the mount namespace: exit $rc"
finish
