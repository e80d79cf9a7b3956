# SPDX-License-Identifier: MIT
# Remote sources under faults: http:// (nginx) and s3:// (s3rver) through
# tests/remote/fault_proxy.py, gs:// through gcs_server.py's own faults.
#  - connections dropped mid-body, 503 and 429 answers for a few requests,
#    a stall longer than -o timeout=2: with retries every file of the mount
#    still reads byte-identical to the local mount, and remote_retries > 0;
#  - -o retries=0 and a persistent 503: a read fails with EIO, quickly,
#    the daemon stays up, and once the fault is cleared it serves the
#    other files (and the failed one) again;
#  - an object replaced at the origin under the mount (rewritten in place
#    for nginx and gcs, re-uploaded for s3): the reads that need it fail
#    with EIO and a log line, the others equal the local mount: never
#    bytes of two versions mixed.
# Every read runs under `timeout`, so that nothing can hang the test.
. "$(dirname "$0")/lib.sh"
need_fuse getfattr curl jq
. "$(dirname "$0")/../remote/lib.sh"

EX=$TMP/ex
"$CKPTFS" example "$EX" --family llama --scale 4 --random --chunks 4 \
	--data-file-bytes 300000 >/dev/null || { not_ok "ckptfs example"; finish; }
STEP=run/checkpoints/200
# One copy of the checkpoint for each origin: the last check rewrites them.
for o in pristine http gs; do
	mkdir -p "$TMP/o-$o/bkt/run/checkpoints"
	cp -r "$EX/checkpoints/1" "$TMP/o-$o/bkt/$STEP"
	touch "$TMP/o-$o/bkt/$STEP/commit_success.txt"
done
OPT="hf_config=$EX/config.json,shard_size=600KB,cache_dir=none"

start_nginx "$TMP/o-http/bkt"
start_proxy "$HTTP_URL"
HTTP_PROXY=$PROXY_URL
start_s3rver
s3_upload "$TMP/o-pristine/bkt" bkt || { not_ok "s3 upload"; finish; }
start_proxy "$AWS_ENDPOINT_URL"
S3_PROXY=$PROXY_URL
start_gcs "$TMP/o-gs"
GCS_EMU=127.0.0.1:$GCS_PORT
unset STORAGE_EMULATOR_HOST CKPTFS_GCS_ENDPOINT GOOGLE_APPLICATION_CREDENTIALS \
	GCE_METADATA_HOST AWS_ENDPOINT_URL_S3 AWS_PROFILE SSL_CERT_FILE CURL_CA_BUNDLE
export AWS_SHARED_CREDENTIALS_FILE=$RMT/none AWS_CONFIG_FILE=$RMT/none

L=$TMP/local
rmt_mount "$TMP/o-pristine/bkt/$STEP" "$L" "$OPT" || { not_ok "local mount"; finish; }
FILES=$(cd "$L" && ls)
n=$(echo "$FILES" | grep -c '\.safetensors$')
[ "$n" -ge 3 ] && ok "local mount: $n safetensors files" || not_ok "local mount: $n safetensors files"

