#!/bin/sh
# SPDX-License-Identifier: MIT
# Remote reads against their floors, on loopback, one line per figure.
#   sh tests/bench/bench_remote.sh [CKPTFS] [SIZE_MB] [CACHE]
# CKPTFS   the binary (default $CKPTFS, else build/ckptfs)
# SIZE_MB  about how many MiB of bfloat16 weights (default 384)
# CACHE    cache_size= of the mounts (default 256MiB): the peak RSS bound
#          is CACHE + 128 MiB + the readahead's budget (concurrency x
#          4 MiB: 128 MiB with the defaults)
#
# The checkpoint is `ckptfs example --scale K --layers N --chunks 8
# --random` (as bench_perf.sh makes it) in data files of 32 MiB, served
# over http:// by nginx and over s3:// by s3rver (tests/remote/lib.sh).
# For each:
#  (1) network floor: every object of the step fetched whole by parallel
#      curl (xargs -P 16);
#  (2) decode floor: all-core zstd decode of the same chunks
#      (tests/bench/decode_floor.py);  floor = the slower of the two;
#  (3) a cold full read of a fresh mount (cat of every safetensors file)
#      and the Hugging Face loaders' order (tests/bench/perf_reads.py
#      loader, 1 reader): time and floor/time;
#  (4) the same with 20 ms of round trip added (tc netem, 10 ms on each
#      side of a veth pair into a network namespace that holds the
#      servers), skipped with a message where netns or netem is missing;
#  (5) the daemon's peak RSS (VmHWM) against CACHE + 128 MiB + 128 MiB
#      of readahead (docs/remote.md);
#  (6) the requests and bytes fetched (user.ckptfs.stats).
# The origin's files are in the page cache throughout (this measures the
# network and decode path, not the origin's disk).  A benchmark: it prints,
# and fails only when something does not work (a mount, or bytes that
# differ from the local mount's).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRCROOT=$(cd "$HERE/../.." && pwd)
CKPTFS=${1:-${CKPTFS:-build/ckptfs}}
SIZE_MB=${2:-384}
CACHE=${3:-256MiB}
[ -x "$CKPTFS" ] || { echo "bench_remote: no executable $CKPTFS" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench_remote: needs root (FUSE, netns)" >&2; exit 2; }
CKPTFS=$(cd "$(dirname "$CKPTFS")" && pwd)/$(basename "$CKPTFS")
CKPTFS_SRC=$SRCROOT
export CKPTFS CKPTFS_SRC
. "$SRCROOT/tests/cli/lib.sh"
need_fuse getfattr curl jq
"$PY" -c 'import numpy, zstandard' 2>/dev/null ||
	{ echo "bench_remote: $PY needs numpy and zstandard" >&2; exit 2; }
. "$SRCROOT/tests/remote/lib.sh"
# The bench copies the binary, so that a rebuild does not change it.
cp "$CKPTFS" "$TMP/ckptfs"
CK=$TMP/ckptfs

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
mb() { calc "%.1f" "$1 / 1048576"; }
kv() { sed -n "s/^$1=//p" "$2"; }
fig() { printf '  %-44s %s\n' "$1:" "$2"; }
to_bytes() { # SIZE with an optional KiB/MiB/GiB (or K/M/G) suffix
	echo "$1" | awk '{ n = $0 + 0; u = $0; sub(/^[0-9.]+/, "", u)
		m = 1; if (u ~ /^[Kk]/) m = 1024; if (u ~ /^[Mm]/) m = 1048576
		if (u ~ /^[Gg]/) m = 1073741824; printf "%.0f", n * m }'
}

# --- the checkpoint ---------------------------------------------------------
# bench_perf.sh's sizing: the largest scale with >= 8 layers within 5%.
# shellcheck disable=SC2046
set -- $(awk -v mb="$SIZE_MB" 'BEGIN {
	t = mb * 1048576; bs = 0; bl = 0; be = 1e30; fs = 0; fl = 0
	for (s = 64; s >= 1; s--) for (l = 1; l <= 64; l++) {
		b = 2 * (s * s * (36864 * l + 32768) + 64 * s * (2 * l + 1))
		e = (b > t ? b - t : t - b) / t
		if (e < be) { be = e; fs = s; fl = l }
		if (!bs && l >= 8 && e <= 0.05) { bs = s; bl = l }
	}
	if (bs) print bs, bl; else print fs, fl }')
