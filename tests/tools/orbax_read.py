#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Independent reader of Orbax / MaxText checkpoints (OCDBT + zarr), for tests.

Written from the byte-level description in ../shared/docs/orbax-format.md,
not from ckptfs's C reader, so that checkpoints written by ckptfs can be
checked by something other than ckptfs itself.  Standard library plus
python3-numpy and python3-zstandard only.

  orbax_read.py list DIR                 one line per array: NAME DTYPE [SHAPE]
  orbax_read.py dump DIR NAME OUT.npy    the array as .npy (OUT '-' = stdout);
                                         bfloat16 / float8 as raw bits (uint16
                                         / uint8), --widen: bfloat16 as float32
  orbax_read.py dumpall DIR OUTDIR       every array as OUTDIR/NAME.npy (raw bits)
  orbax_read.py compare A B [--max-ulp N] [--only GLOB]...
                                         every array by name, dtype, shape and
                                         value bits; exit 0 equal, 1 different,
                                         2 unreadable
  orbax_read.py stats DIR                decode everything, print counters
  orbax_read.py keys DIR [--generation G] [--values]
                                         the OCDBT keys (value lengths / bytes)
  orbax_read.py get DIR KEY [--generation G]   one OCDBT value to stdout

DIR: a run directory (…/checkpoints/<step>/ is found; --step N picks one), a
step directory (_CHECKPOINT_METADATA + items/ | default/ | state/ | …), an
item directory, a bare OCDBT database, a plain zarr v2/v3 directory, or a
legacy item directory with a msgpack 'checkpoint' aggregate.

Options of every command: --step N (run directories), --fill-missing (fill
absent chunks with the fill value instead of failing as Orbax does).

