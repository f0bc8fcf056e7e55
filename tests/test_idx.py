"""IDX reading: raw and gzipped files round-trip, and every kind of damage is a DataError naming the file."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
import torch

from core.idx import IMAGES_MAGIC, LABELS_MAGIC, DataError, read_idx, write_idx


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randint(0, 256, (5, 28, 28), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)


@pytest.mark.parametrize("name", ["imgs-idx3-ubyte", "imgs-idx3-ubyte.gz"])
def test_images_round_trip_raw_and_gz(tmp_path: Path, images: torch.Tensor, name: str) -> None:
    path = tmp_path / name
    write_idx(path, images)
    back = read_idx(path, IMAGES_MAGIC)
    assert back.dtype == torch.uint8 and back.shape == (5, 28, 28)
    assert torch.equal(back, images)
    if name.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"  # really gzipped, not raw bytes with a .gz name


def test_labels_round_trip_and_header_layout(tmp_path: Path) -> None:
    labels = torch.tensor([0, 9, 3, 3, 7], dtype=torch.uint8)
    path = tmp_path / "labels-idx1-ubyte"
    write_idx(path, labels)
    raw = path.read_bytes()
    assert raw[:8] == struct.pack(">II", LABELS_MAGIC, 5)  # big-endian magic then the count, as in LeCun's files
    assert len(raw) == 8 + 5
    assert read_idx(path, LABELS_MAGIC).tolist() == [0, 9, 3, 3, 7]


def test_gz_output_is_reproducible(tmp_path: Path, images: torch.Tensor) -> None:
    """The bundled sample is rebuilt byte-identically only if the gzip header has no timestamp."""
    write_idx(tmp_path / "a" / "x.gz", images)
    write_idx(tmp_path / "b" / "x.gz", images)
    assert (tmp_path / "a" / "x.gz").read_bytes() == (tmp_path / "b" / "x.gz").read_bytes()


def test_labels_file_given_as_images_names_file_and_magic(tmp_path: Path) -> None:
    path = tmp_path / "train-labels-idx1-ubyte"
    write_idx(path, torch.zeros(4, dtype=torch.uint8))
    with pytest.raises(DataError) as err:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(err.value)
    assert "0x00000801" in str(err.value) and "0x00000803" in str(err.value)


@pytest.mark.parametrize("damage, words", [
    (lambda b: b[:5], "only 5 bytes"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\0", "padded"),
    (lambda b: b"\x00\x00\x08\x03" + b"\x00\x00", "only 6 bytes"),
    (lambda b: b"\x00\x00\x08\x03" + b"\x00" * 6, "header needs 16 bytes"),
    (lambda b: b"PK\x03\x04" + b[4:], "magic number 0x504b0304"),
    (lambda b: b"", "only 0 bytes"),
])
def test_damaged_raw_file_is_a_one_line_data_error(tmp_path: Path, images: torch.Tensor, damage, words: str) -> None:
    good = tmp_path / "good"
    write_idx(good, images)
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(damage(good.read_bytes()))
    with pytest.raises(DataError) as err:
        read_idx(bad, IMAGES_MAGIC)
    message = str(err.value)
    assert str(bad) in message and words in message
    assert "\n" not in message


def test_damaged_gzip_files_are_data_errors(tmp_path: Path, images: torch.Tensor) -> None:
    good = tmp_path / "good.gz"
    write_idx(good, images)
    data = good.read_bytes()
    variants = {
        "truncated.gz": data[: len(data) // 2],
        "not-gzip.gz": b"hello, not gzip at all",
        "bad-crc.gz": data[:-8] + b"\0\0\0\0" + data[-4:],
        # flipped bits in the deflate stream raise zlib.error, which is not an OSError
        "flipped.gz": data[:40] + bytes(b ^ 0xFF for b in data[40:400]) + data[400:],
    }
    for name, payload in variants.items():
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(DataError, match="cannot read") as err:
            read_idx(path, IMAGES_MAGIC)
        assert str(path) in str(err.value), name


def test_gz_holding_wrong_content_is_checked_after_decompression(tmp_path: Path) -> None:
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(struct.pack(">IIII", IMAGES_MAGIC, 2, 28, 28) + b"\0" * 100)
    with pytest.raises(DataError, match="truncated"):
        read_idx(path, IMAGES_MAGIC)


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "nope-idx3-ubyte", IMAGES_MAGIC)
