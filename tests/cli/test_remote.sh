# SPDX-License-Identifier: MIT
# Remote sources: the same checkpoints served over http:// and https://
# (nginx, a CA made here), s3:// (s3rver) and gs:// (gcs_server.py, with a
# service account's JWT grant, and as an unauthenticated emulator) mount,
# convert, inspect and dump exactly as from the local path:
#  - two example checkpoints (llama scanned bf16 in several data files;
#    qwen3 unscanned f32 written by 2 processes): every byte of every file
#    of the remote mount equals the local mount's; convert URL equals a
#    local convert; inspect --json equals the local one but for the paths;
#    the stats count remote requests and bytes (and none for local);
#  - the real fixtures (Orbax v0/v1 OCDBT, legacy msgpack aggregate, zarrs
#    sharded zarr3 directory, a plain TensorStore OCDBT): inspect --json and
#    dump of every array equal the local ones;
#  - step discovery: a run directory picks its latest step on s3:// and
#    gs://, on gs:// only the latest with commit_success.txt; -o step=N of an
#    uncommitted gs:// step is refused unless -o uncommitted; on https://
#    naming the steps directory is refused in one line saying HTTP has no
#    listing, while naming the step works;
#  - errors refused at mount in one line naming the URL (no secret in it):
#    a missing bucket (s3, gs), a wrong S3 secret, an unknown access key, a
#    wrong service-account key, an unreachable port, an https server whose
#    CA is not trusted, a step that is not there.
# s3rver checks no Signature V4, so the s3 requests go through a proxy
# (tests/remote/lib.sh) that does: every request ckptfs signs is checked.
. "$(dirname "$0")/lib.sh"
need_fixtures
need_fuse getfattr curl jq
. "$(dirname "$0")/../remote/lib.sh"

ORIGIN=$TMP/origin
B=$ORIGIN/bkt
mkdir -p "$B/run/checkpoints" "$B/fix" "$TMP/ex"

# --- the checkpoints ------------------------------------------------------
# A: llama scanned bf16, 4 chunks per array, data files of 300 kB.
# B: qwen3 unscanned f32, written by 2 processes (ocdbt.process_N).
# C: llama scanned with 3 layers, the uncommitted latest step.
"$CKPTFS" example "$TMP/ex/A" --family llama --scale 4 --random --chunks 4 \
	--data-file-bytes 300000 >/dev/null &&
	"$CKPTFS" example "$TMP/ex/B" --family qwen3 --unscanned --float32 \
		--random --processes 2 >/dev/null &&
	"$CKPTFS" example "$TMP/ex/C" --family llama --layers 3 --random >/dev/null ||
	{ not_ok "ckptfs example"; finish; }
cp -r "$TMP/ex/B/checkpoints/1" "$B/run/checkpoints/100"
cp -r "$TMP/ex/A/checkpoints/1" "$B/run/checkpoints/200"
cp -r "$TMP/ex/C/checkpoints/1" "$B/run/checkpoints/300"
# Orbax on Cloud Storage marks a committed step with commit_success.txt.
touch "$B/run/checkpoints/100/commit_success.txt" \
	"$B/run/checkpoints/200/commit_success.txt"
OPT_A="hf_config=$TMP/ex/A/config.json,shard_size=600KB"
OPT_B="hf_config=$TMP/ex/B/config.json,shard_size=200KB"
OPT_C="hf_config=$TMP/ex/C/config.json"

# The real fixtures, each as a path under fix/ (and the array it has).
V1=orbax-compat/v1_checkpoints/composite_checkpoint/checkpoint_metadata_present/pytree_checkpointable_has_metadata
V0=$(cd "$FIX" && find orbax-compat/v0_checkpoints -name manifest.ocdbt \
	! -path '*ocdbt.process_*' ! -path '*critical_metadata_alterations*' | sort | head -1)
V0=${V0%/manifest.ocdbt}
fixtures="v1step v1item v0 aggregate zarrs ngocdbt"
fix_path() {
	case $1 in
	v1step) echo "$V1" ;;
	v1item) echo "$V1/state" ;;
	v0) echo "$V0" ;;
	aggregate) echo orbax-legacy-aggregate/aggregate_all.checkpoint ;;
	zarrs) echo zarrs-sharded/sharded_array_write_read.zarr ;;
	ngocdbt) echo neuroglancer-ocdbt/ome_zarr/simple_0.5.ocdbt ;;
	esac
}
for f in v1step aggregate zarrs ngocdbt v0; do
	p=$(fix_path $f)
	mkdir -p "$B/fix/$(dirname "$p")"
	cp -r "$FIX/$p" "$B/fix/$p"
