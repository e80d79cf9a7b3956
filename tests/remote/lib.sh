# SPDX-License-Identifier: MIT
# Servers for the remote-source tests (sourced, POSIX sh, after
# tests/cli/lib.sh, which gives TMP, ok, not_ok, need_fuse ...).
#
# Every server listens on 127.0.0.1 on a free port, runs in the background
# with its output in a log under $RMT, and is killed on exit (a watchdog
# also kills it if the test shell dies without running its trap, e.g.
# under a ctest timeout).  A function whose tool is missing skips the test
# (exit 77).
#
#   start_nginx DIR      nginx serving DIR: HTTP_URL, HTTPS_URL (a CA made
#                        here signs its certificate: CA_FILE; give ckptfs
#                        SSL_CERT_FILE=$CA_FILE), NGINX_PID
#   start_s3rver         s3rver (npm, installed once into
#                        ${CKPTFS_NPM_CACHE:-/var/tmp/ckptfs-npm}); exports
#                        AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#                        AWS_REGION, AWS_ENDPOINT_URL; S3_PORT, S3_PID.
#                        s3rver does not check Signature V4 signatures, so
#                        AWS_ENDPOINT_URL is a proxy in front of it that
#                        does (403 SignatureDoesNotMatch or
#                        InvalidAccessKeyId, as S3 answers; its log
#                        $S3_VERIFY_LOG names each refused request); with
#                        S3_VERIFY=0 it is s3rver itself.  S3RVER_URL is
#                        s3rver's own address.
#   s3_upload DIR BUCKET [PREFIX]   upload DIR (tests/remote/s3_put.py) to
#                        $AWS_ENDPOINT_URL (or $S3_UPLOAD_ENDPOINT)
#   gcs_sa_keys          an RSA key pair for a service account:
#                        GCS_SA_EMAIL, GCS_SA_KEY (private PEM), GCS_SA_PUB
#   start_gcs ROOT [ARGS...]   tests/remote/gcs_server.py serving
#                        ROOT/BUCKET/NAME: GCS_PORT, GCS_URL, GCS_PID (the
#                        environment is left to the test:
#                        STORAGE_EMULATOR_HOST=127.0.0.1:$GCS_PORT, or
#                        CKPTFS_GCS_ENDPOINT=$GCS_URL with credentials)
#   gcs_sa_json FILE     a service-account key file whose token_uri is
#                        $GCS_URL/token (after gcs_sa_keys and start_gcs)
#   gcs_fault MODE [COUNT [STATUS|SECONDS]]   gcs_server.py's fault modes
#                        (drop, status, stall, none) for the next COUNT
#                        media GETs
#   gcs_stats            gcs_server.py's /_stats JSON
#   start_proxy UPSTREAM_URL   tests/remote/fault_proxy.py in front of an
#                        http:// server: PROXY_PORT, PROXY_URL, PROXY_PID
#   proxy_fault MODE [KEY=VALUE...]   arm a fault (mode=drop|status|stall|
#                        none; count=N code=503 seconds=S after=BYTES ...)
#   proxy_stats          fault_proxy.py's /__fault/stats JSON
#   rmt_mount SRC MNT [OPTS]   mount with a foreground daemon in the
#                        background (log $MNT.log, pid in RMT_PID); 0 once
#                        mounted, 1 (log on stderr) if the daemon exited
#   rmt_umount MNT       unmount it (and wait for the daemon)
#   rmt_stat MNT KEY     a number from the mount's user.ckptfs.stats
#   free_port            a TCP port free on 127.0.0.1 now
#
# start_nginx and start_s3rver listen on ${RMT_HOST:-127.0.0.1} and run
# under ${RMT_EXEC:-} (e.g. RMT_EXEC="ip netns exec NS" RMT_HOST=10.x.y.2:
# a server in a network namespace; its certificate names RMT_HOST too).
#   cmp_trees A B        every regular file of A equals B's, same names:
#                        prints the first difference, 1 if any

