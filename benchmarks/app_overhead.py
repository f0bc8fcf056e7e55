"""What does watching cost? Training samples/s of the same preset headless and inside the app.

Both modes run in this one process on the same preloaded data (so data loading is not
measured), interleaved (headless, app, app, headless, ...) so drift in machine load hits both,
and each mode's figure is the median over repeats of the per-epoch training samples/s that
the engine itself reports (EpochEvent.samples_per_s: training steps only, evaluation excluded).
A second figure, the median over all log intervals (~50 an epoch) of the step records'
samples/s, shows the steady state: it is robust to bursts of load from other processes, and it
separates the app's moments of work (a chart redraw, the end-of-epoch panels) from a constant tax.

- headless: Trainer.run() with its JSONL run log (no printer), in a worker thread exactly like the
  app's Textual thread worker, so the only difference between the two is the app itself;
- headless-main: the same on the main thread, as `--no-ui` runs it. Reported separately: on a
  CPU-oversubscribed machine torch's OpenMP team on the main thread can be many times slower
  than on another thread (busy-wait barriers), which is not a cost of the app;
- app: MnistApp under `run_test()` (Textual's headless driver: layout and rendering still run,
  only the terminal writes are skipped) at --size (default 180x50, the layout that draws every
  panel at once; 100x30 shows one view at a time);
  the run is started with the `s` key and the app receives the engine's events as it would live.

Usage:
  .venv/bin/python benchmarks/app_overhead.py --data-dir /work/shared/datasets
  .venv/bin/python benchmarks/app_overhead.py --presets linear-sgd --epochs 3 --size 100x30 --out -
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core import data as data_mod  # noqa: E402
from core.config import preset_config  # noqa: E402
from core.engine import Trainer, resolve_device  # noqa: E402
from core.runlog import METRICS_FILE, iter_records  # noqa: E402
from tui.app import MnistApp  # noqa: E402



def epoch_rates(run_dir: Path) -> list[float]:
    return [r["samples_per_s"] for r in iter_records(run_dir / METRICS_FILE) if r["type"] == "epoch"]


def interval_rate(run_dir: Path) -> float:
    """Median samples/s over the run's log intervals (~50 an epoch): the steady state, robust to
    a burst of load from elsewhere on a shared machine."""
    return statistics.median(r["samples_per_s"] for r in iter_records(run_dir / METRICS_FILE) if r["type"] == "step")


def run_headless(config, bundle, run_dir: Path, thread: bool = True) -> dict:
    ends = []
    start = time.perf_counter()
    if thread:
        worker = threading.Thread(target=lambda: ends.append(Trainer(config, run_dir, [], data=bundle).run()))
        worker.start()
        worker.join()
    else:
        ends.append(Trainer(config, run_dir, [], data=bundle).run())
    assert ends[0].status == "finished", ends[0].reason
    return {"rates": epoch_rates(run_dir), "steady": interval_rate(run_dir), "wall": time.perf_counter() - start,
            "batches_per_s": None}


def run_headless_main(config, bundle, run_dir: Path) -> dict:
    return run_headless(config, bundle, run_dir, thread=False)


APP_SIZE = [180, 50]


async def _run_app(config, bundle, run_dir: Path) -> dict:
    app = MnistApp(config, run_dir=run_dir, data=bundle, cursor_blink=False)
    async with app.run_test(size=tuple(APP_SIZE)) as pilot:
        start = time.perf_counter()
        await pilot.press("s")
        while app.control is not None or app.last_run is None:
            await asyncio.sleep(0.1)  # not pilot.pause(): that pokes every widget and would cost more than the app
        wall = time.perf_counter() - start
        assert app.run_status == "finished", app.run_log.plain_lines[-1:]
        batches = app.step_batches
        await pilot.press("q")
    rates = epoch_rates(run_dir)
    train_s = sum(r["seconds"] for r in iter_records(run_dir / METRICS_FILE) if r["type"] == "epoch")
    return {"rates": rates, "steady": interval_rate(run_dir), "wall": wall, "batches_per_s": batches / max(train_s, 1e-9)}


def run_app(config, bundle, run_dir: Path) -> dict:
    return asyncio.run(_run_app(config, bundle, run_dir))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/work/shared/datasets")
    parser.add_argument("--presets", default="linear-sgd,mlp-sigmoid")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=None, help="first N training images (default: all)")
    parser.add_argument("--size", default="180x50", help="app terminal size, e.g. 100x30 (default 180x50: every panel)")
    parser.add_argument("--main-thread", action="store_true",
                        help="also time headless on the main thread (as --no-ui runs it)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/app_overhead.md"), help="'-' for stdout only")
    args = parser.parse_args()
    APP_SIZE[:] = [int(v) for v in args.size.lower().split("x")]

    device = resolve_device("cpu")
    rows, details = [], []
    for name in args.presets.split(","):
        config = preset_config(name).with_overrides(epochs=args.epochs, train_size=args.train_size, device="cpu")
        location = data_mod.locate(config.dataset, args.data_dir)
        bundle = data_mod.load(location, config.dataset, device, config.train_size, config.normalize)
        modes = {"headless": run_headless, "app": run_app}
        if args.main_thread:
            modes["headless-main"] = run_headless_main
        results: dict[str, list[dict]] = {mode: [] for mode in modes}
        with tempfile.TemporaryDirectory() as tmp:  # warm-up, not counted: first-call allocations and imports
            run_app(config.with_overrides(epochs=1), bundle, Path(tmp) / "run")
        for rep in range(args.repeats):
            order = list(modes) if rep % 2 == 0 else list(reversed(modes))
            for mode in order:
                with tempfile.TemporaryDirectory() as tmp:
                    run = modes[mode](config, bundle, Path(tmp) / "run")
                results[mode].append(run)
                print(f"{name} rep {rep + 1} {mode:8s}: " + ", ".join(f"{r:,.0f}" for r in run["rates"])
                      + f" samples/s, steady {run['steady']:,.0f}, {run['wall']:.1f}s", file=sys.stderr, flush=True)
        median = {mode: statistics.median(r for run in runs for r in run["rates"]) for mode, runs in results.items()}
        overhead = 1 - median["app"] / median["headless"]
        steady = {mode: statistics.median(run["steady"] for run in runs) for mode, runs in results.items()}
        steady_cost = 1 - steady["app"] / steady["headless"]
        batches = statistics.median(run["batches_per_s"] for run in results["app"])
        main_figure = f"{median['headless-main']:,.0f}" if "headless-main" in median else "-"
        rows.append(f"| {name} | {bundle.train_size:,} | {args.epochs} | {median['headless']:,.0f} | {median['app']:,.0f} "
                    f"| {overhead:+.1%} | {steady['headless']:,.0f} | {steady['app']:,.0f} | {steady_cost:+.1%} "
                    f"| {batches:.1f} | {main_figure} |")
        for mode, runs in results.items():
            details.append(f"| {name} | {mode} | " + " · ".join(", ".join(f"{r:,.0f}" for r in run["rates"]) for run in runs)
                           + " |")

    report = "\n".join([
        "# App overhead: training samples/s headless vs. inside the app",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: {platform.machine()}, {platform.processor() or 'cpu'}, {torch.get_num_threads()} torch threads, "
        f"{platform.system()} {platform.release()}",
        f"- python {platform.python_version()}, torch {torch.__version__}, device cpu",
        f"- command: `.venv/bin/python benchmarks/app_overhead.py {' '.join(sys.argv[1:])}`",
        f"- each figure: median of {args.repeats} interleaved repeats x {args.epochs} epoch(s) of the engine's own "
        "per-epoch training samples/s (evaluation excluded); '(intervals)': median of the per-log-interval "
        "samples/s (~50 an epoch), the steady state; the app at "
        f"{APP_SIZE[0]}x{APP_SIZE[1]}" + (" (every panel drawn)" if APP_SIZE[0] >= 160 and APP_SIZE[1] >= 45 else ""),
        "",
        "| preset | train images | epochs | headless samples/s (epochs) | app samples/s (epochs) | app cost "
        "| headless samples/s (intervals) | app samples/s (intervals) | app cost (intervals) | app step batches/s "
        "| headless on the main thread (epochs) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Per-run figures (samples/s per epoch, runs in the order they ran):",
        "",
        "| preset | mode | runs |",
        "|---|---|---|",
        *details,
        "",
    ])
    print(report)
    if args.out != "-":
        Path(args.out).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
