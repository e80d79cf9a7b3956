# SPDX-License-Identifier: MIT
# A mount made by root with allow_other lets no user read what that user
# could not read at the source.  As root: a checkpoint and a tokenizer
# directory with planted symlinks (to a 0600 root file, out of the tree),
# 0600 and 0640 source files, a 0700 item directory.  As unprivileged users
# (setpriv; one in the files' group, one not): every read the source
# refuses fails through the mount, every read it allows gives the right
# bytes; the same for convert run as those users.
. "$(dirname "$0")/lib.sh"
need_fuse setpriv
if [ "$(id -u)" != 0 ]; then
	echo "skipped: needs root (mounts with allow_other, runs as other users)"
	exit 77
fi
mount_tmp
chmod 755 "$TMP"
# Users that exist nowhere else: A is in group G, B is not.
G=4244
as_a() { setpriv --reuid=4242 --regid=4243 --groups=$G "$@"; }
as_b() { setpriv --reuid=4245 --regid=4246 --clear-groups "$@"; }
# What the users run: a copy of the binary and the mappings they can read.
# (Under tests/valgrind-cli.sh, CKPTFS is a wrapper in a private directory:
# the users run the binary itself.)
mkdir -p "$TMP/bin"
cp "${CKPT_VG_BIN:-$CKPTFS}" "$TMP/bin/ckptfs"
cp -r "${CKPTFS_SRC:-$(dirname "$0")/../..}/mappings" "$TMP/maps"
chmod -R a+rX "$TMP/bin" "$TMP/maps"
BIN=$TMP/bin/ckptfs

echo root-secret >"$TMP/secret"
chmod 600 "$TMP/secret"
EX=$TMP/ex
"$CKPTFS" example "$EX" >/dev/null
ITEM=$EX/checkpoints/1/items
chmod -R a+rX "$EX"
OPTS="hf_config=$EX/config.json,mappings=$TMP/maps"
"$CKPTFS" convert "$EX" "$TMP/ref" -o "$OPTS" >/dev/null 2>&1
chmod -R a+rX "$TMP/ref"

# ro_ok WHO FILE: WHO reads FILE through the mount and gets the reference.
ro_ok() {
	if "$1" cat "$MNT/$2" >"$TMP/got" 2>"$TMP/err" && cmp -s "$TMP/got" "$TMP/ref/$2"; then
		ok "$3: $1 reads $2"
	else
		not_ok "$3: $1 cannot read $2: $(cat "$TMP/err")"
	fi
}
# ro_denied WHO FILE: the read fails (EACCES, or the name is absent).
ro_denied() {
	if "$1" cat "$MNT/$2" >/dev/null 2>"$TMP/err"; then
		not_ok "$3: $1 read $2"
	elif grep -q 'Permission denied\|No such file' "$TMP/err"; then
		ok "$3: $1 refused $2 ($(sed 's/.*: //' "$TMP/err"))"
	else
		not_ok "$3: $1 on $2: $(cat "$TMP/err")"
	fi
}
do_mount() {
	if "$CKPTFS" "$EX" "$MNT" -o "$OPTS,allow_other$1" 2>"$TMP/err" && mounted; then
		return 0
	fi
	not_ok "mount -o ...$1: $(cat "$TMP/err")"
	return 1
}
files="config.json model.safetensors model.safetensors.index.json"

# 1. A world-readable checkpoint: everyone reads the right bytes.
if do_mount ""; then
	for f in $files; do ro_ok as_a "$f" "0644"; ro_ok as_b "$f" "0644"; done
	fusermount3 -u "$MNT"
fi
mkdir -p "$TMP/out" && chmod 777 "$TMP/out"
as_b "$BIN" convert "$EX" "$TMP/out/b" -o "$OPTS" >/dev/null 2>"$TMP/err" &&
	cmp -s "$TMP/out/b/model.safetensors" "$TMP/ref/model.safetensors" &&
	ok "0644: convert as another user gives the same bytes" ||
	not_ok "0644: convert as another user: $(cat "$TMP/err")"

# 2. Data files 0640 root:G: A (in G) reads, B does not, at the source and
# through the mount.
chgrp -R $G "$ITEM"
find "$ITEM" -type f -exec chmod 640 {} +
if do_mount ""; then
	ls -ln "$MNT" | grep -q "^-r--r----- 1 0 $G .* model.safetensors" &&
		ok "0640: the view's files are 0440 root:$G" ||
		not_ok "0640: modes: $(ls -ln "$MNT" | tr '\n' ' ')"
	for f in $files; do ro_ok as_a "$f" "0640"; ro_denied as_b "$f" "0640"; done
	fusermount3 -u "$MNT"
fi
as_b "$BIN" convert "$EX" "$TMP/out/b2" -o "$OPTS" >/dev/null 2>"$TMP/err" &&
	not_ok "0640: convert as a user outside the group succeeded" ||
	ok "0640: convert as a user outside the group fails: $(head -1 "$TMP/err")"
as_a "$BIN" convert "$EX" "$TMP/out/a2" -o "$OPTS" >/dev/null 2>"$TMP/err" &&
	cmp -s "$TMP/out/a2/model.safetensors" "$TMP/ref/model.safetensors" &&
	ok "0640: convert as a member of the group" ||
	not_ok "0640: convert as a member: $(cat "$TMP/err")"