# The helpers next to this file: $CKPTFS_SRC/tests/remote (set by ctest),
# else ../remote from the test script.
if [ -n "${CKPTFS_SRC:-}" ] && [ -f "$CKPTFS_SRC/tests/remote/lib.sh" ]; then
	RMT_LIB=$CKPTFS_SRC/tests/remote
else
	RMT_LIB=$(cd "$(dirname "$0")/../remote" 2>/dev/null && pwd)
fi
RMT=$TMP/rmt
mkdir -p "$RMT"
: >"$RMT/pids"
: >"$RMT/mounts"
PY=${PY:-/usr/bin/python3}

rmt_skip() {
	echo "skipped: $*"
	exit 77
}

# The cleanup: every mount of ours unmounted, every server killed (each by
# its own pid), the scratch directory removed.
rmt_cleanup() {
	trap - EXIT INT TERM HUP
	if [ -s "$RMT/mounts" ]; then
		while read -r m; do
			if grep -q " $m fuse" /proc/mounts 2>/dev/null; then
				fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
			fi
		done <"$RMT/mounts"
	fi
	if [ -s "$RMT/pids" ]; then
		while read -r p; do
			kill "$p" 2>/dev/null
		done <"$RMT/pids"
		sleep 0.2
		while read -r p; do
			kill -9 "$p" 2>/dev/null
		done <"$RMT/pids"
	fi
	[ -n "${RMT_WATCHDOG:-}" ] && kill "$RMT_WATCHDOG" 2>/dev/null
	[ -n "${RMT_EXTRA_CLEANUP:-}" ] && eval "$RMT_EXTRA_CLEANUP"
	rm -rf "$TMP"
}
trap rmt_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# The watchdog: if this shell goes away without its trap (SIGKILL), it
# unmounts and kills what was recorded.
(
	trap '' INT HUP
	parent=$$
	while kill -0 "$parent" 2>/dev/null; do sleep 2; done
	while read -r m; do fusermount3 -uz "$m" 2>/dev/null; done <"$RMT/mounts"
	while read -r p; do kill -9 "$p" 2>/dev/null; done <"$RMT/pids"
	rm -rf "$TMP"
) </dev/null >/dev/null 2>&1 &
RMT_WATCHDOG=$!

rmt_track() { echo "$1" >>"$RMT/pids"; }

