"""Telling the data sets apart by their published checksums: the wrong one is refused, unknown ones noted.

The official label files (70 KB of the full sets in ../shared/datasets, checkout-relative) stand in
for the real data; the images are tiny generated files, since only the labels are hashed.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest

from conftest import write_dataset
from core import data as data_mod
from core.cli import main
from core.idx import DataError

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
needs_official = pytest.mark.skipif(not (SHARED / "MNIST" / "raw" / "train-labels-idx1-ubyte").is_file()
                                    or not (SHARED / "FashionMNIST" / "raw").is_dir(),
                                    reason="the official data sets are not next to this checkout")


def with_official_labels(target: Path, dataset: str, gz: bool = False) -> Path:
    """Tiny generated images with the official label files of `dataset` (optionally gzipped by us)."""
    write_dataset(target, train=64, test=20)
    for stem in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        official = SHARED / FOLDERS[dataset] / "raw" / stem
        (target / stem).unlink()
        if gz:
            with gzip.open(target / f"{stem}.gz", "wb") as f:
                f.write(official.read_bytes())
        else:
            shutil.copyfile(official, target / stem)
    return target


@needs_official
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz-recompressed"])
@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_official_files_are_recognised(tmp_path, dataset, gz):
    files = data_mod.find_in_dir(with_official_labels(tmp_path / "d", dataset, gz), dataset)
    assert data_mod.official_dataset_of(files["train_labels"], "train_labels") == dataset
    assert data_mod.official_dataset_of(files["test_labels"], "test_labels") == dataset
    assert data_mod.official_dataset_of(files["test_labels"], "train_labels") is None  # the other split's file
    assert data_mod.check_official(files, dataset)
    loc = data_mod.locate(dataset, tmp_path / "d")
    assert data_mod.UNOFFICIAL_NOTE not in loc.source


@needs_official
def test_gz_as_torchvision_downloads_it_is_recognised_by_its_own_md5(tmp_path, monkeypatch):
    """The .gz md5s are torchvision's; a gz matching one is known without decompressing."""
    files = data_mod.find_in_dir(with_official_labels(tmp_path / "d", "mnist", gz=True), "mnist")
    packed_md5 = hashlib.md5(files["test_labels"].read_bytes()).hexdigest()
    raw_md5, _ = data_mod.OFFICIAL_MD5["mnist"]["test_labels"]
    monkeypatch.setitem(data_mod.OFFICIAL_MD5["mnist"], "test_labels", (raw_md5, packed_md5))
    monkeypatch.setattr(gzip, "GzipFile", None)  # would fail if it decompressed
    assert data_mod.official_dataset_of(files["test_labels"], "test_labels") == "mnist"


@needs_official
@pytest.mark.parametrize("asked, given", [("fashion-mnist", "mnist"), ("mnist", "fashion-mnist")])
def test_the_other_data_set_is_refused_with_one_line_naming_it(tmp_path, capsys, asked, given):
    data = with_official_labels(tmp_path / FOLDERS[given] / "raw", given)
    code = main(["--no-ui", "--dataset", asked, "--data-dir", str(data), "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    title = data_mod.DATASETS[given].title
    assert f"{data / 'train-labels-idx1-ubyte'} is the official {title} file, not {data_mod.DATASETS[asked].title}" in err
    assert f"--dataset {given}" in err
    assert not (tmp_path / "r").exists()


def test_unknown_files_are_used_with_a_note_and_are_not_hashed(tmp_path, monkeypatch):
    """Generated files (sizes unlike the official ones) cost no hashing and are trained on as given."""
    data = write_dataset(tmp_path / "d", train=64, test=20)
    hashed = []
    real_md5 = hashlib.md5
    monkeypatch.setattr(hashlib, "md5", lambda *a, **k: hashed.append(a) or real_md5(*a, **k))
    loc = data_mod.locate("mnist", data)
    assert loc.source == f"MNIST from {data} {data_mod.UNOFFICIAL_NOTE}"
    assert hashed == []


def test_a_file_of_the_official_size_but_other_content_is_unknown(tmp_path):
    fake = tmp_path / "t10k-labels-idx1-ubyte"
    fake.write_bytes(bytes(data_mod.OFFICIAL_SIZES["test_labels"]))
    assert data_mod.official_dataset_of(fake, "test_labels") is None
    fake_gz = tmp_path / "t10k-labels-idx1-ubyte.gz"
    fake_gz.write_bytes(gzip.compress(bytes(data_mod.OFFICIAL_SIZES["test_labels"])))
    assert data_mod.official_dataset_of(fake_gz, "test_labels") is None
    broken_gz = tmp_path / "broken.gz"
    broken_gz.write_bytes(b"not gzip" + data_mod.OFFICIAL_SIZES["test_labels"].to_bytes(4, "little"))
    assert data_mod.official_dataset_of(broken_gz, "test_labels") is None  # read_idx reports it properly later
    huge_gz = tmp_path / "huge.gz"  # bigger than what it claims to unpack to: not read at all
    huge_gz.write_bytes(bytes(3 * data_mod.OFFICIAL_SIZES["test_labels"]) + data_mod.OFFICIAL_SIZES["test_labels"].to_bytes(4, "little"))
    assert data_mod.official_dataset_of(huge_gz, "test_labels") is None


def test_data_dir_that_is_a_file_says_so(tmp_path, capsys):
    a_file = tmp_path / "train-images-idx3-ubyte"
    a_file.write_bytes(b"x")
    with pytest.raises(DataError, match="is a file, not a directory"):
        data_mod.locate("mnist", a_file)
    assert main(["--no-ui", "--data-dir", str(a_file), "--run-dir", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"data directory {a_file} is a file, not a directory" in err
