"""99% MNIST, cold, whole command: `mnist-tui --no-ui --preset fast` timed from outside, per seed,
beside pytorch/examples mnist/main.py in the same session.

The bar (issue 17, after tuomaso/train_mnist_fast's rules): every seed >= 99.0% test accuracy on
the 10,000 MNIST test images, one epoch or less, no augmentation of the test set and no test data
in training, and <= 12 s of wall time for the whole command in a fresh process on the 2-core CPU:
Python's start, the torch import, reading the data, training, evaluation, the checkpoints and
the printed summary all count. Each seed runs in a fresh interpreter (nothing preloaded, no
forkserver); the operating system's file cache is left as it is (dropping it needs root and
would disturb everyone else on the machine).

The peer is pytorch/examples' mnist/main.py, run unmodified from a copy given with --peer (its
code is not part of this repository): `python main.py --epochs 1` in a scratch directory whose
../data is the local data set, so torchvision finds the files and downloads nothing. It takes
minutes on this CPU, so it runs once (--peer-runs). Without --peer its row says "not run".

    python benchmarks/fast99.py [--data-dir DIR] [--seeds 1,2,3,4,5] [--peer PATH/TO/mnist/main.py]
                                [--peer-epochs 1] [--also VARIANT ...] [--out FILE] [--run-args "..."]

One way to get the peer: `git clone https://github.com/pytorch/examples runs/pytorch-examples` (runs/
is ignored by git) and pass --peer runs/pytorch-examples/mnist/main.py. --also adds rows that show
what a choice of the preset is worth, each seed run again with it, interleaved: e.g.
--also MNIST_TUI_THREADS=2 (the engine's one-thread rule for bf16 runs on a 2-core CPU) or
--also 'MNIST_TUI_THREADS=1 --precision float32' (bfloat16 autocast, at the same thread count).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (puts the repository root on sys.path; imports no torch)

TARGET_ACC = 0.99
BUDGET_S = 12.0
PEER_ACCURACY = re.compile(r"Accuracy: (\d+)/(\d+)")
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


@dataclass
class Run:
    label: str
    accuracy: float
    wall: float  # seconds, process start to exit, measured by this script
    cpu: float  # user + system seconds of the process and its threads (and children)
    own_clock: float | None  # the run's own end-record time (Trainer.run(), no start-up), when it has one
    load: float | None  # 1-minute load average just before the run
    speed: str = ""
    run_dir: Path | None = None
    float32_accuracy: float | None = None  # its checkpoint evaluated again without autocast (recheck_in_float32)


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> tuple[float, float, str]:
    """Wall and CPU seconds of one command in a fresh process, and its output; a failure stops the benchmark."""
    cpu0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"fast99.py: error: {shlex.join(args[:3])} ... exited {proc.returncode}: "
                         f"{(proc.stderr or proc.stdout).strip()[-500:]}")
    return wall, cpu, proc.stdout


def one_minute_load() -> float | None:
    load = common.load_average()
    return load[0] if load else None


def split_variant(text: str) -> tuple[dict[str, str], list[str]]:
    """'MNIST_TUI_THREADS=2 --precision float32' -> ({'MNIST_TUI_THREADS': '2'}, ['--precision', 'float32'])."""
    env, options = {}, []
    for word in shlex.split(text):
        name, eq, value = word.partition("=")
        if eq and not options and ENV_NAME.fullmatch(name):
            env[name] = value
        else:
            options.append(word)
    return env, options


def fast_run(seed: int, args: argparse.Namespace, scratch: Path, variant: str = "") -> Run:
    """`mnist-tui --no-ui --preset fast --seed N` (as `python -m tui.entry`, the console script's function);
    `variant`: environment assignments and options added to it (--also)."""
    extra_env, extra_options = split_variant(variant)
    run_dir = Path(tempfile.mkdtemp(dir=scratch)) / f"fast-seed{seed}"
    command = [sys.executable, "-m", "tui.entry", "--no-ui", "--preset", "fast", "--seed", str(seed),
               "--data-dir", args.data_dir, "--run-dir", str(run_dir), *shlex.split(args.run_args), *extra_options]
    env = dict(os.environ, MNIST_TUI_OFFLINE="1", PYTHONPATH=str(common.ROOT))
    for name in ("MNIST_TUI_THREADS", "MNIST_TUI_SPEED", "OMP_NUM_THREADS"):  # the engine's own rules, unless asked
        env.pop(name, None)
    env.update(extra_env)
    load = one_minute_load()
    wall, cpu, _ = timed(command, env, common.ROOT, timeout=600)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    epochs = [r for r in records if r.get("type") == "epoch"]
    end = next(r for r in records if r.get("type") == "end")
    if end.get("status") != "finished" or not epochs:
        raise SystemExit(f"fast99.py: error: seed {seed}: the run ended {end.get('status')}: {end.get('reason')}")
    speed = json.loads((run_dir / "config.json").read_text()).get("speed", "")
    label = f"seed {seed}" + (f", {variant}" if variant else "")
    return Run(label, epochs[-1]["test_acc"], wall, cpu, end.get("time"), load, speed, run_dir)


def recheck_in_float32(runs: list[Run], data_dir: str) -> None:
    """Each run's final checkpoint evaluated again on the test set in plain float32 (after all the timed
    runs, in this process): a bf16 run's accuracy must not be an artefact of evaluating in bf16."""
    import torch

    from core import data as data_mod
    from core import runlog
    from core.config import RunConfig
    from core.engine import evaluate
    from core.models import build_model

    bundles: dict[tuple[str, str], data_mod.DataBundle] = {}
    for run in runs:
        state = runlog.load_checkpoint(run.run_dir / runlog.CHECKPOINT_FILE)
        config = RunConfig.from_dict(state["config"])
        key = (config.dataset, config.normalize)
        if key not in bundles:
            bundles[key] = data_mod.load(data_mod.locate(config.dataset, data_dir, allow_download=False),
                                         config.dataset, torch.device("cpu"), None, config.normalize)
        model = build_model(config)
        model.load_state_dict(state["model"])
        run.float32_accuracy = evaluate(model, bundles[key].test_x, bundles[key].test_y, config.eval_batch_size)[1]