done
# The Orbax step directory, as Orbax leaves it on Cloud Storage.
touch "$B/fix/$V1/commit_success.txt"

# --- the servers ----------------------------------------------------------
start_nginx "$B"
start_s3rver
s3_upload "$B" bkt || { not_ok "s3 upload"; finish; }
gcs_sa_keys
start_gcs "$ORIGIN" --require-token --sa-email "$GCS_SA_EMAIL" \
	--sa-public-key "$GCS_SA_PUB"
GCS_SA_URL=$GCS_URL
gcs_sa_json "$RMT/sa.json"
start_gcs "$ORIGIN"
GCS_EMU=127.0.0.1:$GCS_PORT
GCS_URL=$GCS_SA_URL
# Nothing of this machine's own configuration.
unset STORAGE_EMULATOR_HOST CKPTFS_GCS_ENDPOINT GOOGLE_APPLICATION_CREDENTIALS \
	GCE_METADATA_HOST AWS_ENDPOINT_URL_S3 AWS_PROFILE SSL_CERT_FILE CURL_CA_BUNDLE
export AWS_SHARED_CREDENTIALS_FILE=$RMT/none AWS_CONFIG_FILE=$RMT/none \
	CLOUDSDK_CONFIG=$RMT/gcloud
curl -sf --cacert "$CA_FILE" -r 0-9 "$HTTPS_URL/run/checkpoints/200/_CHECKPOINT_METADATA" \
	>/dev/null && ok "servers up: $HTTP_URL $HTTPS_URL $AWS_ENDPOINT_URL $GCS_SA_URL $GCS_EMU" ||
	not_ok "nginx does not serve the checkpoint over https"

# The schemes: http https s3 gs (service account) gse (the emulator).
SCHEMES="http https s3 gs gse"
base_url() {
	case $1 in
	http) echo "$HTTP_URL" ;;
	https) echo "$HTTPS_URL" ;;
	s3) echo "s3://bkt" ;;
	gs | gse) echo "gs://bkt" ;;
	esac
}
# on SCHEME CMD...: CMD (a command or a function) with the environment that
# scheme needs.
on() {
	s=$1
	shift
	case $s in
	https) export SSL_CERT_FILE="$CA_FILE" ;;
	gs) export GOOGLE_APPLICATION_CREDENTIALS="$RMT/sa.json" CKPTFS_GCS_ENDPOINT="$GCS_SA_URL" ;;
	gse) export STORAGE_EMULATOR_HOST="$GCS_EMU" ;;
	esac
	"$@"
	rc=$?
	unset SSL_CERT_FILE GOOGLE_APPLICATION_CREDENTIALS CKPTFS_GCS_ENDPOINT STORAGE_EMULATOR_HOST
	return $rc
}
# norm FILE PREFIX: FILE with PREFIX replaced by @ (paths and URLs alike).
norm() {
	"$PY" -c 'import sys
print(open(sys.argv[1]).read().replace(sys.argv[2], "@"), end="")' "$1" "$2"
}
num_gt0() { [ -n "$1" ] && awk -v n="$1" 'BEGIN { exit !(n > 0) }'; }

# --- the local references ---------------------------------------------------
L=$TMP/local
rmt_mount "$B/run/checkpoints/200" "$L/A" "$OPT_A" || not_ok "local mount A"
rmt_mount "$B/run/checkpoints/100" "$L/B" "$OPT_B" || not_ok "local mount B"
n=$(ls "$L/A" | grep -c '\.safetensors$')
[ "$n" -ge 2 ] && ok "local A: $n safetensors files" || not_ok "local A: $n safetensors files"
[ "$(rmt_stat "$L/A" remote_requests)" = 0 ] && ok "local mount: remote_requests 0" ||
	not_ok "local mount: remote_requests $(rmt_stat "$L/A" remote_requests)"
"$CKPTFS" convert "$B/run/checkpoints/200" "$L/convA" -o "$OPT_A" 2>"$TMP/err" ||
	not_ok "local convert: $(cat "$TMP/err")"
