# SPDX-License-Identifier: MIT
# The source changing under a mount: the mount keeps serving the generation
# it opened.  A new step saved next to the mounted one, and the mounted
# step's data files replaced by rename (as writers replace files), change
# nothing that is served: every tensor, read past both caches (a 64 KiB
# tensor cache and O_DIRECT), still equals convert's output of the original;
# a new mount then serves the new step.
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$PY" ] || { echo "skipped: $PY is needed"; exit 77; }
mount_tmp

EX=$TMP/ex
"$CKPTFS" example "$EX" --layers 2 --scale 4 --chunks 2 --random >/dev/null || not_ok "example"
"$CKPTFS" example "$TMP/other" --layers 2 --scale 4 --chunks 2 >/dev/null || not_ok "example"
opts="hf_config=$EX/config.json,cache_size=64KiB"
"$CKPTFS" convert "$EX" "$TMP/ref" -o "$opts" >/dev/null 2>"$TMP/err" ||
	not_ok "convert: $(cat "$TMP/err")"
"$CKPTFS" convert "$TMP/other" "$TMP/ref2" -o "$opts" >/dev/null 2>"$TMP/err" ||
	not_ok "convert: $(cat "$TMP/err")"

# same DIR: every shard of the mount read with O_DIRECT equals DIR's.
same() {
	"$PY" - "$MNT" "$1" <<'PYEOF'
import mmap, os, sys
mnt, ref = sys.argv[1], sys.argv[2]
for n in sorted(os.listdir(ref)):
    want = open(os.path.join(ref, n), "rb").read()
    fd = os.open(os.path.join(mnt, n), os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 1 << 20)
    got = bytearray()
    while True:
        k = os.preadv(fd, [buf], len(got))
        if k <= 0:
            break
        got += buf[:k]
    os.close(fd)
    if bytes(got) != want:
        sys.exit("%s differs (%d of %d bytes read)" % (n, len(got), len(want)))
PYEOF
}

"$CKPTFS" "$EX" "$MNT" -o "$opts" 2>"$TMP/err" || not_ok "mount: $(cat "$TMP/err")"
same "$TMP/ref" && ok "mounted: every file equals convert's" || not_ok "before any change"
# A new step next to the mounted one (step 2, other values).
mv "$TMP/other/checkpoints/1" "$EX/checkpoints/2"
# The mounted step's data files replaced, each by rename, with garbage.
n=0
for f in $(find "$EX/checkpoints/1" -path '*/d/*' -type f); do
	head -c "$(stat -c %s "$f")" /dev/urandom >"$f.new" && mv "$f.new" "$f"
	n=$((n + 1))
done
if out=$(same "$TMP/ref" 2>&1); then
	ok "after a new step and $n data files replaced: still the generation mounted"
else
	not_ok "after the changes: $out"
fi
fusermount3 -u "$MNT"
if "$CKPTFS" "$EX" "$MNT" -o "$opts" 2>"$TMP/err"; then
	same "$TMP/ref2" && ok "a new mount serves the new step" ||
		not_ok "the new mount does not serve step 2"
	fusermount3 -u "$MNT"
else
	not_ok "new mount: $(cat "$TMP/err")"
fi
finish
