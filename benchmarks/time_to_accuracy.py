"""Wall-clock time and epochs for each preset to reach its target test accuracy on the full data.

Each row trains a preset with the engine (full training set, evaluation on the full 10,000-image
test set after every epoch) and stops as soon as an epoch's test accuracy reaches the target.
The clock starts before Trainer.run(), so it includes reading the data, building the model,
every evaluation and every checkpoint: what a user waits for (not Python's start-up and the
torch import, about 2 s here). Each row is repeated and the median reported; the accuracy of
every repeat is shown, so "reproducible from its seed" is checked, not assumed.

Rows are presets, optionally with their own target: `cnn-adam@0.99` asks how long the cnn-adam
tutorial's settings take to reach 99%, the bar of the "fast" preset.

    python benchmarks/time_to_accuracy.py [--data-dir DIR] [--device cpu|cuda] [--repeats 3]
                                          [--presets linear-sgd,...,cnn-adam@0.99,fast] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (puts the repository root on sys.path)

from core.config import PRESETS  # noqa: E402
from core.events import EpochEvent  # noqa: E402

if TYPE_CHECKING:
    import torch


def import_heavy() -> None:
    """torch and the engine load after the arguments are checked: a bad option answers at once."""
    global Trainer, resolve_device, torch
    import torch
    from core.engine import Trainer, resolve_device

TUTORIAL_PRESETS = [name for name in PRESETS if name != "fast"]
DEFAULT_ROWS = TUTORIAL_PRESETS + ["cnn-adam@0.99", "fast"]
FAST_BUDGET_S = 60.0  # the bar for the fast preset on the 2-core CPU


@dataclass
class Attempt:
    reached_epoch: int | None
    seconds: float | None  # wall seconds until the epoch that reached the target had been evaluated
    train_seconds: float  # the engine's training time (no evaluation) up to that epoch
    accuracy: float  # test accuracy at that epoch (or the last epoch when never reached)
    epochs_run: int
    load: float | None
    speed: str  # threads and memory layout the engine chose (core/perf.py)


@dataclass
class Row:
    name: str
    target: float
    attempts: list[Attempt] = field(default_factory=list)


def parse_rows(text: str) -> list[tuple[str, float]]:
    rows = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        name, _, target = item.partition("@")
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}: choose from {', '.join(PRESETS)}")
        try:
            value = float(target) if target else PRESETS[name].expected_test_acc
        except ValueError:
            raise ValueError(f"invalid target {target!r} in {item!r}") from None
        rows.append((name, value))
    return rows


def attempt(name: str, target: float, args, root: Path) -> Attempt:
    config = PRESETS[name].config.with_overrides(device=args.device, epochs=args.epochs)
    epochs: list[tuple[EpochEvent, float]] = []
    trainer: Trainer | None = None

    def sink(event) -> None:
        if isinstance(event, EpochEvent):
            epochs.append((event, time.perf_counter() - start))
            if event.test_acc >= target:
                trainer.stop("stopped", f"reached {target:.2%}")

    run_dir = Path(tempfile.mkdtemp(dir=root)) / name
    trainer = Trainer(config, run_dir, [sink], data_dir=args.data_dir)
    start = time.perf_counter()
    end = trainer.run()
    if end.status not in ("finished", "stopped") or not epochs:
        raise SystemExit(f"{name}: run {end.status}: {end.reason}")
    hit = next((i for i, (e, _) in enumerate(epochs) if e.test_acc >= target), None)
    last = epochs[hit if hit is not None else -1]
    load = common.load_average()
    return Attempt(reached_epoch=last[0].epoch if hit is not None else None,
                   seconds=last[1] if hit is not None else None,
                   train_seconds=sum(e.seconds for e, _ in epochs[:(hit if hit is not None else len(epochs) - 1) + 1]),
                   accuracy=last[0].test_acc, epochs_run=len(epochs), load=load[0] if load else None,
                   speed=trainer.perf.describe())


def cell_seconds(values: list[float | None]) -> str:
    done = [v for v in values if v is not None]
    if not done:
        return "not reached"
    text = f"**{common.median(done):.1f}**"
    if len(done) > 1:
        text += f" ({min(done):.1f}-{max(done):.1f})"
    return text + ("" if len(done) == len(values) else f", {len(values) - len(done)} not reached")


def report(rows: list[Row], args, device: torch.device, load: common.LoadLog, out: Path) -> None:
    table = []
    for row in rows:
        a = row.attempts
        accs = sorted({f"{x.accuracy:.4f}" for x in a})
        reached = [x.reached_epoch for x in a if x.reached_epoch is not None]
        epochs = (str(reached[0]) if len(set(reached)) == 1 else "/".join(map(str, reached))) if reached else \
            f"> {a[0].epochs_run}"
        verdict = ""
        if row.name == "fast" and device.type == "cpu":
            done = [x.seconds for x in a if x.seconds is not None]
            if done:
                med = common.median(done)
                verdict = f"{'yes' if med < FAST_BUDGET_S else 'NO'}: {FAST_BUDGET_S - med:+.1f} s to spare"
        table.append([
            row.name, PRESETS[row.name].config.dataset, a[0].speed, f"{row.target:.3f}", epochs, cell_seconds([x.seconds for x in a]),
            f"{common.median([x.train_seconds for x in a]):.1f}", ", ".join(accs),
            "yes" if len(accs) == 1 else "no", verdict or "-"])
    lines = common.markdown_table(
        ["preset", "data", "threads, layout", "target test acc", "epochs to target", "wall s to target, median (range)",
         "train s (median)", "test acc at that epoch (every repeat)", "same in every repeat", "< 60 s?"],
        table, "lllrrrrrll")
    facts = common.standard_facts(device, common.command_line("time_to_accuracy.py")) + [
        f"load while measuring: {load.summary()}",
        f"{args.repeats} repeat(s) per row; wall seconds run from Trainer.run() (data loading, setup, every "
        "evaluation and checkpoint included; Python start-up and the torch import, ~2 s, not) to the end of the "
        "evaluation of the first epoch at the target; train seconds exclude evaluation",
        "each run stops at the first epoch whose full-test-set accuracy reaches the target; the preset's own "
        "epoch count is the limit",
    ]
    settings = [f"- {name}: {PRESETS[name].description}" for name in dict.fromkeys(r.name for r in rows)]
    common.write_results(out, f"Time to accuracy ({device.type})", facts, lines + ["", "Settings:", ""] + settings)
    print("\n".join(lines))
    print(f"wrote {out}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(common.DEFAULT_DATA_DIR))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps", "auto"))
    parser.add_argument("--presets", default=",".join(DEFAULT_ROWS),
                        help="comma-separated rows: NAME or NAME@TARGET (default: the tutorials, cnn-adam@0.99, fast)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="cap every preset's epochs (smoke tests)")
    parser.add_argument("--out", default=None, help="results file (default benchmarks/results/time-to-accuracy-DEVICE.md)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or (args.epochs is not None and args.epochs < 1):
        parser.error("--repeats and --epochs must be >= 1")
    try:
        rows = [Row(name, target) for name, target in parse_rows(args.presets)]
    except ValueError as exc:
        parser.error(str(exc))
    import_heavy()
    device = resolve_device(args.device)
    out = Path(args.out) if args.out else common.RESULTS_DIR / f"time-to-accuracy-{device.type}.md"
    load = common.LoadLog()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):  # repeats interleaved, so a burst of load hits one repeat of each row
            for row in rows:
                load.read()
                a = attempt(row.name, row.target, args, Path(tmp))
                row.attempts.append(a)
                where = f"epoch {a.reached_epoch} after {a.seconds:.1f}s" if a.seconds is not None else \
                    f"not reached in {a.epochs_run} epochs"
                print(f"{row.name} -> {row.target:.3f} (repeat {r + 1}/{args.repeats}): {where}, "
                      f"test acc {a.accuracy:.4f}, load {a.load or 0:.1f}", flush=True)
    load.read()
    report(rows, args, device, load, out)


if __name__ == "__main__":
    main()
