# SPDX-License-Identifier: MIT
"""Concurrent random reads of a mounted view, checked against plain files.

    soak_reader.py MNT REF SECONDS THREADS

THREADS threads read random ranges of every *.safetensors file under MNT
for SECONDS seconds and compare each with the same range of the file of the
same name under REF (the `convert` output).  Odd threads open with O_DIRECT,
past the kernel's page cache, so that the daemon serves their every read;
even threads read through it.  Prints one line of totals; exits 1 with the
first mismatch or error.
"""
import mmap
import os
import random
import sys
import threading
import time


def main():
    mnt, ref, secs, nthreads = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    names = sorted(n for n in os.listdir(ref) if n.endswith(".safetensors"))
    want = {}
    for n in names:
        with open(os.path.join(ref, n), "rb") as f:
            want[n] = f.read()
    errors = []
    reads = [0] * nthreads
    nbytes = [0] * nthreads
    deadline = time.monotonic() + secs

    def worker(i):
        rnd = random.Random(1000 + i)
        direct = i % 2 == 1
        flags = os.O_RDONLY | (os.O_DIRECT if direct else 0)
        fds = {n: os.open(os.path.join(mnt, n), flags) for n in names}
        buf = mmap.mmap(-1, 1 << 20)  # page-aligned, as O_DIRECT wants
        view = memoryview(buf)
        try:
            while time.monotonic() < deadline and not errors:
                n = rnd.choice(names)
                size = len(want[n])
                if direct:
                    off = rnd.randrange(0, size, 4096)
                    length = min(rnd.choice((4096, 16384, 65536, 1 << 20)), size - off)
                else:
                    off = rnd.randrange(0, size)
                    length = rnd.randint(1, min(1 << 20, size - off))
                got = os.preadv(fds[n], [view[:length]], off)
                if got != length or view[:got] != want[n][off:off + length]:
                    errors.append("%s [%d, +%d): got %d bytes%s" % (
                        n, off, length, got,
                        "" if got != length else ", different from convert's"))
                    return
                reads[i] += 1
                nbytes[i] += got
        except OSError as e:
            errors.append("thread %d: %s" % (i, e))
        finally:
            view.release()
            buf.close()
            for fd in fds.values():
                os.close(fd)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("soak: " + errors[0])
        return 1
    print("soak: %d threads, %d reads, %d bytes in %.0f s, every byte equal to convert's"
          % (nthreads, sum(reads), sum(nbytes), secs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
