"""Reliability costs, side by side for two checkouts (issue 16): how long a second writer waits to
be refused, and what a gzip bomb behind a valid MNIST header costs to reject.

    python benchmarks/reliability.py --before ../main-checkout [--after .] [--rounds 5]

Each checkout runs in its own processes (PYTHONPATH=checkout); the live writer is a real
headless run on generated data. Results: benchmarks/results/reliability.md.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

BOMB_MB = 256
QUICK = ["--no-ui", "--model", "mlp", "--hidden", "16", "--batch-size", "100", "--device", "cpu"]


def env_for(checkout: Path) -> dict:
    return os.environ | {"PYTHONPATH": str(checkout)}


def refusal_seconds(checkout: Path, data: Path, work: Path, rounds: int) -> list[float]:
    """Seconds a `--resume` of a live run takes to be refused, while a real run writes it."""
    run_dir = work / f"live-{checkout.name}"
    writer = subprocess.Popen([sys.executable, "-m", "core.cli", *QUICK, "--epochs", "100000", "--data-dir", str(data),
                               "--run-dir", str(run_dir)], env=env_for(checkout), cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        metrics = run_dir / "metrics.jsonl"
        deadline = time.monotonic() + 300
        while not (metrics.exists() and b'"type":"epoch"' in metrics.read_bytes()[-100_000:]):
            if time.monotonic() > deadline or writer.poll() is not None:
                raise RuntimeError("the live writer did not start")
            time.sleep(0.2)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "core.cli", "--resume", str(run_dir), "--no-ui"],
                                  env=env_for(checkout), cwd=work, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            assert proc.returncode == 1 and "in use" in proc.stderr, proc.stderr
        return times
    finally:
        writer.kill()
        writer.wait()


BOMB_PROBE = """
import resource, sys, time
from pathlib import Path
import torch  # loaded first: its ~700 MiB are not the bomb's
from core.idx import IMAGES_MAGIC, DataError, read_idx
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
try:
    read_idx(Path(sys.argv[1]), IMAGES_MAGIC)
    outcome = "accepted"
except DataError as exc:
    outcome = "refused"
print(f"{outcome} {time.perf_counter() - t0:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base}")
"""


def make_bomb(path: Path) -> None:
    """A valid 60,000-image MNIST header followed by BOMB_MB MiB of zeros, gzipped (~0.25 MB)."""
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as fh:
        fh.write(struct.pack(">IIII", 0x803, 60000, 28, 28))
        block = bytes(1 << 20)
        for _ in range(BOMB_MB):
            fh.write(block)


def bomb_cost(checkout: Path, bomb: Path) -> tuple[str, float, float]:
    proc = subprocess.run([sys.executable, "-c", BOMB_PROBE, str(bomb)], env=env_for(checkout), cwd=bomb.parent,
                          capture_output=True, text=True, check=True)
    outcome, seconds, rss_kb = proc.stdout.split()
    return outcome, float(seconds), int(rss_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout without the change")
    parser.add_argument("--after", type=Path, default=HERE.parent, help="checkout with it (default: this one)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from conftest import write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = write_dataset(work / "data")
        bomb = work / "train-images-idx3-ubyte.gz"
        make_bomb(bomb)
        print(f"bomb: {bomb.stat().st_size / 1e6:.2f} MB gzip, {BOMB_MB} MiB of data behind a 60000x28x28 header")
        print("| checkout | resume of a live run refused after (median of "
              f"{args.rounds}, s) | bomb outcome | bomb time (s) | bomb memory: peak RSS over torch's (MiB) |")
        print("|---|---:|---|---:|---:|")
        for label, checkout in (("before", args.before.resolve()), ("after", args.after.resolve())):
            times = refusal_seconds(checkout, data, work, args.rounds)
            outcome, seconds, rss = bomb_cost(checkout, bomb)
            print(f"| {label} | {statistics.median(times):.2f} (min {min(times):.2f}, max {max(times):.2f}) | "
                  f"{outcome} | {seconds:.2f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