def import_torch_floor(scratch: Path) -> tuple[float, float]:
    """Wall and CPU seconds of `python -c "import torch"` in a fresh process: what every run pays first."""
    env = dict(os.environ, PYTHONPATH=str(common.ROOT))
    wall, cpu, _ = timed([sys.executable, "-c", "import core, torch"], env, scratch, timeout=300)
    return wall, cpu


def peer_run(args: argparse.Namespace, scratch: Path, index: int) -> Run:
    """pytorch/examples mnist/main.py, unmodified, reading ../data = the local data set (no download)."""
    data = Path(args.data_dir).resolve()
    if not (data / "MNIST" / "raw").is_dir():
        raise SystemExit(f"fast99.py: error: {data}/MNIST/raw not found: the peer would try to download it")
    place = scratch / f"peer{index}"
    (place / "work").mkdir(parents=True)
    (place / "data").symlink_to(data, target_is_directory=True)
    command = [sys.executable, str(Path(args.peer).resolve()), "--epochs", str(args.peer_epochs)]
    load = one_minute_load()
    wall, cpu, out = timed(command, dict(os.environ), place / "work", timeout=args.peer_timeout)
    found = PEER_ACCURACY.findall(out)
    if not found:
        raise SystemExit("fast99.py: error: the peer printed no 'Accuracy: N/M' line")
    correct, total = map(int, found[-1])
    return Run(f"peer {index + 1}", correct / total, wall, cpu, None, load)


def torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_features() -> str:
    """The CPU's bf16 support as /proc/cpuinfo lists it: what decides whether bfloat16 pays here."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return "unknown"
    wanted = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx2")
    have = [f for f in wanted if f" {f}" in flags.split(":", 1)[1] + " "]
    return ", ".join(have) or "none of " + ", ".join(wanted)


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def spread(runs: list[Run], bold: str = "") -> list[str]:
    """Mean and min accuracy, median (range) wall, median CPU: one summary row's numbers."""
    accs, walls = [r.accuracy for r in runs], [r.wall for r in runs]
    return [f"{bold}{statistics.mean(accs):.2%}{bold}", f"{bold}{min(accs):.2%}{bold}",
            f"{bold}{statistics.median(walls):.2f}{bold} ({min(walls):.2f}-{max(walls):.2f})",
            f"{statistics.median(r.cpu for r in runs):.2f}"]


