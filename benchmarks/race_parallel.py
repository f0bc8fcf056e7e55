"""A race trained one entrant at a time vs `--parallel N` entrants at once: wall clock and fairness.

Both sides train the same plan through the same code (core.race.Race: one engine process per
entrant) on data loaded once beforehand, so the comparison is the scheduling alone. Rounds go
A B B A (sequential, parallel, parallel, sequential, ...) so a machine whose load drifts
favours neither side. The claim checked besides speed: the leaderboards are identical (every
entrant's per-epoch test accuracy and loss, bit for bit), i.e. the parallel race is the same
race, only sooner.

    python benchmarks/race_parallel.py                       # 4 MLP entrants, --parallel 2, on the CPU
    python benchmarks/race_parallel.py --parallel 8 --device cuda --out benchmarks/results/race-parallel-cuda.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (puts the repository root on sys.path)

from core.config import ConfigError, preset_config  # noqa: E402
from core.engine import resolve_device  # noqa: E402
from core.export import leaderboard_rows  # noqa: E402
from core.leaderboard import read_standing  # noqa: E402
from core.race import Race, plan_race  # noqa: E402

# the columns that must agree between the two schedules (time, samples/s and device may not)
RESULT_COLUMNS = (0, 1, 2, 3, 4, 5, 6, 9)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="mlp-bn-adam")
    parser.add_argument("--race", default="optimizer=sgd,momentum,adam,radam")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=None, help="first N training images (default: all)")
    parser.add_argument("--rounds", type=int, default=1, help="A-B-B-A rounds (each trains the race twice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=str(common.DEFAULT_DATA_DIR))
    parser.add_argument("--note", action="append", default=[], help="a line to add to the facts (e.g. who else used the machine)")
    parser.add_argument("--out", type=Path, default=common.RESULTS_DIR / "race-parallel-cpu.md")
    args = parser.parse_args(argv)
    if args.parallel < 2 or args.rounds < 1 or args.epochs < 1:
        parser.error("--parallel must be at least 2, --rounds and --epochs at least 1")
    return args


def run_race(plan, parallel: int, bundles, data_dir: str, load: common.LoadLog) -> dict:
    """Train the whole race once; its wall clock, per-entrant samples/s and result rows."""
    with tempfile.TemporaryDirectory(prefix="race-parallel-") as tmp:
        race_dir = Path(tmp) / "race"
        race = Race(plan, race_dir, data_dir=data_dir, parallel=parallel)
        if bundles:
            race.data_source = next(iter(bundles.values())).source
        load.read()
        start = time.perf_counter()
        result = race.run(bundles)
        wall = time.perf_counter() - start
        load.read()
        if result.failed:
            raise SystemExit(f"entrant {result.failed[0]} failed: {result.ends[result.failed[0]].reason}")
        standings = [read_standing(e.name, race_dir / e.name) for e in plan.entrants]
        epochs = {s.name: [(e.epoch, e.test_acc, e.test_loss, e.train_loss) for e in s.epochs] for s in standings}
        rows = leaderboard_rows(standings)
        labels = sorted({s.device for s in standings})
    return {"wall": wall, "rates": {s.name: s.samples_per_s for s in standings}, "epochs": epochs,
            "rows": [[row[i] for i in RESULT_COLUMNS] for row in rows], "slots": len(race.slots),
            "devices": labels}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    device = resolve_device(args.device)
    try:
        base = preset_config(args.preset).with_overrides(epochs=args.epochs, train_size=args.train_size,
                                                         device=args.device)
        plan = plan_race(base, args.race)
    except ConfigError as exc:
        raise SystemExit(f"race_parallel.py: error: {exc}") from None
    from core import engine_process

    engine_process.warm_up()  # the forkserver's imports (torch and the engine) are paid before either side is timed
    ready = engine_process._context().Process(target=os.getpid)  # returns once the forkserver has preloaded
    ready.start()
    ready.join()
    probe = Race(plan, Path(tempfile.gettempdir()) / "unused", data_dir=args.data_dir, parallel=1)
    bundles = probe.load_data()  # once, for both sides; on a GPU each engine process loads its own
    load = common.LoadLog()
    order = []
    for _ in range(args.rounds):
        order += [1, args.parallel, args.parallel, 1]
    runs: dict[int, list[dict]] = {1: [], args.parallel: []}
    for parallel in order:
        runs[parallel].append(run_race(plan, parallel, bundles, args.data_dir, load))
        print(f"parallel {parallel}: {runs[parallel][-1]['wall']:.1f} s", flush=True)

    seq, par = runs[1], runs[args.parallel]
    identical = all(r["epochs"] == seq[0]["epochs"] and r["rows"] == seq[0]["rows"] for r in seq + par)
    seq_wall, par_wall = statistics.median(r["wall"] for r in seq), statistics.median(r["wall"] for r in par)
    ratio = seq_wall / par_wall
    names = [e.name for e in plan.entrants]

    def rates(side: list[dict], name: str) -> str:
        return f"{statistics.median(r['rates'][name] for r in side):,.0f}"

    data_note = next(iter(bundles.values())).source if bundles else "loaded by each engine process"
    data_note = data_note.replace(str(common.ROOT.parent), "..")  # paths relative to the checkout
    facts = common.standard_facts(device, common.command_line("race_parallel.py")) + [
        f"race: `--preset {args.preset} --race {args.race} --epochs {args.epochs}`"
        f"{f' --train-size {args.train_size}' if args.train_size else ''}; data: {data_note}",
        f"load while measuring: {load.summary()}",
        f"rounds: {args.rounds} (order {' '.join('S' if p == 1 else 'P' for p in order)}); each figure is the median",
    ] + list(args.note)
    body = ["## Wall clock of the whole race", ""]
    body += common.markdown_table(
        ("schedule", "entrants at once", "devices", "wall s (median)", "each round s", "speed-up"),
        [("sequential", 1, ", ".join(seq[0]["devices"]), f"{seq_wall:.1f}",
          " ".join(f"{r['wall']:.1f}" for r in seq), "1.00x"),
         (f"--parallel {args.parallel}", par[0]["slots"], ", ".join(par[0]["devices"]), f"{par_wall:.1f}",
          " ".join(f"{r['wall']:.1f}" for r in par), f"{ratio:.2f}x")]
        + ([] if device.type == "cuda" else
           [("one entrant per GPU", "-", "not measured: no GPU in this run", "-", "-", "-")]), "llrrrr")
    body += ["", "## Training samples/s per entrant (median over rounds)", ""]
    body += common.markdown_table(("entrant", "sequential", f"--parallel {args.parallel}"),
                                  [(n, rates(seq, n), rates(par, n)) for n in names], "lrr")
    body += ["", "## Same race?", "",
             f"Leaderboards identical (rank, run, lr, best/final test acc, epochs, status) and every epoch's "
             f"test accuracy, test loss and train loss equal bit for bit in all {len(order)} races: "
             f"**{'yes' if identical else 'NO'}**.", ""]
    body += common.markdown_table(("#", "run", "lr", "best test acc", "at epoch", "final test acc", "epochs",
                                   "status"), seq[0]["rows"], "rlrrrrrl")
    common.write_results(args.out, f"Race: sequential vs --parallel {args.parallel} ({device.type})", facts, body)
    print(f"speed-up {ratio:.2f}x, leaderboards identical: {identical}; wrote {args.out}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
