"""Run start: the wall time of a short headless run against a bare `import torch`, side by side.

Each round times, in fresh interpreters and in rotating order:

  (a) `python -c "import torch"`: the floor every run pays;
  (b) `python -c "import torch, torch._dynamo"`: what the compiler that torch's optimizers import on
      their first step would add; runs no longer import it (core/eager.py, guarded by tests/test_eager.py),
      so (b) - (a) is what that saved;
  (c) `mnist-tui --no-ui` (as `python -m core.cli`) training 1 epoch on the first 1,000 images, the
      whole command;
  (d) the data loading alone (core.data.load of the same data, timed inside a process that has
      already imported torch), reported separately because it depends on the disk, not the code;
  (e) the same run as entrant 0 of a two-entrant race, `--race seed=1,2 --entrant 0`, the whole
      command (what each task of a SLURM array pays), and with --before REV the same entrant at
      that revision, side by side.

Run start = (c) - (a) of the same round; the figure is the median over rounds with the range.
The target (issue 17) is <= 1.5 s beyond `import torch`.

    python benchmarks/run_start.py [--data-dir DIR] [--rounds 7] [--preset NAME] [--before REV] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (puts the repository root on sys.path; imports no torch)

TARGET_S = 1.5
LOAD_DATA = ("import time, torch\n"
             "from core import data\n"
             "t = time.perf_counter()\n"
             "data.load(data.locate('{dataset}', {data_dir!r}, allow_download=False), '{dataset}', "
             "torch.device('cpu'), {train_size})\n"
             "print(time.perf_counter() - t)\n")


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall clock and CPU seconds (user + system, all threads) of one command, and its stdout; run in
    the checkout its PYTHONPATH names (`python -m` looks in the working directory first)."""
    cpu0, t0 = cpu_of_children(), time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=env["PYTHONPATH"], capture_output=True, text=True, timeout=600)
    wall, cpu = time.perf_counter() - t0, cpu_of_children() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"run_start.py: error: {' '.join(args[:4])} ... failed: {proc.stderr.strip()[-500:]}")
    return wall, cpu, proc.stdout


def spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(common.DEFAULT_DATA_DIR))
    parser.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"))
    parser.add_argument("--preset", default=None, help="a preset for the run (default: the command's defaults)")
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--before", metavar="REV", help="also time the race entrant (e) at this git revision")
    parser.add_argument("--out", default=str(common.RESULTS_DIR / "run_start.md"), help="'-' for stdout only")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.train_size < 1:
        parser.error("--rounds and --train-size must be at least 1")
    args.data_dir = str(Path(args.data_dir).resolve())  # the commands run in their checkout's directory
    env = dict(os.environ, MNIST_TUI_OFFLINE="1", PYTHONPATH=str(common.ROOT))
    py = sys.executable
    run = [py, "-m", "core.cli", "--no-ui", "--data-dir", args.data_dir, "--epochs", "1",
           "--train-size", str(args.train_size), *(["--preset", args.preset] if args.preset else [])]
    entrant = ["--race", "seed=1,2", "--entrant", "0"]
    cases = {
        "import torch": lambda tmp, i: [py, "-c", "import torch"],
        "import torch, torch._dynamo": lambda tmp, i: [py, "-c", "import torch, torch._dynamo"],
        "run": lambda tmp, i: run + ["--run-dir", str(Path(tmp) / f"run-{i}")],
        "data": lambda tmp, i: [py, "-c", LOAD_DATA.format(dataset=args.dataset, data_dir=args.data_dir,
                                                           train_size=args.train_size)],
        "entrant": lambda tmp, i: run + entrant + ["--run-dir", str(Path(tmp) / f"race-{i}")],
    }
    envs = {name: env for name in cases}
    if args.before:
        cases["entrant before"] = lambda tmp, i: run + entrant + ["--run-dir", str(Path(tmp) / f"race-before-{i}")]
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    data_s: list[float] = []
    load = common.LoadLog()
    order = list(cases)
    with tempfile.TemporaryDirectory() as tmp:
        if args.before:
            before = Path(tmp) / "before"
            before.mkdir()
            before_label = f"{args.before}@{common.export_rev(args.before, before)}"
            envs["entrant before"] = dict(env, PYTHONPATH=str(before))
        for i in range(args.rounds):
            load.read()
            for name in order[i % len(order):] + order[:i % len(order)]:  # rotate, so load hits each alike
                wall, cpu, out = timed(cases[name](tmp, i), envs[name])
                walls[name].append(wall)
                cpus[name].append(cpu)
                if name == "data":
                    data_s.append(float(out.strip().splitlines()[-1]))
            print(f"round {i + 1}/{args.rounds}: " + ", ".join(f"{n} {w[-1]:.2f}s" for n, w in walls.items()),
                  file=sys.stderr, flush=True)
    load.read()
    beyond = [r - t for r, t in zip(walls["run"], walls["import torch"])]
    compiler = [d - t for d, t in zip(walls["import torch, torch._dynamo"], walls["import torch"])]
    beyond_cpu = [r - t for r, t in zip(cpus["run"], cpus["import torch"])]
    compiler_cpu = [d - t for d, t in zip(cpus["import torch, torch._dynamo"], cpus["import torch"])]
    verdict = "yes" if statistics.median(beyond) <= TARGET_S else "NO"
    shown = [os.path.relpath(a, common.ROOT) if a == args.data_dir else a for a in run[3:]]  # no machine paths
    facts = [f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"machine: {common.cpu_name()} ({os.cpu_count()} cores), Python {sys.version.split()[0]}",
             f"command: `python benchmarks/run_start.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
             f"load while measuring: {load.summary()}",
             f"{args.rounds} rounds, each timing the commands below in fresh interpreters, order rotating; "
             "figures are medians with the range over rounds, in seconds: wall clock, and CPU time (user + system "
             "of the command's process) which a loaded machine inflates less",
             f"the run: `{' '.join(['mnist-tui'] + shown)} --run-dir RUN` (the whole command: interpreter, "
             "imports, data, 1 epoch, evaluation on the 10,000 test images, checkpoints, exit)"]
    body = ["| measured | wall s | CPU s |", "|---|---:|---:|",
            f"| `import torch` (a) | {spread(walls['import torch'])} | {spread(cpus['import torch'])} |",
            f"| `import torch, torch._dynamo` (b) | {spread(walls['import torch, torch._dynamo'])} "
            f"| {spread(cpus['import torch, torch._dynamo'])} |",
            f"| the compiler's import, (b) - (a): no longer paid by a run (core/eager.py) | {spread(compiler)} | {spread(compiler_cpu)} |",
            f"| 1-epoch run on {args.train_size:,} images, whole command (c) | {spread(walls['run'])} "
            f"| {spread(cpus['run'])} |",
            f"| data loading alone, timed inside a process (d) | {spread(data_s)} | - |",
            f"| **run start: (c) - (a)** | **{spread(beyond)}** (≤ {TARGET_S} s: {verdict}) | {spread(beyond_cpu)} |",
            f"| the run as entrant 0 of `--race seed=1,2`, whole command (e) | {spread(walls['entrant'])} "
            f"| {spread(cpus['entrant'])} |"]
    if args.before:
        body.append(f"| (e) at {before_label}, the same rounds | {spread(walls['entrant before'])} "
                    "| - (it trained in a process forked by a forkserver: not a child this clock sees) |")
    title = "Run start: a 1-epoch run beyond a bare `import torch`"
    common.publish(args.out, title, facts, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