SCALE=$1 LAYERS=$2
ORIGIN=$TMP/origin/bkt
mkdir -p "$ORIGIN"
t0=$(now)
"$CK" example "$ORIGIN/run" --scale "$SCALE" --layers "$LAYERS" --chunks 8 --random \
	--data-file-bytes $((32 << 20)) \
	>/dev/null || { echo "bench_remote: ckptfs example failed" >&2; exit 1; }
STEP=run/checkpoints/1
SD=$ORIGIN/$STEP
OPT="hf_config=$ORIGIN/run/config.json,cache_size=$CACHE,cache_dir=none"
STORED=$(find "$SD" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
NOBJ=$(find "$SD" -type f | wc -l)
echo "== checkpoint: llama --scale $SCALE --layers $LAYERS --chunks 8 --random, 32 MiB data files:" \
	"$NOBJ objects, $(mb "$STORED") MB stored ($(calc %.0f "$(now) - $t0") s to write)"
(cd "$ORIGIN" && find "$STEP" -type f | LC_ALL=C sort) >"$TMP/objects"
# The origin's files in the page cache.
find "$SD" -type f -exec cat {} + >/dev/null

# The local mount: what every remote mount must serve.
rmt_mount "$SD" "$TMP/local" "$OPT" || { echo "bench_remote: local mount failed" >&2; exit 1; }
SERVED=$(cat "$TMP/local"/*.safetensors | wc -c)
(cd "$TMP/local" && for f in *.safetensors; do echo "$f $(cksum <"$f")"; done) >"$TMP/sums.local"
rmt_umount "$TMP/local"
# The same reads from the local path (its files in the page cache): what
# the read engine itself takes, network aside.  Each remote time is also
# given against it.
rmt_mount "$SD" "$TMP/local" "$OPT" || { echo "bench_remote: local mount failed" >&2; exit 1; }
t0=$(now)
cat "$TMP/local"/*.safetensors >/dev/null
T_LOCAL_CAT=$(calc %.3f "$(now) - $t0")
rmt_umount "$TMP/local"
rmt_mount "$SD" "$TMP/local" "$OPT" || { echo "bench_remote: local mount failed" >&2; exit 1; }
"$PY" "$HERE/perf_reads.py" loader "$TMP/local" 1 >"$TMP/loader.kv" 2>/dev/null
T_LOCAL_LOADER=$(kv seconds "$TMP/loader.kv")
rmt_umount "$TMP/local"
echo "  served: $(mb "$SERVED") MB in $(wc -l <"$TMP/sums.local") safetensors files; cache_size=$CACHE"
echo "  local path, files in the page cache: cat $T_LOCAL_CAT s, loader order $(calc %.3f "${T_LOCAL_LOADER:-0}") s"

# --- decode floor (once) -------------------------------------------------------
"$PY" "$HERE/decode_floor.py" "$SD" "$(nproc)" 3 >"$TMP/dec.kv" ||
	{ echo "bench_remote: decode_floor.py failed" >&2; exit 1; }
T_DEC=$(kv t_allcore "$TMP/dec.kv")
fig "decode floor (all-core zstd, $(nproc) cores)" \
	"$T_DEC s ($(kv mbs_allcore "$TMP/dec.kv") MB/s, $(kv frames "$TMP/dec.kv") frames, $(mb "$(kv decompressed_bytes "$TMP/dec.kv")") MB out)"

# --- the servers --------------------------------------------------------------
unset STORAGE_EMULATOR_HOST CKPTFS_GCS_ENDPOINT GOOGLE_APPLICATION_CREDENTIALS \
	AWS_ENDPOINT_URL_S3 AWS_PROFILE SSL_CERT_FILE CURL_CA_BUNDLE
export AWS_SHARED_CREDENTIALS_FILE=$RMT/none AWS_CONFIG_FILE=$RMT/none

# start_servers: nginx and s3rver (signatures not checked: no proxy in the
# path), the checkpoint uploaded; sets H_BASE, S3_EP.
start_servers() {
	start_nginx "$ORIGIN"
	H_BASE=$HTTP_URL
	S3_VERIFY=0 start_s3rver
	S3_EP=$AWS_ENDPOINT_URL
	t0=$(now)
	s3_upload "$ORIGIN" bkt || { echo "bench_remote: upload to s3rver failed" >&2; exit 1; }
	echo "  (uploaded to s3rver in $(calc %.1f "$(now) - $t0") s)"
	# s3rver's own files in the page cache too.
	find "$RMT" -path '*s3rver*' -type f -exec cat {} + >/dev/null 2>&1
}

# net_floor SCHEME: seconds to fetch every object whole by 16 curls in
# parallel, each given its share of the objects in a config file (one
# connection each, kept alive); s3rver serves anonymous GETs, so plain curl
# as for nginx.
net_floor() {
	case $1 in
	http) base=$H_BASE ;;
	s3) base=$S3_EP/bkt ;;
	esac
	rm -f "$TMP"/curl.*
	awk -v b="$base" -v d="$TMP" '{
		f = sprintf("%s/curl.%02d", d, (NR - 1) % 16)
		printf "url = \"%s/%s\"\noutput = \"/dev/null\"\n", b, $0 >f }' "$TMP/objects"
	ls "$TMP"/curl.* >"$TMP/curl.list"
	# once to warm up, then timed
	xargs -P 16 -n 1 curl -s -K <"$TMP/curl.list" >/dev/null 2>&1
	t0=$(now)
	xargs -P 16 -n 1 curl -sf -K <"$TMP/curl.list" >/dev/null 2>&1 ||
		echo "  (some curl fetches failed)" >&2
	calc %.3f "$(now) - $t0"
}

# run_reads SCHEME LABEL: the cold full read and the loader order on fresh
# mounts, with the floor; the RSS and stats figures.
run_reads() {
	s=$1 label=$2
	case $s in
	http) url=$H_BASE/$STEP ;;
	s3) url=s3://bkt/$STEP ;;
	esac
	T_NET=$(net_floor "$s")
	FLOOR=$(awk -v a="$T_NET" -v b="$T_DEC" 'BEGIN { print (a > b) ? a : b }')
	which=$(awk -v a="$T_NET" -v b="$T_DEC" 'BEGIN { print (a > b) ? "network" : "decode" }')
	fig "$label network floor (curl -P 16)" \
		"$T_NET s ($(calc %.1f "$STORED / 1048576 / $T_NET") MB/s)"
	fig "$label floor" "$FLOOR s ($which)"
	if [ "$s" = s3 ]; then export AWS_ENDPOINT_URL=$S3_EP; fi
	# (3) cold full read
	M=$TMP/m-$s-$label
	if ! rmt_mount "$url" "$M" "$OPT"; then
		fig "$label cold full read" "FAILED: the mount did not come up"
		FAILED=1
		return
	fi
	t0=$(now)
	for f in "$M"/*.safetensors; do timeout 1800 cat "$f" >/dev/null || FAILED=1; done
	tc_=$(calc %.3f "$(now) - $t0")
	fig "$label cold full read (cat)" "$tc_ s, $(calc %.1f "$SERVED / 1048576 / $tc_") MB/s, floor/time $(calc %.3f "$FLOOR / $tc_"), local/remote $(calc %.3f "$T_LOCAL_CAT / $tc_")"
	(cd "$M" && for f in *.safetensors; do echo "$f $(cksum <"$f")"; done) >"$TMP/sums.remote"
	cmp -s "$TMP/sums.local" "$TMP/sums.remote" || {
		fig "$label bytes" "DIFFER from the local mount"
		FAILED=1
	}
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$RMT_PID/status")
	req=$(rmt_stat "$M" remote_requests)
	byt=$(rmt_stat "$M" remote_bytes_fetched)
	ret=$(rmt_stat "$M" remote_retries)
	rmt_umount "$M"
	# (3b) the loaders' order, on a fresh mount
	M=$TMP/m-$s-$label-loader
	if rmt_mount "$url" "$M" "$OPT"; then
		"$PY" "$HERE/perf_reads.py" loader "$M" 1 >"$TMP/loader.kv" 2>"$TMP/loader.err" || FAILED=1
		tl=$(kv seconds "$TMP/loader.kv")
		if [ -n "$tl" ]; then
			fig "$label loader order (1 reader)" "$(calc %.3f "$tl") s, $(calc %.1f "$(kv bytes "$TMP/loader.kv") / 1048576 / $tl") MB/s, floor/time $(calc %.3f "$FLOOR / $tl"), local/remote $(calc %.3f "${T_LOCAL_LOADER:-0} / $tl")"
		else
			fig "$label loader order" "FAILED: $(tail -1 "$TMP/loader.err")"
		fi
		h2=$(awk '/^VmHWM/ { print $2 }' "/proc/$RMT_PID/status")
		[ -n "$h2" ] && [ "$h2" -gt "${hwm:-0}" ] && hwm=$h2
		rmt_umount "$M"
	else
		fig "$label loader order" "FAILED: the mount did not come up"
		FAILED=1
	fi
	# (5) peak RSS, (6) requests and bytes
	bound=$(($(to_bytes "$CACHE") + (128 << 20) + (128 << 20)))
	fig "$label daemon peak RSS (VmHWM)" "$(calc %.1f "${hwm:-0} / 1024") MiB, bound $(mb "$bound") MiB (cache_size + 128 MiB + 128 MiB of readahead): ratio $(calc %.3f "${hwm:-0} * 1024 / $bound")"
	fig "$label requests, bytes fetched (cold cat)" "$req requests, $(mb "${byt:-0}") MB fetched = $(calc %.3f "${byt:-0} / $STORED") x stored, $ret retries"
}

FAILED=0
echo "== loopback"
start_servers
run_reads http http
run_reads s3 s3

# --- (4) 20 ms round trip: servers in a network namespace ----------------------
echo "== 20 ms round trip (netem 10 ms each way)"
NS=ckrmt$$
VA=ckra$$
VB=ckrb$$
NET=10.$((200 + $$ % 50)).$(($$ % 250)).
netem_setup() {
	command -v ip >/dev/null && command -v tc >/dev/null || { echo "ip or tc missing"; return 1; }
	ip netns add "$NS" 2>&1 || return 1
	ip link add "$VA" type veth peer name "$VB" 2>&1 &&
		ip link set "$VB" netns "$NS" &&
		ip addr add "${NET}1/24" dev "$VA" && ip link set "$VA" up &&
		ip netns exec "$NS" ip addr add "${NET}2/24" dev "$VB" &&
		ip netns exec "$NS" ip link set "$VB" up &&
		ip netns exec "$NS" ip link set lo up || return 1
	if [ "${BENCH_NO_NETEM:-0}" = 1 ]; then
		echo "(BENCH_NO_NETEM=1: the namespace without added latency)"
		return 0
	fi
	tc qdisc add dev "$VA" root netem delay 10ms limit 100000 2>&1 &&
		ip netns exec "$NS" tc qdisc add dev "$VB" root netem delay 10ms limit 100000 2>&1
}
# (netem_setup runs in a subshell: the cleanup is set here.)
RMT_EXTRA_CLEANUP="ip netns del $NS 2>/dev/null; ip link del $VA 2>/dev/null"
if out=$(netem_setup 2>&1); then
	[ -n "$out" ] && echo "  $out"
	rtt=$(ping -c 3 -q "${NET}2" 2>/dev/null | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
	fig "round trip to the namespace (ping avg)" "${rtt:-?} ms"
	# The loopback servers stay; new ones in the namespace.
	RMT_EXEC="ip netns exec $NS" RMT_HOST=${NET}2
	export RMT_EXEC RMT_HOST
	start_servers
	unset RMT_EXEC RMT_HOST
	run_reads http "http+20ms"
	run_reads s3 "s3+20ms"
else
	echo "  skipped: network namespace or netem unavailable: $(echo "$out" | tail -1)"
fi
[ "$FAILED" = 0 ] || { echo "bench_remote: something failed (above)"; exit 1; }
exit 0
