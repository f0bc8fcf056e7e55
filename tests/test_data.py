"""Data lookup order, layouts, checks, normalisation of both splits, and the bundled sample in assets/."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path

import pytest
import torch

from conftest import write_dataset
from core import data as data_mod
from core.config import ConfigError
from core.idx import DataError, read_idx, write_idx, IMAGES_MAGIC

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No env data dir, an empty cache, no system copies, no download: only what a test adds."""
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("MNIST_TUI_OFFLINE", "1")
    for name, info in list(data_mod.DATASETS.items()):
        monkeypatch.setitem(data_mod.DATASETS, name,
                            dataclasses.replace(info, system_dirs=(str(tmp_path / "system" / name),)))
    return tmp_path


# ---- layouts ----

@pytest.mark.parametrize("sub, dataset", [
    ("", "mnist"),                       # flat
    ("MNIST/raw", "mnist"),              # torchvision's layout
    ("MNIST", "mnist"),
    ("mnist", "mnist"),                  # assets/<dataset>
    ("FashionMNIST/raw", "fashion-mnist"),
    ("fashion-mnist", "fashion-mnist"),
])
@pytest.mark.parametrize("gz", [False, True])
def test_find_in_dir_layouts(tmp_path: Path, sub: str, dataset: str, gz: bool) -> None:
    folder = tmp_path / sub if sub else tmp_path
    write_dataset(folder, train=20, test=10, gz=gz)
    files = data_mod.find_in_dir(tmp_path, dataset)
    assert files is not None
    assert set(files) == set(data_mod.FILE_STEMS)
    assert all(p.parent == folder and p.name.endswith(".gz") == gz for p in files.values())


def test_dataset_folder_beats_flat_files_of_the_other_dataset(tmp_path: Path) -> None:
    """Both data sets use the same file names: flat (MNIST) files must not pass for Fashion-MNIST."""
    write_dataset(tmp_path, train=20, test=10)
    write_dataset(tmp_path / "FashionMNIST" / "raw", train=30, test=10)
    assert data_mod.find_in_dir(tmp_path, "fashion-mnist")["train_images"].parent == tmp_path / "FashionMNIST" / "raw"
    assert data_mod.find_in_dir(tmp_path, "mnist")["train_images"].parent == tmp_path


def test_find_in_dir_needs_all_four_files(tmp_path: Path) -> None:
    write_dataset(tmp_path, train=20, test=10)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    assert data_mod.find_in_dir(tmp_path, "mnist") is None


def test_find_in_dir_accepts_a_mix_of_raw_and_gz(tmp_path: Path) -> None:
    write_dataset(tmp_path, train=20, test=10)
    raw = tmp_path / "train-images-idx3-ubyte"
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", read_idx(raw, IMAGES_MAGIC))
    raw.unlink()
    files = data_mod.find_in_dir(tmp_path, "mnist")
    assert files["train_images"].name.endswith(".gz") and not files["test_images"].name.endswith(".gz")


# ---- lookup order ----

def test_explicit_data_dir_wins(clean_env, tiny_data, monkeypatch) -> None:
    monkeypatch.setenv("MNIST_TUI_DATA", str(write_dataset(clean_env / "env", train=20, test=10)))
    loc = data_mod.locate("mnist", tiny_data)
    assert loc.files["train_images"].parent == tiny_data and not loc.bundled


def test_explicit_data_dir_without_files_is_an_error_never_a_fallback(clean_env, monkeypatch) -> None:
    monkeypatch.setenv("MNIST_TUI_DATA", str(write_dataset(clean_env / "env", train=20, test=10)))
    empty = clean_env / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as err:
        data_mod.locate("mnist", empty)
    assert str(empty) in str(err.value) and "train-images-idx3-ubyte" in str(err.value)
    with pytest.raises(DataError, match="does not exist"):
        data_mod.locate("mnist", clean_env / "missing")


