"""IDX file reading with errors that name the file.

torchvision's `read_image_file` reads only uncompressed files and fails with a bare
assertion; users hand us Debian's gzipped copies and half-downloaded files, so we check
magic, shape and length ourselves and say exactly which file is wrong.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import torch

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


class DataError(Exception):
    """Missing or corrupt data, with a one-line message for the user."""


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # zlib.error: damaged deflate data inside a .gz
        raise DataError(f"cannot read {path}: {exc}") from None


def read_idx(path: Path, expected_magic: int) -> torch.Tensor:
    """Read an unsigned-byte IDX file (images: [N, rows, cols], labels: [N]) as uint8."""
    data = _read_bytes(path)
    kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
    if len(data) < 8:
        raise DataError(f"{path} is not an IDX {kind} file: only {len(data)} bytes")
    magic = struct.unpack(">I", data[:4])[0]
    if magic != expected_magic:
        raise DataError(f"{path} is not an IDX {kind} file: magic number 0x{magic:08x}, expected 0x{expected_magic:08x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated: header needs {header} bytes, file has {len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    count = 1
    for d in dims:
        count *= d
    if len(data) != header + count:
        raise DataError(f"{path} is truncated or padded: {len(data)} bytes, expected {header + count} for shape {tuple(dims)}")
    tensor = torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8)
    return tensor.view(*dims)


def write_idx(path: Path, tensor: torch.Tensor) -> None:
    """Write a uint8 tensor as IDX (gzipped if the name ends in .gz); used by tests and assets."""
    tensor = tensor.to(torch.uint8).contiguous()
    magic = IMAGES_MAGIC if tensor.dim() == 3 else LABELS_MAGIC
    header = struct.pack(">I", magic) + struct.pack(f">{tensor.dim()}I", *tensor.shape)
    payload = header + bytes(tensor.numpy().tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        # GzipFile, not gzip.open: only it takes mtime, and mtime=0 makes rebuilt assets byte-identical
        with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
