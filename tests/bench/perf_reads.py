#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Read patterns for tests/bench/bench_perf.sh.  Prints key=value lines.

    perf_reads.py mmap FILE...
        safetensors' access pattern: mmap each file, parse its header, and copy
        each tensor's bytes out in header order (what safe_open + get_tensor do
        on a CPU load); bytes=, seconds=.
    perf_reads.py loader DIR READERS
        the Hugging Face loaders' order: shards in file-name order, within a
        shard the tensors in name order (plain string order), each copied out
        of a shared read-only mmap of its shard (safe_open + get_tensor),
        a shard opened when first needed;
        READERS threads split that list round-robin (reader k takes tensors
        k, k+READERS, ...); bytes=, seconds=.
    perf_reads.py random DIR N SEED
        N random single-tensor reads: tensors drawn (with replacement) from
        DIR/model.safetensors.index.json (or DIR/model.safetensors), each read
        with one pread of exactly its byte range; bytes=, seconds=,
        median_ms=, p90_ms=, max_ms=.
    perf_reads.py ready CKPTFS SRC MNT OPTS REPEATS
        mount-to-ready: start `CKPTFS SRC MNT -f -o OPTS`, poll (1 ms) until
        config.json and model.safetensors.index.json open and read whole,
        unmount; median_s=, min_s= over REPEATS mounts.
    perf_reads.py stats JSON_FILE
        fields of a user.ckptfs.stats line, or n/a.
    perf_reads.py same DIR1 DIR2
        whether two HF model directories hold the same tensors (names,
        dtypes, shapes and bytes), however they are cut into shards, and the
        same config.json; same=yes or same=no (with the first difference).