free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# rmt_wait_http URL PID [CURL-ARGS...]: until URL answers anything (any
# status); 1 after 20 s or once PID has exited.
rmt_wait_http() {
	url=$1 wpid=$2
	shift 2
	for _ in $(seq 200); do
		curl -s -o /dev/null --max-time 2 "$@" "$url" && return 0
		kill -0 "$wpid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# rmt_read_port FILE PID: the first line a server printed (its port).
rmt_read_port() {
	for _ in $(seq 200); do
		if [ -s "$1" ] && head -1 "$1" | grep -q '^[0-9][0-9]*$'; then
			head -1 "$1"
			return 0
		fi
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# A CA and a certificate it signs for 127.0.0.1 and localhost, in $RMT/tls.
rmt_make_ca() {
	d=$RMT/tls${RMT_HOST:+-$RMT_HOST}
	[ -s "$d/server.pem" ] && return 0
	command -v openssl >/dev/null || rmt_skip "openssl is needed"
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ckptfs test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 &&
	printf '%s\n' "basicConstraints=CA:FALSE" \
		"keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=serverAuth" \
		"subjectAltName=IP:127.0.0.1,DNS:localhost${RMT_HOST:+,IP:$RMT_HOST}" >"$d/ext.cnf" &&
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -days 2 -extfile "$d/ext.cnf" \
		-out "$d/server.pem" >/dev/null 2>&1 ||
		{ echo "# openssl failed to make the test CA" >&2; return 1; }
}

# start_nginx DIR
start_nginx() {
	NGINX=${NGINX:-/usr/sbin/nginx}
	[ -x "$NGINX" ] || rmt_skip "nginx is needed ($NGINX)"
	command -v curl >/dev/null || rmt_skip "curl is needed"
	rmt_make_ca || rmt_skip "could not make a CA with openssl"
	CA_FILE=$RMT/tls${RMT_HOST:+-$RMT_HOST}/ca.pem
	root=$(cd "$1" && pwd)
	h=${RMT_HOST:-127.0.0.1}
	for _try in 1 2 3 4 5; do
		n=$(ls -d "$RMT"/nginx.* 2>/dev/null | wc -l)
		d=$RMT/nginx.$n
		mkdir -p "$d/tmp"
		p=$(free_port)
		ps=$(free_port)
		while [ "$ps" = "$p" ]; do ps=$(free_port); done
		cat >"$d/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 2;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
	access_log $d/access.log;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	default_type application/octet-stream;
	sendfile on;
	etag on;
	autoindex off;
	keepalive_requests 100000;
	keepalive_timeout 120s;
	server {
		listen $h:$p;
		root $root;
	}
	server {
		listen $h:$ps ssl;
		http2 on;
		ssl_certificate ${CA_FILE%/ca.pem}/server.pem;
		ssl_certificate_key ${CA_FILE%/ca.pem}/server.key;
		root $root;
	}
}
EOF
		# nginx 1.22 has no "http2 on;": use "listen ... ssl http2;".
		if ! "$NGINX" -V 2>&1 | grep -q 'nginx/1\.\(2[5-9]\|[3-9][0-9]\)'; then
			sed -i -e '/http2 on;/d' -e "s/listen $h:$ps ssl;/listen $h:$ps ssl http2;/" "$d/nginx.conf"
		fi
		${RMT_EXEC:-} "$NGINX" -e "$d/error.log" -p "$d" -c "$d/nginx.conf" \
			</dev/null >"$d/out.log" 2>&1 &
		NGINX_PID=$!
		rmt_track "$NGINX_PID"
		if rmt_wait_http "http://$h:$p/" "$NGINX_PID" &&
		   rmt_wait_http "https://$h:$ps/" "$NGINX_PID" --cacert "$CA_FILE"; then
			HTTP_URL=http://$h:$p
			HTTPS_URL=https://$h:$ps
			HTTP_PORT=$p
			HTTPS_PORT=$ps
			export HTTP_URL HTTPS_URL HTTP_PORT HTTPS_PORT CA_FILE NGINX_PID
			return 0
		fi
		kill "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
		# a port taken in between: try others
		grep -q 'Address already in use' "$d/error.log" "$d/out.log" 2>/dev/null ||
			break
	done
	echo "# nginx did not start: $(tail -3 "$d/error.log" "$d/out.log" 2>/dev/null)" >&2
	rmt_skip "nginx did not start"
}

# start_s3rver
start_s3rver() {
	cache=${CKPTFS_NPM_CACHE:-/var/tmp/ckptfs-npm}
	bin=$cache/node_modules/.bin/s3rver
	command -v node >/dev/null || rmt_skip "node is needed for s3rver"
	if [ ! -x "$bin" ]; then
		command -v npm >/dev/null || rmt_skip "npm is needed to install s3rver"
		mkdir -p "$cache" || rmt_skip "cannot create $cache"
		(cd "$cache" && timeout 240 npm install --no-audit --no-fund --silent \
			s3rver@3) >"$RMT/npm.log" 2>&1 ||
			rmt_skip "npm install s3rver@3 failed: $(tail -2 "$RMT/npm.log")"
		[ -x "$bin" ] || rmt_skip "npm installed no s3rver"
	fi
	"$PY" -c 'import boto3' 2>/dev/null || rmt_skip "$PY with boto3 is needed"
	# s3rver 3.7's listing with a delimiter does not walk below a common
	# prefix, so a prefix with no object directly under it (run/ holding
	# only checkpoints/1/...) is missing from CommonPrefixes.  Walk them
	# (the listing code after the walk folds them into the prefixes).
	fs_js=$cache/node_modules/s3rver/lib/stores/filesystem.js
	if [ -f "$fs_js" ] && ! grep -q 'ckptfs-test' "$fs_js"; then
		"$PY" - "$fs_js" <<'PYEOF' || rmt_skip "could not patch $fs_js"
import sys
p = sys.argv[1]
s = open(p).read()
old = ("// avoid directories occurring beneath a common prefix\n"
       "          return false;")
new = ("// ckptfs-test: walk them too, for their common prefixes\n"
       "          return true;")
if old not in s:
    sys.exit(0)
open(p + ".tmp", "w").write(s.replace(old, new))
import os
os.replace(p + ".tmp", p)
PYEOF
	fi
	# s3rver 3 makes its listing continuation tokens with DES, which
	# OpenSSL 3 keeps in its legacy provider: without it every listing
	# that has one fails with HTTP 500.
	legacy=
	node --openssl-legacy-provider -e 0 2>/dev/null && legacy=--openssl-legacy-provider
	for _try in 1 2 3 4 5; do
		n=$(ls -d "$RMT"/s3rver.* 2>/dev/null | wc -l)
		d=$RMT/s3rver.$n
		mkdir -p "$d/data"
		p=$(free_port)
		${RMT_EXEC:-} node $legacy "$bin" --directory "$d/data" \
			--address "${RMT_HOST:-127.0.0.1}" --port "$p" --silent \
			</dev/null >"$d/out.log" 2>&1 &
		S3_PID=$!
		rmt_track "$S3_PID"
		if rmt_wait_http "http://${RMT_HOST:-127.0.0.1}:$p/" "$S3_PID"; then
			S3_PORT=$p
			S3RVER_URL=http://${RMT_HOST:-127.0.0.1}:$p
			AWS_ACCESS_KEY_ID=S3RVER
			AWS_SECRET_ACCESS_KEY=S3RVER
			AWS_REGION=us-east-1
			AWS_ENDPOINT_URL=$S3RVER_URL
			if [ "${S3_VERIFY:-1}" != 0 ]; then
				rmt_sigv4_proxy "$S3RVER_URL" "$d" ||
					rmt_skip "the Signature V4 checking proxy did not start"
				AWS_ENDPOINT_URL=http://127.0.0.1:$S3_VERIFY_PORT
			fi
			export S3_PORT S3_PID S3RVER_URL AWS_ACCESS_KEY_ID \
				AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ENDPOINT_URL
			unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION
			return 0
		fi
		kill "$S3_PID" 2>/dev/null
		wait "$S3_PID" 2>/dev/null
		grep -q 'EADDRINUSE' "$d/out.log" 2>/dev/null || break
	done
	echo "# s3rver did not start: $(tail -3 "$d/out.log")" >&2
	rmt_skip "s3rver did not start"
}

# rmt_sigv4_proxy UPSTREAM DIR: tests/remote/s3_sigcheck.py in front of
# UPSTREAM: each signed request's Signature V4 checked by botocore with the
# key S3RVER/S3RVER, If-Match honoured; anonymous requests pass.
# S3_VERIFY_PORT, S3_VERIFY_PID, S3_VERIFY_LOG.
rmt_sigv4_proxy() {
	S3_VERIFY_LOG=$2/sigv4.log
	: >"$S3_VERIFY_LOG"
	"$PY" "$RMT_LIB/s3_sigcheck.py" "$1" --log "$S3_VERIFY_LOG" --allow-anonymous \
		</dev/null >"$2/sigv4.out" 2>"$2/sigv4.err" &
	S3_VERIFY_PID=$!
	rmt_track "$S3_VERIFY_PID"
	S3_VERIFY_PORT=$(rmt_read_port "$2/sigv4.out" "$S3_VERIFY_PID") ||
		{ echo "# s3_sigcheck.py: $(tail -3 "$2/sigv4.err")" >&2; return 1; }
	export S3_VERIFY_PORT S3_VERIFY_PID S3_VERIFY_LOG
}

# s3_upload DIR BUCKET [PREFIX]
s3_upload() {
	"$PY" "$RMT_LIB/s3_put.py" "${S3_UPLOAD_ENDPOINT:-$AWS_ENDPOINT_URL}" \
		"$2" "$1" ${3:+"$3"} >"$RMT/s3_put.log" 2>&1 ||
		{ echo "# s3_upload $*: $(tail -3 "$RMT/s3_put.log")" >&2; return 1; }
}

# gcs_sa_keys: an RSA key for a service account.
gcs_sa_keys() {
	command -v openssl >/dev/null || rmt_skip "openssl is needed"
	GCS_SA_KEY=$RMT/sa.pem
	GCS_SA_PUB=$RMT/sa.pub
	GCS_SA_EMAIL=ckptfs-test@ckptfs-test.iam.gserviceaccount.com
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		-out "$GCS_SA_KEY" >/dev/null 2>&1 &&
		openssl pkey -in "$GCS_SA_KEY" -pubout -out "$GCS_SA_PUB" 2>/dev/null ||
		rmt_skip "openssl could not make an RSA key"
}

# gcs_sa_json FILE
gcs_sa_json() {
	"$PY" - "$GCS_SA_KEY" "$GCS_SA_EMAIL" "$GCS_URL/token" >"$1" <<'PYEOF'
import json, sys
key, email, uri = sys.argv[1:]
print(json.dumps({
    "type": "service_account", "project_id": "ckptfs-test",
    "private_key_id": "0123456789abcdef", "private_key": open(key).read(),
    "client_email": email, "client_id": "1234567890",
    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    "token_uri": uri}, indent=1))
PYEOF
}

# start_gcs ROOT [ARGS...]
start_gcs() {
	"$PY" -c 'import cryptography' 2>/dev/null ||
		rmt_skip "$PY with cryptography is needed for gcs_server.py"
	[ -f "$RMT_LIB/gcs_server.py" ] || rmt_skip "no $RMT_LIB/gcs_server.py"
	groot=$1
	shift
	n=$(ls -d "$RMT"/gcs.* 2>/dev/null | wc -l)
	d=$RMT/gcs.$n
	mkdir -p "$d"
	"$PY" "$RMT_LIB/gcs_server.py" --root "$groot" "$@" \
		</dev/null >"$d/out.log" 2>"$d/err.log" &
	GCS_PID=$!
	rmt_track "$GCS_PID"
	GCS_PORT=$(rmt_read_port "$d/out.log" "$GCS_PID") ||
		{ echo "# gcs_server.py: $(tail -3 "$d/err.log")" >&2; rmt_skip "gcs_server.py did not start"; }
	GCS_URL=http://127.0.0.1:$GCS_PORT
	rmt_wait_http "$GCS_URL/_stats" "$GCS_PID" ||
		rmt_skip "gcs_server.py does not answer"
	export GCS_PORT GCS_URL GCS_PID
}

# gcs_fault MODE [COUNT [STATUS|SECONDS]]
gcs_fault() {
	case $1 in
	status) body="{\"mode\":\"status\",\"count\":${2:-1},\"status\":${3:-503}}" ;;
	stall) body="{\"mode\":\"stall\",\"count\":${2:-1},\"seconds\":${3:-5}}" ;;
	*) body="{\"mode\":\"$1\",\"count\":${2:-1}}" ;;
	esac
	curl -sf --max-time 5 -o /dev/null -H 'Content-Type: application/json' \
		-d "$body" "$GCS_URL/_control"
}
gcs_stats() { curl -sf --max-time 5 "$GCS_URL/_stats"; }

