"""What does watching cost? Training samples/s of the same preset headless and inside the app.

One process, one preloaded copy of the data (loading is not measured), one app opened once under
`run_test()` (Textual's headless driver: layout and rendering run, only the terminal writes are
skipped). Each round trains the preset twice, back to back, in alternating order:

- headless: the engine's training process (core/engine_process.py) driven from a plain thread,
  while the open app sits idle (an idle app costs nothing: it waits in epoll);
- app: the same config started from the app (its `s` action), so the run goes through the app's
  Textual thread worker, the same training process, the event bridge and every live panel.

Both runs train in the same kind of child process with the same data, so the only difference is
the app watching: its UI thread drawing on the machine's other core(s). Each round's figure is
the ratio of the two runs' training samples/s (the engine's own per-epoch figures: training
steps only, evaluation excluded); the cost is one minus the median of the rounds' ratios. This
machine's speed drifts by 30% over seconds to tens of seconds (shared VM), far more than the
cost being measured, so only runs adjacent in time are compared, never medians of each side,
and runs are kept short (a few seconds) so that a pair sees the same machine. Even so a single
round can be off by 20-30%, so the table gives the median's interval (order statistics, about
95% for 15 rounds) beside it: the verdict is only as good as that interval is narrow.

The headline figure leaves out each run's first epoch: starting a run restyles the app once
(the form locks, the footer swaps its keys: a few hundred ms of the UI thread). In real use
that overlaps the engine reading the data set; here the data is preloaded, so it would land on
the first epoch's training, a one-off that says nothing about the rate. The whole-run figure,
first epoch included, is reported beside it.

The UI thread's own CPU time during the app runs is recorded too: it is what the app takes from
the machine. Training no longer shares a GIL with it (that was the app's whole cost when the
Trainer ran in a thread of the app: 7-16%); it costs training only when training wants every
core, as a conv model does with one torch thread per core on a 2-core machine.

Usage:
  .venv/bin/python benchmarks/app_overhead.py --data-dir ../shared/datasets
  .venv/bin/python benchmarks/app_overhead.py --presets linear-sgd --rounds 5 --size 80x24 --out -
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (puts the repository root on sys.path)

from core.config import PRESETS, RunConfig, preset_config  # noqa: E402
from core.runlog import METRICS_FILE, iter_records  # noqa: E402

if TYPE_CHECKING:
    from tui.app import MnistApp


def import_heavy() -> None:
    """torch, the engine and the app load after the arguments are checked: a bad option answers at once."""
    global EngineProcess, MnistApp, resolve_device
    from core.engine import resolve_device
    from core.engine_process import EngineProcess
    from tui.app import MnistApp

# epochs per run: long enough that a run is a few seconds of training on a 2-core CPU
DEFAULT_EPOCHS = {"linear-sgd": 8, "fashion-mlp": 3, "mlp-sigmoid": 4, "mlp-bn-adam": 2, "cnn-adam": 3, "fast": 2}
# the slow models train on the first N images, so that a run (and so a round) stays a few seconds;
# cnn-adam keeps epochs of several seconds, so that the per-epoch panels (drawn as the next epoch
# trains) weigh on training about as they do in a real run, not every second
DEFAULT_TRAIN_SIZE = {"mlp-sigmoid": 15_000, "cnn-adam": 10_000, "fast": 6_000}
# evaluation is not measured; fewer test images only shorten the rounds (the panels are the same)
DEFAULT_TEST_SIZE = 2_000
POLL_S = 0.05


@dataclass
class Run:
    samples_per_s: float  # training images over training seconds, every epoch after the first
    whole_run: float  # the same over all epochs, the first included
    ui_cpu_share: float | None = None  # UI thread CPU seconds / wall seconds (app runs only)


def median_rank(n: int, tail: float = 0.025) -> tuple[int, float]:
    """(j, coverage) for a distribution-free interval of the median of n values: the order
    statistics x(j)..x(n+1-j), with j as large as leaves at most `tail` on each side under
    Binomial(n, 1/2): 96% for 15 rounds, 96% for 9, only min..max (and less) below 6. Rounds on
    this machine are far from normal (a round can lose a third to a neighbour), so no t-interval."""

    def at_most(k: int) -> float:  # P(Binomial(n, 1/2) <= k)
        return sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n

    j = 1
    while j < (n + 1) // 2 and at_most(j) <= tail:
        j += 1
    return j, 1 - 2 * at_most(j - 1)


def median_interval(values: list[float]) -> tuple[float, float]:
    xs, (j, _) = sorted(values), median_rank(len(values))
    return xs[j - 1], xs[len(xs) - j]


def training_rates(run_dir: Path) -> tuple[float, float]:
    """(epochs after the first, all epochs): training images over training seconds."""
    epochs = [r for r in iter_records(run_dir / METRICS_FILE) if r["type"] == "epoch"]

    def rate(records: list[dict]) -> float:
        return sum(r["samples_per_s"] * r["seconds"] for r in records) / sum(r["seconds"] for r in records)

    return rate(epochs[1:] or epochs), rate(epochs)


async def run_headless(config: RunConfig, bundle, run_dir: Path) -> Run:
    ends = []
    worker = threading.Thread(target=lambda: ends.append(EngineProcess(config, run_dir, [], data=bundle).run()))
    worker.start()
    while worker.is_alive():
        await asyncio.sleep(POLL_S)  # the app's loop stays idle, as it would behind a headless run
    assert ends and ends[0].status == "finished", ends
    return Run(*training_rates(run_dir))


async def run_in_app(app: MnistApp, run_dir: Path) -> Run:
    app.cli_run_dir, app._cli_run_dir_used = run_dir, False  # this run's directory, as --run-dir would
    start, cpu = time.perf_counter(), time.thread_time()
    app.action_start()
    while app.lifecycle.active or app.run_spec is None or app.run_spec.run_dir != run_dir:
        await asyncio.sleep(POLL_S)  # not pilot.pause(): that pokes every widget, the app would not
    share = (time.thread_time() - cpu) / (time.perf_counter() - start)
    assert app.run_status == "finished", app.run_log.plain_lines[-1:]
    return Run(*training_rates(run_dir), share)


async def measure(config: RunConfig, bundle, rounds: int, size: tuple[int, int], tmp: Path) -> list[tuple[Run, Run]]:
    app = MnistApp(config, data=bundle, cursor_blink=False)
    pairs = []
    async with app.run_test(size=size):
        while not app.torch_version:
            await asyncio.sleep(POLL_S)
        await run_in_app(app, tmp / "warm-up-app")  # first-call costs, not counted
        await run_headless(config, bundle, tmp / "warm-up-headless")
        for r in range(rounds):
            if r % 2 == 0:
                headless = await run_headless(config, bundle, tmp / f"{r}-headless")
                in_app = await run_in_app(app, tmp / f"{r}-app")
            else:
                in_app = await run_in_app(app, tmp / f"{r}-app")
                headless = await run_headless(config, bundle, tmp / f"{r}-headless")
            pairs.append((headless, in_app))
            print(f"  round {r + 1}/{rounds}: headless {headless.samples_per_s:,.0f}/s  app {in_app.samples_per_s:,.0f}/s"
                  f"  ratio {in_app.samples_per_s / headless.samples_per_s:.3f}  UI thread {in_app.ui_cpu_share:.1%}",
                  file=sys.stderr, flush=True)
    return pairs


def terminal_sizes(text: str) -> list[tuple[int, int]]:
    """'100x30,180x50' -> [(100, 30), (180, 50)]; argparse turns a ValueError into a usage error."""
    sizes = []
    for item in text.lower().split(","):
        width, _, height = item.partition("x")
        if not (width.isdigit() and height.isdigit() and int(width) >= 40 and int(height) >= 12):
            raise argparse.ArgumentTypeError(f"invalid size {item!r}: expected WIDTHxHEIGHT, at least 40x12")
        sizes.append((int(width), int(height)))
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(common.DEFAULT_DATA_DIR))
    parser.add_argument("--presets", default="linear-sgd,mlp-sigmoid,fashion-mlp,cnn-adam")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: a few seconds' worth per preset)")
    parser.add_argument("--rounds", type=int, default=15, help="headless/app pairs per preset and size")
    parser.add_argument("--train-size", type=int, default=None, help="first N training images (default: all, or a per-preset size for the slow models)")
    parser.add_argument("--test-size", type=int, default=DEFAULT_TEST_SIZE, help="first N test images (evaluation is not measured)")
    parser.add_argument("--size", type=terminal_sizes, default="100x30,180x50",
                        help="app terminal sizes, e.g. 80x24 (one view at a time) or 180x50 (every panel)")
    parser.add_argument("--out", default=str(common.RESULTS_DIR / "app_overhead.md"), help="'-' for stdout only")
    args = parser.parse_args(argv)
    sizes = args.size
    if args.rounds < 1 or args.test_size < 1 or (args.epochs is not None and args.epochs < 1):
        parser.error("--rounds, --epochs and --test-size must be at least 1")
    unknown = [name for name in args.presets.split(",") if name not in PRESETS]
    if unknown:
        parser.error(f"unknown preset {unknown[0]!r} (choose from {', '.join(PRESETS)})")

    import_heavy()
    device = resolve_device("cpu")
    load = common.LoadLog()
    rows, details = [], []
    for name in args.presets.split(","):
        epochs = args.epochs or DEFAULT_EPOCHS.get(name, 1)
        config = preset_config(name).with_overrides(epochs=epochs, device="cpu")
        bundle = common.load_bundle(config.dataset, args.data_dir, device, config.normalize)
        train_size = args.train_size or DEFAULT_TRAIN_SIZE.get(name) or bundle.train_size
        bundle = common.subset(bundle, train_size, args.test_size)
        for size in sizes:
            print(f"{name} at {size[0]}x{size[1]}:", file=sys.stderr, flush=True)
            load.read()
            with tempfile.TemporaryDirectory() as tmp:
                pairs = asyncio.run(measure(config, bundle, args.rounds, size, Path(tmp)))
            load.read()
            ratios = [a.samples_per_s / h.samples_per_s for h, a in pairs]
            cost = 1 - statistics.median(ratios)
            low_ratio, high_ratio = median_interval(ratios)
            whole_cost = 1 - statistics.median(a.whole_run / h.whole_run for h, a in pairs)
            headless = statistics.median(h.samples_per_s for h, _ in pairs)
            in_app = statistics.median(a.samples_per_s for _, a in pairs)
            ui = statistics.median(a.ui_cpu_share for _, a in pairs)
            verdict = "yes" if cost <= 0.05 else "NO"
            rows.append(f"| {name} | {size[0]}x{size[1]} | {bundle.train_size:,} x {epochs} | {headless:,.0f} | {in_app:,.0f} "
                        f"| **{cost:+.1%}** (≤ 5% {verdict}) | {1 - high_ratio:+.1%} to {1 - low_ratio:+.1%} "
                        f"| {min(ratios):.3f}-{max(ratios):.3f} | {whole_cost:+.1%} | {ui:.1%} |")
            details.append(f"| {name} | {size[0]}x{size[1]} | "
                           + " · ".join(f"{h.samples_per_s:,.0f} / {a.samples_per_s:,.0f}" for h, a in pairs) + " |")

    facts = common.standard_facts(device, common.command_line("app_overhead.py")) + [
        f"load while measuring: {load.summary()}",
        f"{args.rounds} rounds per row; a round trains the preset headless and in the app back to back (order "
        "alternating), in one process with one app open under Textual's headless driver; app cost = 1 - median of "
        "the rounds' app/headless ratios of training samples/s (evaluation excluded) over every epoch but the "
        "first (the one-off restyle at the start of a run; see the script's docstring); 'whole run' counts it too; "
        f"evaluation (not measured) on the first {args.test_size:,} test images; interval of the median: "
        f"order statistics of the rounds' ratios, no assumption about their distribution "
        f"({median_rank(args.rounds)[1]:.0%} coverage for {args.rounds} rounds)",
        "both runs of a round train in the engine's training process (core/engine_process.py); UI thread busy: CPU "
        "seconds of the app's UI thread over the wall clock of an app run (median): what the app takes from the "
        "machine, which costs training only where training wants every core",
    ]
    body = ["| preset | app size | images x epochs a run | headless samples/s (median) | app samples/s (median) "
            "| app cost | interval of the median (≈95%) | app/headless, range of rounds | app cost, whole run "
            "| UI thread busy |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|", *rows, "",
            "Per round, headless / app samples/s, in the order they ran:", "",
            "| preset | size | rounds |", "|---|---|---|", *details]
    title = "App overhead: training samples/s headless vs. inside the app"
    common.publish(args.out, title, facts, body, shown=["", title, *rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
