#!/bin/sh
# SPDX-License-Identifier: MIT
# Seed corpora for the OCDBT targets (fuzz_ocdbt_manifest, _btree, _version),
# derived at run time from the real fixtures into OUT/ocdbt_<target>/; no
# fixture bytes are kept in the source tree.
#   sh tests/fuzz/make_seeds.sh OUT
# Each seed is one framing byte (see fuzz_ocdbt.h) + bytes: 00 + a whole
# encoded object as found on disk, or 01 + its decoded body (needs the zstd
# command; skipped without it).  Objects inside d/ files are located by their
# magic and cut out with dd using the length field of their header.
set -eu
out=$1
fix=${CKPTFS_REAL_FIXTURES:-../shared/fixtures/real}
[ -d "$fix" ] || { echo "no fixtures at $fix: no derived seeds"; exit 0; }
mkdir -p "$out/ocdbt_manifest" "$out/ocdbt_btree" "$out/ocdbt_version"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# seed DIR NAME FILE: write 00+FILE and, if it is zstd-compressed, 01+body.
seed() {
	printf '\000' >"$1/$2.obj"
	cat "$3" >>"$1/$2.obj"
	size=$(wc -c <"$3")
	comp=$(od -An -tu1 -j13 -N1 "$3" | tr -d ' ')
	if [ "$comp" = 1 ] && command -v zstd >/dev/null 2>&1 && [ "$size" -gt 18 ]; then
		dd if="$3" of="$tmp/frame" bs=1 skip=14 count=$((size - 18)) 2>/dev/null
		if zstd -q -d -c "$tmp/frame" >"$tmp/body" 2>/dev/null; then
			printf '\001' >"$1/$2.body"
			cat "$tmp/body" >>"$1/$2.body"
		fi
	elif [ "$comp" = 0 ] && [ "$size" -gt 18 ]; then
		printf '\001' >"$1/$2.body"
		dd if="$3" bs=1 skip=14 count=$((size - 18)) 2>/dev/null >>"$1/$2.body"
	fi
}

# objects MAGIC_REGEX DIR PREFIX FILES...: cut every object with that magic.
objects() {
	re=$1 dir=$2 prefix=$3
	shift 3
	i=0
	for f in "$@"; do
		for off in $(LC_ALL=C grep -obUaP "$re" "$f" | cut -d: -f1); do
			len=$(od -An -tu8 -j$((off + 4)) -N8 "$f" | tr -d ' ')
			fsize=$(wc -c <"$f")
			[ -n "$len" ] && [ "$len" -ge 18 ] && [ $((off + len)) -le "$fsize" ] || continue
			dd if="$f" of="$tmp/obj" bs=1 skip="$off" count="$len" 2>/dev/null
			i=$((i + 1))
			seed "$dir" "$prefix$i" "$tmp/obj"
			if [ "$i" -ge 60 ]; then
				break 2
			fi
		done
	done
}

i=0
for m in $(find "$fix/neuroglancer-ocdbt" "$fix/orbax-compat/v0_checkpoints/direct_checkpoint" \
	"$fix/orbax-compat/v1_checkpoints/composite_checkpoint/checkpoint_metadata_present" \
	-name manifest.ocdbt | sort); do
	i=$((i + 1))
	seed "$out/ocdbt_manifest" "m$i" "$m"
	if [ "$i" -ge 40 ]; then
		break
	fi
done

ng=$fix/neuroglancer-ocdbt
btree_files=$(find "$ng/kvstore-ocdbt/files_min_arity.ocdbt/d" "$ng/kvstore-ocdbt/files_high_arity.ocdbt/d" \
	"$ng/ome_zarr" "$fix/orbax-compat/v1_checkpoints/composite_checkpoint/checkpoint_metadata_present" \
	-path '*/d/*' -type f | sort | head -40)
# shellcheck disable=SC2086
objects '\x0c\xdb\x20\xde' "$out/ocdbt_btree" b $btree_files
version_files=$(find "$ng/kvstore-ocdbt/multi_version_low_arity.ocdbt/d" \
	"$ng/kvstore-ocdbt/multi_version_high_arity.ocdbt/d" -type f | sort)
# shellcheck disable=SC2086
objects '\x0c\xdb\x12\x34' "$out/ocdbt_version" v $version_files
