#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Print one tensor of a safetensors file: read_tensor.py FILE NAME.

Reads only the header and that tensor's bytes (as a loader using mmap does),
with numpy; bfloat16 is shown widened to float32."""
import json
import struct
import sys

import numpy as np

path, name = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    hdr = json.loads(f.read(n))
    t = hdr[name]
    b, e = t["data_offsets"]
    f.seek(8 + n + b)
    raw = f.read(e - b)
if t["dtype"] == "BF16":
    a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
else:
    a = np.frombuffer(raw, {"F32": "<f4", "F16": "<f2"}[t["dtype"]])
a = a.reshape(t["shape"])
np.set_printoptions(precision=4, threshold=40, edgeitems=3)
print("%s %s %s" % (name, t["dtype"], list(a.shape)))
print(a)
