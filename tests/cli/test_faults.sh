# SPDX-License-Identifier: MIT
# Fault tolerance through a real mount.
#  - Source reads that fail (an LD_PRELOAD shim, tests/tools/fault_shim.c,
#    makes pread() of the checkpoint's files fail with EIO while a flag file
#    exists): a read that needs source data gets EIO and the daemon logs one
#    line naming the file and the key; a tensor already in the cache is still
#    served; the daemon stays up, and once the source reads again every byte
#    equals convert's.
#  - A damaged copy (a chunk's shard index overwritten): the tensors that
#    need the chunk fail with EIO, every other tensor is served and equals
#    convert's, and the daemon stays up.
#  - A data file cut short: refused at mount time in one line naming it, or
#    served with EIO for what it lost; never a crash.
. "$(dirname "$0")/lib.sh"
need_fuse
command -v cc >/dev/null || { echo "skipped: cc is needed for the shim"; exit 77; }
[ -x "$PY" ] || { echo "skipped: $PY is needed"; exit 77; }
mount_tmp

cc -shared -fPIC -o "$TMP/shim.so" "$(dirname "$0")/../tools/fault_shim.c" -ldl ||
	not_ok "building the shim"
EX=$TMP/ex
"$CKPTFS" example "$EX" --layers 2 --scale 8 --chunks 4 --random >/dev/null || not_ok "example"
opts="hf_config=$EX/config.json,cache_size=1MiB"
"$CKPTFS" convert "$EX" "$TMP/ref" -o "$opts" >/dev/null 2>"$TMP/err" ||
	not_ok "convert: $(cat "$TMP/err")"

