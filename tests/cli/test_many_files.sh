# SPDX-License-Identifier: MIT
# Checkpoints of many data files, at the scale of real ones, with few file
# descriptors.  An unscanned Llama whose every chunk sits in a data file of
# its own (about 2,700 files), and a scanned one saved as by 64 hosts (64
# ocdbt.process_N databases under the merged one), are converted and mounted
# with `ulimit -n 256` (and converted with 32), and every byte must equal
# the same arrays written compactly.  The 64 process databases are also read
# without the top-level manifest (a save whose merge was lost).  Data files
# replaced under a mount whose descriptors cannot hold them all: what is
# reopened is refused with EIO and one log line naming the file, and the
# daemon stays up.
. "$(dirname "$0")/lib.sh"
need_fuse
mount_tmp

# same REF DIR: every file of REF equals DIR's.
same() {
	for f in "$1"/*; do
		cmp -s "$f" "$2/$(basename "$f")" || { echo "$(basename "$f") differs"; return 1; }
	done
}
files() { find "$1" -path '*/d/*' -type f | wc -l; }

gen() { # gen DIR ARGS...: a checkpoint, and its reference conversion
	dir=$1
	shift
	"$CKPTFS" example "$dir" --random "$@" >/dev/null || not_ok "example $*"
}
U="--unscanned --layers 10 --chunks 64 --scale 4"
S="--layers 4 --chunks 64 --scale 4"
gen "$TMP/many" $U --data-file-bytes 1
gen "$TMP/compact" $U
gen "$TMP/hosts" $S --processes 64 --data-file-bytes 1
gen "$TMP/hosts1" $S
n=$(files "$TMP/many")
p=$(find "$TMP/hosts/checkpoints/1/items" -maxdepth 1 -name 'ocdbt.process_*' | wc -l)
[ "$n" -ge 2500 ] && ok "$n data files in the unscanned checkpoint" || not_ok "only $n data files"
[ "$p" = 64 ] && ok "64 process databases, $(files "$TMP/hosts") data files" || not_ok "$p process databases"

opts() { echo "hf_config=$1/config.json,cache_size=1MiB"; }
for c in compact hosts1; do
	"$CKPTFS" convert "$TMP/$c" "$TMP/ref.$c" -o "$(opts "$TMP/$c")" >/dev/null 2>"$TMP/err" ||
		not_ok "convert $c: $(cat "$TMP/err")"
done

# convert and mount with 256 descriptors
check() { # check NAME REF LIMIT
	if (ulimit -n "$3" && "$CKPTFS" convert "$TMP/$1" "$TMP/out.$1.$3" -o "$(opts "$TMP/$1")") \
		>/dev/null 2>"$TMP/err"; then
		out=$(same "$TMP/$2" "$TMP/out.$1.$3") && ok "$1: convert with ulimit -n $3 equals the compact one" ||
			not_ok "$1: convert with ulimit -n $3: $out"
	else
		not_ok "$1: convert with ulimit -n $3: $(cat "$TMP/err")"
	fi
	rm -rf "$TMP/out.$1.$3"
}
check many ref.compact 256
check many ref.compact 32
check hosts ref.hosts1 256

mount_check() { # mount_check NAME REF
	if (ulimit -n 256 && "$CKPTFS" "$TMP/$1" "$MNT" -o "$(opts "$TMP/$1")") 2>"$TMP/err"; then
		out=$(same "$TMP/$2" "$MNT") && ok "$1: mounted with ulimit -n 256, every file equals the compact one" ||
			not_ok "$1: mounted: $out"
		fusermount3 -u "$MNT"
	else
		not_ok "$1: mount with ulimit -n 256: $(cat "$TMP/err")"
	fi
}
mount_check many ref.compact
mount_check hosts ref.hosts1
mv "$TMP/hosts/checkpoints/1/items/manifest.ocdbt" "$TMP/hosts-manifest"
mount_check hosts ref.hosts1
mv "$TMP/hosts-manifest" "$TMP/hosts/checkpoints/1/items/manifest.ocdbt"

# Data files replaced by rename (same bytes, new files) under a mount that
# cannot keep them all open: reads that must reopen one fail with EIO and a
# log line naming it; the daemon stays up.
(ulimit -n 256 && exec "$CKPTFS" "$TMP/many" "$MNT" -f -o "$(opts "$TMP/many")") 2>"$TMP/daemon.err" &
PID=$!
if wait_mounted; then
	for f in $(find "$TMP/many" -path '*/d/*' -type f); do
		cp "$f" "$f.new" && mv "$f.new" "$f"
	done
	if dd if="$MNT/model.safetensors" of=/dev/null bs=1M iflag=direct 2>"$TMP/dd.err"; then
		not_ok "reads after every data file was replaced succeeded"
	else
		grep -q "Input/output error" "$TMP/dd.err" && ok "replaced data files: EIO" ||
			not_ok "replaced data files: $(cat "$TMP/dd.err")"
	fi
	grep -q "many/checkpoints/1/items/d/[0-9a-f]*: data file changed since the checkpoint was opened" \
		"$TMP/daemon.err" && ok "the log names the replaced file" ||
		not_ok "log: $(tail -3 "$TMP/daemon.err")"
	head -c 100 "$MNT/config.json" >/dev/null && mounted && ok "the daemon stays up" ||
		not_ok "the daemon is gone"
	fusermount3 -u "$MNT"
	wait "$PID"
	PID=
else
	not_ok "mount -f: $(cat "$TMP/daemon.err")"
fi
finish
