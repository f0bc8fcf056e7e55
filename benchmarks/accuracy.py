"""Train every preset on the full data and record its test accuracy against the tutorial's.

This is the proof behind "each preset reproduces its tutorial, measured properly": accuracy on
the real test set (the fashion tutorial measured on its training set), with the time it took.
Results go to benchmarks/results/accuracy-<device>.md with the machine, versions and date.

    python benchmarks/accuracy.py --data-dir ../shared/datasets [--device cuda] [--presets a,b]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402,F401  (puts the repository root on sys.path)

from core.config import PRESETS  # noqa: E402
from core.events import EpochEvent  # noqa: E402

if TYPE_CHECKING:
    import torch


def import_heavy() -> None:
    """torch and the engine load after the arguments are parsed: --help or a bad option answers at once."""
    global Trainer, resolve_device, torch
    import torch
    from core.engine import Trainer, resolve_device



def run_preset(name: str, data_dir: str, device: str, epochs: int | None, root: Path) -> dict:
    config = PRESETS[name].config.with_overrides(device=device, epochs=epochs)
    epochs_seen: list[EpochEvent] = []
    sink = lambda e: epochs_seen.append(e) if isinstance(e, EpochEvent) else None  # noqa: E731
    start = time.perf_counter()
    end = Trainer(config, root / name, [sink], data_dir=data_dir).run()
    wall = time.perf_counter() - start
    if end.status != "finished":
        raise SystemExit(f"{name}: run {end.status}: {end.reason}")
    final = epochs_seen[-1]
    target = PRESETS[name].expected_test_acc
    reached = next((e.epoch for e in epochs_seen if e.test_acc >= target), None)
    line = (f"{name}: test acc {final.test_acc:.4f} (best {max(e.test_acc for e in epochs_seen):.4f}, "
            f"target {target}) in {wall:.0f}s")
    print(line, flush=True)
    return {"name": name, "epochs": final.epoch, "final": final.test_acc, "best": max(e.test_acc for e in epochs_seen),
            "train_acc": final.train_acc, "target": target, "reached": reached,
            "train_seconds": sum(e.seconds for e in epochs_seen), "wall": wall, "dataset": config.dataset}


def write_table(rows: list[dict], device: torch.device, out: Path, command: str) -> None:
    lines = [
        f"# Preset accuracy on the full test sets ({device.type})",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: {common.machine_line(device)}",
        f"- command: `{command}`",
        "- accuracy is on the 10,000-image test set after the last epoch (best epoch in brackets);",
        "  train seconds exclude evaluation, wall seconds include data loading and every evaluation.",
        "",
        "| preset | data | epochs | test acc (best) | target | first epoch at target | train acc | train s | wall s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ok = "yes" if r["final"] >= r["target"] else "NO"
        lines.append(f"| {r['name']} | {r['dataset']} | {r['epochs']} | {r['final']:.4f} ({r['best']:.4f}) | "
                     f"≥ {r['target']} {ok} | {r['reached'] or '-'} | {r['train_acc']:.4f} | "
                     f"{r['train_seconds']:.0f} | {r['wall']:.0f} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--epochs", type=int, default=None, help="override every preset's epochs (smoke tests)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    unknown = [n for n in args.presets.split(",") if n and n not in PRESETS]
    if unknown:
        parser.error(f"unknown preset {unknown[0]!r} (choose from {', '.join(PRESETS)})")
    import_heavy()
    device = resolve_device(args.device)
    names = [n for n in args.presets.split(",") if n]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows.append(run_preset(name, args.data_dir, args.device, args.epochs, Path(tmp)))
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / f"accuracy-{device.type}.md"
    command = "python benchmarks/accuracy.py " + " ".join(sys.argv[1:])
    write_table(rows, device, out, command.strip())


if __name__ == "__main__":
    main()
