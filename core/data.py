"""Find the data set, load it once onto the training device, and serve shuffled batches.

The tutorials' DataLoader + ToTensor does Python work per sample every epoch; here each split
is decoded once into one normalised float32 tensor on the device, and an epoch is a seeded
permutation whose slices index that tensor. That is most of the speed-up over the tutorials.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import torch

from core.config import ConfigError
from core.idx import IMAGES_MAGIC, LABELS_MAGIC, DataError, read_idx

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
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
        if not root.is_dir():
            raise DataError(f"data directory {root} does not exist")
        files = find_in_dir(root, dataset)
        if files is None:
            raise DataError(f"no {title} files in {root}: expected {FILE_STEMS['train_images']}[.gz] and the other three "
                            f"IDX files there or in {root / DATASETS[dataset].folder / 'raw'}")
        return DataLocation(files, f"{title} from {files['train_images'].parent}")
    candidates: list[tuple[Path, str]] = []
    if os.environ.get("MNIST_TUI_DATA"):
        candidates.append((Path(os.environ["MNIST_TUI_DATA"]).expanduser(), "$MNIST_TUI_DATA"))
    candidates.append((cache_dir(), "cache"))
    candidates.extend((Path(d), "system copy") for d in DATASETS[dataset].system_dirs)
    for root, label in candidates:
        if root.is_dir() and (files := find_in_dir(root, dataset)):
            return DataLocation(files, f"{title} from {files['train_images'].parent} ({label})")
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
