# SPDX-License-Identifier: MIT
# The Debian package: packaging/build-deb.sh builds it with dpkg-buildpackage
# (from a copy of this source tree, not from $CKPTFS), it holds the binary,
# the mount helpers, the man page, the example mount unit and the mappings,
# depends on fuse3, and lintian reports no error.  With
# CKPTFS_TEST_DEB_INSTALL=1 (the CI sets it) the package is also installed:
# man finds the page, `mount -t ckptfs`, `-t fuse.ckptfs` and an fstab line
# mount the example through the installed helper, and the package is
# removed again at the end, whatever happened.  Needs root and dpkg-dev.
. "$(dirname "$0")/lib.sh"
ROOT=${CKPTFS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
	echo "skipped: dpkg-buildpackage and debhelper are needed (packaging/install-deps.sh)"
	exit 77
fi
if [ "$(id -u)" != 0 ]; then
	echo "skipped: needs root"
	exit 77
fi
# The package is built from the source tree, not from the binary under
# test: the sanitizer build's run of the tests would only build it again.
if ldd "$CKPTFS" 2>/dev/null | grep -q libasan; then
	echo "skipped: sanitizer build (the plain build's run tests the package)"
	exit 77
fi

MNT=$TMP/mnt
INSTALLED=0
cleanup() {
	if [ -n "${MNT:-}" ] && grep -q " $MNT " /proc/mounts; then
		umount "$MNT" 2>/dev/null || fusermount3 -u "$MNT" 2>/dev/null
	fi
	[ "$INSTALLED" = 1 ] && dpkg -r ckptfs >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

OUT=$TMP/deb
t0=$(date +%s)
if sh "$ROOT/packaging/build-deb.sh" "$OUT" >"$TMP/build.out" 2>&1; then
	ok "build-deb.sh built the package in $(($(date +%s) - t0)) s"
else
	not_ok "build-deb.sh: $(tail -n 30 "$TMP/build.out")"
	finish
fi
DEB=$(ls "$OUT"/ckptfs_*_*.deb 2>/dev/null | head -n 1)
if [ -n "$DEB" ] && [ -f "$DEB" ]; then
	ok "package: $(basename "$DEB")"
else
	not_ok "no ckptfs_*.deb in $OUT: $(ls "$OUT")"
	finish
fi

dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./||' >"$TMP/list"
for f in usr/bin/ckptfs usr/sbin/mount.ckptfs usr/sbin/mount.fuse.ckptfs \
	usr/share/man/man8/ckptfs.8.gz usr/share/man/man8/mount.ckptfs.8.gz \
	usr/share/ckptfs/mappings/llama.json \
	usr/share/ckptfs/mappings/presets/llama3.1-8b.json \
	usr/share/doc/ckptfs/copyright \
	usr/share/doc/ckptfs/examples/ckptfs-example.mount; do
	grep -qx "$f" "$TMP/list" && ok "contains /$f" || not_ok "/$f missing"
done
# Every mapping file of the source tree is in the package.
n=0 missing=""
for m in "$ROOT"/mappings/*.json "$ROOT"/mappings/presets/*.json; do
	f=usr/share/ckptfs/mappings/${m#"$ROOT"/mappings/}
	n=$((n + 1))
	grep -qx "$f" "$TMP/list" || missing="$missing $f"
done
[ -z "$missing" ] && ok "all $n mapping and preset files" ||
	not_ok "mappings missing:$missing"
# The helpers are relative links to the binary (so that they work in a
# chroot or under DESTDIR too).
for h in mount.ckptfs mount.fuse.ckptfs; do
	link=$(dpkg-deb -c "$DEB" | awk -v h="./usr/sbin/$h" '$6 == h { print $8 }')
	[ "$link" = ../bin/ckptfs ] && ok "/usr/sbin/$h -> $link" ||
		not_ok "/usr/sbin/$h links to '$link'"
done

depends=$(dpkg-deb -f "$DEB" Depends)
case ", $depends," in
*", fuse3,"* | *", fuse3 ("*) ok "Depends: $depends" ;;
*) not_ok "Depends has no fuse3: $depends" ;;
esac
[ "$(dpkg-deb -f "$DEB" Package)" = ckptfs ] && ok "Package: ckptfs" ||
	not_ok "Package: $(dpkg-deb -f "$DEB" Package)"

if command -v lintian >/dev/null; then
	if [ -f "$OUT/lintian.txt" ]; then
		if grep -q '^E:' "$OUT/lintian.txt"; then
			not_ok "lintian errors: $(grep '^E:' "$OUT/lintian.txt")"
		else
			ok "lintian: no errors, $(grep -c '^W:' "$OUT/lintian.txt") warnings"
		fi
	else
		not_ok "build-deb.sh wrote no lintian.txt"
	fi
else
	echo "skip lintian: not installed"
fi

# What the package ships renders and parses.
dpkg-deb -x "$DEB" "$TMP/x"
if command -v man >/dev/null; then
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 \
		-l "$TMP/x/usr/share/man/man8/ckptfs.8.gz" >"$TMP/man.out" 2>"$TMP/man.err"
	if [ ! -s "$TMP/man.err" ] && grep -q 'user.ckptfs.stats' "$TMP/man.out"; then
		ok "the man page renders without warnings"
	else
		not_ok "man page: $(head -n 5 "$TMP/man.err")"
	fi
fi
"$TMP/x/usr/bin/ckptfs" --version >"$TMP/ver" 2>&1 &&
	grep -q "^ckptfs $(dpkg-deb -f "$DEB" Version | sed 's/-[^-]*$//')\$" "$TMP/ver" &&
	ok "the packaged binary runs: $(cat "$TMP/ver")" ||
	not_ok "packaged binary --version: $(cat "$TMP/ver")"
if command -v systemd-analyze >/dev/null; then
	# A mount unit must be named after its mount point: mnt-model.mount.
	mkdir -p "$TMP/unit"
	cp "$TMP/x/usr/share/doc/ckptfs/examples/ckptfs-example.mount" \
		"$TMP/unit/mnt-model.mount"
	if (cd "$TMP/unit" && systemd-analyze verify --man=no ./mnt-model.mount) \
		>"$TMP/sd.out" 2>&1; then
		ok "systemd-analyze verify accepts the example unit"
	else
		not_ok "example unit: $(cat "$TMP/sd.out")"
	fi
fi

if [ "${CKPTFS_TEST_DEB_INSTALL:-0}" != 1 ]; then
	echo "skip install checks: set CKPTFS_TEST_DEB_INSTALL=1 to install the package"
	finish
fi
# Leave the system as it was: never replace an installed ckptfs, nor a
# mount.ckptfs some other install (or test) put there.
if dpkg-query -W -f '${db:Status-Status}' ckptfs 2>/dev/null | grep -q installed; then
	echo "skip install checks: ckptfs is installed already"
	finish
fi
for f in /usr/sbin/mount.ckptfs /usr/sbin/mount.fuse.ckptfs /usr/bin/ckptfs \
	/sbin/mount.ckptfs /sbin/mount.fuse.ckptfs; do
	if [ -e "$f" ] || [ -L "$f" ]; then
		echo "skip install checks: $f exists, not installed by dpkg"
		finish
	fi
done

INSTALLED=1
if dpkg -i "$DEB" >"$TMP/dpkg.out" 2>&1; then
	ok "dpkg -i"
else
	not_ok "dpkg -i: $(tail -n 10 "$TMP/dpkg.out")"
	finish
fi
page=$(man -w ckptfs 2>/dev/null)
[ "$page" = /usr/share/man/man8/ckptfs.8.gz ] && ok "man -w ckptfs: $page" ||
	not_ok "man -w ckptfs: '$page'"
page=$(man -w mount.ckptfs 2>/dev/null)
[ -n "$page" ] && ok "man -w mount.ckptfs: $page" || not_ok "man -w mount.ckptfs"

EX=$TMP/ex
mkdir -p "$MNT"
"$CKPTFS" example "$EX" >/dev/null || not_ok "ckptfs example"
# config.json through the mount: the example's, with torch_dtype set.
check_config() {
	if command -v jq >/dev/null; then
		[ "$(jq -S 'del(.torch_dtype)' "$MNT/config.json" 2>&1)" = \
		  "$(jq -S 'del(.torch_dtype)' "$EX/config.json")" ]
	else
		grep -q '"model_type"' "$MNT/config.json"
	fi
}
if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
	echo "skip mount checks: no /dev/fuse or fusermount3"
else
	for type in ckptfs fuse.ckptfs; do
		if mount -t "$type" "$EX" "$MNT" -o "hf_config=$EX/config.json" \
			2>"$TMP/err" && mounted; then
			ok "mount -t $type"
			check_config && ok "-t $type: config.json read through the mount" ||
				not_ok "-t $type: config.json"
			set -- "$MNT"/*.safetensors
			[ -f "$1" ] && ok "-t $type: $# safetensors file(s) listed" ||
				not_ok "-t $type: no safetensors file in $MNT"
			umount "$MNT" && ! mounted && ok "-t $type: umount" ||
				not_ok "-t $type: umount"
		else
			not_ok "mount -t $type: $(cat "$TMP/err")"
		fi
	done
	if mount --help 2>&1 | grep -q -- '--fstab'; then
		printf '%s %s ckptfs ro,nofail,hf_config=%s 0 0\n' \
			"$EX" "$MNT" "$EX/config.json" >"$TMP/fstab"
		if mount -T "$TMP/fstab" "$MNT" 2>"$TMP/err" && mounted; then
			ok "fstab line"
			check_config && ok "fstab: config.json read through the mount" ||
				not_ok "fstab: config.json"
			umount "$MNT" && ! mounted && ok "fstab: umount" ||
				not_ok "fstab: umount"
		else
			not_ok "fstab line: $(cat "$TMP/err")"
		fi
	else
		echo "skip fstab check: this mount has no -T/--fstab"
	fi
fi

if dpkg -r ckptfs >"$TMP/dpkg.out" 2>&1; then
	INSTALLED=0
	ok "dpkg -r ckptfs"
else
	not_ok "dpkg -r: $(tail -n 10 "$TMP/dpkg.out")"
fi
status=$(dpkg-query -W -f '${db:Status-Status}' ckptfs 2>/dev/null)
if [ -z "$status" ] || [ "$status" = not-installed ]; then
	ok "ckptfs is not installed any more"
else
	not_ok "after dpkg -r, ckptfs is '$status'"
fi
for f in /usr/bin/ckptfs /usr/sbin/mount.ckptfs /usr/sbin/mount.fuse.ckptfs \
	/usr/share/ckptfs /usr/share/man/man8/ckptfs.8.gz; do
	if [ -e "$f" ] || [ -L "$f" ]; then
		not_ok "$f left after dpkg -r"
	fi
done
finish
