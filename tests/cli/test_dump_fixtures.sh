# SPDX-License-Identifier: MIT
# `ckptfs dump` gives the values listed in the real fixtures' README.
. "$(dirname "$0")/lib.sh"
need_fixtures
need_numpy

# dump_check NAME SRC ARRAY DTYPE SHAPE EXPR
dump_check() {
	if timeout 60 "$CKPTFS" dump "$2" "$3" >"$TMP/x.npy" 2>"$TMP/err" &&
		check_npy "$TMP/x.npy" "$4" "$5" "$6" >"$TMP/why" 2>&1; then
		ok "$1 $3"
	else
		not_ok "$1 $3: $(cat "$TMP/err" "$TMP/why")"
	fi
}

# Every Orbax checkpoint whose data is intact, zarr v2 (v0 API) and v3 (v1).
n=0
for m in $(find "$FIX/orbax-compat" -name manifest.ocdbt ! -path '*ocdbt.process_*' | sort); do
	dir=$(dirname "$m")
	case "$dir" in */critical_metadata_alterations/*) continue ;; esac
	rel=${dir#"$FIX"/}
	dump_check "$rel" "$dir" a int32 8 "np.arange(8)"
	dump_check "$rel" "$dir" b.c int32 3 "[1, 2, 3]"
	n=$((n + 1))
done
# Step directories given as such (composite: the state/ item is found).
for s in $(find "$FIX/orbax-compat" -type d -name state | sort); do
	step=$(dirname "$s")
	case "$step" in */critical_metadata_alterations/*) continue ;; esac
	dump_check "${step#"$FIX"/} (step dir)" "$step" a int32 8 "np.arange(8)"
done
[ "$n" -ge 20 ] && ok "visited $n orbax-compat checkpoints" ||
	not_ok "only $n orbax-compat checkpoints found"

# Without _METADATA the arrays come from the store's zarr keys.
dump_check "neuroglancer simple_0.5" "$FIX/neuroglancer-ocdbt/ome_zarr/simple_0.5.ocdbt" \
	scale0/image uint16 10x10 "np.arange(100)"
dump_check "zarrs sharded (inner chunks out of order)" \
	"$FIX/zarrs-sharded/sharded_array_write_read.zarr" group/array uint16 8x8 \
	"np.arange(64)"
finish