def test_lookup_order_env_then_cache_then_system_then_download_then_bundled(clean_env, monkeypatch) -> None:
    env_dir = write_dataset(clean_env / "env", train=20, test=10)
    cache = write_dataset(data_mod.cache_dir() / "MNIST" / "raw", train=20, test=10)
    system = write_dataset(clean_env / "system" / "mnist", train=20, test=10)
    downloaded = write_dataset(clean_env / "downloaded", train=20, test=10)
    calls = []

    def fake_download(dataset, root):
        calls.append((dataset, root))
        return data_mod.find_in_dir(downloaded, dataset)

    monkeypatch.setattr(data_mod, "_try_download", fake_download)
    monkeypatch.setenv("MNIST_TUI_DATA", str(env_dir))
    loc = data_mod.locate("mnist")
    assert loc.files["train_images"].parent == env_dir and "$MNIST_TUI_DATA" in loc.source

    monkeypatch.setenv("MNIST_TUI_DATA", str(clean_env / "empty-env"))  # set but empty: falls through
    loc = data_mod.locate("mnist")
    assert loc.files["train_images"].parent == cache and "cache" in loc.source

    for p in cache.iterdir():
        p.unlink()
    loc = data_mod.locate("mnist")
    assert loc.files["train_images"].parent == system and "system" in loc.source
    assert calls == []

    for p in system.iterdir():
        p.unlink()
    loc = data_mod.locate("mnist")
    assert loc.files["train_images"].parent == downloaded and "downloaded" in loc.source
    assert calls == [("mnist", data_mod.cache_dir())]

    loc = data_mod.locate("mnist", allow_download=False)
    assert loc.bundled and loc.files["train_images"].parent == data_mod.ASSETS_DIR / "mnist"
    assert "--data-dir" in loc.source  # the notice says how to get the full set


def test_offline_download_is_skipped(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MNIST_TUI_OFFLINE", "1")
    assert data_mod._try_download("mnist", tmp_path) is None
    assert not any(tmp_path.iterdir())


def test_missing_bundled_sample_is_a_clear_error(clean_env, monkeypatch) -> None:
    monkeypatch.setattr(data_mod, "ASSETS_DIR", clean_env / "no-assets")
    with pytest.raises(DataError, match="no Fashion-MNIST data found"):
        data_mod.locate("fashion-mnist")


def test_unknown_dataset(clean_env) -> None:
    with pytest.raises(DataError, match="unknown dataset"):
        data_mod.locate("cifar10")


# ---- split checks ----

def _files(root: Path) -> dict[str, Path]:
    files = data_mod.find_in_dir(root, "mnist")
    assert files is not None
    return files


def test_label_count_mismatch_names_both_files(tmp_path: Path) -> None:
    write_dataset(tmp_path, train=30, test=10)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", torch.zeros(9, dtype=torch.uint8))
    with pytest.raises(DataError) as err:
        data_mod.read_split(_files(tmp_path), "test")
    assert "9 labels for 10 images" in str(err.value)
    assert "t10k-labels-idx1-ubyte" in str(err.value) and "t10k-images-idx3-ubyte" in str(err.value)


def test_label_out_of_range(tmp_path: Path) -> None:
    write_dataset(tmp_path, train=30, test=10)
    write_idx(tmp_path / "train-labels-idx1-ubyte", torch.full((30,), 10, dtype=torch.uint8))
    with pytest.raises(DataError, match="label 10, expected 0..9"):
        data_mod.read_split(_files(tmp_path), "train")


def test_wrong_image_size(tmp_path: Path) -> None:
    write_dataset(tmp_path, train=30, test=10)
    write_idx(tmp_path / "train-images-idx3-ubyte", torch.zeros(30, 32, 32, dtype=torch.uint8))
    with pytest.raises(DataError, match=r"\(32, 32\), expected 28x28"):
        data_mod.read_split(_files(tmp_path), "train")


# ---- loading and normalisation ----

def test_both_splits_are_normalised_the_same_way(tiny_data) -> None:
    """The linear tutorial scaled its training images but not its test images; we must not."""
    loc = data_mod.locate("mnist", tiny_data)
    bundle = data_mod.load(loc, "mnist", CPU)
    mean, std = data_mod.DATASETS["mnist"].mean, data_mod.DATASETS["mnist"].std
    train_raw, _ = data_mod.read_split(loc.files, "train")
    for x, raw in ((bundle.train_x, train_raw), (bundle.test_x, bundle.test_pixels)):
        assert x.dtype == torch.float32 and x.shape == (raw.shape[0], 1, 28, 28)
        expected = (raw.float() / 255 - mean) / std
        torch.testing.assert_close(x[:, 0], expected)
        assert x.max() <= (1 - mean) / std + 1e-5 and x.min() >= -mean / std - 1e-5
    assert bundle.train_y.dtype == torch.int64 and bundle.test_y.dtype == torch.int64
    assert bundle.test_pixels.dtype == torch.uint8 and bundle.test_pixels.device.type == "cpu"


def test_unit_normalisation_is_to_tensor_scaling_on_both_splits(tiny_data) -> None:
    bundle = data_mod.load(data_mod.locate("mnist", tiny_data), "mnist", CPU, normalize="unit")
    for x in (bundle.train_x, bundle.test_x):
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.max()) > 0.9
    torch.testing.assert_close(bundle.test_x[:, 0], bundle.test_pixels.float() / 255)


