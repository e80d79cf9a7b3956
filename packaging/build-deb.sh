#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the ckptfs Debian package (a binary .deb) with Debian's own tools:
#   sh packaging/build-deb.sh [OUTDIR]        (default ./build-deb)
# dpkg-buildpackage wants debian/ at the top of the source tree, so this
# copies the source tree to a temporary directory, copies packaging/debian
# to debian/ there, runs `dpkg-buildpackage -b -us -uc`, then lintian when
# it is installed, and leaves the .deb files, the .changes, the .buildinfo,
# the build log and lintian's report in OUTDIR.
#
# What is copied: in a git checkout, the files `git ls-files --cached
# --others --exclude-standard` lists, as they are in the working tree, so
# uncommitted edits of tracked files and new files that are not ignored are
# packaged, and ignored ones (build*/, out/, ...) are not; outside git, the
# whole tree less .git and the patterns of .gitignore.
#
# The upstream tests are not run in the package build (DEB_BUILD_OPTIONS
# gets nocheck; the project's CI runs them); CKPTFS_DEB_CHECK=1 runs the
# unit tests there (with the real fixtures of ../shared, or
# $CKPTFS_REAL_FIXTURES).  The build fails when lintian reports an error.
# Needs: dpkg-dev, debhelper and the Build-Depends (packaging/install-deps.sh).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

for tool in dpkg-buildpackage dpkg-parsechangelog dh; do
	if ! command -v "$tool" >/dev/null; then
		echo "build-deb.sh: $tool not found (run packaging/install-deps.sh)" >&2
		exit 1
	fi
done
version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
upstream=${version%-*}

work=$(mktemp -d "${TMPDIR:-/tmp}/ckptfs-deb-XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/ckptfs-$upstream
mkdir "$src"

if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked files deleted in the working tree are left out.
	git -C "$root" ls-files -z --cached --others --exclude-standard |
		(cd "$root" && xargs -0 sh -c \
			'for f; do { [ -e "$f" ] || [ -L "$f" ]; } && printf "%s\0" "$f"; done' sh) |
		tar -C "$root" --null --no-recursion -T - -cf - |
		tar -C "$src" -xf -
	how="git ls-files (working tree, untracked files not ignored included)"
else
	tar -C "$root" --exclude=./.git --exclude='./build*' --exclude=./out \
		--exclude='*.o' --exclude='crash-*' --exclude='leak-*' \
		--exclude='timeout-*' -cf - . | tar -C "$src" -xf -
	how="a copy of the tree (no git checkout)"
fi
rm -rf "$src/debian"
cp -R "$root/packaging/debian" "$src/debian"
echo "build-deb.sh: ckptfs $version from $how, in $src"

jobs=$(nproc 2>/dev/null || echo 2)
opts="parallel=$jobs"
if [ "${CKPTFS_DEB_CHECK:-0}" = 1 ]; then
	# The copy has no ../shared: point the unit tests at the real fixtures.
	fix=${CKPTFS_REAL_FIXTURES:-$root/../shared/fixtures/real}
	[ -d "$fix" ] && CKPTFS_REAL_FIXTURES=$(cd "$fix" && pwd) &&
		export CKPTFS_REAL_FIXTURES
else
	opts="$opts nocheck"
fi
log=$out/ckptfs_${version}_build.log
if ! (cd "$src" && DEB_BUILD_OPTIONS="$opts ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -b -us -uc) >"$log" 2>&1; then
	tail -n 60 "$log" >&2
	echo "build-deb.sh: dpkg-buildpackage failed; the log is $log" >&2
	exit 1
fi
changes=$(ls "$work"/ckptfs_"$version"_*.changes)
for f in "$work"/*.deb "$work"/*.buildinfo "$changes"; do
	cp "$f" "$out/"
	echo "build-deb.sh: $out/$(basename "$f")"
done

if command -v lintian >/dev/null; then
	# lintian exits non-zero when it reports an error.
	status=0
	lintian --display-info "$changes" >"$out/lintian.txt" 2>&1 || status=$?
	cat "$out/lintian.txt"
	if [ "$status" -ne 0 ]; then
		echo "build-deb.sh: lintian failed (status $status)" >&2
		exit 1
	fi
	echo "build-deb.sh: lintian: $(grep -c '^E:' "$out/lintian.txt") errors," \
		"$(grep -c '^W:' "$out/lintian.txt") warnings"
else
	echo "build-deb.sh: lintian not installed, not run"
fi