# tensors MOUNT REF [NAME...]: read each tensor's bytes with O_DIRECT; one
# line per tensor: "ok NAME", "eio NAME" or "bad NAME" (served, but not
# convert's bytes).
tensors() {
	"$PY" - "$@" <<'PYEOF'
import json, mmap, os, struct, sys
mnt, ref = sys.argv[1], sys.argv[2]
only = set(sys.argv[3:])
for fn in sorted(f for f in os.listdir(ref) if f.endswith(".safetensors")):
    with open(os.path.join(ref, fn), "rb") as f:
        want = f.read()
    (hl,) = struct.unpack("<Q", want[:8])
    hdr = json.loads(want[8:8 + hl])
    fd = os.open(os.path.join(mnt, fn), os.O_RDONLY | os.O_DIRECT)
    for name, t in sorted(hdr.items(), key=lambda kv: kv[0] != "__metadata__" and kv[1]["data_offsets"][0]):
        if name == "__metadata__" or (only and name not in only):
            continue
        a, b = t["data_offsets"]
        a += 8 + hl
        b += 8 + hl
        start = a  # FUSE's direct I/O takes any offset and length
        buf = mmap.mmap(-1, (b - start + 4095) // 4096 * 4096 or 4096)
        got = 0
        try:
            # a short read is legal: read on from where it stopped
            while got < b - start:
                k = os.preadv(fd, [memoryview(buf)[got:b - start]], start + got)
                if k <= 0:
                    break
                got += k
            data = buf[a - start:b - start]
            print(("ok " if got >= b - start and data == want[a:b] else "bad ") + name)
        except OSError as e:
            print("eio " + name, file=sys.stdout)
            print("# %s: %s" % (name, e), file=sys.stderr)
        buf.close()
    os.close(fd)
PYEOF
}

# 1. Failing source reads.
# (an ASan build accepts a preloaded library before its runtime this way)
ASAN_OPTIONS="verify_asan_link_order=0:${ASAN_OPTIONS:-}" \
	LD_PRELOAD=$TMP/shim.so CKPT_FAULT_FLAG=$TMP/fail CKPT_FAULT_PATH=/checkpoints/ \
	"$CKPTFS" "$EX" "$MNT" -f -o "$opts" 2>"$TMP/daemon.err" &
PID=$!
wait_mounted || { not_ok "mount with the shim: $(cat "$TMP/daemon.err")"; finish; }
tensors "$MNT" "$TMP/ref" >"$TMP/t0"
first=$(sed -n 's/^ok //p' "$TMP/t0" | grep norm | tail -1)
[ "$(grep -vc '^ok ' "$TMP/t0")" = 0 ] && ok "before the fault: $(wc -l <"$TMP/t0") tensors served" ||
	not_ok "before the fault: $(grep -v '^ok ' "$TMP/t0" | head -3)"
tensors "$MNT" "$TMP/ref" "$first" >/dev/null	# now the most recent in the cache
touch "$TMP/fail"
tensors "$MNT" "$TMP/ref" "$first" >"$TMP/t1c" 2>&1
grep -q "^ok $first\$" "$TMP/t1c" && ok "a cached tensor ($first) is still served" ||
	not_ok "the cached tensor $first: $(cat "$TMP/t1c")"
tensors "$MNT" "$TMP/ref" >"$TMP/t1"
n_eio=$(grep -c '^eio ' "$TMP/t1")
[ "$n_eio" -gt 0 ] && ! grep -q '^bad ' "$TMP/t1" &&
	ok "with failing source reads: $n_eio tensors EIO, no wrong bytes" ||
	not_ok "with failing source reads: $(sort "$TMP/t1" | uniq -c | head -5)"
if grep "error" "$TMP/daemon.err" | grep -q "key '" &&
	grep "error" "$TMP/daemon.err" | grep -q "/checkpoints/"; then
	ok "logged: $(grep -m1 "error" "$TMP/daemon.err")"
else
	not_ok "no log line naming file and key: $(tail -3 "$TMP/daemon.err")"
fi
rm -f "$TMP/fail"
kill -0 "$PID" 2>/dev/null && ok "the daemon is up" || not_ok "the daemon died"
tensors "$MNT" "$TMP/ref" >"$TMP/t2"
[ "$(grep -vc '^ok ' "$TMP/t2")" = 0 ] && ok "the source back: every tensor equals convert's" ||
	not_ok "after the fault: $(grep -v '^ok ' "$TMP/t2" | head -3)"
fusermount3 -u "$MNT"
wait "$PID"
PID=

# 2. A damaged copy: a shard index corrupted.  Orbax stores each chunk as a
# shard whose index ends the value, with a CRC-32C; the largest file of the
# example's OCDBT holds the chunk values back to back, so its last bytes
# are the last chunk's index.
cp -r "$EX" "$TMP/bad"
big=$(find "$TMP/bad/checkpoints" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
size=$(stat -c %s "$big")
"$PY" -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); f.write(b"\xa5" * 6)' \
	"$big" $((size - 10))
"$CKPTFS" "$TMP/bad" "$MNT" -f -o "hf_config=$EX/config.json,cache_size=1MiB" 2>"$TMP/daemon.err" &
PID=$!
if wait_mounted; then
	tensors "$MNT" "$TMP/ref" >"$TMP/t3"
	n_ok=$(grep -c '^ok ' "$TMP/t3")
	n_eio=$(grep -c '^eio ' "$TMP/t3")
	if [ "$n_eio" -gt 0 ] && [ "$n_ok" -gt 0 ] && ! grep -q '^bad ' "$TMP/t3"; then
		ok "damaged chunk: $n_eio tensors EIO, the other $n_ok equal convert's"
	else
		not_ok "damaged chunk: $(sort "$TMP/t3" | cut -d' ' -f1 | uniq -c | tr '\n' ' ')"
	fi
	kill -0 "$PID" 2>/dev/null && ok "the daemon is up" || not_ok "the daemon died"
	fusermount3 -u "$MNT"
	wait "$PID"
else
	not_ok "the damaged copy did not mount: $(cat "$TMP/daemon.err")"
fi
PID=

# 3. A data file cut short.
cp -r "$EX" "$TMP/cut"
big=$(find "$TMP/cut/checkpoints" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
truncate -s $(( $(stat -c %s "$big") / 3 )) "$big"
if "$CKPTFS" "$TMP/cut" "$MNT" -f -o "hf_config=$EX/config.json" 2>"$TMP/daemon.err" & then
	PID=$!
	if wait_mounted; then
		tensors "$MNT" "$TMP/ref" >"$TMP/t4"
		! grep -q '^bad ' "$TMP/t4" && grep -q '^eio ' "$TMP/t4" &&
			ok "truncated data file: mounted, $(grep -c '^eio ' "$TMP/t4") tensors EIO, no wrong bytes" ||
			not_ok "truncated data file: $(sort "$TMP/t4" | cut -d' ' -f1 | uniq -c | tr '\n' ' ')"
		fusermount3 -u "$MNT"
		wait "$PID"
	else
		wait "$PID"
		rc=$?
		if [ "$rc" = 1 ] && [ "$(wc -l <"$TMP/daemon.err")" = 1 ] &&
			grep -q "$(basename "$big")" "$TMP/daemon.err"; then
			ok "truncated data file: refused in one line: $(cat "$TMP/daemon.err")"
		else
			not_ok "truncated data file: exit $rc: $(cat "$TMP/daemon.err")"
		fi
	fi
	PID=
fi
finish