"$CKPTFS" inspect --json "$B/run/checkpoints/200" >"$L/inspA.json" 2>"$TMP/err" ||
	not_ok "local inspect: $(cat "$TMP/err")"
for f in $fixtures; do
	p=$(fix_path $f)
	"$CKPTFS" inspect --json "$B/fix/$p" >"$L/insp-$f.json" 2>"$TMP/err" ||
		not_ok "local inspect $f: $(cat "$TMP/err")"
	jq -r '.arrays[].name' "$L/insp-$f.json" >"$L/arrays-$f"
	for a in $(cat "$L/arrays-$f"); do
		"$CKPTFS" dump "$B/fix/$p" "$a" >"$L/dump-$f-$(echo "$a" | tr / _).npy" ||
			not_ok "local dump $f $a"
	done
done

# --- every scheme ------------------------------------------------------------
for s in $SCHEMES; do
	u=$(base_url $s)
	M=$TMP/m-$s
	# A, by its step directory.
	if on $s rmt_mount "$u/run/checkpoints/200" "$M/A" "$OPT_A" 2>"$TMP/err"; then
		ok "$s: mounted $u/run/checkpoints/200"
		if why=$(cmp_trees "$L/A" "$M/A"); then
			ok "$s: A: every byte of every file equals the local mount's"
		else
			not_ok "$s: A: $why"
		fi
		r=$(rmt_stat "$M/A" remote_requests)
		by=$(rmt_stat "$M/A" remote_bytes_fetched)
		num_gt0 "$r" && num_gt0 "$by" &&
			ok "$s: A: stats remote_requests $r, remote_bytes_fetched $by" ||
			not_ok "$s: A: stats remote_requests '$r' remote_bytes_fetched '$by'"
		rmt_umount "$M/A"
	else
		not_ok "$s: mount $u/run/checkpoints/200: $(cat "$TMP/err")"
	fi
	# B, the unscanned two-process layout.
	if on $s rmt_mount "$u/run/checkpoints/100" "$M/B" "$OPT_B" 2>"$TMP/err"; then
		if why=$(cmp_trees "$L/B" "$M/B"); then
			ok "$s: B (unscanned, 2 processes): every file equals the local mount's"
		else
			not_ok "$s: B: $why"
		fi
		rmt_umount "$M/B"
	else
		not_ok "$s: mount $u/run/checkpoints/100: $(cat "$TMP/err")"
	fi
	# convert
	if on $s timeout 120 "$CKPTFS" convert "$u/run/checkpoints/200" "$M/conv" \
		-o "$OPT_A" 2>"$TMP/err"; then
		why=$(cmp_trees "$L/convA" "$M/conv") &&
			ok "$s: convert URL equals a local convert" ||
			not_ok "$s: convert: $why"
	else
		not_ok "$s: convert: $(cat "$TMP/err")"
	fi
	# inspect --json, but for the paths.
	if on $s timeout 60 "$CKPTFS" inspect --json "$u/run/checkpoints/200" \
		>"$M.insp.json" 2>"$TMP/err"; then
		if [ "$(norm "$M.insp.json" "$u")" = "$(norm "$L/inspA.json" "$B")" ]; then
			ok "$s: inspect --json equals the local one"
		else
			not_ok "$s: inspect --json differs: $(diff "$L/inspA.json" "$M.insp.json" | head -4 | tr '\n' ' ')"
		fi
	else
		not_ok "$s: inspect: $(cat "$TMP/err")"
	fi
	# The real fixtures: inspect and dump (gs:// once, with the account).
	[ $s = gse ] && continue
	for f in $fixtures; do
		p=$(fix_path $f)
		case $s:$f in
		http*:aggregate | http*:zarrs)
			# These layouts are found by listing their directory.
			on $s expect_fail "$s: $f: refused, HTTP has no listing" \
				"$u/fix/$p.*(listing|list)" \
				"$CKPTFS" inspect --json "$u/fix/$p"
			continue ;;
		esac
		if ! on $s timeout 60 "$CKPTFS" inspect --json "$u/fix/$p" >"$M.insp-$f.json" 2>"$TMP/err"; then
			not_ok "$s: inspect $f ($p): $(cat "$TMP/err")"
			continue
		fi
		if [ "$(norm "$M.insp-$f.json" "$u/fix")" = "$(norm "$L/insp-$f.json" "$B/fix")" ]; then
			ok "$s: $f: inspect --json equals the local one"
		else
			not_ok "$s: $f: inspect --json differs: $(diff "$L/insp-$f.json" "$M.insp-$f.json" | head -4 | tr '\n' ' ')"
		fi
		bad=
		for a in $(cat "$L/arrays-$f"); do
			d=$(echo "$a" | tr / _)
			on $s timeout 60 "$CKPTFS" dump "$u/fix/$p" "$a" >"$M.dump" 2>"$TMP/err" &&
				cmp -s "$M.dump" "$L/dump-$f-$d.npy" || bad="$bad $a($(head -c 200 "$TMP/err"))"
		done
		[ -z "$bad" ] && ok "$s: $f: dump of $(wc -l <"$L/arrays-$f") arrays equals the local dump" ||
			not_ok "$s: $f: dump differs:$bad"
	done