Errors: one line on stderr, exit status 2 (set ORBAX_READ_DEBUG=1 for a
traceback).
"""

import argparse
import ast
import fnmatch
import json
import os
import re
import stat
import sys
import zlib

try:
    import numpy as np
    import zstandard
except ImportError as _e:  # pragma: no cover
    sys.stderr.write("orbax_read.py: needs python3-numpy and python3-zstandard (%s)\n" % _e)
    sys.exit(2)

PROG = "orbax_read.py"

MAGIC_MANIFEST = 0x0CDB3A2A
MAGIC_VERSION_NODE = 0x0CDB1234
MAGIC_BTREE_NODE = 0x0CDB20DE
U64_MAX = (1 << 64) - 1
MAX_MANIFEST_BYTES = 1 << 30
MAX_JSON_BYTES = 64 << 20
# max_decoded_node_bytes is the writer's split target (the neuroglancer
# fixture sets it to 1), not a bound on what a reader meets: cap at 1 GiB.
MAX_NODE_BYTES = 1 << 30


class FormatError(Exception):
    """Malformed or unsupported input (reported as one line, exit 2)."""


# --------------------------------------------------------------------------
# Counters (for `stats`) and warnings

class Stats:
    def __init__(self):
        self.files_read = set()
        self.bytes_read = 0
        self.btree_nodes = 0
        self.version_nodes = 0
        self.manifests = 0
        self.chunks = 0            # stored chunk values decoded
        self.inner_chunks = 0      # inner chunks of shards decoded
        self.inner_missing = 0     # inner chunks absent from a shard index (fill)
        self.chunks_missing = 0    # whole chunks absent (only with --fill-missing)
        self.inline_values = 0
        self.indirect_values = 0
        self.warnings = []

    def warn(self, msg):
        if msg not in self.warnings:
            self.warnings.append(msg)


STATS = Stats()

# --------------------------------------------------------------------------
# Primitives: CRC-32C, zstd, byte reader

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in memoryview(data).cast("B"):
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def zstd_decompress(data, what, limit=None):
    """All frames of DATA decompressed; errors on truncation or garbage."""
    out = []
    total = 0
    rest = bytes(data)
    if not rest:
        raise FormatError("%s: empty zstd data" % what)
    try:
        while rest:
            dobj = zstandard.ZstdDecompressor().decompressobj()
            part = dobj.decompress(rest)
            if not dobj.eof:
                raise FormatError("%s: truncated zstd frame" % what)
            out.append(part)
            total += len(part)
            if limit is not None and total > limit:
                raise FormatError("%s: decompresses to more than %d bytes" % (what, limit))
            rest = dobj.unused_data
    except zstandard.ZstdError as e:
        raise FormatError("%s: bad zstd data: %s" % (what, e))
    return b"".join(out)


def gzip_decompress(data, what):
    try:
        d = zlib.decompressobj(47)  # zlib or gzip header, auto-detected
        out = d.decompress(bytes(data)) + d.flush()
        if not d.eof:
            raise FormatError("%s: truncated gzip/zlib stream" % what)
        if d.unused_data:
            raise FormatError("%s: %d bytes after the gzip/zlib stream" % (what, len(d.unused_data)))
        return out
    except zlib.error as e:
        raise FormatError("%s: bad gzip/zlib data: %s" % (what, e))


class Buf:
    """Cursor over bytes: LEB128 varints, little-endian fixed ints."""

    def __init__(self, data, what, pos=0):
        self.d = bytes(data)
        self.p = pos
        self.what = what

    def need(self, n):
        if n < 0 or self.p + n > len(self.d):
            raise FormatError("%s: truncated (need %d bytes at offset %d of %d)"
                              % (self.what, n, self.p, len(self.d)))

    def remaining(self):
        return len(self.d) - self.p

    def u8(self):
        self.need(1)
        v = self.d[self.p]
        self.p += 1
        return v

    def fixed(self, n, signed=False):
        self.need(n)
        v = int.from_bytes(self.d[self.p:self.p + n], "little", signed=signed)
        self.p += n
        return v

    def raw(self, n):
        self.need(n)
        v = self.d[self.p:self.p + n]
        self.p += n
        return v

    def varint(self, bits=64, field="varint"):
        v = 0
        shift = 0
        for i in range(10):
            self.need(1)
            b = self.d[self.p]
            self.p += 1
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                if v >> bits:
                    raise FormatError("%s: %s %d overflows %d bits" % (self.what, field, v, bits))
                return v
            shift += 7
        raise FormatError("%s: %s longer than 10 bytes" % (self.what, field))

    def varints(self, n, bits=64, field="varint"):
        return [self.varint(bits, field) for _ in range(n)]

    def done(self):
        if self.p != len(self.d):
            raise FormatError("%s: %d unexpected trailing bytes" % (self.what, len(self.d) - self.p))


# --------------------------------------------------------------------------
# Files

def check_rel_path(path, what):
    if path.startswith("/") or ".." in path.split("/") or "\0" in path:
        raise FormatError("%s: data file path %r leaves the database" % (what, path))


class FileEntry:
    """One data-file-table entry: resolved base path (transitive + base) and
    relative path, both relative to the database directory."""
    __slots__ = ("base", "rel")

    def __init__(self, base, rel):
        self.base = base
        self.rel = rel

    @property
    def path(self):
        return self.base + self.rel


def read_file_range(root, relpath, offset, length, what):
    check_rel_path(relpath, what)
    full = os.path.join(root, relpath)
    try:
        fd = os.open(full, os.O_RDONLY)
    except OSError as e:
        raise FormatError("%s: cannot open data file %s: %s" % (what, relpath, e.strerror))
    try:
        size = os.fstat(fd).st_size
        if offset + length > size:
            raise FormatError("%s: bytes [%d, %d) lie beyond the end of %s (%d bytes)"
                              % (what, offset, offset + length, relpath, size))
        parts = []
        got = 0
        while got < length:
            b = os.pread(fd, min(length - got, 1 << 30), offset + got)
            if not b:
                raise FormatError("%s: short read in %s" % (what, relpath))
            parts.append(b)
            got += len(b)
    finally:
        os.close(fd)
    STATS.files_read.add(os.path.normpath(full))
    STATS.bytes_read += length
    return b"".join(parts)


def read_small_file(path, limit, what):
    try:
        st = os.stat(path)
        if st.st_size > limit:
            raise FormatError("%s: %s is implausibly large (%d bytes)" % (what, path, st.st_size))
        with open(path, "rb") as f:
            data = f.read(min(st.st_size, limit) + 1)
    except OSError as e:
        raise FormatError("%s: cannot read %s: %s" % (what, path, e.strerror))
    STATS.files_read.add(os.path.normpath(path))
    STATS.bytes_read += len(data)
    return data


def load_json_bytes(data, what):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise FormatError("%s: not valid JSON: %s" % (what, e))


def load_json_file(path, what):
    return load_json_bytes(read_small_file(path, MAX_JSON_BYTES, what), what)


# --------------------------------------------------------------------------
# OCDBT

def decode_envelope(data, magic, what, max_decoded):
    if len(data) < 4 + 8 + 1 + 1 + 4:
        raise FormatError("%s: %d bytes is too short for an OCDBT object" % (what, len(data)))
    m = int.from_bytes(data[0:4], "big")
    if m != magic:
        raise FormatError("%s: bad magic 0x%08x (want 0x%08x)" % (what, m, magic))
    length = int.from_bytes(data[4:12], "little")
    if length != len(data):
        raise FormatError("%s: header length %d but %d bytes available" % (what, length, len(data)))
    want = int.from_bytes(data[-4:], "little")
    got = crc32c(data[:-4])
    if want != got:
        raise FormatError("%s: CRC-32C mismatch (stored 0x%08x, computed 0x%08x)" % (what, want, got))
    b = Buf(data[:-4], what, 12)
    version = b.varint(32, "format version")
    if version != 0:
        raise FormatError("%s: unsupported format version %d" % (what, version))
    comp = b.varint(32, "compression")
    body = data[b.p:-4]
    if comp == 0:
        if len(body) > max_decoded:
            raise FormatError("%s: body of %d bytes exceeds max_decoded_node_bytes %d"
                              % (what, len(body), max_decoded))
        return body
    if comp == 1:
        return zstd_decompress(body, what, max_decoded)
    raise FormatError("%s: unknown compression %d" % (what, comp))


def parse_data_file_table(b, transitive):
    n = b.varint(64, "num_files")
    if n > b.remaining():
        raise FormatError("%s: data file table claims %d files" % (b.what, n))
    prefix = [0] + b.varints(n - 1, 16, "path_prefix_length") if n else []
    suffix = b.varints(n, 16, "path_suffix_length")
    base_len = b.varints(n, 16, "base_path_length")
    entries = []
    prev = b""
    prev_pair = None
    for i in range(n):
        if prefix[i] > len(prev):
            raise FormatError("%s: data file %d shares %d bytes with a %d-byte path"
                              % (b.what, i, prefix[i], len(prev)))
        path = prev[:prefix[i]] + b.raw(suffix[i])
        if len(path) > 65535:
            raise FormatError("%s: data file path longer than 65535 bytes" % b.what)
        if base_len[i] > len(path):
            raise FormatError("%s: data file %d base length %d > path length %d"
                              % (b.what, i, base_len[i], len(path)))
        base = path[:base_len[i]].decode("utf-8", "surrogateescape")
        rel = path[base_len[i]:].decode("utf-8", "surrogateescape")
        pair = (path[:base_len[i]], path[base_len[i]:])
        if prev_pair is not None and pair <= prev_pair:
            raise FormatError("%s: data file table not sorted/unique at entry %d (%r)"
                              % (b.what, i, base + rel))
        prev_pair = pair
        entries.append(FileEntry(transitive + base, rel))
        prev = path
    return entries


class Config:
    pass


def parse_config(b):
    c = Config()
    c.uuid = b.raw(16)
    c.manifest_kind = b.u8()
    if c.manifest_kind not in (0, 1):
        raise FormatError("%s: unknown manifest_kind %d" % (b.what, c.manifest_kind))
    c.max_inline_value_bytes = b.varint(32, "max_inline_value_bytes")
    c.max_decoded_node_bytes = b.varint(32, "max_decoded_node_bytes")
    c.arity_log2 = b.u8()
    if not 1 <= c.arity_log2 <= 16:
        raise FormatError("%s: version_tree_arity_log2 %d out of range" % (b.what, c.arity_log2))
    c.compression = b.varint(32, "compression_method")
    c.zstd_level = None
    if c.compression == 1:
        c.zstd_level = b.fixed(4, signed=True)
    elif c.compression != 0:
        raise FormatError("%s: unknown compression method %d" % (b.what, c.compression))
    return c


class VersionRef:
    """A version-tree leaf entry: one generation and its B+tree root."""
    __slots__ = ("generation", "root_height", "file", "offset", "length",
                 "num_keys", "num_tree_bytes", "num_indirect_value_bytes", "commit_time")

    @property
    def empty(self):
        return self.offset == U64_MAX and self.length == U64_MAX


def parse_version_leaf_entries(b, table, limit):
    n = b.varint(64, "num_versions")
    if n > limit:
        raise FormatError("%s: %d versions in a node of arity %d" % (b.what, n, limit))
    gens = b.varints(n, 64, "generation_number")
    heights = [b.u8() for _ in range(n)]
    fids = b.varints(n, 64, "data_file_id")
    offs = b.varints(n, 64, "offset")
    lens = b.varints(n, 64, "length")
    nkeys = b.varints(n, 64, "num_keys")
    ntree = b.varints(n, 64, "num_tree_bytes")
    nind = b.varints(n, 64, "num_indirect_value_bytes")
    times = [b.fixed(8) for _ in range(n)]
    out = []
    for i in range(n):
        v = VersionRef()
        v.generation, v.root_height = gens[i], heights[i]
        v.offset, v.length = offs[i], lens[i]
        v.num_keys, v.num_tree_bytes, v.num_indirect_value_bytes = nkeys[i], ntree[i], nind[i]
        v.commit_time = times[i]
        if v.generation == 0 or (i and v.generation <= gens[i - 1]):
            raise FormatError("%s: generation numbers not strictly increasing from 1" % b.what)
        if v.empty:
            v.file = None
            if v.root_height != 0 or v.num_keys or v.num_tree_bytes or v.num_indirect_value_bytes:
                raise FormatError("%s: empty version %d with non-zero height/statistics"
                                  % (b.what, v.generation))
        else:
            if fids[i] >= len(table):
                raise FormatError("%s: data file id %d out of range (%d files)"
                                  % (b.what, fids[i], len(table)))
            v.file = table[fids[i]]
        out.append(v)
    return out


class VersionNodeRef:
    __slots__ = ("generation", "file", "offset", "length", "num_generations", "commit_time", "height")


def parse_version_interior_entries(b, table, limit, with_height):
    n = b.varint(64, "num_children")
    if n > limit:
        raise FormatError("%s: %d version-node references (arity %d)" % (b.what, n, limit))
    gens = b.varints(n, 64, "generation_number")
    fids = b.varints(n, 64, "data_file_id")
    offs = b.varints(n, 64, "offset")
    lens = b.varints(n, 64, "length")
    ngen = b.varints(n, 64, "num_generations")
    times = [b.fixed(8) for _ in range(n)]
    heights = [b.u8() for _ in range(n)] if with_height else [None] * n
    out = []
    for i in range(n):
        r = VersionNodeRef()
        if fids[i] >= len(table):
            raise FormatError("%s: data file id %d out of range (%d files)" % (b.what, fids[i], len(table)))
        r.generation, r.file, r.offset, r.length = gens[i], table[fids[i]], offs[i], lens[i]
        r.num_generations, r.commit_time, r.height = ngen[i], times[i], heights[i]
        if r.num_generations == 0 or r.num_generations > r.generation:
            raise FormatError("%s: version node covers %d generations up to %d"
                              % (b.what, r.num_generations, r.generation))
        if i and r.generation <= gens[i - 1]:
            raise FormatError("%s: version node generations not increasing" % b.what)
        out.append(r)
    if with_height:
        for i in range(1, n):
            if heights[i] >= heights[i - 1]:
                raise FormatError("%s: version node heights not strictly decreasing" % b.what)
    return out


class ValueRef:
    __slots__ = ("inline", "file", "offset", "length")

    def __init__(self, inline=None, file=None, offset=0, length=0):
        self.inline, self.file, self.offset, self.length = inline, file, offset, length


class OcdbtDatabase:
    """One OCDBT database directory, read-only."""

    def __init__(self, root):
        self.root = root
        self.what = root
        self._load_manifest()
        self._maps = {}

    # -- manifest and version tree
    def _load_manifest(self):
        path = os.path.join(self.root, "manifest.ocdbt")
        data = read_small_file(path, MAX_MANIFEST_BYTES, "manifest")
        STATS.manifests += 1
        what = os.path.join(self.root, "manifest.ocdbt")
        body = decode_envelope(data, MAGIC_MANIFEST, what, MAX_MANIFEST_BYTES)
        b = Buf(body, what)
        cfg = parse_config(b)
        self.manifest_file = "manifest.ocdbt"
        if cfg.manifest_kind == 1:
            b.done()
            names = [n for n in os.listdir(self.root) if re.fullmatch(r"manifest\.[0-9a-f]{16}", n)]
            if not names:
                raise FormatError("%s: numbered manifest but no manifest.<16 hex> file" % what)
            name = max(names)
            what = os.path.join(self.root, name)
            data = read_small_file(what, MAX_MANIFEST_BYTES, "manifest")
            STATS.manifests += 1
            body = decode_envelope(data, MAGIC_MANIFEST, what, MAX_MANIFEST_BYTES)
            b = Buf(body, what)
            cfg2 = parse_config(b)
            if cfg2.uuid != cfg.uuid:
                raise FormatError("%s: uuid differs from manifest.ocdbt's" % what)
            cfg = cfg2
            self.manifest_file = name
        self.config = cfg
        self.table = parse_data_file_table(b, "")
        arity = 1 << cfg.arity_log2
        self.inline_versions = parse_version_leaf_entries(b, self.table, arity)
        self.version_nodes = parse_version_interior_entries(b, self.table, 64, True)
        b.done()

    def _read_version_node(self, ref, height):
        what = "%s: version node %s@%d+%d" % (self.root, ref.file.path, ref.offset, ref.length)
        data = read_file_range(self.root, ref.file.path, ref.offset, ref.length, what)
        STATS.version_nodes += 1
        body = decode_envelope(data, MAGIC_VERSION_NODE, what, MAX_NODE_BYTES)
        b = Buf(body, what)
        arity_log2 = b.u8()
        if arity_log2 != self.config.arity_log2:
            raise FormatError("%s: arity_log2 %d, manifest says %d" % (what, arity_log2, self.config.arity_log2))
        h = b.u8()
        if h != height:
            raise FormatError("%s: height %d, expected %d" % (what, h, height))
        table = parse_data_file_table(b, ref.file.base)
        arity = 1 << arity_log2
        if h == 0:
            entries = parse_version_leaf_entries(b, table, arity)
        else:
            entries = parse_version_interior_entries(b, table, arity, False)
            for e in entries:
                e.height = h - 1
        b.done()
        if not entries:
            raise FormatError("%s: empty version node" % what)
        if entries[-1].generation != ref.generation:
            raise FormatError("%s: latest generation %d, parent says %d"
                              % (what, entries[-1].generation, ref.generation))
        return entries

    def version(self, generation=None):
        """The VersionRef of GENERATION (default: the latest), or None if
        the database has no versions."""
        if generation is None:
            if self.inline_versions:
                return self.inline_versions[-1]
            if not self.version_nodes:
                return None
            generation = max(r.generation for r in self.version_nodes)
        for v in self.inline_versions:
            if v.generation == generation:
                return v
        refs = self.version_nodes
        while True:
            for r in refs:
                if r.generation - r.num_generations < generation <= r.generation:
                    break
            else:
                raise FormatError("%s: generation %d not in the version tree" % (self.root, generation))
            entries = self._read_version_node(r, r.height)
            if r.height == 0:
                for v in entries:
                    if v.generation == generation:
                        return v
                raise FormatError("%s: generation %d missing from its version node" % (self.root, generation))
            refs = entries

    def all_generations(self):
        """Every generation reachable through the version tree (validates it)."""
        gens = []

        def visit(ref, height):
            entries = self._read_version_node(ref, height)
            if height == 0:
                gens.extend(v.generation for v in entries)
            else:
                for e in entries:
                    visit(e, height - 1)

        for r in self.version_nodes:
            visit(r, r.height)
        gens.extend(v.generation for v in self.inline_versions)
        for i in range(1, len(gens)):
            if gens[i] <= gens[i - 1]:
                raise FormatError("%s: version tree generations out of order" % self.root)
        return gens

    # -- B+tree
    def key_map(self, generation=None):
        """dict bytes key -> ValueRef of the whole B+tree of a version."""
        if generation in self._maps:
            return self._maps[generation]
        v = self.version(generation)
        out = {}
        self.tree_height = None
        if v is not None and not v.empty:
            self.tree_height = v.root_height
            got = self._walk(v.file, v.offset, v.length, v.root_height, b"", b"", None, out)
            self._check_counts(got, (v.num_keys, v.num_tree_bytes, v.num_indirect_value_bytes),
                               "generation %d" % v.generation)
        self.generation = v.generation if v is not None else 0
        self._maps[generation] = out
        return out

    def _check_counts(self, got, want, where):
        names = ("num_keys", "num_tree_bytes", "num_indirect_value_bytes")
        for n, g, w in zip(names, got, want):
            if g != w:
                STATS.warn("%s: %s: %s recorded %d, actual %d" % (self.root, where, n, w, g))

    def _walk(self, fentry, offset, length, height, prefix, lo, hi, out):
        what = "%s: B+tree node %s@%d+%d" % (self.root, fentry.path, offset, length)
        data = read_file_range(self.root, fentry.path, offset, length, what)
        STATS.btree_nodes += 1
        body = decode_envelope(data, MAGIC_BTREE_NODE, what, MAX_NODE_BYTES)
        b = Buf(body, what)
        h = b.u8()
        if h != height:
            raise FormatError("%s: height %d, expected %d" % (what, h, height))
        table = parse_data_file_table(b, fentry.base)
        n = b.varint(32, "num_entries")
        if not 1 <= n <= 1048576:
            raise FormatError("%s: %d entries" % (what, n))
        pl = [0] + b.varints(n - 1, 16, "key_prefix_length")
        sl = b.varints(n, 16, "key_suffix_length")
        cpl = b.varints(n, 16, "subtree_common_prefix_length") if h else None
        keys = []
        prev = b""
        for i in range(n):
            if pl[i] > len(prev):
                raise FormatError("%s: key %d shares %d bytes with a %d-byte key" % (what, i, pl[i], len(prev)))
            k = prev[:pl[i]] + b.raw(sl[i])
            if i and k <= prev:
                raise FormatError("%s: keys not strictly increasing at entry %d" % (what, i))
            keys.append(k)
            prev = k
        nkeys = tree_bytes = indirect = 0
        if h == 0:
            vlen = b.varints(n, 64, "value_length")
            kinds = [b.u8() for _ in range(n)]
            for k in kinds:
                if k not in (0, 1):
                    raise FormatError("%s: unknown value kind %d" % (what, k))
            m = sum(kinds)
            fids = b.varints(m, 64, "data_file_id")
            offs = b.varints(m, 64, "offset")
            j = 0
            for i in range(n):
                full = prefix + keys[i]
                if full < lo or (hi is not None and full >= hi):
                    raise FormatError("%s: key %r outside the range its parent gives" % (what, full))
                if kinds[i] == 0:
                    if vlen[i] > 1 << 20:
                        raise FormatError("%s: inline value of %d bytes" % (what, vlen[i]))
                    out[full] = ValueRef(inline=b.raw(vlen[i]))
                else:
                    if fids[j] >= len(table):
                        if vlen[i] == 0:
                            fe = FileEntry("", "")
                        else:
                            raise FormatError("%s: data file id %d out of range (%d files)"
                                              % (what, fids[j], len(table)))
                    else:
                        fe = table[fids[j]]
                    out[full] = ValueRef(file=fe, offset=offs[j], length=vlen[i])
                    indirect += vlen[i]
                    j += 1
            b.done()
            return n, length, indirect
        fids = b.varints(n, 64, "data_file_id")
        offs = b.varints(n, 64, "offset")
        lens = b.varints(n, 64, "length")
        c_nkeys = b.varints(n, 64, "num_keys")
        c_tree = b.varints(n, 64, "num_tree_bytes")
        c_ind = b.varints(n, 64, "num_indirect_value_bytes")
        b.done()
        tree_bytes = length
        for i in range(n):
            if cpl[i] > len(keys[i]):
                raise FormatError("%s: subtree prefix %d longer than key %d" % (what, cpl[i], i))
            if fids[i] >= len(table):
                raise FormatError("%s: data file id %d out of range (%d files)" % (what, fids[i], len(table)))
            clo = prefix + keys[i]
            if clo < lo:
                raise FormatError("%s: child key below the range its parent gives" % what)
            chi = prefix + keys[i + 1] if i + 1 < n else hi
            got = self._walk(table[fids[i]], offs[i], lens[i], h - 1,
                             prefix + keys[i][:cpl[i]], clo, chi, out)
            self._check_counts(got, (c_nkeys[i], c_tree[i], c_ind[i]),
                               "child %d of %s@%d" % (i, fentry.path, offset))
            nkeys += got[0]
            tree_bytes += got[1]
            indirect += got[2]
        return nkeys, tree_bytes, indirect

    def read_value(self, ref, what):
        if ref.inline is not None:
            STATS.inline_values += 1
            return ref.inline
        STATS.indirect_values += 1
        if ref.length == 0:
            return b""
        return read_file_range(self.root, ref.file.path, ref.offset, ref.length, what)


# --------------------------------------------------------------------------
# Key-value stores seen by the zarr layer

class OcdbtKV:
    def __init__(self, root, generation=None):
        self.db = OcdbtDatabase(root)
        self.generation = generation
        self.desc = "OCDBT"

    def keys(self):
        return sorted(self.db.key_map(self.generation))

    def get(self, key):
        ref = self.db.key_map(self.generation).get(key)
        if ref is None:
            return None
        return self.db.read_value(ref, "%s: value of %r" % (self.db.root, key.decode("utf-8", "replace")))


class UnionKV:
    """ocdbt.process_*/ databases read separately (top-level manifest missing)."""

    def __init__(self, roots):
        self.parts = [OcdbtKV(r) for r in roots]
        self.desc = "OCDBT (union of %d per-process databases)" % len(roots)
        self._owner = None

    def _index(self):
        if self._owner is None:
            self._owner = {}
            for p in self.parts:
                for k in p.keys():
                    if k in self._owner:
                        a, b = self._owner[k].get(k), p.get(k)
                        if a != b:
                            raise FormatError("key %r differs between %s and %s"
                                              % (k, self._owner[k].db.root, p.db.root))
                        continue
                    self._owner[k] = p
        return self._owner

    def keys(self):
        return sorted(self._index())

    def get(self, key):
        p = self._index().get(key)
        return p.get(key) if p else None


class DirKV:
    """Plain files: the key is the path below ROOT."""

    def __init__(self, root):
        self.root = root
        self.desc = "plain directory"

    def keys(self):
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, self.root)
            for f in sorted(filenames):
                k = f if rel == "." else rel.replace(os.sep, "/") + "/" + f
                out.append(k.encode("utf-8", "surrogateescape"))
        return sorted(out)

    def get(self, key):
        k = key.decode("utf-8", "surrogateescape")
        check_rel_path(k, self.root)
        path = os.path.join(self.root, k)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise FormatError("%s: %s" % (path, e.strerror))
        if not stat.S_ISREG(st.st_mode):
            return None
        return read_small_file(path, 1 << 40, path)


# --------------------------------------------------------------------------
# Data types

# name -> (storage numpy dtype, kind).  kind: 'f' float (ulp-comparable),
# 'i'/'u' integer, 'b' bool, 'c' complex, 'raw' float8 bits.
DTYPES = {
    "bool": ("|b1", "b"),
    "int8": ("|i1", "i"), "int16": ("<i2", "i"), "int32": ("<i4", "i"), "int64": ("<i8", "i"),
    "uint8": ("|u1", "u"), "uint16": ("<u2", "u"), "uint32": ("<u4", "u"), "uint64": ("<u8", "u"),
    "float16": ("<f2", "f"), "float32": ("<f4", "f"), "float64": ("<f8", "f"),
    "bfloat16": ("<u2", "f"),
    "complex64": ("<c8", "c"), "complex128": ("<c16", "c"),
}
for _n in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
           "float8_e4m3b11fnuz", "float8_e3m4", "float8_e4m3", "float8_e8m0fnu"):
    DTYPES[_n] = ("|u1", "raw")

RAW_BITS = {"bfloat16": "uint16"}  # stored (and dumped) as raw bits of this type
for _n in DTYPES:
    if _n.startswith("float8"):
        RAW_BITS[_n] = "uint8"


def dtype_v3(name, what):
    if not isinstance(name, str) or name not in DTYPES:
        raise FormatError("%s: unsupported data_type %r" % (what, name))
    return name


def dtype_v2(s, what):
    """Canonical name and the byte order ('<', '>' or '|') of a .zarray dtype."""
    if not isinstance(s, str):
        raise FormatError("%s: unsupported dtype %r" % (what, s))
    if s in DTYPES:
        return s, "<"
    if len(s) >= 3 and s[0] in "<>|=" and s[1:] in ("b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8",
                                                     "f2", "f4", "f8", "c8", "c16"):
        name = np.dtype("<" + s[1:]).name
        return name, (s[0] if s[0] in "<>" else "<")
    raise FormatError("%s: unsupported dtype %r" % (what, s))


def float_to_bf16_bits(x):
    f = np.array([x], dtype="<f4").view("<u4")[0]
    f = int(f)
    if (f & 0x7F800000) == 0x7F800000 and (f & 0x7FFFFF):
        return 0x7FC0 | ((f >> 16) & 0x8000)
    return ((f + 0x7FFF + ((f >> 16) & 1)) >> 16) & 0xFFFF


def parse_fill(name, fv, what, v2=False):
    """Fill value as a numpy scalar of the storage dtype; None if absent."""
    if fv is None:
        if v2:
            return None
        raise FormatError("%s: fill_value missing" % what)
    storage, kind = DTYPES[name]
    try:
        if kind == "b":
            if isinstance(fv, bool) or fv in (0, 1):
                return np.array(bool(fv), storage)[()]
            raise ValueError
        if kind in ("i", "u"):
            if isinstance(fv, str) and fv.startswith("0x"):
                fv = int(fv, 16)
            if isinstance(fv, bool) or not isinstance(fv, int):
                raise ValueError
            info = np.iinfo(np.dtype(storage))
            if not info.min <= fv <= info.max:
                raise ValueError
            return np.array(fv, storage)[()]
        if kind == "c":
            if not (isinstance(fv, list) and len(fv) == 2):
                raise ValueError
            part = "float32" if name == "complex64" else "float64"
            re_, im_ = (np.array(parse_fill(part, x, what, v2), DTYPES[part][0]) for x in fv)
            return np.array(complex(re_, im_), storage)[()]
        if isinstance(fv, str) and fv.startswith("0x"):
            bits = int(fv, 16)
            width = np.dtype(storage).itemsize
            if bits >> (8 * width):
                raise ValueError
            if kind == "raw" or name == "bfloat16":
                return np.array(bits, storage)[()]
            return np.array(bits, "<u%d" % width).view(storage)[()]
        special = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
        if isinstance(fv, str):
            if fv not in special:
                raise ValueError
            x = special[fv]
        elif isinstance(fv, bool) or not isinstance(fv, (int, float)):
            raise ValueError
        else:
            x = float(fv)
        if name == "bfloat16":
            return np.array(float_to_bf16_bits(x), storage)[()]
        if kind == "raw":
            if x != 0:
                raise FormatError("%s: fill value %r of %s is not supported" % (what, fv, name))
            return np.array(0, storage)[()]
        return np.array(x, storage)[()]
    except (ValueError, OverflowError, TypeError):
        raise FormatError("%s: bad fill_value %r for %s" % (what, fv, name))


def as_int_list(v, what, field):
    if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v):
        raise FormatError("%s: %s must be a list of non-negative integers, got %r" % (what, field, v))
    return [int(x) for x in v]


def prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


# --------------------------------------------------------------------------
# zarr v3 codecs

AA_CODECS = ("transpose",)
AB_CODECS = ("bytes", "endian", "sharding_indexed")
BB_CODECS = ("zstd", "gzip", "crc32c", "blosc")


def codec_name_cfg(c, what):
    if isinstance(c, str):
        return c, {}
    if not isinstance(c, dict) or not isinstance(c.get("name"), str):
        raise FormatError("%s: bad codec entry %r" % (what, c))
    cfg = c.get("configuration", {}) or {}
    if not isinstance(cfg, dict):
        raise FormatError("%s: bad codec configuration %r" % (what, c))
    return c["name"], cfg


def transpose_order(cfg, rank, what):
    order = cfg.get("order")
    if order == "C":
        return list(range(rank))
    if order == "F":
        return list(range(rank))[::-1]
    if not isinstance(order, list) or sorted(order) != list(range(rank)):
        raise FormatError("%s: bad transpose order %r for rank %d" % (what, order, rank))
    return order


def split_codecs(codecs, what):
    if not isinstance(codecs, list) or not codecs:
        raise FormatError("%s: codecs must be a non-empty list" % what)
    parsed = [codec_name_cfg(c, what) for c in codecs]
    i = 0
    aa = []
    while i < len(parsed) and parsed[i][0] in AA_CODECS:
        aa.append(parsed[i])
        i += 1
    if i >= len(parsed) or parsed[i][0] not in AB_CODECS:
        got = parsed[i][0] if i < len(parsed) else "nothing"
        raise FormatError("%s: unsupported or misplaced codec %r (want bytes or sharding_indexed)" % (what, got))
    ab = parsed[i]
    bb = parsed[i + 1:]
    for n, _ in bb:
        if n not in BB_CODECS:
            raise FormatError("%s: unsupported codec %r" % (what, n))
    return aa, ab, bb


def decode_v3(codecs, data, shape, name, fill, what, storage=None):
    """Decode one chunk's stored bytes to a C-order array of SHAPE.  NAME is
    the canonical data type name (None with STORAGE for the shard index)."""
    aa, ab, bb = split_codecs(codecs, what)
    shapes = [list(shape)]
    for n, cfg in aa:
        order = transpose_order(cfg, len(shapes[-1]), what)
        shapes.append([shapes[-1][k] for k in order])
    for n, cfg in reversed(bb):
        if n == "zstd":
            data = zstd_decompress(data, what)
        elif n == "gzip":
            data = gzip_decompress(data, what)
        elif n == "crc32c":
            if len(data) < 4:
                raise FormatError("%s: too short for a crc32c checksum" % what)
            want = int.from_bytes(data[-4:], "little")
            got = crc32c(data[:-4])
            if want != got:
                raise FormatError("%s: crc32c mismatch (stored 0x%08x, computed 0x%08x)" % (what, want, got))
            data = data[:-4]
        else:
            raise FormatError("%s: codec %r is not supported by this reader" % (what, n))
    n, cfg = ab
    eshape = shapes[-1]
    st = storage or DTYPES[name][0]
    if n in ("bytes", "endian"):
        dt = np.dtype(st)
        expect = prod(eshape) * dt.itemsize
        if len(data) != expect:
            raise FormatError("%s: chunk decodes to %d bytes, expected %d" % (what, len(data), expect))
        endian = cfg.get("endian", "little")
        if dt.itemsize > 1 and endian not in ("little", "big"):
            raise FormatError("%s: bad endian %r" % (what, endian))
        src = dt.newbyteorder(">" if endian == "big" else "<") if dt.itemsize > 1 else dt
        arr = np.frombuffer(data, dtype=src).reshape(eshape).astype(st)
    else:
        arr = decode_shard(cfg, data, eshape, name, fill, what, st)
    for (n2, cfg2), before in zip(reversed(aa), reversed(shapes[:-1])):
        order = transpose_order(cfg2, len(before), what)
        inv = [0] * len(order)
        for i, k in enumerate(order):
            inv[k] = i
        arr = np.ascontiguousarray(arr.transpose(inv))
    return arr


def decode_shard(cfg, data, shard_shape, name, fill, what, storage):
    inner = as_int_list(cfg.get("chunk_shape"), what, "sharding chunk_shape")
    if len(inner) != len(shard_shape) or any(c == 0 or s % c for s, c in zip(shard_shape, inner)):
        raise FormatError("%s: inner chunk shape %s does not divide shard shape %s" % (what, inner, shard_shape))
    grid = [s // c for s, c in zip(shard_shape, inner)]
    k = prod(grid)
    index_codecs = cfg.get("index_codecs")
    icodecs = [codec_name_cfg(c, what)[0] for c in (index_codecs or [])]
    if not icodecs or any(c not in ("bytes", "endian", "crc32c") for c in icodecs) or \
            icodecs[0] not in ("bytes", "endian"):
        raise FormatError("%s: unsupported shard index codecs %r" % (what, index_codecs))
    isize = 16 * k + 4 * icodecs.count("crc32c")
    loc = cfg.get("index_location", "end")
    if loc not in ("start", "end"):
        raise FormatError("%s: bad index_location %r" % (what, loc))
    if len(data) < isize:
        raise FormatError("%s: shard of %d bytes is shorter than its %d-byte index" % (what, len(data), isize))
    if loc == "end":
        ibytes, lo, hi = data[len(data) - isize:], 0, len(data) - isize
    else:
        ibytes, lo, hi = data[:isize], isize, len(data)
    index = decode_v3(index_codecs, ibytes, grid + [2], None, None, what + " (shard index)", storage="<u8")
    inner_codecs = cfg.get("codecs")
    out = None
    for idx in np.ndindex(*grid):
        off, nb = int(index[idx][0]), int(index[idx][1])
        sl = tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, inner))
        if off == U64_MAX and nb == U64_MAX:
            STATS.inner_missing += 1
            if fill is None:
                raise FormatError("%s: inner chunk %s missing and no fill value" % (what, list(idx)))
            if out is None:
                out = np.empty(shard_shape, storage)
            out[sl] = fill
            continue
        if off == U64_MAX or nb == U64_MAX or off < lo or off + nb > hi:
            raise FormatError("%s: inner chunk %s at [%d, +%d) outside the shard data [%d, %d)"
                              % (what, list(idx), off, nb, lo, hi))
        chunk = decode_v3(inner_codecs, data[off:off + nb], inner, name, fill,
                          "%s inner chunk %s" % (what, list(idx)), storage)
        STATS.inner_chunks += 1
        if out is None:
            out = np.empty(shard_shape, storage)
        out[sl] = chunk
    if out is None:
        out = np.empty(shard_shape, storage)
    return out


# --------------------------------------------------------------------------
# Arrays

class Array:
    """One array: name, dtype name, shape; read() returns the values in the
    storage dtype (bfloat16 / float8 as raw unsigned bits), little-endian."""

    def __init__(self, name, dtype, shape, chunk_shape, reader, fmt):
        self.name, self.dtype, self.shape = name, dtype, tuple(shape)
        self.chunk_shape = tuple(chunk_shape)
        self._reader, self.fmt = reader, fmt

    @property
    def storage(self):
        return DTYPES[self.dtype][0]

    def nchunks(self):
        n = 1
        for s, c in zip(self.shape, self.chunk_shape):
            n *= -(-s // c) if c else 0
        return n

    def read(self):
        return self._reader()


FILL_MISSING = False


def chunk_grid_read(kv, name, shape, chunk_shape, storage, keyfn, decode, fill, what):
    out = np.empty(shape, storage)
    grid = [-(-s // c) for s, c in zip(shape, chunk_shape)]
    for idx in np.ndindex(*grid):
        key = keyfn(idx)
        data = kv.get(key)
        sl = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(idx, chunk_shape, shape))
        cwhat = "%s: chunk %s" % (what, key.decode("utf-8", "replace"))
        if data is None:
            if fill is None:
                raise FormatError("%s missing (and no fill value)" % cwhat)
            if not FILL_MISSING:
                raise FormatError("%s missing (Orbax writes every chunk; --fill-missing to fill)" % cwhat)
            STATS.chunks_missing += 1
            out[sl] = fill
            continue
        chunk = decode(data, cwhat)
        STATS.chunks += 1
        clip = tuple(slice(0, s.stop - s.start) for s in sl)
        out[sl] = chunk[clip]
    return out


def key_prefix(name):
    return (name + "/") if name else ""


def open_zarr3(kv, name, meta, what):
    if meta.get("zarr_format") != 3:
        raise FormatError("%s: zarr_format %r, expected 3" % (what, meta.get("zarr_format")))
    if meta.get("node_type") != "array":
        raise FormatError("%s: node_type %r is not an array" % (what, meta.get("node_type")))
    shape = as_int_list(meta.get("shape"), what, "shape")
    dt = dtype_v3(meta.get("data_type"), what)
    grid = meta.get("chunk_grid")
    if not isinstance(grid, dict) or grid.get("name") != "regular":
        raise FormatError("%s: unsupported chunk_grid %r" % (what, grid))
    chunk = as_int_list((grid.get("configuration") or {}).get("chunk_shape"), what, "chunk_shape")
    if len(chunk) != len(shape) or (0 in chunk and prod(shape)):
        raise FormatError("%s: chunk_shape %s does not fit shape %s" % (what, chunk, shape))
    kenc = meta.get("chunk_key_encoding", {"name": "default"})
    if not isinstance(kenc, dict):
        raise FormatError("%s: bad chunk_key_encoding %r" % (what, kenc))
    kcfg = kenc.get("configuration") or {}
    if kenc.get("name") == "default":
        sep = kcfg.get("separator", "/")
        v2keys = False
    elif kenc.get("name") == "v2":
        sep = kcfg.get("separator", ".")
        v2keys = True
    else:
        raise FormatError("%s: unsupported chunk_key_encoding %r" % (what, kenc))
    if sep not in ("/", "."):
        raise FormatError("%s: bad chunk key separator %r" % (what, sep))
    fill = parse_fill(dt, meta.get("fill_value"), what)
    codecs = meta.get("codecs")
    split_codecs(codecs, what)  # validate now, so `list` reports unsupported codecs
    pre = key_prefix(name)

    def keyfn(idx):
        if v2keys:
            k = sep.join(str(i) for i in idx) if idx else "0"
        else:
            k = "c" + "".join(sep + str(i) for i in idx)
        return (pre + k).encode("utf-8")

    def decode(data, cwhat):
        return decode_v3(codecs, data, chunk, dt, fill, cwhat)

    def reader():
        return chunk_grid_read(kv, name, shape, chunk, DTYPES[dt][0], keyfn, decode, fill, what)

    return Array(name, dt, shape, chunk, reader, "zarr3")


def open_zarr2(kv, name, meta, what):
    if meta.get("zarr_format") != 2:
        raise FormatError("%s: zarr_format %r, expected 2" % (what, meta.get("zarr_format")))
    shape = as_int_list(meta.get("shape"), what, "shape")
    chunk = as_int_list(meta.get("chunks"), what, "chunks")
    if len(chunk) != len(shape) or (0 in chunk and prod(shape)):
        raise FormatError("%s: chunks %s do not fit shape %s" % (what, chunk, shape))
    dt, order = dtype_v2(meta.get("dtype"), what)
    fill = parse_fill(dt, meta.get("fill_value"), what, v2=True)
    comp = meta.get("compressor")
    cid = None
    if comp is not None:
        if not isinstance(comp, dict) or comp.get("id") not in ("zstd", "zlib", "gzip"):
            raise FormatError("%s: unsupported compressor %r" % (what, comp))
        cid = comp["id"]
    if meta.get("filters") not in (None, []):
        raise FormatError("%s: filters %r are not supported" % (what, meta.get("filters")))
    morder = meta.get("order", "C")
    if morder not in ("C", "F"):
        raise FormatError("%s: bad order %r" % (what, morder))
    sep = meta.get("dimension_separator", ".")
    if sep not in (".", "/"):
        raise FormatError("%s: bad dimension_separator %r" % (what, sep))
    storage = DTYPES[dt][0]
    sdt = np.dtype(storage)
    src = sdt.newbyteorder(order) if sdt.itemsize > 1 else sdt
    pre = key_prefix(name)

    def keyfn(idx):
        return (pre + (sep.join(str(i) for i in idx) if idx else "0")).encode("utf-8")

    def decode(data, cwhat):
        if cid == "zstd":
            data = zstd_decompress(data, cwhat)
        elif cid in ("zlib", "gzip"):
            data = gzip_decompress(data, cwhat)
        expect = prod(chunk) * sdt.itemsize
        if len(data) != expect:
            raise FormatError("%s: decodes to %d bytes, expected %d" % (cwhat, len(data), expect))
        return np.frombuffer(data, dtype=src).reshape(chunk, order=morder).astype(storage)

    def reader():
        return chunk_grid_read(kv, name, shape, chunk, storage, keyfn, decode, fill, what)

    return Array(name, dt, shape, chunk, reader, "zarr2")


def open_array(kv, name):
    pre = key_prefix(name)
    for suffix, opener in (("zarr.json", open_zarr3), (".zarray", open_zarr2)):
        key = (pre + suffix).encode("utf-8")
        data = kv.get(key)
        if data is not None:
            what = "%s%s" % (pre, suffix)
            meta = load_json_bytes(data, what)
            if not isinstance(meta, dict):
                raise FormatError("%s: not a JSON object" % what)
            return opener(kv, name, meta, what)
    return None


# --------------------------------------------------------------------------
# Legacy msgpack 'checkpoint' aggregate

class MsgpackExt:
    def __init__(self, code, data):
        self.code, self.data = code, data


def msgpack_unpack(data, what):
    b = Buf(data, what)

    def be(n):
        return int.from_bytes(b.raw(n), "big")

    def obj(depth):
        if depth > 200:
            raise FormatError("%s: msgpack nesting too deep" % what)
        t = b.u8()
        if t <= 0x7F:
            return t
        if t >= 0xE0:
            return t - 0x100
        if 0x80 <= t <= 0x8F:
            return mapn(t & 0x0F, depth)
        if 0x90 <= t <= 0x9F:
            return [obj(depth + 1) for _ in range(t & 0x0F)]
        if 0xA0 <= t <= 0xBF:
            return b.raw(t & 0x1F).decode("utf-8", "surrogateescape")
        if t == 0xC0:
            return None
        if t in (0xC2, 0xC3):
            return t == 0xC3
        if t in (0xC4, 0xC5, 0xC6):
            return b.raw(be(1 << (t - 0xC4)))
        if t in (0xC7, 0xC8, 0xC9):
            n = be(1 << (t - 0xC7))
            code = b.raw(1)[0]
            return MsgpackExt(code if code < 128 else code - 256, b.raw(n))
        if t == 0xCA:
            return float(np.frombuffer(b.raw(4), ">f4")[0])
        if t == 0xCB:
            return float(np.frombuffer(b.raw(8), ">f8")[0])
        if 0xCC <= t <= 0xCF:
            return be(1 << (t - 0xCC))
        if 0xD0 <= t <= 0xD3:
            n = 1 << (t - 0xD0)
            return int.from_bytes(b.raw(n), "big", signed=True)
        if 0xD4 <= t <= 0xD8:
            code = b.raw(1)[0]
            return MsgpackExt(code if code < 128 else code - 256, b.raw(1 << (t - 0xD4)))
        if t in (0xD9, 0xDA, 0xDB):
            return b.raw(be(1 << (t - 0xD9))).decode("utf-8", "surrogateescape")
        if t in (0xDC, 0xDD):
            return [obj(depth + 1) for _ in range(be(2 if t == 0xDC else 4))]
        if t in (0xDE, 0xDF):
            return mapn(be(2 if t == 0xDE else 4), depth)
        raise FormatError("%s: bad msgpack type byte 0x%02x" % (what, t))

    def mapn(n, depth):
        d = {}
        for _ in range(n):
            k = obj(depth + 1)
            if isinstance(k, bytes):
                k = k.decode("utf-8", "surrogateescape")
            d[str(k)] = obj(depth + 1)
        return d

    v = obj(0)
    b.done()
    return v


AGG_DTYPES = {"float32": "float32", "float64": "float64", "float16": "float16", "bfloat16": "bfloat16",
              "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
              "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
              "bool": "bool", "complex64": "complex64", "complex128": "complex128"}


def aggregate_leaves(path):
    """{name: Array or 'PLACEHOLDER'} from a legacy msgpack checkpoint file."""
    what = path
    tree = msgpack_unpack(read_small_file(path, 1 << 34, what), what)
    out = {}

    def array_from_ext(e, name):
        payload = msgpack_unpack(e.data, "%s: %s" % (what, name))
        if not (isinstance(payload, list) and len(payload) == 3 and isinstance(payload[2], bytes)):
            raise FormatError("%s: %s: bad ndarray payload" % (what, name))
        shape, dname, raw = payload
        if e.code == 3 and not isinstance(shape, list):
            shape = []
        shape = as_int_list(shape, what, name + " shape")
        if dname not in AGG_DTYPES:
            raise FormatError("%s: %s: unsupported dtype %r" % (what, name, dname))
        dt = AGG_DTYPES[dname]
        storage = DTYPES[dt][0]
        if len(raw) != prod(shape) * np.dtype(storage).itemsize:
            raise FormatError("%s: %s: %d data bytes for shape %s %s" % (what, name, len(raw), shape, dt))
        arr = np.frombuffer(raw, storage).reshape(shape).copy()
        return Array(name, dt, shape, shape, lambda: arr, "msgpack")

    def visit(node, parts):
        name = ".".join(parts)
        if isinstance(node, dict):
            for k, v in node.items():
                visit(v, parts + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                visit(v, parts + [str(i)])
        elif isinstance(node, MsgpackExt):
            if node.code in (1, 3):
                out[name] = array_from_ext(node, name)
            elif node.code == 4:
                visit(msgpack_unpack(node.data, "%s: %s" % (what, name)), parts)
            elif node.code == 2:
                pass  # complex Python scalar: not an array
            else:
                raise FormatError("%s: %s: unknown msgpack ext type %d" % (what, name, node.code))
        elif isinstance(node, str):
            if node.startswith("PLACEHOLDER://"):
                out[name] = "PLACEHOLDER"
        elif isinstance(node, bool):
            arr = np.array(node)
            out[name] = Array(name, "bool", (), (), lambda a=arr: a, "msgpack")
        elif isinstance(node, int):
            arr = np.array(node, "<i8")
            out[name] = Array(name, "int64", (), (), lambda a=arr: a, "msgpack")
        elif isinstance(node, float):
            arr = np.array(node, "<f8")
            out[name] = Array(name, "float64", (), (), lambda a=arr: a, "msgpack")

    visit(tree, [])
    return out


# --------------------------------------------------------------------------
# Checkpoint discovery and naming

ITEM_NAMES = ("items", "default", "state", "model_params", "params")


def is_item_dir(d):
    if any(os.path.isfile(os.path.join(d, f)) for f in ("manifest.ocdbt", "_METADATA", "checkpoint")):
        return True
    return bool(process_dbs(d))


def process_dbs(d):
    try:
        names = os.listdir(d)
    except OSError:
        return []
    out = []
    for n in names:
        m = re.fullmatch(r"ocdbt\.process_(\d+)", n)
        if m and os.path.isfile(os.path.join(d, n, "manifest.ocdbt")):
            out.append((int(m.group(1)), os.path.join(d, n)))
    return [p for _, p in sorted(out)]


ZARR_META = ("zarr.json", ".zarray", ".zgroup")


def is_zarr_root(d):
    """A plain zarr hierarchy: metadata at its root or in a direct child
    (or a name ending in .zarr); never a search of a whole tree."""
    if d.rstrip("/").endswith(".zarr"):
        return True
    try:
        names = os.listdir(d)
    except OSError:
        return False
    if any(n in names for n in ZARR_META):
        return True
    for n in names:
        sub = os.path.join(d, n)
        if os.path.isdir(sub) and any(os.path.isfile(os.path.join(sub, m)) for m in ZARR_META):
            return True
    return False


def find_item(path, step=None, depth=0):
    if depth > 4:
        raise FormatError("%s: no checkpoint found" % path)
    if not os.path.isdir(path):
        if os.path.exists(path):
            raise FormatError("%s: not a directory" % path)
        raise FormatError("%s: no such directory" % path)
    if is_item_dir(path):
        return path
    # Step directory: items named by _CHECKPOINT_METADATA, then the usual names.
    names = []
    cm = os.path.join(path, "_CHECKPOINT_METADATA")
    if os.path.isfile(cm):
        try:
            meta = load_json_file(cm, "_CHECKPOINT_METADATA")
        except FormatError:
            meta = {}
        ih = meta.get("item_handlers") if isinstance(meta, dict) else None
        if isinstance(ih, dict):
            names += sorted(ih, key=lambda n: (n not in ITEM_NAMES, ITEM_NAMES.index(n) if n in ITEM_NAMES else 0, n))
    names += [n for n in ITEM_NAMES if n not in names]
    for n in names:
        sub = os.path.join(path, n)
        if os.path.isdir(sub) and is_item_dir(sub):
            return sub
    try:
        entries = sorted(os.listdir(path))
    except OSError as e:
        raise FormatError("%s: %s" % (path, e.strerror))
    if os.path.isfile(cm):
        for n in entries:
            sub = os.path.join(path, n)
            if os.path.isdir(sub) and is_item_dir(sub):
                return sub
    # Run directory / CheckpointManager root.
    if "checkpoints" in entries and os.path.isdir(os.path.join(path, "checkpoints")):
        return find_item(os.path.join(path, "checkpoints"), step, depth + 1)
    steps = [int(n) for n in entries if n.isdigit() and os.path.isdir(os.path.join(path, n))]
    if steps:
        if step is not None:
            if step not in steps:
                raise FormatError("%s: no step %d (steps: %s)" % (path, step, ", ".join(map(str, sorted(steps)))))
            return find_item(os.path.join(path, str(step)), None, depth + 1)
        for s in sorted(steps, reverse=True):
            sd = os.path.join(path, str(s))
            if os.path.isfile(os.path.join(sd, "_CHECKPOINT_METADATA")) or \
                    os.path.isfile(os.path.join(sd, "commit_success.txt")):
                return find_item(sd, None, depth + 1)
        return find_item(os.path.join(path, str(max(steps))), None, depth + 1)
    if is_zarr_root(path):
        return path
    raise FormatError("%s: no checkpoint, OCDBT database or zarr array found" % path)


def metadata_names(item):
    """Leaf names from _METADATA (None if absent): list of (name, value_type, skip)."""
    path = os.path.join(item, "_METADATA")
    if not os.path.isfile(path):
        return None
    meta = load_json_file(path, "_METADATA")
    if not isinstance(meta, dict):
        raise FormatError("%s: not a JSON object" % path)
    tm = meta.get("tree_metadata")
    if tm is None:
        return None
    if not isinstance(tm, dict):
        raise FormatError("%s: tree_metadata is not an object" % path)
    out = []
    for key, entry in tm.items():
        if not isinstance(entry, dict):
            raise FormatError("%s: entry %s is not an object" % (path, key))
        km = entry.get("key_metadata")
        if isinstance(km, list) and all(isinstance(k, dict) and "key" in k for k in km):
            parts = [str(k["key"]) for k in km]
        else:
            try:
                t = ast.literal_eval(key)
            except (ValueError, SyntaxError):
                raise FormatError("%s: cannot parse key %r" % (path, key))
            parts = [str(x) for x in (t if isinstance(t, tuple) else (t,))]
        vm = entry.get("value_metadata") or {}
        if not isinstance(vm, dict):
            raise FormatError("%s: value_metadata of %s is not an object" % (path, key))
        out.append((".".join(parts), vm.get("value_type"), bool(vm.get("skip_deserialize", False))))
    return out


NON_ARRAY_TYPES = ("string", "Dict", "List", "Tuple", "NamedTuple", "None")


class Checkpoint:
    def __init__(self, path, step=None):
        self.path = path
        self.item = find_item(path, step)
        item = self.item
        if os.path.isfile(os.path.join(item, "manifest.ocdbt")):
            self.kv = OcdbtKV(item)
        elif process_dbs(item):
            self.kv = UnionKV(process_dbs(item))
        else:
            self.kv = DirKV(item)
        self._arrays = None

    def arrays(self):
        if self._arrays is not None:
            return self._arrays
        arrays = {}
        agg = {}
        agg_path = os.path.join(self.item, "checkpoint")
        if os.path.isfile(agg_path):
            agg = aggregate_leaves(agg_path)
        leaves = metadata_names(self.item)
        if leaves is not None:
            self.naming = "_METADATA"
            for name, vtype, skip in leaves:
                if vtype in NON_ARRAY_TYPES:
                    continue
                if skip:
                    a = agg.get(name)
                    if isinstance(a, Array):
                        arrays[name] = a
                    continue
                a = open_array(self.kv, name)
                if a is None:
                    if isinstance(agg.get(name), Array):
                        arrays[name] = agg[name]
                        continue
                    raise FormatError("%s: array %s has no %szarr.json or %s.zarray in the %s store"
                                      % (self.item, name, key_prefix(name), key_prefix(name), self.kv.desc))
                arrays[name] = a
            extra = [n for n in self._zarr_names() if n not in arrays and
                     n not in {l[0] for l in leaves}]
            for n in extra:
                STATS.warn("%s: zarr array %s is not in _METADATA" % (self.item, n))
        else:
            self.naming = "zarr keys"
            for n, a in agg.items():
                if isinstance(a, Array):
                    arrays[n] = a
            for n in self._zarr_names():
                a = open_array(self.kv, n)
                if a is not None:
                    arrays[n] = a
        self._arrays = dict(sorted(arrays.items()))
        return self._arrays

    def _zarr_names(self):
        names = []
        for k in self.kv.keys():
            ks = k.decode("utf-8", "surrogateescape")
            for suffix in ("zarr.json", ".zarray"):
                if ks == suffix or ks.endswith("/" + suffix):
                    name = ks[:-len(suffix)].rstrip("/")
                    if suffix == "zarr.json":
                        meta = load_json_bytes(self.kv.get(k), ks)
                        if not isinstance(meta, dict) or meta.get("node_type") != "array":
                            continue
                    names.append(name)
        return names

    def array(self, name):
        arrays = self.arrays()
        if name not in arrays:
            close = [n for n in arrays if n.endswith(name) or name in n][:3]
            hint = (" (did you mean %s?)" % ", ".join(close)) if close else ""
            raise FormatError("%s: no array named %s among %d arrays%s" % (self.item, name, len(arrays), hint))
        return arrays[name]


# --------------------------------------------------------------------------
# Comparison

def ordered_bits(u, width):
    """Map IEEE sign-magnitude bit patterns to int64 whose order is the
    numeric order (+0 and -0 both map to 0)."""
    u = u.astype(np.uint64)
    sign = (u >> np.uint64(width - 1)) & np.uint64(1)
    mag = (u & np.uint64((1 << (width - 1)) - 1)).astype(np.int64)
    return np.where(sign.astype(bool), -mag, mag)


def is_nan_bits(u, dtype):
    u = u.astype(np.uint64)
    exp, man = {"bfloat16": (0x7F80, 0x7F), "float16": (0x7C00, 0x3FF),
                "float32": (0x7F800000, 0x7FFFFF),
                "float64": (0x7FF0000000000000, 0xFFFFFFFFFFFFF)}.get(dtype, (None, None))
    if exp is None:
        return np.zeros(u.shape, bool)
    return ((u & np.uint64(exp)) == np.uint64(exp)) & ((u & np.uint64(man)) != 0)


def bits_view(arr):
    w = arr.dtype.itemsize
    if w in (1, 2, 4, 8):
        return arr.view("<u%d" % w)
    return arr.view("|u1").reshape(arr.shape + (w,))


def show_value(arr, dtype, idx):
    v = arr[idx]
    if dtype == "bfloat16":
        f = np.array([int(v) << 16], "<u4").view("<f4")[0]
        return "%r (0x%04x)" % (float(f), int(v))
    if RAW_BITS.get(dtype):
        return "0x%02x" % int(v)
    return repr(v.item()) if hasattr(v, "item") else repr(v)


def compare_arrays(a, b, dtype, max_ulp):
    """(number of differing elements, max ulp among them or None, first
    differing index, number of bit-different elements)."""
    kind = DTYPES[dtype][1]
    ua, ub = bits_view(a), bits_view(b)
    if ua.ndim != a.ndim:  # complex >8 bytes: compare per element
        neq = (ua != ub).any(axis=-1)
    else:
        neq = ua != ub
    nbits = int(neq.sum())
    if nbits == 0:
        return 0, 0, None, 0
    dist = None
    if kind in ("f", "raw") and ua.ndim == a.ndim:
        width = 8 * a.dtype.itemsize
        oa, ob = ordered_bits(ua, width), ordered_bits(ub, width)
        d = oa - ob  # wraps; the true |difference| < 2^64
        dist = np.where(oa >= ob, d, ob - oa).view(np.uint64)
        if max_ulp > 0:
            na, nb = is_nan_bits(ua, dtype), is_nan_bits(ub, dtype)
            ok = ((dist <= np.uint64(max_ulp)) & ~na & ~nb) | (na & nb)
            bad = neq & ~ok
        else:
            bad = neq
        dist = np.where(is_nan_bits(ua, dtype) | is_nan_bits(ub, dtype), np.uint64(U64_MAX), dist)
    elif kind in ("i", "u") and max_ulp > 0:
        # integers: exact comparison, --max-ulp does not apply
        bad = neq
    else:
        bad = neq
    nbad = int(bad.sum())
    mask = bad if nbad else neq
    first = tuple(int(i) for i in np.argwhere(mask)[0]) if a.ndim else ()
    maxd = int(dist[neq].max()) if dist is not None else None
    return nbad, maxd, first, nbits


def cmd_compare(args):
    ca, cb = Checkpoint(args.a, args.step), Checkpoint(args.b, args.step)
    aa, ab = ca.arrays(), cb.arrays()
    names = sorted(set(aa) | set(ab))
    if args.only:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, g) for g in args.only)]
    ndiff = nerr = nequal = nonly = 0
    within = 0
    for name in names:
        if name not in ab:
            print("ONLY-A %s %s %s" % (name, aa[name].dtype, fmt_shape(aa[name].shape)))
            nonly += 1
            continue
        if name not in aa:
            print("ONLY-B %s %s %s" % (name, ab[name].dtype, fmt_shape(ab[name].shape)))
            nonly += 1
            continue
        x, y = aa[name], ab[name]
        if x.dtype != y.dtype:
            print("DTYPE %s: %s vs %s" % (name, x.dtype, y.dtype))
            ndiff += 1
            continue
        if x.shape != y.shape:
            print("SHAPE %s: %s vs %s" % (name, fmt_shape(x.shape), fmt_shape(y.shape)))
            ndiff += 1
            continue
        vals = []
        for side, arr in (("A", x), ("B", y)):
            try:
                vals.append(arr.read())
            except FormatError as e:
                print("ERROR %s: %s: %s" % (name, side, e))
                nerr += 1
                break
        if len(vals) < 2:
            continue
        nbad, maxd, first, nbits = compare_arrays(vals[0], vals[1], x.dtype, args.max_ulp)
        if nbad:
            ulp = "" if maxd is None else (", max ulp %s" % ("NaN" if maxd == U64_MAX else maxd))
            print("VALUES %s: %d of %d elements differ%s; first at %s: %s vs %s"
                  % (name, nbad, vals[0].size, ulp, list(first),
                     show_value(vals[0], x.dtype, first), show_value(vals[1], x.dtype, first)))
            ndiff += 1
        else:
            nequal += 1
            if nbits:
                within += 1
                if args.verbose:
                    print("CLOSE %s: %d elements differ by at most %s ulp" % (name, nbits, maxd))
    total = nequal + ndiff + nerr + nonly
    extra = (" (%d within %d ulp, not bit-identical)" % (within, args.max_ulp)) if within else ""
    print("%d arrays compared: %d equal%s, %d differ, %d only in one, %d unreadable"
          % (total, nequal, extra, ndiff, nonly, nerr))
    if nerr:
        return 2
    return 1 if (ndiff or nonly) else 0


# --------------------------------------------------------------------------
# Commands

def fmt_shape(shape):
    return "[" + ",".join(str(s) for s in shape) + "]"


def cmd_list(args):
    ck = Checkpoint(args.dir, args.step)
    for name, a in ck.arrays().items():
        if args.long:
            print("%s %s %s chunk=%s chunks=%d %s" % (name, a.dtype, fmt_shape(a.shape),
                                                      fmt_shape(a.chunk_shape), a.nchunks(), a.fmt))
        else:
            print("%s %s %s" % (name, a.dtype, fmt_shape(a.shape)))
    return 0


def cmd_dump(args):
    ck = Checkpoint(args.dir, args.step)
    a = ck.array(args.name)
    arr = a.read()
    if a.dtype in RAW_BITS:
        if args.widen and a.dtype == "bfloat16":
            arr = (arr.astype("<u4") << np.uint32(16)).view("<f4")
            sys.stderr.write("note: %s is bfloat16; wrote it widened to float32\n" % a.name)
        else:
            sys.stderr.write("note: %s is %s; wrote its raw bits as %s\n" % (a.name, a.dtype, RAW_BITS[a.dtype]))
    if args.out == "-":
        np.save(sys.stdout.buffer, arr)
        sys.stdout.buffer.flush()
    else:
        save_npy(args.out, arr)
    return 0


def save_npy(path, arr):
    try:
        with open(path, "wb") as f:
            np.save(f, arr)
    except OSError as e:
        raise FormatError("%s: %s" % (path, e.strerror))


def cmd_dumpall(args):
    ck = Checkpoint(args.dir, args.step)
    try:
        os.makedirs(args.outdir, exist_ok=True)
    except OSError as e:
        raise FormatError("%s: %s" % (args.outdir, e.strerror))
    for name, a in ck.arrays().items():
        if "/" in name or name in ("", ".", ".."):
            raise FormatError("%s: array name %r cannot be a file name" % (ck.item, name))
        save_npy(os.path.join(args.outdir, name + ".npy"), a.read())
        print("%s %s %s" % (name, a.dtype, fmt_shape(a.shape)))
    return 0


def cmd_stats(args):
    ck = Checkpoint(args.dir, args.step)
    arrays = ck.arrays()
    elements = nbytes = 0
    for a in arrays.values():
        arr = a.read()
        elements += arr.size
        nbytes += arr.nbytes
    print("item: %s" % ck.item)
    print("store: %s" % ck.kv.desc)
    print("naming: %s" % ck.naming)
    kv = ck.kv
    dbs = [kv.db] if isinstance(kv, OcdbtKV) else [p.db for p in kv.parts] if isinstance(kv, UnionKV) else []
    for db in dbs:
        c = db.config
        gens = db.all_generations()
        keys = db.key_map()
        print("database: %s: manifest %s (kind %s), generation %d of %d, %d keys, B+tree height %s, "
              "max_inline %d, max_node %d, arity_log2 %d, compression %s"
              % (db.root, db.manifest_file, "numbered" if c.manifest_kind else "single",
                 db.generation, len(gens), len(keys), db.tree_height, c.max_inline_value_bytes,
                 c.max_decoded_node_bytes, c.arity_log2,
                 "zstd level %d" % c.zstd_level if c.compression else "none"))
    fmts = {}
    for a in arrays.values():
        fmts[a.fmt] = fmts.get(a.fmt, 0) + 1
    print("arrays: %d (%s), %d elements, %d bytes decoded"
          % (len(arrays), ", ".join("%s %d" % kv_ for kv_ in sorted(fmts.items())), elements, nbytes))
    print("chunks: %d read, %d inner chunks decoded, %d inner chunks filled, %d chunks missing"
          % (STATS.chunks, STATS.inner_chunks, STATS.inner_missing, STATS.chunks_missing))
    print("values: %d inline, %d out-of-line" % (STATS.inline_values, STATS.indirect_values))
    print("nodes: %d manifests, %d version-tree nodes, %d B+tree nodes"
          % (STATS.manifests, STATS.version_nodes, STATS.btree_nodes))
    print("data files read: %d (%d bytes)" % (len(STATS.files_read), STATS.bytes_read))
    for w in STATS.warnings:
        print("warning: %s" % w)
    return 0


def open_db(path, step):
    if os.path.isfile(os.path.join(path, "manifest.ocdbt")):
        return OcdbtDatabase(path)
    item = find_item(path, step)
    if not os.path.isfile(os.path.join(item, "manifest.ocdbt")):
        raise FormatError("%s: not an OCDBT database (no manifest.ocdbt)" % item)
    return OcdbtDatabase(item)


def cmd_keys(args):
    db = open_db(args.dir, args.step)
    km = db.key_map(args.generation)
    for k in sorted(km):
        ref = km[k]
        ks = k.decode("utf-8", "backslashreplace")
        where = "inline" if ref.inline is not None else "%s@%d" % (ref.file.path, ref.offset)
        if args.values:
            v = db.read_value(ref, ks)
            print("%s\t%d\t%s\t%r" % (ks, len(v), where, v))
        else:
            print("%s\t%d\t%s" % (ks, ref.length if ref.inline is None else len(ref.inline), where))
    return 0


def cmd_get(args):
    db = open_db(args.dir, args.step)
    km = db.key_map(args.generation)
    key = args.key.encode("utf-8", "surrogateescape")
    if key not in km:
        raise FormatError("%s: no key %r in generation %d" % (db.root, args.key, db.generation))
    sys.stdout.buffer.write(db.read_value(km[key], args.key))
    sys.stdout.buffer.flush()
    return 0


def main(argv):
    global FILL_MISSING
    p = argparse.ArgumentParser(prog=PROG, description="Independent reader of Orbax/MaxText checkpoints.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("list", help="NAME DTYPE [SHAPE] per array")
    s.add_argument("dir")
    s.add_argument("-l", "--long", action="store_true", help="also chunk shape, chunk count, format")
    s = sub.add_parser("dump", help="write one array as .npy")
    s.add_argument("dir")
    s.add_argument("name")
    s.add_argument("out", help=".npy path, or - for stdout")
    s.add_argument("--widen", action="store_true", help="bfloat16 as float32 instead of uint16 bits")
    s = sub.add_parser("dumpall", help="write every array as OUTDIR/NAME.npy (raw bits for bfloat16)")
    s.add_argument("dir")
    s.add_argument("outdir")
    s = sub.add_parser("compare", help="compare every array of two checkpoints")
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("--max-ulp", type=int, default=0)
    s.add_argument("--only", action="append", metavar="GLOB", help="only arrays whose name matches (repeatable)")
    s.add_argument("-v", "--verbose", action="store_true")
    s = sub.add_parser("stats", help="decode everything, print counters")
    s.add_argument("dir")
    s = sub.add_parser("keys", help="list the OCDBT keys")
    s.add_argument("dir")
    s.add_argument("--generation", type=int)
    s.add_argument("--values", action="store_true")
    s = sub.add_parser("get", help="write one OCDBT value to stdout")
    s.add_argument("dir")
    s.add_argument("key")
    s.add_argument("--generation", type=int)
    for s in sub.choices.values():
        s.add_argument("--step", type=int, help="step of a run directory (default: latest committed)")
        s.add_argument("--fill-missing", action="store_true",
                       help="fill absent chunks with the fill value (default: error, as Orbax does)")
    args = p.parse_args(argv)
    if getattr(args, "max_ulp", 0) < 0:
        p.error("--max-ulp must be >= 0")
    FILL_MISSING = args.fill_missing
    return {"list": cmd_list, "dump": cmd_dump, "dumpall": cmd_dumpall, "compare": cmd_compare, "stats": cmd_stats,
            "keys": cmd_keys, "get": cmd_get}[args.cmd](args)


def run():
    debug = os.environ.get("ORBAX_READ_DEBUG")
    try:
        rc = main(sys.argv[1:])
    except BrokenPipeError:
        try:
            sys.stdout = None
        finally:
            os._exit(0)
    except FormatError as e:
        if debug:
            raise
        sys.stderr.write("%s: %s\n" % (PROG, str(e).replace("\n", " ")))
        rc = 2
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            OverflowError, RecursionError, MemoryError, zlib.error, zstandard.ZstdError) as e:
        if debug:
            raise
        sys.stderr.write("%s: malformed input: %s: %s\n" % (PROG, type(e).__name__, str(e).replace("\n", " ")))
        rc = 2
    except Exception as e:  # a bug here, but still one line and status 2
        if debug:
            raise
        sys.stderr.write("%s: internal error (ORBAX_READ_DEBUG=1 for a traceback): %s: %s\n"
                         % (PROG, type(e).__name__, str(e).replace("\n", " ")))
        rc = 2
    sys.exit(rc)


if __name__ == "__main__":
    run()