def test_train_size_takes_the_first_images_and_rejects_too_many(tiny_data) -> None:
    loc = data_mod.locate("mnist", tiny_data)
    full = data_mod.load(loc, "mnist", CPU)
    part = data_mod.load(loc, "mnist", CPU, train_size=100)
    assert part.train_size == 100 and part.test_size == full.test_size
    assert torch.equal(part.train_x, full.train_x[:100]) and torch.equal(part.train_y, full.train_y[:100])
    with pytest.raises(ConfigError, match="invalid train size 601"):
        data_mod.load(loc, "mnist", CPU, train_size=601)


def test_fashion_classes_and_constants(tiny_data) -> None:
    bundle = data_mod.load(data_mod.locate("fashion-mnist", tiny_data), "fashion-mnist", CPU)
    assert bundle.classes[0] == "T-shirt/top" and bundle.classes[9] == "Ankle boot" and len(bundle.classes) == 10
    info = data_mod.DATASETS["fashion-mnist"]
    torch.testing.assert_close(bundle.test_x[:, 0], (bundle.test_pixels.float() / 255 - info.mean) / info.std)


# ---- the bundled sample ----

@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_bundled_sample_is_found_balanced_and_licensed(clean_env, dataset: str) -> None:
    loc = data_mod.locate(dataset)
    assert loc.bundled and "bundled" in loc.source
    assert all(p.name.endswith(".gz") for p in loc.files.values())
    bundle = data_mod.load(loc, dataset, CPU)
    assert (bundle.train_size, bundle.test_size) == (5000, 1000)
    assert torch.bincount(bundle.train_y, minlength=10).tolist() == [500] * 10
    assert torch.bincount(bundle.test_y, minlength=10).tolist() == [100] * 10
    # first N of the sample stay roughly balanced (file order kept), so --train-size works on it
    assert torch.bincount(bundle.train_y[:500], minlength=10).min() >= 30
    # real images normalised with the full set's constants land near mean 0, std 1 on both splits
    for x in (bundle.train_x, bundle.test_x):
        assert abs(float(x.mean())) < 0.1 and 0.9 < float(x.std()) < 1.1
    folder = data_mod.ASSETS_DIR / dataset
    licence = (folder / "LICENSE").read_text()
    assert ("CC BY-SA 3.0" in licence) if dataset == "mnist" else ("MIT" in licence and "Zalando" in licence)
    assert sum(p.stat().st_size for p in folder.iterdir()) < 3_500_000


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_sample", ROOT / "assets" / "build_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_builder_is_balanced_and_reproducible(tmp_path: Path, capsys) -> None:
    builder = _load_builder()
    source = write_dataset(tmp_path / "full" / "MNIST" / "raw", train=300, test=100)
    args = ["--source", str(tmp_path / "full"), "--datasets", "mnist", "--train-per-class", "7", "--test-per-class", "3"]
    assert builder.main(args + ["--out", str(tmp_path / "a")]) == 0
    assert builder.main(args + ["--out", str(tmp_path / "b")]) == 0
    built = data_mod.find_in_dir(tmp_path / "a", "mnist")
    assert built is not None and built["train_images"].parent == tmp_path / "a" / "mnist"
    images, labels = data_mod.read_split(built, "train")
    assert torch.bincount(labels, minlength=10).tolist() == [7] * 10
    full_images, full_labels = data_mod.read_split(data_mod.find_in_dir(source, "mnist"), "train")
    first_zero = int((full_labels == 0).nonzero()[0])
    assert torch.equal(images[labels == 0][0], full_images[first_zero])  # copied pixels, not regenerated
    assert data_mod.read_split(built, "test")[1].bincount(minlength=10).tolist() == [3] * 10
    for key, path in built.items():
        assert path.read_bytes() == (tmp_path / "b" / "mnist" / path.name).read_bytes(), key
    assert builder.main(args + ["--out", str(tmp_path / "c"), "--train-per-class", "31"]) == 1
    assert "class 0 has only 30 images" in capsys.readouterr().err


def test_looking_up_the_data_does_not_import_torch(tmp_path):
    """The app's form shows which data a run would use right after the first frame; that lookup must not
    wait for torch (seconds) while the engine's own import holds the import lock."""
    import subprocess
    import sys

    code = ("import sys, core.data as d; d.locate('mnist', None, allow_download=False); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path), "MNIST_TUI_DATA": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