done

# The service account was used: tokens issued, requests authorized.
st=$(gcs_stats)
if [ "$(echo "$st" | jq .tokens_issued)" -ge 1 ] 2>/dev/null &&
	[ "$(echo "$st" | jq .authorized_requests)" -ge 1 ] 2>/dev/null &&
	[ "$(echo "$st" | jq .unauthorized)" = 0 ]; then
	ok "gs: service-account tokens used: $st"
else
	not_ok "gs: service-account token use: $st"
fi

# --- step discovery -----------------------------------------------------------
step_of() { on "$1" timeout 60 "$CKPTFS" inspect "$2" 2>&1 | sed -n 's/^step: *//p'; }
for s in s3 gs; do
	u=$(base_url $s)
	want=200
	[ $s = s3 ] && want=300
	for dir in run run/checkpoints; do
		got=$(step_of $s "$u/$dir")
		[ "$got" = "$want" ] && ok "$s: $dir picks step $want" ||
			not_ok "$s: $u/$dir picks step '$got', want $want"
	done
done
# The run directory mounts its latest committed step (gs: 200).
if on gs rmt_mount "gs://bkt/run" "$TMP/m-run" "$OPT_A" 2>"$TMP/err"; then
	why=$(cmp_trees "$L/A" "$TMP/m-run") &&
		ok "gs: the run directory mounts step 200, equal to the local mount" ||
		not_ok "gs: run directory: $why"
	rmt_umount "$TMP/m-run"
else
	not_ok "gs: mount gs://bkt/run: $(cat "$TMP/err")"
fi
# -o step=300 on gs: refused (uncommitted) unless -o uncommitted.
on gs expect_fail "gs: -o step=300 (no commit_success.txt) refused" \
	'commit_success|uncommitted|commit' \
	"$CKPTFS" gs://bkt/run "$TMP/m-run" -o "$OPT_C,step=300"
grep -q " $TMP/m-run fuse" /proc/mounts && { not_ok "gs: step=300 left a mount"; rmt_umount "$TMP/m-run"; }
on gs expect_fail "gs: the uncommitted step by its path refused" \
	'commit_success|uncommitted|commit' \
	"$CKPTFS" gs://bkt/run/checkpoints/300 "$TMP/m-run" -o "$OPT_C"
grep -q " $TMP/m-run fuse" /proc/mounts && rmt_umount "$TMP/m-run"
if on gs rmt_mount "gs://bkt/run" "$TMP/m-run" "$OPT_C,step=300,uncommitted" 2>"$TMP/err"; then
	rmt_mount "$B/run/checkpoints/300" "$L/C" "$OPT_C"
	why=$(cmp_trees "$L/C" "$TMP/m-run") &&
		ok "gs: -o step=300,uncommitted mounts step 300, equal to the local mount" ||
		not_ok "gs: step=300,uncommitted: $why"
	rmt_umount "$TMP/m-run"
else
	not_ok "gs: -o step=300,uncommitted: $(cat "$TMP/err")"
fi
# s3 has no commit rule: -o step=100 picks an older step.
if rmt_mount "s3://bkt/run" "$TMP/m-run" "$OPT_B,step=100" 2>"$TMP/err"; then
	why=$(cmp_trees "$L/B" "$TMP/m-run") &&
		ok "s3: -o step=100 on the run directory mounts step 100" ||
		not_ok "s3: step=100: $why"
	rmt_umount "$TMP/m-run"
else
	not_ok "s3: -o step=100: $(cat "$TMP/err")"
