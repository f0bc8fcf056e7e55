"""README and committed benchmark results name paths relative to the checkout, never one machine's absolute ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# an absolute path into a user's or a machine's own folders (/usr/share/datasets, Debian's system copy, is public)
MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:work|home|root|Users|tmp|mnt|srv|scratch|opt|data)/[\w.-]+")
DOCS = [ROOT / "README.md", ROOT / "assets" / "README.md", *sorted((ROOT / "benchmarks" / "results").glob("*"))]


@pytest.mark.parametrize("doc", [d for d in DOCS if d.is_file()], ids=lambda d: str(d.relative_to(ROOT)))
def test_no_machine_specific_absolute_paths(doc):
    hits = [f"{doc.relative_to(ROOT)}:{n}: {m.group(0)}" for n, line in enumerate(doc.read_text().splitlines(), 1)
            for m in MACHINE_PATH.finditer(line)]
    assert not hits, "use checkout-relative paths (../shared/datasets, runs/...):\n" + "\n".join(hits)


def test_the_pattern_catches_what_it_is_for():
    assert MACHINE_PATH.search("--data-dir /work/shared/datasets")
    assert MACHINE_PATH.search("(/home/ana/mnist-tui/assets/mnist)")
    assert not MACHINE_PATH.search("--data-dir ../shared/datasets and runs/demo")
    assert not MACHINE_PATH.search("files in `/usr/share/datasets/fashion-mnist`")
