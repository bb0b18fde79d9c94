"""Minimal safetensors reader/writer (NumPy only), written for the dlvk reference tools.

Format: u64 little-endian header length N, N bytes of UTF-8 JSON (possibly padded with spaces),
then the data section. Each header entry maps a tensor name to
{"dtype": ..., "shape": [...], "data_offsets": [begin, end]} with offsets relative to the start of
the data section; the optional "__metadata__" entry maps strings to strings.

The reader validates everything a loader must validate and raises SafetensorsError with a message
that names the problem (header, offset, overlap, size/shape, dtype, truncation).
"""

import json
import os
import struct

import numpy as np

# dtypes the DiffLlama contract supports, with their element sizes.
SUPPORTED = {"F32": 4, "F16": 2, "BF16": 2}
# dtypes that exist in the safetensors format (for better messages only).
KNOWN_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}

MAX_HEADER = 100 * 1024 * 1024  # same limit as the reference Rust implementation


class SafetensorsError(ValueError):
    pass


# ----------------------------------------------------------------------------- dtype conversion

def f32_to_bf16_bits(a):
    """float32 array -> uint16 bf16 bit patterns, round to nearest even (as torch does)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    rounding = np.uint64(0x7FFF) + ((bits >> np.uint64(16)) & np.uint64(1))
    out = ((bits + rounding) >> np.uint64(16)).astype(np.uint16)
    nan = np.isnan(a)
    if nan.any():
        out[nan] = 0x7FC0
    return out


def bf16_bits_to_f32(u16):
    """uint16 bf16 bit patterns -> float32 (exact: bf16 is the upper half of an f32)."""
    u16 = np.asarray(u16, dtype=np.uint16)
    return (u16.astype(np.uint32) << np.uint32(16)).view(np.float32)


def round_to_dtype(a, dtype):
    """Round a float array to what storing it as `dtype` keeps; returned as float32."""
    a = np.asarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.copy()
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float32)
    if dtype == "BF16":
        return bf16_bits_to_f32(f32_to_bf16_bits(a))
    raise SafetensorsError("unsupported dtype %r" % dtype)


def encode(a, dtype):
    """float array -> little-endian bytes in `dtype`."""
    a = np.asarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    if dtype == "BF16":
        return f32_to_bf16_bits(a).astype("<u2").tobytes()
    raise SafetensorsError("unsupported dtype %r" % dtype)


def decode(buf, dtype, shape):
    """little-endian bytes -> float32 array of `shape`."""
    if dtype == "F32":
        a = np.frombuffer(buf, dtype="<f4").astype(np.float32)
    elif dtype == "F16":
        a = np.frombuffer(buf, dtype="<f2").astype(np.float32)
    elif dtype == "BF16":
        a = bf16_bits_to_f32(np.frombuffer(buf, dtype="<u2"))
    else:
        raise SafetensorsError("unsupported dtype %r" % dtype)
    return a.reshape(shape)


# ----------------------------------------------------------------------------- writer

def build_header(entries, metadata=None, align=8):
    """entries: list of (name, dtype, shape, (begin, end)). Returns header bytes (padded)."""
    hdr = {}
    if metadata is not None:
        hdr["__metadata__"] = metadata
    for name, dtype, shape, (b, e) in entries:
        hdr[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [b, e]}
    js = json.dumps(hdr, separators=(",", ":")).encode("utf-8")
    pad = (-(8 + len(js))) % align
    return js + b" " * pad


def save_file(path, tensors, dtype="F32", metadata=None, dtypes=None):
    """Write {name: array} to `path`. `dtype` is the storage dtype for all tensors unless
    `dtypes` gives a per-name override. Tensors are written contiguously in the given order."""
    if metadata is None:
        metadata = {"format": "pt"}
    entries, blobs, off = [], [], 0
    for name, arr in tensors.items():
        dt = (dtypes or {}).get(name, dtype)
        blob = encode(arr, dt)
        entries.append((name, dt, np.shape(arr), (off, off + len(blob))))
        blobs.append(blob)
        off += len(blob)
    header = build_header(entries, metadata)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        for b in blobs:
            f.write(b)


def write_raw(path, header_obj_or_bytes, data, header_len=None, pad=True):
    """Low-level writer for malformed fixtures: arbitrary header (dict or bytes), arbitrary data,
    optionally a lying header length."""
    if isinstance(header_obj_or_bytes, (dict, list)):
        hb = json.dumps(header_obj_or_bytes, separators=(",", ":")).encode("utf-8")
    else:
        hb = header_obj_or_bytes
    if pad:
        hb = hb + b" " * ((-(8 + len(hb))) % 8)
    n = len(hb) if header_len is None else header_len
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", n))
        f.write(hb)
        f.write(data)


# ----------------------------------------------------------------------------- reader

def read_header(path):
    """Parse and validate the header of `path`. Returns (entries, metadata, data_start, data_size)
    where entries maps name -> (dtype, shape tuple, begin, end)."""
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise SafetensorsError("cannot open safetensors file %s: %s" % (path, e.strerror))
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise SafetensorsError("%s: file too small for a safetensors header length (%d bytes)"
                                   % (path, size))
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER or n > size - 8:
            raise SafetensorsError("%s: header length %d exceeds the file size (%d bytes) or the "
                                   "%d-byte limit" % (path, n, size, MAX_HEADER))
        raw = f.read(n)
    try:
        hdr = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError("%s: header is not valid JSON (%s)" % (path, e))
    if not isinstance(hdr, dict):
        raise SafetensorsError("%s: header JSON is not an object" % path)
    data_start = 8 + n
    data_size = size - data_start
    metadata = hdr.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and
                                     all(isinstance(k, str) and isinstance(v, str)
                                         for k, v in metadata.items())):
        raise SafetensorsError("%s: header __metadata__ must map strings to strings" % path)
    entries = {}
    for name, info in hdr.items():
        where = "%s: tensor %r" % (path, name)
        if not isinstance(info, dict):
            raise SafetensorsError("%s: header entry is not an object" % where)
        dt = info.get("dtype")
        shape = info.get("shape")
        offs = info.get("data_offsets")
        if not isinstance(dt, str):
            raise SafetensorsError("%s: header entry has no dtype string" % where)
        if dt not in SUPPORTED:
            raise SafetensorsError("%s: unsupported dtype %s (supported: F32, F16, BF16)"
                                   % (where, dt))
        if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
            raise SafetensorsError("%s: header shape must be a list of non-negative integers, "
                                   "got %r" % (where, shape))
        if not (isinstance(offs, list) and len(offs) == 2 and
                all(type(o) is int and o >= 0 for o in offs)):
            raise SafetensorsError("%s: header data_offsets must be two non-negative integers, "
                                   "got %r" % (where, offs))
        b, e = offs
        if b > e:
            raise SafetensorsError("%s: data_offsets [%d, %d] are reversed" % (where, b, e))
        if e > data_size:
            raise SafetensorsError("%s: data_offsets [%d, %d] extend beyond the end of the data "
                                   "section (%d bytes; file truncated?)" % (where, b, e, data_size))
        nelem = 1
        for s in shape:
            nelem *= s
        if nelem * SUPPORTED[dt] != e - b:
            raise SafetensorsError("%s: byte size %d (data_offsets) does not match shape %s x %s "
                                   "(%d bytes)" % (where, e - b, shape, dt, nelem * SUPPORTED[dt]))
        entries[name] = (dt, tuple(shape), b, e)
    spans = sorted((b, e, name) for name, (_, _, b, e) in entries.items() if e > b)
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise SafetensorsError("%s: tensors %r [%d, %d] and %r [%d, %d] overlap"
                                   % (path, n0, b0, e0, n1, b1, e1))
    return entries, metadata, data_start, data_size


def load_file(path, names=None):
    """Read (a subset of) the tensors of `path` as float32 arrays. Returns ({name: array},
    {name: dtype})."""
    entries, _, data_start, _ = read_header(path)
    out, dts = {}, {}
    with open(path, "rb") as f:
        for name, (dt, shape, b, e) in entries.items():
            if names is not None and name not in names:
                continue
            f.seek(data_start + b)
            buf = f.read(e - b)
            if len(buf) != e - b:
                raise SafetensorsError("%s: tensor %r: short read (file truncated)" % (path, name))
            out[name] = decode(buf, dt, shape)
            dts[name] = dt
    return out, dts
