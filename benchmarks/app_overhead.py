"""What does watching cost? Training samples/s of the same preset headless and inside the app.

Both modes run in this one process on the same preloaded data (so data loading is not
measured), interleaved (headless, app, app, headless, ...) so drift in machine load hits both,
and each mode's figure is the median over repeats of the per-epoch training samples/s that
the engine itself reports (EpochEvent.samples_per_s: training steps only, evaluation excluded).

- headless: Trainer.run() with its JSONL run log (no printer), in a worker thread exactly like the
  app's Textual thread worker, so the only difference between the two is the app itself;
- headless-main: the same on the main thread, as `--no-ui` runs it. Reported separately: on a
  CPU-oversubscribed machine torch's OpenMP team on the main thread can be many times slower
  than on another thread (busy-wait barriers), which is not a cost of the app;
- app: MnistApp under `run_test()` (Textual's headless driver: layout and rendering still run,
  only the terminal writes are skipped) at 180x50, the layout that draws every panel at once;
  the run is started with the `s` key and the app receives the engine's events as it would live.

Usage:
  .venv/bin/python benchmarks/app_overhead.py --data-dir /work/shared/datasets
  .venv/bin/python benchmarks/app_overhead.py --presets linear-sgd --epochs 1 --repeats 5 --out -
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

APP_SIZE = (180, 50)


def epoch_rates(run_dir: Path) -> list[float]:
    return [r["samples_per_s"] for r in iter_records(run_dir / METRICS_FILE) if r["type"] == "epoch"]


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
    return {"rates": epoch_rates(run_dir), "wall": time.perf_counter() - start, "batches_per_s": None}


def run_headless_main(config, bundle, run_dir: Path) -> dict:
    return run_headless(config, bundle, run_dir, thread=False)


async def _run_app(config, bundle, run_dir: Path) -> dict:
    app = MnistApp(config, run_dir=run_dir, data=bundle, cursor_blink=False)
    async with app.run_test(size=APP_SIZE) as pilot:
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
    return {"rates": rates, "wall": wall, "batches_per_s": batches / max(train_s, 1e-9)}


def run_app(config, bundle, run_dir: Path) -> dict:
    return asyncio.run(_run_app(config, bundle, run_dir))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/work/shared/datasets")
    parser.add_argument("--presets", default="linear-sgd,mlp-sigmoid")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=None, help="first N training images (default: all)")
    parser.add_argument("--main-thread", action="store_true",
                        help="also time headless on the main thread (as --no-ui runs it)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/app_overhead.md"), help="'-' for stdout only")
    args = parser.parse_args()

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
                      + f" samples/s, {run['wall']:.1f}s", file=sys.stderr, flush=True)
        median = {mode: statistics.median(r for run in runs for r in run["rates"]) for mode, runs in results.items()}
        overhead = 1 - median["app"] / median["headless"]
        batches = statistics.median(run["batches_per_s"] for run in results["app"])
        main_figure = f"{median['headless-main']:,.0f}" if "headless-main" in median else "-"
        rows.append(f"| {name} | {bundle.train_size:,} | {args.epochs} | {median['headless']:,.0f} | {median['app']:,.0f} "
                    f"| {overhead:+.1%} | {batches:.1f} | {main_figure} |")
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
        "per-epoch training samples/s (evaluation excluded); the app at 180x50 with every panel drawn",
        "",
        "| preset | train images | epochs | headless samples/s | app samples/s | app cost | app step batches/s "
        "| headless on the main thread |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
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