fi
# https: the steps directory cannot be listed; the step can be named.
on https expect_fail "https: the steps directory refused" \
	"$HTTPS_URL/run/checkpoints.*(listing|list)" \
	"$CKPTFS" "$HTTPS_URL/run/checkpoints" "$TMP/m-run" -o "$OPT_A"
grep -q " $TMP/m-run fuse" /proc/mounts && rmt_umount "$TMP/m-run"
on https expect_fail "https: inspect of the run directory refused" \
	"HTTP.*(listing|list)|(listing|list).*HTTP" \
	"$CKPTFS" inspect "$HTTPS_URL/run"
[ "$(step_of https "$HTTPS_URL/run/checkpoints/200")" = 200 ] &&
	ok "https: naming the step works (step 200)" ||
	not_ok "https: inspect of the step: $(step_of https "$HTTPS_URL/run/checkpoints/200")"

# Until now every s3 request (ckptfs's and the upload's) had a valid
# Signature V4.
[ -s "$S3_VERIFY_LOG" ] &&
	not_ok "s3: requests failed the Signature V4 check: $(head -3 "$S3_VERIFY_LOG" | cut -c1-400)" ||
	ok "s3: every signed request passed the Signature V4 check"

# --- errors ---------------------------------------------------------------------
E=$TMP/m-err
mkdir -p "$E"
refused() { # refused NAME PATTERN ENV... -- URL: the mount refused in one line
	name=$1 pat=$2
	shift 2
	expect_fail "$name" "$pat" env "$@" "$CKPTFS" "$url" "$E" -o "$OPT_A"
	if grep -q " $E fuse" /proc/mounts; then
		not_ok "$name: left a mount"
		rmt_umount "$E"
	fi
	if [ -n "${secret:-}" ] && grep -qF "$secret" "$TMP/err"; then
		not_ok "$name: the secret is in the message"
	fi
}
url=s3://no-such-bucket/run/checkpoints/200
refused "s3: missing bucket" "no-such-bucket.*(bucket|No such)" PATH="$PATH"
url=gs://no-such-bucket/run/checkpoints/200
refused "gs: missing bucket" "no-such-bucket.*(bucket|No such)" \
	GOOGLE_APPLICATION_CREDENTIALS="$RMT/sa.json" CKPTFS_GCS_ENDPOINT="$GCS_SA_URL"
url=s3://bkt/run/checkpoints/200 secret=wr0ngSecretValue
refused "s3: wrong secret (403)" "s3://bkt.*(403|denied|Access|ignature|refused|auth)" \
	AWS_SECRET_ACCESS_KEY=$secret
secret=
refused "s3: unknown access key ID (403)" "s3://bkt.*(403|denied|Access|refused|auth)" \
	AWS_ACCESS_KEY_ID=AKIDNOSUCHKEY
grep -q SignatureDoesNotMatch "$S3_VERIFY_LOG" &&
	ok "s3: the wrong secret's requests failed the Signature V4 check" ||
	not_ok "s3: the wrong secret's requests were not refused by the check"
# A service account whose key the server does not know.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$RMT/other.pem" 2>/dev/null
"$PY" - "$RMT/sa.json" "$RMT/other.pem" >"$RMT/sa-other.json" <<'PYEOF'
import json, sys
k = json.load(open(sys.argv[1]))
k["private_key"] = open(sys.argv[2]).read()
print(json.dumps(k))
PYEOF
url=gs://bkt/run/checkpoints/200
secret=$(sed -n 2p "$RMT/other.pem")
refused "gs: a service-account key the server refuses" "gs://bkt" \
	GOOGLE_APPLICATION_CREDENTIALS="$RMT/sa-other.json" CKPTFS_GCS_ENDPOINT="$GCS_SA_URL"
secret=
url=http://127.0.0.1:$(free_port)/run/checkpoints/200
refused "http: unreachable port" "127\\.0\\.0\\.1:[0-9]+.*(refused|connect|reach)" PATH="$PATH"
url=$HTTPS_URL/run/checkpoints/200
refused "https: CA not trusted" "$HTTPS_URL.*(certificate|TLS|SSL|verif|trust)" PATH="$PATH"
url=$HTTP_URL/run/checkpoints/999
refused "http: no such step" "$HTTP_URL/run/checkpoints/999" PATH="$PATH"
finish