"""
import json
import mmap
import os
import random
import statistics
import struct
import subprocess
import sys
import time

import numpy as np


def st_header(fd):
    n = struct.unpack("<Q", os.pread(fd, 8, 0))[0]
    hdr = json.loads(os.pread(fd, n, 8))
    hdr.pop("__metadata__", None)
    return 8 + n, hdr


def cmd_mmap(files):
    total = 0
    t0 = time.perf_counter()
    for path in files:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            mm = mmap.mmap(fh.fileno(), size, prot=mmap.PROT_READ)
            n = struct.unpack("<Q", mm[:8])[0]
            hdr = json.loads(bytes(mm[8:8 + n]))
            hdr.pop("__metadata__", None)
            base = 8 + n
            for info in hdr.values():  # header order
                a, b = info["data_offsets"]
                out = np.frombuffer(mm, dtype=np.uint8, count=b - a, offset=base + a).copy()
                total += out.size
                del out
            mm.close()
    dt = time.perf_counter() - t0
    print("bytes=%d" % total)
    print("seconds=%.6f" % dt)


def cmd_loader(root, readers):
    import threading
    # The order comes from the index, as loaders take it: shards in file-name
    # order, names in string order.  A shard is opened (mmap, header parsed)
    # when a reader first needs it, as safe_open is called shard by shard.
    idx = os.path.join(root, "model.safetensors.index.json")
    with open(idx) as fh:
        wmap = json.load(fh)["weight_map"]
    order = sorted(wmap.items(), key=lambda kv: (kv[1], kv[0]))
    shards, lock = {}, threading.Lock()

    def shard(f):
        with lock:
            if f not in shards:
                fh = open(os.path.join(root, f), "rb")
                size = os.fstat(fh.fileno()).st_size
                mm = mmap.mmap(fh.fileno(), size, prot=mmap.PROT_READ)
                fh.close()
                n = struct.unpack("<Q", mm[:8])[0]
                hdr = json.loads(bytes(mm[8:8 + n]))
                shards[f] = (mm, 8 + n, hdr)
            return shards[f]

    totals = [0] * readers
    errors = []

    def run(k):
        try:
            for name, f in order[k::readers]:
                mm, base, hdr = shard(f)
                a, b = hdr[name]["data_offsets"]
                out = np.frombuffer(mm, dtype=np.uint8, count=b - a, offset=base + a).copy()
                totals[k] += out.size
                del out
        except Exception as e:  # reported below, after every thread ends
            errors.append(repr(e))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    for mm, _, _ in shards.values():
        mm.close()
    if errors:
        sys.exit("perf_reads: " + errors[0])
    print("bytes=%d" % sum(totals))
    print("seconds=%.6f" % dt)


def cmd_random(root, n, seed):
    idx = os.path.join(root, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as fh:
            wmap = json.load(fh)["weight_map"]
    else:
        wmap = None
    files = sorted(set(wmap.values())) if wmap else ["model.safetensors"]
    fds, where = {}, {}
    for f in files:
        fd = os.open(os.path.join(root, f), os.O_RDONLY)
        fds[f] = fd
        base, hdr = st_header(fd)
        for name, info in hdr.items():
            a, b = info["data_offsets"]
            where[name] = (f, base + a, b - a)
    names = sorted(where)
    rng = random.Random(seed)
    picks = [rng.choice(names) for _ in range(n)]
    lat, total = [], 0
    t0 = time.perf_counter()
    for name in picks:
        f, off, size = where[name]
        s = time.perf_counter()
        got = os.pread(fds[f], size, off)
        lat.append(time.perf_counter() - s)
        if len(got) != size:
            sys.exit("perf_reads: short read of %s" % name)
        total += size
    dt = time.perf_counter() - t0
    for fd in fds.values():
        os.close(fd)
    lat.sort()
    print("bytes=%d" % total)
    print("seconds=%.6f" % dt)
    print("tensors=%d" % len(names))
    print("median_ms=%.2f" % (1000 * statistics.median(lat)))
    print("p90_ms=%.2f" % (1000 * lat[int(0.9 * (len(lat) - 1))]))
    print("max_ms=%.2f" % (1000 * lat[-1]))


def mounted(mnt):
    with open("/proc/mounts") as fh:
        return any(line.split()[1] == mnt for line in fh)


def cmd_ready(ckptfs, src, mnt, opts, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = subprocess.Popen([ckptfs, src, mnt, "-f", "-o", opts],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    for f in ("config.json", "model.safetensors.index.json"):
                        with open(os.path.join(mnt, f), "rb") as fh:
                            if not fh.read():
                                raise OSError("empty")
                    break
                except OSError:
                    if p.poll() is not None:
                        sys.exit("perf_reads: the mount exited with %d" % p.returncode)
                    time.sleep(0.001)
            times.append(time.perf_counter() - t0)
        finally:
            for _ in range(100):
                if not mounted(mnt):
                    break
                subprocess.call(["fusermount3", "-u", mnt], stderr=subprocess.DEVNULL)
                if mounted(mnt):
                    time.sleep(0.05)
            if p.poll() is None:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    print("median_s=%.4f" % statistics.median(times))
    print("min_s=%.4f" % min(times))


def cmd_stats(path):
    try:
        with open(path) as fh:
            s = json.loads(fh.read().strip())
        for k in ("bytes_served", "bytes_decoded", "source_bytes", "read_amplification",
                  "cache_peak_bytes", "chunk_decodes"):
            print("%s=%s" % (k, s.get(k, "n/a")))
    except (OSError, ValueError):
        for k in ("bytes_served", "bytes_decoded", "source_bytes", "read_amplification",
                  "cache_peak_bytes", "chunk_decodes"):
            print("%s=n/a" % k)


def st_tensors(root):
    """name -> (path, dtype, shape, start, end) over every shard of root."""
    out = {}
    for name in sorted(os.listdir(root)):
        if not name.endswith(".safetensors"):
            continue
        path = os.path.join(root, name)
        fd = os.open(path, os.O_RDONLY)
        try:
            base, hdr = st_header(fd)
        finally:
            os.close(fd)
        for t, info in hdr.items():
            a, b = info["data_offsets"]
            out[t] = (path, info["dtype"], info["shape"], base + a, base + b)
    return out


def cmd_same(d1, d2):
    t1, t2 = st_tensors(d1), st_tensors(d2)
    why = None
    with open(os.path.join(d1, "config.json"), "rb") as f1, \
            open(os.path.join(d2, "config.json"), "rb") as f2:
        if f1.read() != f2.read():
            why = "config.json"
    if why is None and sorted(t1) != sorted(t2):
        why = "tensor names"
    for name in sorted(t1) if why is None else []:
        p1, dt1, sh1, a1, b1 = t1[name]
        p2, dt2, sh2, a2, b2 = t2[name]
        if (dt1, sh1, b1 - a1) != (dt2, sh2, b2 - a2):
            why = name + ": dtype or shape"
            break
        with open(p1, "rb") as f1, open(p2, "rb") as f2:
            f1.seek(a1)
            f2.seek(a2)
            left = b1 - a1
            while left and why is None:
                n = min(left, 8 << 20)
                if f1.read(n) != f2.read(n):
                    why = name + ": bytes"
                left -= n
        if why:
            break
    print("same=yes" if why is None else "same=no (%s)" % why)


def main():
    a = sys.argv
    if len(a) >= 3 and a[1] == "mmap":
        cmd_mmap(a[2:])
    elif len(a) == 4 and a[1] == "loader":
        cmd_loader(a[2], int(a[3]))
    elif len(a) == 5 and a[1] == "random":
        cmd_random(a[2], int(a[3]), int(a[4]))
    elif len(a) == 7 and a[1] == "ready":
        cmd_ready(a[2], a[3], a[4], a[5], int(a[6]))
    elif len(a) == 3 and a[1] == "stats":
        cmd_stats(a[2])
    elif len(a) == 4 and a[1] == "same":
        cmd_same(a[2], a[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
