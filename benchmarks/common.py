"""What the speed benchmarks share: data, machine description, load readings and the results file.

Both scripts run as plain files (`python benchmarks/x.py`), so this module puts the repository
root on sys.path itself and needs nothing beyond the project's own dependencies: the lead must
be able to run them on a lent GPU box with only the repo and its venv.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import core  # noqa: E402,F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

if TYPE_CHECKING:  # torch loads where it is used: a script answers --help or a bad option at once
    import torch

    from core import data as data_mod

DEFAULT_DATA_DIR = ROOT.parent / "shared" / "datasets"
RESULTS_DIR = ROOT / "benchmarks" / "results"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(device: torch.device) -> str:
    """CPU (and GPU), core count and versions: enough to compare two results files. The thread
    count is per run (core/perf.py picks it per model), so the tables show it per row."""
    import torch

    gpu = f", GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    return (f"{cpu_name()} ({os.cpu_count()} cores){gpu}; "
            f"torch {torch.__version__}, Python {platform.python_version()}, {platform.system()}")


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


class LoadLog:
    """1-minute load average read at chosen moments: the benchmark records the noise it ran in."""

    def __init__(self) -> None:
        self.readings: list[float] = []

    def read(self) -> None:
        load = load_average()
        if load is not None:
            self.readings.append(load[0])

    def summary(self) -> str:
        if not self.readings:
            return "not available"
        return (f"1-min load average {min(self.readings):.1f} to {max(self.readings):.1f} "
                f"(median {statistics.median(self.readings):.1f}) on {os.cpu_count()} cores")


def synchronize(device: torch.device) -> None:
    """Wait for queued device work so a timer around it measures the work, not the queueing."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def load_bundle(dataset: str, data_dir: str, device: torch.device, normalize: str) -> data_mod.DataBundle:
    """The full data set decoded once onto `device`, the way the engine holds it."""
    from core import data as data_mod

    location = data_mod.locate(dataset, data_dir, allow_download=False)
    return data_mod.load(location, dataset, device, None, normalize)


def subset(bundle: data_mod.DataBundle, train: int, test: int | None = None) -> data_mod.DataBundle:
    """The first `train` training images (views, no copy) and optionally fewer test images."""
    from core import data as data_mod

    test = bundle.test_size if test is None else min(test, bundle.test_size)
    return data_mod.DataBundle(
        train_x=bundle.train_x[:train], train_y=bundle.train_y[:train],
        test_x=bundle.test_x[:test], test_y=bundle.test_y[:test], test_pixels=bundle.test_pixels[:test],
        classes=bundle.classes, source=bundle.source, bundled=bundle.bundled)


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str) -> list[str]:
    """`align` has one character per column: l or r."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def write_results(out: Path, title: str, facts: Sequence[str], body: Sequence[str]) -> None:
    """A results file: title, a bullet list of facts (date, machine, command, load), then the body."""
    lines = [f"# {title}", ""]
    lines += [f"- {fact}" for fact in facts]
    lines += [""] + list(body)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def publish(out: str, title: str, facts: Sequence[str], body: Sequence[str], shown: Sequence[str] | None = None) -> None:
    """Print what was measured (`shown`, else the body), and write the results file unless `out` is "-"."""
    print("\n".join(body if shown is None else shown))
    if out != "-":
        write_results(Path(out), title, facts, body)
        print(f"wrote {out}")


def standard_facts(device: torch.device, command: str) -> list[str]:
    return [f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
            f"machine: {machine_line(device)}",
            f"command: `{command}`"]


def command_line(script: str) -> str:
    return " ".join(["python", f"benchmarks/{script}", *sys.argv[1:]])


def export_rev(rev: str, into: Path) -> str:
    """`rev` of this repository as plain files in `into` (a before/after benchmark runs both side by
    side in one session); returns its short hash."""
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "--verify", "--quiet", f"{rev}^{{commit}}"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise SystemExit(f"{Path(sys.argv[0]).name}: error: no commit {rev!r} in this repository")
    sha = found.stdout.strip()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return sha


def head_label() -> str:
    """This checkout's version for a results file: the short hash, '+changes' if tracked files differ."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return f"{head}{'+changes' if dirty else ''}"