# 3. One data file 0600 root: no one else reads the model.
chgrp -R 0 "$ITEM"
chmod -R a+rX "$ITEM"
f1=$(find "$ITEM/d" -type f | head -1)
chmod 600 "$f1"
if do_mount ""; then
	for f in $files; do ro_denied as_a "$f" "one 0600 file"; ro_denied as_b "$f" "one 0600 file"; done
	fusermount3 -u "$MNT"
fi
# Explicit overrides, as other FUSE filesystems take them.
if do_mount ",umask=0222,uid=4245"; then
	ro_ok as_b model.safetensors "umask=0222,uid=4245 overrides"
	fusermount3 -u "$MNT"
fi
chmod 644 "$f1"

# 4. A 0700 item directory: nothing can be listed or read by others.
chmod 700 "$ITEM"
if do_mount ""; then
	as_b ls "$MNT" >/dev/null 2>&1 && not_ok "0700 item: B lists the mount" ||
		ok "0700 item: B cannot list the mount"
	for f in $files; do ro_denied as_a "$f" "0700 item"; done
	fusermount3 -u "$MNT"
fi
chmod 755 "$ITEM"

# 5. A data file replaced by a symlink out of the checkpoint: refused at
# mount, naming it; -o follow_symlinks takes it (and its modes).
mkdir -p "$TMP/elsewhere"
cp "$f1" "$TMP/elsewhere/data"
chmod 644 "$TMP/elsewhere/data"
mv "$f1" "$TMP/f1.orig"
ln -s "$TMP/elsewhere/data" "$f1"
if "$CKPTFS" "$EX" "$MNT" -o "$OPTS" 2>"$TMP/err"; then
	not_ok "symlink out of the checkpoint: mounted"
	fusermount3 -u "$MNT"
elif [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "$f1: a symlink out of the checkpoint" "$TMP/err" &&
	! mounted; then
	ok "symlink out of the checkpoint refused: $(cat "$TMP/err")"
else
	not_ok "symlink out of the checkpoint: $(cat "$TMP/err")"
fi
"$CKPTFS" convert "$EX" "$TMP/conv-link" -o "$OPTS" >/dev/null 2>"$TMP/err" &&
	not_ok "convert followed the symlink" || ok "convert refuses it too"
if do_mount ",follow_symlinks"; then
	ro_ok as_b model.safetensors "follow_symlinks"
	fusermount3 -u "$MNT"
fi
# Followed to a 0600 root file: the view is root's only.
chmod 600 "$TMP/elsewhere/data"
if do_mount ",follow_symlinks"; then
	ro_denied as_b model.safetensors "follow_symlinks to a 0600 file"
	ro_denied as_a model.safetensors "follow_symlinks to a 0600 file"
	fusermount3 -u "$MNT"
fi
rm "$f1"
mv "$TMP/f1.orig" "$f1"

# 6. Tokenizer files: only regular files with a tokenizer's name, never a
# symlink; each carries its own modes.
TOK=$TMP/tok
mkdir -p "$TOK"
echo '{"model": "x"}' >"$TOK/tokenizer.json"
echo '{"bos": 1}' >"$TOK/generation_config.json"
echo private >"$TOK/vocab.txt"
chmod 600 "$TOK/vocab.txt"
ln -s "$TMP/secret" "$TOK/tokenizer_config.json"
echo notes >"$TOK/notes.txt"
chmod 755 "$TOK"
chmod 644 "$TOK/tokenizer.json" "$TOK/generation_config.json" "$TOK/notes.txt"
if "$CKPTFS" "$EX" "$MNT" -o "$OPTS,allow_other,tokenizer=$TOK" 2>"$TMP/tok.err" && mounted; then
	[ "$(as_b cat "$MNT/tokenizer.json")" = '{"model": "x"}' ] &&
		[ "$(as_b cat "$MNT/generation_config.json")" = '{"bos": 1}' ] &&
		ok "tokenizer: regular files pass through" || not_ok "tokenizer: files differ"
	ro_denied as_b tokenizer_config.json "tokenizer symlink to a root secret"
	ro_denied as_b notes.txt "tokenizer: a name tokenizers do not use"
	ro_denied as_b vocab.txt "tokenizer: a 0600 file"
	[ "$(cat "$MNT/vocab.txt")" = private ] && ok "tokenizer: root reads the 0600 file" ||
		not_ok "tokenizer: root cannot read vocab.txt"
	[ ! -e "$MNT/tokenizer_config.json" ] && ok "tokenizer: the symlink is not in the view" ||
		not_ok "tokenizer: the symlink is served"
	grep -q 'skipped.*notes.txt.*tokenizer_config.json\|skipped.*tokenizer_config.json.*notes.txt' "$TMP/tok.err" &&
		ok "tokenizer: what is skipped is logged" || not_ok "tokenizer log: $(cat "$TMP/tok.err")"
	fusermount3 -u "$MNT"
else
	not_ok "tokenizer mount: $(cat "$TMP/tok.err")"
fi
finish
