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
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import torch

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
# The largest file of the MNIST family is 47 MB (60,000 28x28 images); a header declaring more than
# this is not one of them, and believing it would let a small gzip expand to fill the memory.
MAX_IDX_BYTES = 256 * 1024 * 1024
_CHUNK = 1 << 20


class DataError(Exception):
    """Missing or corrupt data, with a one-line message for the user."""


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_exactly(fh: IO[bytes], size: int) -> bytes:
    """Up to `size` bytes, fewer only at the end of the file; never more (a gzip bomb stops here)."""
    parts, got = [], 0
    while got < size:
        part = fh.read(min(_CHUNK, size - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_declared(path: Path, expected_magic: int) -> tuple[tuple[int, ...], bytes]:
    """The header's shape and exactly the bytes it declares. Reads (and decompresses) no more than
    the header promises plus one byte, which is how padding is noticed without reading it all."""
    kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
    with _open(path) as fh:
        head = _read_exactly(fh, 8)
        if len(head) < 8:
            raise DataError(f"{path} is not an IDX {kind} file: only {len(head)} bytes")
        magic = struct.unpack(">I", head[:4])[0]
        if magic != expected_magic:
            raise DataError(f"{path} is not an IDX {kind} file: magic number 0x{magic:08x}, "
                            f"expected 0x{expected_magic:08x}")
        ndim = magic & 0xFF
        header = 4 + 4 * ndim
        head += _read_exactly(fh, header - 8)
        if len(head) < header:
            raise DataError(f"{path} is truncated: header needs {header} bytes, file has {len(head)}")
        dims = struct.unpack(f">{ndim}I", head[4:header])
        count = 1
        for d in dims:
            count *= d
        if count == 0:
            raise DataError(f"{path} holds no {kind}: its header declares shape {tuple(dims)}")
        if count > MAX_IDX_BYTES:
            raise DataError(f"{path} declares shape {tuple(dims)} ({count:,} bytes), more than any MNIST-family "
                            f"file; not reading it")
        body = _read_exactly(fh, count + 1)
    if len(body) != count:
        size = f"{header + len(body)} bytes" if len(body) < count else f"more than {header + count} bytes"
        raise DataError(f"{path} is truncated or padded: {size}, expected {header + count} for shape {tuple(dims)}")
    return dims, body


def read_idx(path: Path, expected_magic: int) -> "torch.Tensor":
    """Read an unsigned-byte IDX file (images: [N, rows, cols], labels: [N]) as uint8."""
    import torch  # here, so that DataError can be caught by code that never loads torch

    try:
        dims, body = _read_declared(path, expected_magic)
    except (OSError, EOFError, zlib.error) as exc:  # zlib.error: damaged deflate data inside a .gz
        raise DataError(f"cannot read {path}: {exc}") from None
    tensor = torch.frombuffer(bytearray(body), dtype=torch.uint8)
    return tensor.view(*dims)


def write_idx(path: Path, tensor: "torch.Tensor") -> None:
    """Write a uint8 tensor as IDX (gzipped if the name ends in .gz); used by tests and assets."""
    import torch

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
