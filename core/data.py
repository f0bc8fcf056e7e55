"""Find the data set, load it once onto the training device, and serve shuffled batches.

The tutorials' DataLoader + ToTensor does Python work per sample every epoch; here each split
is decoded once into one normalised float32 tensor on the device, and an epoch is a seeded
permutation whose slices index that tensor. That is most of the speed-up over the tutorials.
"""

from __future__ import annotations

import io
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is loaded by the readers: looking up where the data is stays instant
    import torch

from core.config import ConfigError
from core.idx import IMAGES_MAGIC, LABELS_MAGIC, DataError, read_idx



def bundled_sample_dir() -> Path:
    """The bundled sample: core/assets in an installed wheel (pyproject maps assets/ there), else a checkout's assets/.

    The installed copy is looked for first and by its own path, so an unrelated `assets` folder
    next to an installed `core` (both in site-packages) is never taken for ours.
    """
    here = Path(__file__).resolve().parent
    installed, checkout = here / "assets", here.parent / "assets"
    return installed if (installed / "mnist").is_dir() else checkout


ASSETS_DIR = bundled_sample_dir()
FILE_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class DatasetInfo:
    title: str
    folder: str  # torchvision's folder name under the root
    mean: float
    std: float
    classes: tuple[str, ...]
    system_dirs: tuple[str, ...]


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("MNIST", "MNIST", 0.1307, 0.3081, tuple(str(d) for d in range(10)),
                         ("/usr/share/datasets/mnist",)),
    "fashion-mnist": DatasetInfo(
        "Fashion-MNIST", "FashionMNIST", 0.2860, 0.3530,
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        ("/usr/share/datasets/fashion-mnist",)),
}


