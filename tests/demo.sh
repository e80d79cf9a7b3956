#!/bin/sh
# SPDX-License-Identifier: MIT
# The main job on the bundled example: write a tiny MaxText Llama 3.1
# checkpoint in the real Orbax format, mount it as a Hugging Face model
# directory, list it, read a tensor, and unmount.
#   sh tests/demo.sh [path/to/ckptfs]
set -eu
CKPTFS=${1:-build/ckptfs}
here=$(cd "$(dirname "$0")" && pwd)
EX=${TMPDIR:-/tmp}/ckptfs-example
MNT=${TMPDIR:-/tmp}/ckptfs-mnt
fusermount3 -u "$MNT" 2>/dev/null || true
rm -rf "$EX"
mkdir -p "$MNT"
set -x
"$CKPTFS" example "$EX"
"$CKPTFS" inspect "$EX"
"$CKPTFS" "$EX" "$MNT" -o "hf_config=$EX/config.json"
ls -l "$MNT"
jq -c '.weight_map | to_entries | .[:4]' "$MNT/model.safetensors.index.json"
/usr/bin/python3 "$here/tools/read_tensor.py" "$MNT/model.safetensors" \
	model.layers.0.self_attn.q_proj.weight
getfattr --only-values -n user.ckptfs.source "$MNT/model.safetensors" | head -3
fusermount3 -u "$MNT"