url_of() {
	case $1 in
	http) echo "$HTTP_PROXY/$STEP" ;;
	s3) echo "s3://bkt/$STEP" ;;
	gs) echo "gs://bkt/$STEP" ;;
	esac
}
# on SCHEME CMD...: CMD (command or function) with that scheme's environment.
on() {
	s=$1
	shift
	case $s in
	s3) AWS_ENDPOINT_URL_S3=$S3_PROXY && export AWS_ENDPOINT_URL_S3 ;;
	gs) STORAGE_EMULATOR_HOST=$GCS_EMU && export STORAGE_EMULATOR_HOST ;;
	esac
	"$@"
	rc=$?
	unset AWS_ENDPOINT_URL_S3 STORAGE_EMULATOR_HOST
	return $rc
}
# fault SCHEME MODE [COUNT]: arm a fault for the next COUNT data requests.
fault() {
	fs=$1 fm=$2 count=${3:-3}
	if [ $fs = gs ]; then
		case $fm in
		503 | 429) gcs_fault status "$count" "$fm" ;;
		stall) gcs_fault stall "$count" 5 ;;
		*) gcs_fault "$fm" "$count" ;;
		esac
		return
	fi
	[ $fs = http ] && PROXY_URL=$HTTP_PROXY || PROXY_URL=$S3_PROXY
	case $fm in
	503 | 429) proxy_fault status "count=$count" "code=$fm" retry_after=1 ;;
	stall) proxy_fault stall "count=$count" seconds=5 ;;
	*) proxy_fault "$fm" "count=$count" ;;
	esac
}
# faults_fired SCHEME ARMED: how many faults the proxy has injected in all,
# or (gs) how many of the ARMED ones gcs_server.py has.
faults_fired() {
	if [ "$1" = gs ]; then
		echo $(($2 - $(gcs_stats | jq .faults_left)))
	else
		[ "$1" = http ] && PROXY_URL=$HTTP_PROXY || PROXY_URL=$S3_PROXY
		proxy_stats | jq .faults
	fi
}
# read_all MNT: every file compared with the local mount's; prints the
# files that differ or fail.
read_all() {
	bad=
	for f in $FILES; do
		timeout 120 cmp -s "$L/$f" "$1/$f" || bad="$bad $f"
	done
	echo "$bad"
}

