#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Validate .safetensors files strictly and print one line per tensor.

This file implements the Python twin of tests/unit/st_check.c: the same
rules (u64 LE header length N, 8 + N a multiple of 8, UTF-8 JSON object
padded with spaces only, "__metadata__" of strings with "format": "pt",
exactly dtype/shape/data_offsets per tensor, offsets that tile the data
area with no hole or overlap, 8 + N + data == file size), then loads every
tensor with numpy (BF16 as uint16 bits) and prints

    name dtype [d0,d1,...] sha256-of-the-tensor-bytes

in header order.  Usage: st_check.py FILE [FILE...]; exit 0 when every file
passes, 1 otherwise (the reason on stderr).  numpy and the stdlib only.
"""
import hashlib
import json
import os
import sys

try:
    import numpy as np
except ImportError:
    # A python3 earlier in PATH may lack numpy; Debian's has python3-numpy.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

HEADER_MAX = 100_000_000
DTYPES = {
    "BOOL": (np.dtype("?"), 1), "U8": (np.dtype("u1"), 1),
    "I8": (np.dtype("i1"), 1), "I16": (np.dtype("<i2"), 2),
    "U16": (np.dtype("<u2"), 2), "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2), "I32": (np.dtype("<i4"), 4),
    "U32": (np.dtype("<u4"), 4), "F32": (np.dtype("<f4"), 4),
    "F64": (np.dtype("<f8"), 8), "I64": (np.dtype("<i8"), 8),
    "U64": (np.dtype("<u8"), 8),
}


class Bad(Exception):
    pass


def no_dups(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise Bad("key %r repeats" % k)
        d[k] = v
    return d


def is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check(data):
    n = len(data)
    if n < 8:
        raise Bad("file of %d bytes has no header length" % n)
    hlen = int.from_bytes(data[:8], "little")
    if hlen > HEADER_MAX or 8 + hlen > n:
        raise Bad("header length %d does not fit in %d bytes" % (hlen, n))
    if (8 + hlen) % 8:
        raise Bad("8 + N = %d is not a multiple of 8" % (8 + hlen))
    raw = data[8:8 + hlen]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Bad("header is not UTF-8: %s" % e)
    if not text.startswith("{"):
        raise Bad("header does not start with '{'")
    try:
        hdr, end = json.JSONDecoder(object_pairs_hook=no_dups).raw_decode(text)
    except ValueError as e:
        raise Bad("header is not JSON: %s" % e)
    if text[end:].strip(" "):
        raise Bad("non-space bytes after the header JSON")
    if not isinstance(hdr, dict):
        raise Bad("header is not a JSON object")
    tensors = []
    for name, e in hdr.items():
        if name == "__metadata__":
            if not isinstance(e, dict) or not all(
                    isinstance(v, str) for v in e.values()):
                raise Bad("__metadata__ is not an object of strings")
            if e.get("format") != "pt":
                raise Bad('__metadata__ lacks "format": "pt"')
            continue
        if not isinstance(e, dict) or set(e) != {"dtype", "shape",
                                                 "data_offsets"}:
            raise Bad("%r: needs exactly dtype, shape, data_offsets" % name)
        dt, shape, off = e["dtype"], e["shape"], e["data_offsets"]
        if dt not in DTYPES:
            raise Bad("%r: unknown dtype %r" % (name, dt))
        if not isinstance(shape, list) or not all(map(is_uint, shape)):
            raise Bad("%r: bad shape" % name)
        if (not isinstance(off, list) or len(off) != 2
                or not all(map(is_uint, off)) or off[1] < off[0]):
            raise Bad("%r: bad data_offsets" % name)
        numel = 1
        for d in shape:
            numel *= d
        if off[1] - off[0] != numel * DTYPES[dt][1]:
            raise Bad("%r: data_offsets %r do not hold %d %s elements"
                      % (name, off, numel, dt))
        tensors.append((name, dt, shape, off[0], off[1]))
    cur = 0
    for name, _, _, b, e in sorted(tensors, key=lambda t: (t[3], t[4])):
        if b != cur:
            raise Bad("%r starts at %d, expected %d (hole or overlap)"
                      % (name, b, cur))
        cur = e
    if 8 + hlen + cur != n:
        raise Bad("8 + N + data = %d + %d, but the file has %d bytes"
                  % (8 + hlen, cur, n))
    return 8 + hlen, tensors


def main(argv):
    if len(argv) < 2:
        print("usage: st_check.py FILE [FILE...]", file=sys.stderr)
        return 2
    ok = True
    for path in argv[1:]:
        with open(path, "rb") as f:
            data = f.read()
        try:
            base, tensors = check(data)
        except Bad as e:
            print("%s: %s" % (path, e), file=sys.stderr)
            ok = False
            continue
        for name, dt, shape, b, e in tensors:
            arr = np.frombuffer(data, dtype=DTYPES[dt][0], offset=base + b,
                                count=(e - b) // DTYPES[dt][1])
            arr = arr.reshape(shape)
            if dt == "BOOL" and not np.isin(
                    np.frombuffer(data, np.uint8, e - b, base + b),
                    (0, 1)).all():
                print("%s: %r: BOOL bytes other than 0/1" % (path, name),
                      file=sys.stderr)
                ok = False
            digest = hashlib.sha256(arr.tobytes()).hexdigest()
            print("%s %s [%s] %s" % (name, dt, ",".join(map(str, shape)),
                                     digest))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
