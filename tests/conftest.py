"""Shared fixtures: tiny generated IDX data sets, so no test needs the real 110 MB files or a network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MNIST_TUI_OFFLINE", "1")  # never try a download from a test


def make_digits(count: int, seed: int):
    """Learnable fake digits: class k lights a distinct bar pattern, plus noise. uint8 [N,28,28], labels [N]."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 10
    labels = labels[torch.randperm(count, generator=gen)]
    images = torch.randint(0, 60, (count, 28, 28), generator=gen, dtype=torch.uint8)
    for k in range(10):
        mask = labels == k
        row = 2 + 2 * k
        images[mask, row:row + 3, 4:24] = 255
        images[mask, 4:24, 26 - 2 * k:28 - 2 * k] = 200
    return images, labels.to(torch.uint8)


def write_dataset(root: Path, train: int = 600, test: int = 200, gz: bool = False, seed: int = 0) -> Path:
    """Write the four IDX files flat into `root` (optionally gzipped); returns root."""
    from core.idx import write_idx

    suffix = ".gz" if gz else ""
    train_x, train_y = make_digits(train, seed)
    test_x, test_y = make_digits(test, seed + 1)
    write_idx(root / f"train-images-idx3-ubyte{suffix}", train_x)
    write_idx(root / f"train-labels-idx1-ubyte{suffix}", train_y)
    write_idx(root / f"t10k-images-idx3-ubyte{suffix}", test_x)
    write_idx(root / f"t10k-labels-idx1-ubyte{suffix}", test_y)
    return root


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """600 train / 200 test generated digits, raw IDX, flat layout. Read-only: do not modify."""
    return write_dataset(tmp_path_factory.mktemp("tiny-data"))


@pytest.fixture(scope="session", autouse=True)
def _single_torch_thread():
    """Tests share 2 cores with each other; one intra-op thread keeps them predictable."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
