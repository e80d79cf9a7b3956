#!/bin/sh
# SPDX-License-Identifier: MIT
# The core library's layers depend one way only (src/README.md): a file in
# layer N includes headers from layers <= N, never above.
set -u
cd "$(dirname "$0")/../src" || exit 1
rank() {
	case $1 in
	util) echo 1 ;; codec) echo 2 ;; remote) echo 3 ;; source) echo 4 ;;
	kvstore) echo 5 ;; zarr) echo 6 ;; orbax) echo 7 ;; tensor) echo 8 ;;
	mapping) echo 9 ;; layout) echo 10 ;; cache) echo 11 ;; read) echo 12 ;;
	fs) echo 13 ;; cli) echo 14 ;;
	*) echo 0 ;;
	esac
}
bad=0
for f in */*.c */*.h ../hooks/*.c ../hooks/*.h; do
	case $f in ../hooks/*) own=8 ;; *) own=$(rank "${f%%/*}") ;; esac
	for inc in $(sed -n 's/^#include "\([a-z]*\)\/.*/\1/p' "$f" | sort -u); do
		if [ "$(rank "$inc")" -gt "$own" ]; then
			echo "layering: $f includes a header from $inc/"
			bad=1
		fi
	done
done
[ $bad -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $bad
