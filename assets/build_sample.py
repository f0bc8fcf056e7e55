"""Build the bundled sample data sets in assets/ from the full MNIST / Fashion-MNIST IDX files.

The sample is what `make run` and an offline first run train on when no full copy is found
(core/data.py looks in assets/<dataset>/ last). It must be small enough to commit, real
enough to learn from, and rebuildable by anyone from the public files, so this script is the
only way it is made: the first N images of each class, in the files' original order, written
as gzipped IDX with a fixed gzip timestamp so that a rebuild is byte-identical.

    python assets/build_sample.py --source ../shared/datasets
    python assets/build_sample.py --source DIR --train-per-class 500 --test-per-class 100

--source may hold either data set flat or in torchvision's <Folder>/raw layout, raw or .gz.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.data import DATASETS, FILE_STEMS, find_in_dir, read_split  # noqa: E402
from core.idx import DataError, write_idx  # noqa: E402

ASSETS = Path(__file__).resolve().parent
TRAIN_PER_CLASS = 500
TEST_PER_CLASS = 100


def balanced_indices(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """Indices of the first `per_class` images of each class, kept in file order.

    File order rather than a random draw: nothing depends on an RNG's version, and the
    classes stay interleaved as in the original files, so the first N of the sample are
    themselves roughly balanced (which `--train-size N` relies on).
    """
    keep = torch.zeros_like(labels, dtype=torch.bool)
    for k in range(10):
        where = (labels == k).nonzero().flatten()
        if where.numel() < per_class:
            raise DataError(f"class {k} has only {where.numel()} images, {per_class} requested")
        keep[where[:per_class]] = True
    return keep.nonzero().flatten()


def build(dataset: str, source: Path, out_root: Path, train_per_class: int, test_per_class: int) -> list[Path]:
    files = find_in_dir(source, dataset)
    if files is None:
        raise DataError(f"no {DATASETS[dataset].title} IDX files under {source}")
    out_dir = out_root / dataset
    written = []
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        images, labels = read_split(files, split)
        index = balanced_indices(labels, per_class)
        for kind, tensor in (("images", images[index]), ("labels", labels[index].to(torch.uint8))):
            path = out_dir / (FILE_STEMS[f"{split}_{kind}"] + ".gz")
            write_idx(path, tensor)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "datasets",
                        help="directory holding the full data sets (default ../shared/datasets)")
    parser.add_argument("--out", type=Path, default=ASSETS, help="output root (default: this assets/ folder)")
    parser.add_argument("--train-per-class", type=int, default=TRAIN_PER_CLASS)
    parser.add_argument("--test-per-class", type=int, default=TEST_PER_CLASS)
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated (default: both)")
    args = parser.parse_args(argv)
    try:
        for dataset in args.datasets.split(","):
            for path in build(dataset, args.source, args.out, args.train_per_class, args.test_per_class):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                print(f"{path.relative_to(args.out)}  {path.stat().st_size:>9,} bytes  sha256 {digest[:16]}")
    except DataError as exc:
        print(f"build_sample: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
