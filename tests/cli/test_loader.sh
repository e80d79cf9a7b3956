# SPDX-License-Identifier: MIT
# The Hugging Face loaders' order through a real mount: shards in file-name
# order, within a shard the tensors in name order (layer 0 of every array,
# then layer 1, ... while every chunk of a scanned array holds all layers),
# each copied out of a shared read-only mmap, by one reader and by four
# reading every 4th tensor.  Shards are cut at group boundaries (a scanned
# array's layers stay in one shard), so a cache of two shards decodes each
# source chunk once: read_amplification <= 1.05 (1.1 with four readers,
# which may straddle two shards and a load), every tensor equal to
# convert's; without a disk tier (cache_dir=none), so that the layout alone
# does it, and with the default tier, which then stores nothing.  The same
# checkpoint in one shard, same cache, no tier, decodes more (the test's
# control).
. "$(dirname "$0")/lib.sh"
need_fuse getfattr
need_numpy
mount_tmp

EX=$TMP/ex
"$CKPTFS" example "$EX" --layers 4 --scale 8 --chunks 4 --random >/dev/null || not_ok "example"
# groups of 1 to 4 MiB (the layers of one array), 27 MiB in all
opts="hf_config=$EX/config.json,cache_size=12MiB,shard_size=4MiB"
"$CKPTFS" convert "$EX" "$TMP/ref" -o "$opts" >/dev/null 2>"$TMP/err" ||
	not_ok "convert: $(cat "$TMP/err")"
# The kernel's readahead smaller than these 4 MiB shards, as the default
# 16 MiB is than the default 512 MiB ones: a window as large as this model
# would read it front to back whatever order the loader asks in.
ra=read_ahead=1MiB
n=$(ls "$TMP/ref"/*.safetensors | wc -l)
[ "$n" -ge 5 ] && ok "$n shards of at most 4 MiB" || not_ok "$n shards"

# every scanned array's layers (model.layers.N.REST, same REST) in one shard
if "$PY" - "$TMP/ref/model.safetensors.index.json" <<'PYEOF'; then
import json, re, sys
wmap = json.load(open(sys.argv[1]))["weight_map"]
where = {}
for name, f in wmap.items():
    m = re.match(r"model\.layers\.\d+\.(.*)", name)
    if m:
        where.setdefault(m.group(1), set()).add(f)
split = {k: v for k, v in where.items() if len(v) > 1}
sys.exit("split groups: %s" % split if split else 0)
PYEOF
	ok "no scanned array's layers are split between shards"
else
	not_ok "a group is split between shards"
fi

# loader READERS: read the mount in the loaders' order, compare with ref
loader() {
	"$PY" - "$MNT" "$TMP/ref" "$1" <<'PYEOF'
import json, mmap, os, struct, sys, threading
import numpy as np
mnt, ref, readers = sys.argv[1], sys.argv[2], int(sys.argv[3])
wmap = json.load(open(os.path.join(mnt, "model.safetensors.index.json")))["weight_map"]
order = sorted(wmap.items(), key=lambda kv: (kv[1], kv[0]))
lock, shards, bad = threading.Lock(), {}, []
def shard(root, f):
    with lock:
        if (root, f) not in shards:
            fh = open(os.path.join(root, f), "rb")
            mm = mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ)
            fh.close()
            n = struct.unpack("<Q", mm[:8])[0]
            shards[root, f] = (mm, 8 + n, json.loads(bytes(mm[8:8 + n])))
        return shards[root, f]
def run(k):
    for name, f in order[k::readers]:
        got = []
        for root in (mnt, ref):
            mm, base, hdr = shard(root, f)
            a, b = hdr[name]["data_offsets"]
            got.append(np.frombuffer(mm, dtype=np.uint8, count=b - a, offset=base + a).copy())
        if not np.array_equal(got[0], got[1]):
            bad.append(name)
th = [threading.Thread(target=run, args=(k,)) for k in range(readers)]
[t.start() for t in th]
[t.join() for t in th]
sys.exit("differ: %s" % bad[:5] if bad else 0)
PYEOF
}
amp() { stats | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["read_amplification"])'; }

export HOME=$TMP/home
unset XDG_CACHE_HOME
mkdir -p "$HOME"
for readers in 1 4; do
	if "$CKPTFS" "$EX" "$MNT" -o "$opts,$ra,cache_dir=none" 2>"$TMP/err"; then
		if out=$(loader $readers 2>&1); then
			ok "$readers reader(s), loader order: every tensor equals convert's"
		else
			not_ok "$readers reader(s): $out"
		fi
		a=$(amp)
		lim=$([ "$readers" = 1 ] && echo 1.05 || echo 1.1)
		awk -v a="$a" -v l="$lim" 'BEGIN { exit !(a <= l) }' &&
			ok "$readers reader(s): read_amplification $a" ||
			not_ok "$readers reader(s): read_amplification $a > $lim"
		fusermount3 -u "$MNT"
	else
		not_ok "mount: $(cat "$TMP/err")"
	fi
done

# the default tier: nothing written to it in the loaders' order
if "$CKPTFS" "$EX" "$MNT" -o "$opts,$ra" 2>"$TMP/err"; then
	loader 1 >/dev/null 2>&1 || not_ok "default tier: bytes differ"
	w=$(stats | "$PY" -c 'import json, sys; s = json.load(sys.stdin); print(s["disk_tier_bytes_written"], s["read_amplification"])')
	[ "$w" = "0 1.0" ] && ok "default tier: nothing stored, amplification 1" ||
		not_ok "default tier: stored, amplification: $w"
	fusermount3 -u "$MNT"
else
	not_ok "mount: $(cat "$TMP/err")"
fi

# the control: one shard, the same cache, no tier
"$CKPTFS" "$EX" "$MNT" -o "${opts%,shard_size=*},shard_size=1GiB,$ra,cache_dir=none" 2>"$TMP/err" ||
	not_ok "mount: $(cat "$TMP/err")"
"$CKPTFS" convert "$EX" "$TMP/ref1" -o "${opts%,shard_size=*},shard_size=1GiB" >/dev/null 2>&1
mv "$TMP/ref" "$TMP/ref6" && mv "$TMP/ref1" "$TMP/ref"
loader 1 >/dev/null 2>&1 || not_ok "one shard: bytes differ"
a=$(amp)
awk -v a="$a" 'BEGIN { exit !(a > 1.5) }' && ok "control, one shard: read_amplification $a" ||
	not_ok "control, one shard: read_amplification $a, expected more than 1.5"
fusermount3 -u "$MNT"
finish
