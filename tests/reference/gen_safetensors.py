"""Hand-written safetensors encoder/decoder (numpy + struct) and the io fixtures it writes.

Run: /usr/bin/python3 tests/reference/gen_safetensors.py  → tests/fixtures/io/*

The `safetensors` Python package is not installed here, so the format is encoded by hand,
following the published layout: 8-byte little-endian u64 header length N, N bytes of UTF-8
JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
then the byte buffer; offsets are relative to the buffer's start and must tile it exactly.

The model fixtures (gen_model_fixtures.py) import `write_safetensors` / `read_safetensors`
from here. `encode_safetensors(..., canonical=True)` follows the same canonical rule as
src/io/safetensors.ts writeSafetensors (names sorted by code point, __metadata__ first,
compact JSON, header padded with spaces to a multiple of 8), so one test checks that the
TypeScript writer reproduces these bytes exactly.
"""
import json
import math
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
IO_FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures", "io")

# dtype name → numpy dtype (little-endian); BF16 is handled by hand (numpy has none).
NUMPY_DTYPES = {
    "BOOL": np.dtype("u1"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # raw bits
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "F32": np.dtype("<f4"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "F64": np.dtype("<f8"),
}


def f32_to_bf16_bits(values):
    """Round float32 values to bfloat16 (nearest, ties to even); returns uint16 bits."""
    f = np.asarray(values, dtype=np.float32)
    bits = f.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    # NaN must stay NaN (rounding could carry a NaN payload into the infinity pattern).
    rounded[np.isnan(f)] = 0x7FC0
    return rounded


def bf16_bits_to_f64(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).astype(np.uint32).view(np.float32).astype(np.float64)


def tensor_bytes(dtype, array):
    """Little-endian bytes of `array` stored as `dtype`."""
    if dtype == "BF16":
        return f32_to_bf16_bits(array).astype("<u2").tobytes()
    return np.ascontiguousarray(np.asarray(array).astype(NUMPY_DTYPES[dtype])).tobytes()


def encode_safetensors(entries, metadata=None, canonical=True, header_order=None, data_order=None, pad=True):
    """entries: list of (name, dtype, shape, raw_bytes). Returns the file bytes.

    canonical=True: names sorted by code point for both header and data, __metadata__ first
    (omitted when empty). Otherwise header_order / data_order (lists of names) choose the
    JSON key order and the byte-buffer order, as other writers may (the official writer
    orders data by dtype size, then name).
    """
    by_name = {e[0]: e for e in entries}
    assert len(by_name) == len(entries), "duplicate tensor name"
    names = sorted(by_name)
    data_order = names if canonical or data_order is None else data_order
    header_order = names if canonical or header_order is None else header_order
    offsets = {}
    pos = 0
    for n in data_order:
        size = len(by_name[n][3])
        offsets[n] = (pos, pos + size)
        pos += size
    parts = []
    if metadata:
        parts.append('"__metadata__":' + json.dumps({k: metadata[k] for k in sorted(metadata)}, separators=(",", ":"), ensure_ascii=False))
    for n in header_order:
        _, dtype, shape, _ = by_name[n]
        parts.append(
            json.dumps(n, ensure_ascii=False)
            + ":"
            + json.dumps({"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets[n])}, separators=(",", ":"))
        )
    header = ("{" + ",".join(parts) + "}").encode("utf-8")
    if pad:
        header += b" " * ((8 - (8 + len(header)) % 8) % 8)
    return struct.pack("<Q", len(header)) + header + b"".join(by_name[n][3] for n in data_order)


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name → (dtype, numpy/torch array). Canonical layout."""
    entries = []
    for name, (dtype, arr) in tensors.items():
        a = arr.detach().cpu().numpy() if hasattr(arr, "detach") else np.asarray(arr)
        entries.append((name, dtype, list(a.shape), tensor_bytes(dtype, a)))
    data = encode_safetensors(entries, metadata)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def read_safetensors(path):
    """Returns (dict name → float64/int numpy array, metadata). Minimal: used for self-checks."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        raw = blob[base + b : base + e]
        if info["dtype"] == "BF16":
            arr = bf16_bits_to_f64(np.frombuffer(raw, dtype="<u2"))
        else:
            arr = np.frombuffer(raw, dtype=NUMPY_DTYPES[info["dtype"]])
        out[name] = arr.reshape(info["shape"])
    return out, meta


def json_value(v):
    """A float64 value as JSON: non-finite values and −0 as strings."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0 and math.copysign(1.0, v) < 0:
        return "-0"
    return v


def main():
    os.makedirs(IO_FIXTURES, exist_ok=True)
    # name → (dtype, shape, values as written, decoded float64 values the reader must return)
    cases = {}

    def add(name, dtype, shape, values):
        if dtype == "BF16":
            decoded = bf16_bits_to_f64(f32_to_bf16_bits(values))
        elif dtype == "BOOL":
            decoded = np.asarray(values, dtype=np.float64)
        else:
            kind = np.float64 if dtype in ("F16", "F32", "F64") else np.int64
            decoded = np.asarray(values, dtype=kind).astype(NUMPY_DTYPES[dtype]).astype(np.float64)
        cases[name] = (dtype, shape, values, decoded)

    add("f32", "F32", [3, 3], [1.5, -2.25, 0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4028234663852886e38])
    add("f16", "F16", [2, 6], [1.0, -2.0, 0.5, 65504.0, -65504.0, 2.0**-24, 2.0**-14, np.inf, -np.inf, np.nan, 0.1, -0.0])
    add("bf16", "BF16", [2, 2, 2], [1.0, -2.0, 3.140625, 1e38, -1e-38, np.inf, np.nan, 0.1])
    add("f64", "F64", [2, 3], [0.1, -1e300, 5e-324, np.inf, np.nan, 1.0 / 3.0])
    add("i64", "I64", [6], [0, -1, 2**53, -(2**53), 123456789012, 7])
    add("u64", "U64", [3], [0, 2**53, 42])
    add("i32", "I32", [2, 2], [-(2**31), 2**31 - 1, 0, -5])
    add("u32", "U32", [2], [0, 2**32 - 1])
    add("i16", "I16", [3], [-32768, 32767, -1])
    add("u16", "U16", [2], [0, 65535])
    add("i8", "I8", [3], [-128, 127, 0])
    add("u8", "U8", [4], [0, 255, 128, 7])
    add("bool", "BOOL", [3], [1, 0, 1])
    add("scalar", "F32", [], [42.0])
    add("empty", "F32", [0, 4], [])
    add("name with spaces/and.dots ✓", "F32", [1, 2], [7.0, -8.0])

    def as_array(dtype, shape, values):
        kind = np.float64 if dtype in ("F16", "BF16", "F32", "F64") else np.int64
        return np.asarray(values, dtype=kind).reshape(shape)

    entries = [(n, d, s, tensor_bytes(d, as_array(d, s, v))) for n, (d, s, v, _) in cases.items()]
    itemsize = {d: NUMPY_DTYPES[d].itemsize for d in NUMPY_DTYPES}
    # Like the official writer: data ordered by dtype size (largest first), then name; the
    # JSON keys in yet another order (reverse name), so a reader may assume neither.
    data_order = sorted(cases, key=lambda n: (-itemsize[cases[n][0]], n))
    header_order = sorted(cases, reverse=True)
    meta = {"format": "pt", "note": "héllo ✓ written by gen_safetensors.py"}
    blob = encode_safetensors(entries, meta, canonical=False, header_order=header_order, data_order=data_order)
    with open(os.path.join(IO_FIXTURES, "all_dtypes.safetensors"), "wb") as f:
        f.write(blob)
    expected = {
        "metadata": meta,
        "tensors": {
            n: {"dtype": d, "shape": s, "values": [json_value(x) for x in dec.reshape(-1)]} for n, (d, s, _, dec) in cases.items()
        },
    }
    with open(os.path.join(IO_FIXTURES, "all_dtypes.json"), "w") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)

    # Header without padding (odd length): the data starts at an unaligned offset.
    unpadded = [("a", "F32", [3], tensor_bytes("F32", np.array([1.0, 2.0, 3.0]))), ("bb", "F64", [2], tensor_bytes("F64", np.array([0.25, -4.0])))]
    for k in range(1, 8):  # pick a metadata length that leaves the data unaligned
        blob = encode_safetensors(unpadded, {"x": "1" * k}, pad=False)
        if (struct.unpack("<Q", blob[:8])[0] + 8) % 4 != 0:
            break
    assert (struct.unpack("<Q", blob[:8])[0] + 8) % 4 != 0, "meant to be unaligned"
    with open(os.path.join(IO_FIXTURES, "unpadded.safetensors"), "wb") as f:
        f.write(blob)

    # A valid file whose I64 value cannot be a JavaScript number exactly: readers must refuse.
    big = [("step", "I64", [2], tensor_bytes("I64", np.array([5, 2**53 + 1], dtype=np.int64)))]
    with open(os.path.join(IO_FIXTURES, "i64_beyond_2p53.safetensors"), "wb") as f:
        f.write(encode_safetensors(big))

    # Canonical F32 file: the TypeScript writer must produce these exact bytes.
    rng = np.random.default_rng(7)
    canon = {
        "encoder.stages.0.0.dwconv.weight": rng.standard_normal((4, 1, 7, 7)).astype(np.float32),
        "mask_token": rng.standard_normal((1, 3, 1, 1)).astype(np.float32),
        "Z_upper_sorts_first": np.array([1.0, -1.0], dtype=np.float32),
        "10": np.array([10.0], dtype=np.float32),
        "9": np.zeros((0,), dtype=np.float32),
    }
    canon_meta = {"project": "convnextv2-fcmae-playground", "epoch": "3"}
    entries = [(n, "F32", list(a.shape), tensor_bytes("F32", a)) for n, a in canon.items()]
    with open(os.path.join(IO_FIXTURES, "canonical_f32.safetensors"), "wb") as f:
        f.write(encode_safetensors(entries, canon_meta))
    with open(os.path.join(IO_FIXTURES, "canonical_f32.json"), "w") as f:
        json.dump(
            {
                "metadata": canon_meta,
                "tensors": [{"name": n, "shape": list(a.shape), "values": [float(x) for x in a.reshape(-1)]} for n, a in canon.items()],
            },
            f,
        )
    for name in sorted(os.listdir(IO_FIXTURES)):
        print("wrote tests/fixtures/io/%s (%d bytes)" % (name, os.path.getsize(os.path.join(IO_FIXTURES, name))))


if __name__ == "__main__":
    main()