# start_proxy UPSTREAM_URL
start_proxy() {
	[ -f "$RMT_LIB/fault_proxy.py" ] || rmt_skip "no $RMT_LIB/fault_proxy.py"
	n=$(ls -d "$RMT"/proxy.* 2>/dev/null | wc -l)
	d=$RMT/proxy.$n
	mkdir -p "$d"
	"$PY" "$RMT_LIB/fault_proxy.py" --upstream "$1" \
		</dev/null >"$d/out.log" 2>"$d/err.log" &
	PROXY_PID=$!
	rmt_track "$PROXY_PID"
	PROXY_PORT=$(rmt_read_port "$d/out.log" "$PROXY_PID") ||
		{ echo "# fault_proxy.py: $(tail -3 "$d/err.log")" >&2; rmt_skip "fault_proxy.py did not start"; }
	PROXY_URL=http://127.0.0.1:$PROXY_PORT
	rmt_wait_http "$PROXY_URL/__fault/stats" "$PROXY_PID" ||
		rmt_skip "fault_proxy.py does not answer"
	export PROXY_PORT PROXY_URL PROXY_PID
}

# proxy_fault MODE [KEY=VALUE...]
proxy_fault() {
	q="mode=$1"
	shift
	for kv in "$@"; do q="$q&$kv"; done
	curl -sf --max-time 5 -o /dev/null "$PROXY_URL/__fault?$q"
}
proxy_stats() { curl -sf --max-time 5 "$PROXY_URL/__fault/stats"; }

