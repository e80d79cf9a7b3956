#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Decode floor of a checkpoint: zstd-decode its chunk payloads outside FUSE.

    /usr/bin/python3 tests/bench/decode_floor.py DIR [THREADS] [REPEATS]
    /usr/bin/python3 tests/bench/decode_floor.py --gaussian MB [THREADS] [REPEATS]

Finds the zstd frames in the OCDBT files under DIR (every regular file; a
frame starts with the magic 28 B5 2F FD and must decode to its end to count).
A frame whose output holds frames itself is a compressed B+tree node holding
inline values: its inner frames are taken instead of it.  The frames are then
decoded with python3-zstandard (libzstd), on one thread and on THREADS
threads (default: all cores): a ThreadPoolExecutor over the frames, each
thread with its own decompressor (the GIL is released while libzstd runs),
and ZstdDecompressor.multi_decompress_to_buffer where the build has it; the
faster of the two counts.  Best of REPEATS (default 3).  Prints key=value
lines: frames, compressed and decompressed bytes, seconds and MB/s
(1 MB = 2^20 bytes) of decompressed output for each.

--gaussian MB measures the same on MB of trained-weight-like bfloat16 instead
(normal, std 0.02, fixed seed), cut in 8 MiB chunks and compressed at zstd
level 3 as Orbax does: a reference for what the decode floor is on real
weights, which compress far less than the example's formula values.
"""
import concurrent.futures
import os
import sys
import threading
import time

import zstandard

MAGIC = b"\x28\xb5\x2f\xfd"
FEED = 1 << 20


def frame_at(data, pos):
    """(compressed length, decompressed length) of the frame at pos, or None."""
    d = zstandard.ZstdDecompressor().decompressobj()
    mv = memoryview(data)
    out = 0
    off = pos
    try:
        while off < len(data):
            piece = mv[off:off + FEED]
            out += len(d.decompress(piece))
            if d.eof:
                return off + len(piece) - len(d.unused_data) - pos, out
            off += len(piece)
    except zstandard.ZstdError:
        return None
    return None


def scan(data, depth=0):
    """The leaf frames of data, as memoryviews, with their output sizes."""
    frames = []
    pos = data.find(MAGIC)
    while pos >= 0:
        r = frame_at(data, pos)
        if r is None:
            pos = data.find(MAGIC, pos + 1)
            continue
        clen, dlen = r
        frame = bytes(memoryview(data)[pos:pos + clen])
        inner = []
        if depth < 2 and dlen <= (16 << 20):
            out = zstandard.ZstdDecompressor().decompress(frame, max_output_size=dlen)
            if out.find(MAGIC) >= 0:
                inner = scan(out, depth + 1)
        frames.extend(inner if inner else [(frame, dlen)])
        pos = data.find(MAGIC, pos + clen)
    return frames


def one_thread(frames):
    dctx = zstandard.ZstdDecompressor()
    n = 0
    for f, dlen in frames:
        n += len(dctx.decompress(f, max_output_size=dlen))
    return n


def pool(frames, threads):
    local = threading.local()

    def work(item):
        dctx = getattr(local, "dctx", None)
        if dctx is None:
            dctx = local.dctx = zstandard.ZstdDecompressor()
        return len(dctx.decompress(item[0], max_output_size=item[1]))

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return sum(ex.map(work, frames))


def multi(frames, threads):
    dctx = zstandard.ZstdDecompressor()
    res = dctx.multi_decompress_to_buffer(
        [f for f, _ in frames],
        decompressed_sizes=b"".join(d.to_bytes(8, sys.byteorder) for _, d in frames),
        threads=threads)
    return sum(len(res[i]) for i in range(len(res)))


def best(fn, repeats):
    t = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        t = dt if t is None or dt < t else t
    return t


def gaussian_frames(mb):
    import numpy as np

    rng = np.random.default_rng(0)
    cctx = zstandard.ZstdCompressor(level=3)
    frames = []
    per = 8 << 20
    for _ in range(max(1, (mb << 20) // per)):
        f32 = (rng.standard_normal(per // 2, dtype=np.float32) * 0.02).view(np.uint32)
        bf16 = ((f32 + 0x7FFF + ((f32 >> 16) & 1)) >> 16).astype(np.uint16)
        frames.append((cctx.compress(bf16.tobytes()), per))
    return frames


def main():
    args = sys.argv[1:]
    gaussian = args[:1] == ["--gaussian"]
    if gaussian:
        args = args[1:]
    root = args[0]
    threads = int(args[1]) if len(args) > 1 else os.cpu_count()
    repeats = int(args[2]) if len(args) > 2 else 3
    frames = []
    if gaussian:
        frames = gaussian_frames(int(root))
    for dirpath, _, names in [] if gaussian else os.walk(root):
        for name in sorted(names):
            with open(os.path.join(dirpath, name), "rb") as fh:
                frames.extend(scan(fh.read()))
    # Largest first, so that the pool's threads finish together.
    frames.sort(key=lambda f: -f[1])
    dbytes = sum(d for _, d in frames)
    cbytes = sum(len(f) for f, _ in frames)
    if dbytes == 0:
        sys.exit("decode_floor: no zstd frames under %s" % root)
    assert one_thread(frames) == dbytes
    t1 = best(lambda: one_thread(frames), repeats)
    tp = best(lambda: pool(frames, threads), repeats)
    how = "threadpool"
    if hasattr(zstandard.ZstdDecompressor(), "multi_decompress_to_buffer"):
        try:
            assert multi(frames, threads) == dbytes
            tm = best(lambda: multi(frames, threads), repeats)
            if tm < tp:
                tp, how = tm, "multi_decompress_to_buffer"
        except (NotImplementedError, zstandard.ZstdError, AssertionError):
            pass
    mb = dbytes / 1048576
    print("frames=%d" % len(frames))
    print("compressed_bytes=%d" % cbytes)
    print("decompressed_bytes=%d" % dbytes)
    print("threads=%d" % threads)
    print("t_1thread=%.6f" % t1)
    print("mbs_1thread=%.1f" % (mb / t1))
    print("t_allcore=%.6f" % tp)
    print("mbs_allcore=%.1f" % (mb / tp))
    print("allcore_method=%s" % how)
    print("zstandard=%s libzstd=%s" % (zstandard.__version__,
                                        ".".join(map(str, zstandard.ZSTD_VERSION))))


if __name__ == "__main__":
    main()