for s in http s3 gs; do
	u=$(url_of $s)
	# Faults that retries get through.
	for mode in drop 503 429 stall; do
		M=$TMP/m-$s-$mode
		if ! on $s rmt_mount "$u" "$M" "$OPT,timeout=2" 2>"$TMP/err"; then
			not_ok "$s $mode: mount: $(cat "$TMP/err")"
			continue
		fi
		before=$(faults_fired $s 3)
		[ $s = gs ] && before=0
		fault $s $mode 3
		t0=$(date +%s)
		bad=$(read_all "$M")
		t=$(($(date +%s) - t0))
		fired=$(($(faults_fired $s 3) - before))
		fault $s none 0
		r=$(rmt_stat "$M" remote_retries)
		if [ -z "$bad" ]; then
			ok "$s $mode: every file equals the local mount's (${t}s, $fired faults injected)"
		else
			not_ok "$s $mode: files differ or fail:$bad ($(tail -2 "$M.log" | tr '\n' ' '))"
		fi
		[ "$fired" -ge 1 ] || not_ok "$s $mode: no fault was injected"
		[ -n "$r" ] && [ "$r" -gt 0 ] 2>/dev/null && ok "$s $mode: remote_retries $r" ||
			not_ok "$s $mode: remote_retries '$r', want > 0"
		kill -0 "$RMT_PID" 2>/dev/null || not_ok "$s $mode: the daemon died"
		rmt_umount "$M"
	done

	# No retries, a persistent 503: EIO, quickly; the daemon stays up.
	M=$TMP/m-$s-noretry
	if on $s rmt_mount "$u" "$M" "$OPT,timeout=2,retries=0" 2>"$TMP/err"; then
		pid=$RMT_PID
		first=$(echo "$FILES" | grep '\.safetensors$' | sed -n 1p)
		second=$(echo "$FILES" | grep '\.safetensors$' | sed -n 2p)
		fault $s 503 100000
		t0=$(date +%s)
		timeout 60 cat "$M/$first" >/dev/null 2>"$TMP/cat.err"
		rc=$?
		t=$(($(date +%s) - t0))
		if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $t -le 20 ] &&
			grep -q 'Input/output error' "$TMP/cat.err"; then
			ok "$s retries=0, persistent 503: the read fails with EIO in ${t}s"
		else
			not_ok "$s retries=0, persistent 503: cat exit $rc after ${t}s: $(cat "$TMP/cat.err")"
		fi
		grep -q "$first" "$M.log" && ok "$s retries=0: logged: $(grep "$first" "$M.log" | head -1 | cut -c1-200)" ||
			not_ok "$s retries=0: no log line names $first"
		fault $s none 0
		if kill -0 "$pid" 2>/dev/null && grep -q " $M fuse.ckptfs " /proc/mounts; then
			ok "$s retries=0: the daemon is still up"
		else
			not_ok "$s retries=0: the daemon is gone"
		fi
		if timeout 60 cmp -s "$L/$second" "$M/$second"; then
			ok "$s retries=0: fault cleared: another file reads right"
		else
			not_ok "$s retries=0: fault cleared: $second differs or fails"
		fi
		if timeout 60 cmp -s "$L/$first" "$M/$first"; then
			ok "$s retries=0: fault cleared: the failed file reads right"
		else
			not_ok "$s retries=0: fault cleared: $first still fails (an error kept)"
		fi
		f=$(rmt_stat "$M" remote_failures)
		[ -n "$f" ] && [ "$f" -gt 0 ] 2>/dev/null && ok "$s retries=0: remote_failures $f" ||
			not_ok "$s retries=0: remote_failures '$f', want > 0"
		rmt_umount "$M"
	else
		not_ok "$s retries=0: mount: $(cat "$TMP/err")"
	fi

	# An object replaced under the mount.
	M=$TMP/m-$s-replaced
	# (A cache smaller than the checkpoint: later reads fetch again.)
	if ! on $s rmt_mount "$u" "$M" "$OPT,timeout=2,cache_size=128KB" 2>"$TMP/err"; then
		not_ok "$s replaced: mount: $(cat "$TMP/err")"
		continue
	fi
	# Some reads first: the first 4 kB of every file.
	bad=
	for f in $FILES; do
		timeout 60 dd if="$M/$f" bs=4096 count=1 status=none >"$TMP/got" &&
			head -c 4096 "$L/$f" | cmp -s - "$TMP/got" || bad="$bad $f"
	done
	[ -z "$bad" ] && ok "$s replaced: the first 4 kB of each file, before" ||
		not_ok "$s replaced: the first 4 kB before the change differ:$bad"
	# Different bytes, the same size: every 4 kB one byte changes (in the
	# middle of zstd's raw blocks, which no checksum covers: only the
	# version pinning can tell).
	mkdir -p "$TMP/new-$s"
	for d in "$TMP/o-pristine/bkt/$STEP/items/d"/*; do
		"$PY" - "$d" "$TMP/new-$s/$(basename "$d")" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
for i in range(2048, len(b), 4096):
    b[i] ^= 0x5A
open(sys.argv[2], "wb").write(b)
PYEOF
	done
	case $s in
	http | gs)
		for d in "$TMP/new-$s"/*; do
			dst=$TMP/o-$s/bkt/$STEP/items/d/$(basename "$d")
			cat "$d" >"$dst" # in place: same inode
			# nginx's ETag is mtime-size (seconds): move the mtime on.
			touch -d "@$(($(date +%s) + 100))" "$dst"
		done ;;
	s3) s3_upload "$TMP/new-$s" bkt "$STEP/items/d" || not_ok "s3 re-upload" ;;
	esac
	bad= good=0 failed=0
	for f in $FILES; do
		if timeout 120 cat "$M/$f" >"$TMP/got" 2>"$TMP/cat.err"; then
			if cmp -s "$TMP/got" "$L/$f"; then
				good=$((good + 1))
			else
				bad="$bad $f"
			fi
		else
			failed=$((failed + 1))
			grep -q 'Input/output error' "$TMP/cat.err" ||
				bad="$bad $f($(cat "$TMP/cat.err"))"
		fi
	done
	if [ -n "$bad" ]; then
		not_ok "$s replaced: mixed bytes or not EIO:$bad"
	elif [ $failed -eq 0 ]; then
		not_ok "$s replaced: every read succeeded ($good files equal the local ones): nothing needed the replaced objects?"
	else
		ok "$s replaced: $failed files fail with EIO, $good equal the local ones"
	fi
	grep -Eiq 'changed|stale|replaced|generation|etag|412' "$M.log" &&
		ok "$s replaced: logged: $(grep -Ei 'changed|stale|replaced|generation|etag|412' "$M.log" | head -1 | cut -c1-200)" ||
		not_ok "$s replaced: no log line says the object changed: $(tail -2 "$M.log" | tr '\n' ' ')"
	kill -0 "$RMT_PID" 2>/dev/null && ok "$s replaced: the daemon is still up" ||
		not_ok "$s replaced: the daemon died"
	[ -n "${KEEP_LOGS:-}" ] && cp "$M.log" "$KEEP_LOGS/replaced-$s.log"
	rmt_umount "$M"
done
finish