# rmt_mount SRC MNT [OPTS]
rmt_mount() {
	src=$1 m=$2
	mkdir -p "$m"
	echo "$m" >>"$RMT/mounts"
	"$CKPTFS" "$src" "$m" -f ${3:+-o "$3"} </dev/null >"$m.log" 2>&1 &
	RMT_PID=$!
	rmt_track "$RMT_PID"
	for _ in $(seq 600); do
		grep -q " $m fuse.ckptfs " /proc/mounts && return 0
		kill -0 "$RMT_PID" 2>/dev/null || break
		sleep 0.05
	done
	grep -q " $m fuse.ckptfs " /proc/mounts && return 0
	cat "$m.log" >&2
	kill "$RMT_PID" 2>/dev/null
	return 1
}

# rmt_umount MNT
rmt_umount() {
	grep -q " $1 fuse" /proc/mounts || return 0
	fusermount3 -u "$1" 2>/dev/null || { sleep 0.5; fusermount3 -u "$1"; } ||
		fusermount3 -uz "$1"
}

# rmt_stat MNT KEY
rmt_stat() {
	getfattr --absolute-names --only-values -n user.ckptfs.stats "$1" 2>/dev/null |
		"$PY" -c 'import json, sys
try:
    print(json.load(sys.stdin).get(sys.argv[1], -1))
except ValueError:
    print(-1)' "$2"
}

# cmp_trees A B: the same regular files (names and every byte).
cmp_trees() {
	(cd "$1" && find . -type f | LC_ALL=C sort) >"$RMT/ta" || return 1
	(cd "$2" && find . -type f | LC_ALL=C sort) >"$RMT/tb" || return 1
	if ! cmp -s "$RMT/ta" "$RMT/tb"; then
		echo "file lists differ: $(diff "$RMT/ta" "$RMT/tb" | grep '^[<>]' | head -3 | tr '\n' ' ')"
		return 1
	fi
	[ -s "$RMT/ta" ] || { echo "no files"; return 1; }
	while read -r f; do
		if ! timeout 120 cmp "$1/$f" "$2/$f" >"$RMT/cmp.out" 2>&1; then
			echo "$f: $(head -1 "$RMT/cmp.out")"
			return 1
		fi
	done <"$RMT/ta"
	return 0
}