def report(runs: list[Run], others: dict[str, list[Run]], peers: list[Run], floors: list[tuple[float, float]],
           args: argparse.Namespace, loads: common.LoadLog, out: str) -> None:
    every_acc = all(r.accuracy >= TARGET_ACC for r in runs)
    every_wall = all(r.wall <= BUDGET_S for r in runs)
    table = common.markdown_table(
        ["run", "test acc", "same weights, float32 evaluation", "wall s (whole command)", "CPU s (user+sys)",
         "run's own clock s", "load before", "<= 12 s and >= 99.0%"],
        [[r.label, f"{r.accuracy:.2%}", "-" if r.float32_accuracy is None else f"{r.float32_accuracy:.2%}", f"{r.wall:.2f}", f"{r.cpu:.2f}", fmt(r.own_clock, 2), fmt(r.load),
          "yes" if r.wall <= BUDGET_S and r.accuracy >= TARGET_ACC else "NO"]
         for r in runs + [o for group in others.values() for o in group]], "lrrrrrrl")
    summary = common.markdown_table(
        ["command", "device", "seeds", "test acc mean", "test acc min", "wall s median (range)", "CPU s median",
         "epochs", "meets the bar"],
        [["`mnist-tui --no-ui --preset fast`", "CPU", str(len(runs)), *spread(runs, "**"), "1",
          "yes" if every_acc and every_wall else
          f"NO ({'accuracy' if not every_acc else ''}{' and ' if not (every_acc or every_wall) else ''}"
          f"{'time' if not every_wall else ''})"],
         *[[f"same with `{variant}` (interleaved)", "CPU", str(len(group)), *spread(group), "1", "-"]
           for variant, group in others.items()],
         ["floor: `python -c \"import core, torch\"` (interleaved)", "CPU", str(len(floors)), "-", "-",
          f"{statistics.median(w for w, _ in floors):.2f} ({min(w for w, _ in floors):.2f}-"
          f"{max(w for w, _ in floors):.2f})", f"{statistics.median(c for _, c in floors):.2f}", "-", "-"],
         *([[f"pytorch/examples `mnist/main.py --epochs {args.peer_epochs}`", "CPU", f"1 (seed 1; {len(peers)} run"
             f"{'s' if len(peers) != 1 else ''})", f"{statistics.mean(p.accuracy for p in peers):.2%}",
             f"{min(p.accuracy for p in peers):.2%}", f"{statistics.median(p.wall for p in peers):.2f}",
             f"{statistics.median(p.cpu for p in peers):.2f}", str(args.peer_epochs), "-"]] if peers else
           [["pytorch/examples `mnist/main.py`", "CPU", "not run (no --peer given)", "-", "-", "-", "-", "-", "-"]]),
         ["`mnist-tui --no-ui --preset fast --device cuda`", "GPU", "not measured: no GPU was lent to this task",
          "", "", "", "", "", ""]],
        "llrrrrrrl")
    speed = runs[0].speed if runs else ""
    facts = [
        f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"machine: {common.cpu_name()} ({os.cpu_count()} cores; {cpu_features()}); torch {torch_version()}, "
        f"Python {sys.version.split()[0]}",
        f"command: `{shlex.join(['python', 'benchmarks/fast99.py', *sys.argv[1:]])}`",
        f"load while measuring: {loads.summary()}, read just before each run: the 1-minute average includes "
        "this benchmark's own previous runs (about 1.0), the rest is other work on the machine",
        f"the fast preset's engine settings (config.json \"speed\"): {speed}",
        "wall = process start to exit, timed by this script around a fresh `python -m tui.entry --no-ui --preset "
        "fast --seed N` (the `mnist-tui` console script's function); CPU = the child's user + system seconds, all "
        "threads; the run's own clock starts in Trainer.run(), after Python's start and the torch import",
        f"bar: every seed >= {TARGET_ACC:.1%} on the 10,000 test images after <= 1 epoch, whole command <= "
        f"{BUDGET_S:g} s; no test-set augmentation, no test data in training",
    ]
    if peers:
        digest = hashlib.sha256(Path(args.peer).read_bytes()).hexdigest()[:12]
        facts.append(f"peer: pytorch/examples mnist/main.py, unmodified (sha256 {digest}...), `--epochs {args.peer_epochs}`, "
                     "its own defaults otherwise (batch 64, Adadelta lr 1.0, DataLoader + ToTensor), reading the same "
                     "files through torchvision; run once, since it takes minutes")
    if args.run_args:
        facts.append(f"extra run arguments (not the preset as shipped): `{args.run_args}`")
    rerun = ["## Rerun", "", "From the checkout (the peer as its docstring says; `--also` rows optional):", "",
             "    python benchmarks/fast99.py --data-dir ../shared/datasets --peer runs/pytorch-examples/mnist/main.py \\",
             "        --also MNIST_TUI_THREADS=2 --also 'MNIST_TUI_THREADS=1 --precision float32'"]
    from core.config import PRESETS

    body = ["## Summary", "", *summary, "", f"The fast preset: {PRESETS['fast'].description}.", "",
            "## Each run", "", *table]
    if peers:
        body += ["", "Peer runs:", "", *common.markdown_table(
            ["run", "test acc", "wall s", "CPU s", "load before"],
            [[p.label, f"{p.accuracy:.2%}", f"{p.wall:.1f}", f"{p.cpu:.1f}", fmt(p.load)] for p in peers], "lrrrr")]
    body += ["", *rerun]
    common.publish(out, "99% MNIST, cold, whole command (cpu)", facts, body, shown=summary + [""] + table)


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"invalid --seeds {text!r}: use comma-separated whole numbers") from None
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"invalid --seeds {text!r}: use comma-separated whole numbers >= 0")
    return seeds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(common.DEFAULT_DATA_DIR))
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--peer", default=None, metavar="MAIN_PY", help="a copy of pytorch/examples' mnist/main.py")
    parser.add_argument("--peer-epochs", type=int, default=1)
    parser.add_argument("--peer-runs", type=int, default=1)
    parser.add_argument("--peer-timeout", type=float, default=1800.0, help="seconds before a peer run is abandoned")
    parser.add_argument("--also", action="append", default=[], metavar="VARIANT",
                        help="also run each seed with these environment assignments and/or options, interleaved, "
                             "e.g. --also MNIST_TUI_THREADS=2 --also 'MNIST_TUI_THREADS=1 --precision float32' (repeatable)")
    parser.add_argument("--run-args", default="", help="extra mnist-tui arguments (smoke tests; recorded)")
    parser.add_argument("--out", default=str(common.RESULTS_DIR / "fast99-cpu.md"), help="'-' for stdout only")
    args = parser.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        parser.error(str(exc))
    if args.peer is not None and not Path(args.peer).is_file():
        parser.error(f"--peer {args.peer}: no such file")
    if args.peer_epochs < 1 or args.peer_runs < 1:
        parser.error("--peer-epochs and --peer-runs must be >= 1")
    if any(not variant.strip() for variant in args.also):
        parser.error("--also needs environment assignments or options")
    loads = common.LoadLog()
    runs: list[Run] = []
    others: dict[str, list[Run]] = {variant: [] for variant in args.also}
    floors: list[tuple[float, float]] = []
    peers: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="fast99-") as tmp:
        for seed in seeds:
            loads.read()
            run = fast_run(seed, args, Path(tmp))
            runs.append(run)
            floors.append(import_torch_floor(Path(tmp)))
            print(f"fast {run.label}: {run.accuracy:.2%} in {run.wall:.2f} s wall, {run.cpu:.2f} s CPU "
                  f"(load {fmt(run.load)})", flush=True)
            for variant in args.also:
                loads.read()
                other = fast_run(seed, args, Path(tmp), variant)
                others[variant].append(other)
                print(f"fast {other.label}: {other.accuracy:.2%} in {other.wall:.2f} s wall, {other.cpu:.2f} s CPU "
                      f"(load {fmt(other.load)})", flush=True)
        recheck_in_float32(runs, args.data_dir)
        if args.peer:
            for index in range(args.peer_runs):
                loads.read()
                peer = peer_run(args, Path(tmp), index)
                peers.append(peer)
                print(f"peer {index + 1}: {peer.accuracy:.2%} in {peer.wall:.1f} s wall, {peer.cpu:.1f} s CPU", flush=True)
    loads.read()
    report(runs, others, peers, floors, args, loads, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