# The published md5 of each official file, as (uncompressed, .gz as torchvision downloads it): the gz
# ones are torchvision.datasets.MNIST/FashionMNIST.resources, the uncompressed ones the md5s of their
# contents (the same values the Fashion-MNIST README and MNIST mirrors publish).
OFFICIAL_MD5: dict[str, dict[str, tuple[str, str]]] = {
    "mnist": {
        "train_images": ("6bbc9ace898e44ae57da46a324031adb", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train_labels": ("a25bea736e30d166cdddb491f175f624", "d53e105ee54ea40749a09fcbcd1e9432"),
        "test_images": ("2646ac647ad5339dbf082846283269ea", "9fb629c4189551a2d022fa330f9573f3"),
        "test_labels": ("27ae3e4e09519cfbb04c329615203637", "ec29112dd5afa0611ce80d1b7f02629c"),
    },
    "fashion-mnist": {
        "train_images": ("f4a8712d7a061bf5bd6d2ca38dc4d50a", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train_labels": ("9018921c3c673c538a1fc5bad174d6f9", "25c81989df183df01b3e8a0aad5dffbe"),
        "test_images": ("8181f5470baa50b63fa0f6fddb340f0a", "bef4ecab320f06d8554ea6380940ec79"),
        "test_labels": ("15d484375f8d13e6eb1aabb0c3f46965", "bb300cfdad3c16e7a12a480ee83cd310"),
    },
}
OFFICIAL_SIZES = {"train_images": 47040016, "train_labels": 60008, "test_images": 7840016, "test_labels": 10008}
# Which files are hashed to tell the data sets apart: the labels. They differ between MNIST and
# Fashion-MNIST like the images do, but are 70 KB instead of 55 MB (hashing all four took 0.4 s
# on a shared 2-core machine, at every run start; the labels take about a millisecond).
IDENTIFYING_FILES = ("train_labels", "test_labels")
UNOFFICIAL_NOTE = "(not the official files; used as given)"


def official_dataset_of(path: Path, key: str) -> str | None:
    """The data set whose official `key` file `path` is, by its published md5; None when unknown.

    Cheap on purpose: a file whose size (or, gzipped, whose recorded uncompressed size) is not the
    official one is not read at all, and a .gz is decompressed only up to the official size.
    """
    import gzip
    import hashlib

    want = OFFICIAL_SIZES[key]
    by_md5 = {md5: name for name, files in OFFICIAL_MD5.items() for md5 in files[key]}
    try:
        with open(path, "rb") as f:
            if path.suffix != ".gz":
                if os.fstat(f.fileno()).st_size != want:
                    return None
                return by_md5.get(hashlib.md5(f.read()).hexdigest())
            if os.fstat(f.fileno()).st_size > want + 1024:  # larger than the content it would unpack to
                return None
            f.seek(-4, os.SEEK_END)  # gzip's trailer: the uncompressed size (mod 2**32)
            if int.from_bytes(f.read(4), "little") != want:
                return None
            f.seek(0)
            packed = f.read()
        if (name := by_md5.get(hashlib.md5(packed).hexdigest())) is not None:
            return name  # as torchvision downloads it
        with gzip.GzipFile(fileobj=io.BytesIO(packed)) as unpacked:  # recompressed (e.g. a Debian package)
            content = unpacked.read(want + 1)
        return by_md5.get(hashlib.md5(content).hexdigest()) if len(content) == want else None
    except (OSError, EOFError, ValueError):  # unreadable or not gzip: read_idx reports it properly
        return None


def check_official(files: dict[str, Path], dataset: str) -> bool:
    """True for the official files of `dataset`, False for unknown ones; a DataError for another data set's.

    `--dataset fashion-mnist --data-dir .../MNIST/raw` used to train on digits under clothing names.
    """
    found = {key: official_dataset_of(files[key], key) for key in IDENTIFYING_FILES}
    for key, name in found.items():
        if name is not None and name != dataset:
            raise DataError(f"{files[key]} is the official {DATASETS[name].title} file, not {DATASETS[dataset].title}: "
                            f"use --dataset {name}, or a --data-dir with {DATASETS[dataset].title}")
    return all(name == dataset for name in found.values())


def _described(files: dict[str, Path], dataset: str, where: str) -> str:
    official = check_official(files, dataset)
    return f"{DATASETS[dataset].title} from {files['train_images'].parent}{where}" + ("" if official else f" {UNOFFICIAL_NOTE}")


@dataclass(frozen=True)
class DataLocation:
    """Where the four IDX files of a data set were found, and how to describe that to the user."""

    files: dict[str, Path]
    source: str
    bundled: bool = False


@dataclass
class DataBundle:
    """Both splits, decoded and normalised once, resident on the training device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    test_pixels: torch.Tensor  # uint8 [N, 28, 28] on the CPU, for drawing sample digits
    classes: tuple[str, ...]
    source: str
    bundled: bool

    @property
    def train_size(self) -> int:
        return int(self.train_y.shape[0])

    @property
    def test_size(self) -> int:
        return int(self.test_y.shape[0])


def find_in_dir(root: Path, dataset: str) -> dict[str, Path] | None:
    """The four files under `root`, flat or in torchvision's `<Folder>/raw` layout, raw or .gz."""
    info = DATASETS[dataset]
    # the data set's own folders first: MNIST and Fashion-MNIST share file names, so flat files in a root
    # that also holds FashionMNIST/raw must not be taken for Fashion-MNIST
    for folder in (root / info.folder / "raw", root / info.folder, root / dataset, root):
        found: dict[str, Path] = {}
        for key, stem in FILE_STEMS.items():
            for name in (stem, stem + ".gz"):
                if (folder / name).is_file():
                    found[key] = folder / name
                    break
        if len(found) == len(FILE_STEMS):
            return found
    return None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mnist-tui"


def _try_download(dataset: str, root: Path) -> dict[str, Path] | None:
    """torchvision's download into the cache; None when offline (never hangs for long)."""
    if os.environ.get("MNIST_TUI_OFFLINE"):
        return None
    from torchvision import datasets  # imported late: only this path needs it

    reader = datasets.MNIST if dataset == "mnist" else datasets.FashionMNIST
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(5)
    try:
        reader(root=str(root), train=True, download=True)
        reader(root=str(root), train=False, download=True)
    except Exception:  # offline, DNS failure, HTTP error: all mean "use the fallback"
        return None
    finally:
        socket.setdefaulttimeout(previous)
    return find_in_dir(root, dataset)


def locate(dataset: str, data_dir: str | os.PathLike | None = None, allow_download: bool = True) -> DataLocation:
    """Follow the design's lookup order; an explicit directory that lacks the data is an error."""
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}: choose from {', '.join(DATASETS)}")
    title = DATASETS[dataset].title
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if root.exists() and not root.is_dir():
            raise DataError(f"data directory {root} is a file, not a directory: pass the folder that holds the IDX files")
        if not root.is_dir():
            raise DataError(f"data directory {root} does not exist")
        files = find_in_dir(root, dataset)
        if files is None:
            raise DataError(f"no {title} files in {root}: expected {FILE_STEMS['train_images']}[.gz] and the other three "
                            f"IDX files there or in {root / DATASETS[dataset].folder / 'raw'}")
        return DataLocation(files, _described(files, dataset, ""))
    candidates: list[tuple[Path, str]] = []
    if os.environ.get("MNIST_TUI_DATA"):
        candidates.append((Path(os.environ["MNIST_TUI_DATA"]).expanduser(), "$MNIST_TUI_DATA"))
    candidates.append((cache_dir(), "cache"))
    candidates.extend((Path(d), "system copy") for d in DATASETS[dataset].system_dirs)
    for root, label in candidates:
        if root.is_dir() and (files := find_in_dir(root, dataset)):
            return DataLocation(files, _described(files, dataset, f" ({label})"))
    if allow_download and (files := _try_download(dataset, cache_dir())):
        return DataLocation(files, f"{title} downloaded to {files['train_images'].parent}")
    files = find_in_dir(ASSETS_DIR, dataset)
    if files is None:
        raise DataError(f"no {title} data found and the bundled sample is missing from {ASSETS_DIR}")
    return DataLocation(files, f"bundled {title} sample ({ASSETS_DIR / dataset}); for the full set pass "
                               f"--data-dir DIR or set MNIST_TUI_DATA", bundled=True)


def read_split(files: dict[str, Path], split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images [N, 28, 28] and int64 labels [N] of one split, with their counts checked."""
    images = read_idx(files[f"{split}_images"], IMAGES_MAGIC)
    labels = read_idx(files[f"{split}_labels"], LABELS_MAGIC)
    if images.dim() != 3 or tuple(images.shape[1:]) != (28, 28):
        raise DataError(f"{files[f'{split}_images']} holds images of shape {tuple(images.shape[1:])}, expected 28x28")
    if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(f"{files[f'{split}_labels']} has {labels.shape[0]} labels for {images.shape[0]} images "
                        f"in {files[f'{split}_images']}")
    if labels.numel() and int(labels.max()) > 9:
        raise DataError(f"{files[f'{split}_labels']} has label {int(labels.max())}, expected 0..9")
    return images, labels.long()


def normalise(images: torch.Tensor, dataset: str, device: torch.device, mode: str = "standard") -> torch.Tensor:
    """uint8 [N,28,28] -> float32 [N,1,28,28]: x/255 ("unit", as ToTensor), then standardised with the
    data set's train mean/std ("standard"). Both splits always go through the same function."""
    info = DATASETS[dataset]
    x = images.to(device=device).unsqueeze(1).float().div_(255.0)
    if mode == "unit":
        return x
    return x.sub_(info.mean).div_(info.std)


def load(location: DataLocation, dataset: str, device: torch.device, train_size: int | None = None,
         normalize: str = "standard") -> DataBundle:
    """Decode both splits once and move them to `device`; both are normalised the same way."""
    train_images, train_labels = read_split(location.files, "train")
    test_images, test_labels = read_split(location.files, "test")
    if train_size is not None:
        if train_size > train_images.shape[0]:
            # an invalid value (exit 2), like a batch size larger than the data, not broken data
            raise ConfigError(f"invalid train size {train_size}: larger than the {train_images.shape[0]} training "
                              f"images in {location.files['train_images']}")
        train_images, train_labels = train_images[:train_size], train_labels[:train_size]
    if train_images.shape[0] == 0 or test_images.shape[0] == 0:
        raise DataError(f"{location.files['train_images'].parent} has an empty split")
    return DataBundle(
        train_x=normalise(train_images, dataset, device, normalize),
        train_y=train_labels.to(device),
        test_x=normalise(test_images, dataset, device, normalize),
        test_y=test_labels.to(device),
        test_pixels=test_images.clone(),
        classes=DATASETS[dataset].classes,
        source=location.source,
        bundled=location.bundled,
    )
