# SPDX-License-Identifier: MIT
# The mount is read-only and private by default: the files of a
# world-readable checkpoint are 0444 and the directory 0555; writing, creating, removing, renaming, linking, changing
# modes, times or extended attributes all fail with EROFS ("Read-only file
# system"); the mount is not allow_other unless asked; and nothing in the
# checkpoint changes.
. "$(dirname "$0")/lib.sh"
need_fuse
mount_tmp
chmod 755 "$TMP"	# the view's modes follow the source's (test_security)

EX=$TMP/ex
"$CKPTFS" example "$EX" >/dev/null || not_ok "example"
before=$(find "$EX" -type f -exec sha256sum {} + | sort | sha256sum)
"$CKPTFS" "$EX" "$MNT" -o "hf_config=$EX/config.json" 2>"$TMP/err" ||
	{ not_ok "mount: $(cat "$TMP/err")"; finish; }
st=$(ls "$MNT"/*.safetensors | head -1)

[ "$(stat -c %a "$MNT")" = 555 ] && ok "the directory is 0555" ||
	not_ok "directory mode $(stat -c %a "$MNT")"
modes=$(stat -c %a "$MNT"/* | sort -u | tr '\n' ' ')
[ "$modes" = "444 " ] && ok "every file is 0444" || not_ok "file modes: $modes"
grep " $MNT " /proc/mounts | grep -q allow_other &&
	not_ok "allow_other without asking" || ok "not allow_other by default"

# erofs NAME CMD...: CMD fails, saying "Read-only file system".
erofs() {
	name=$1
	shift
	if "$@" 2>"$TMP/e"; then
		not_ok "$name succeeded"
	elif grep -qi "read-only file system" "$TMP/e"; then
		ok "$name: EROFS"
	else
		not_ok "$name: $(cat "$TMP/e")"
	fi
}
erofs "write" sh -c "echo x >>'$st'"
erofs "create" sh -c "echo x >'$MNT/new'"
erofs "mkdir" mkdir "$MNT/dir"
erofs "rm" rm -f "$st"
erofs "rename" mv "$st" "$MNT/other"
erofs "link" ln "$st" "$MNT/hard"
erofs "symlink" ln -s x "$MNT/sym"
erofs "truncate" truncate -s 0 "$st"
erofs "chmod" chmod 0666 "$st"
erofs "touch" touch "$st"
if command -v setfattr >/dev/null; then
	erofs "setfattr" setfattr -n user.x -v 1 "$st"
fi
fusermount3 -u "$MNT"
after=$(find "$EX" -type f -exec sha256sum {} + | sort | sha256sum)
[ "$before" = "$after" ] && ok "the checkpoint is unchanged" || not_ok "the checkpoint changed"
finish
