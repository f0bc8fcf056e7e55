"""Write a finished race's results as Markdown for benchmarks/results: what ran, where, when, and how it ended.

The leaderboard and the per-epoch table are read from the race directory (the same code as
`--compare RACE_DIR --export csv`), so the committed numbers are the measured ones, untouched.

    python benchmarks/race_report.py RACE_DIR --command "mnist-tui ..." --wall-s 1234 \
        --out benchmarks/results/race-mlp-bn-adam-optimizer.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (puts the repository root on sys.path)

from core.export import leaderboard_markdown  # noqa: E402
from core.leaderboard import read_standing  # noqa: E402
from core.lines import format_duration  # noqa: E402
from core.race import read_race_file, resolve_runs  # noqa: E402



def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("race_dir", type=Path)
    parser.add_argument("--command", required=True, help="the exact command that ran the race")
    parser.add_argument("--wall-s", type=float, required=True, help="wall-clock seconds of the whole command")
    parser.add_argument("--started", required=True, help="when it started (UTC, ISO 8601)")
    parser.add_argument("--note", action="append", default=[], help="a line to add under the machine")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    race = read_race_file(args.race_dir)
    standings = [read_standing(ref.name, ref.run_dir) for ref in resolve_runs([args.race_dir])]
    first = json.loads((args.race_dir / race["entrants"][0]["run_dir"] / "config.json").read_text())
    versions = first.get("versions", {})
    base = race["base_config"]
    epochs = max((s.epoch_reached for s in standings), default=0)

    lines = [f"# Race: {race['field']} on the {base['name']} preset", ""]
    lines += ["Command (from the repository root):", "", "```", args.command, "```", ""]
    lines += [f"- started: {args.started} (UTC); whole command {format_duration(args.wall_s)} wall clock "
              f"({args.wall_s:.0f} s)",
              f"- machine: {common.cpu_name()}; device {first.get('device', '?')}; torch {versions.get('torch', '?')}, "
              f"Python {versions.get('python', '?')}, {versions.get('platform', platform.platform())}",
              f"- data: {first.get('data_source', '?')}",
              f"- base settings: {base['model']} {'-'.join(str(h) for h in base['hidden'])}, "
              f"{'batch norm, ' if base['batch_norm'] else ''}{base['activation']}, dropout {base['dropout']:g}, "
              f"init {base['init']}, batch {base['batch_size']}, {base['epochs']} epochs, seed {base['seed']}"]
    lines += [f"- {note}" for note in args.note]
    lines += ["", "## Leaderboard", "", leaderboard_markdown(standings).rstrip(), ""]
    lines += ["`time` is each entrant's own elapsed time (training + evaluation); `samples/s` is training "
              "throughput over its epochs.", ""]
    lines += ["## Test accuracy per epoch", ""]
    header = "| run | lr | " + " | ".join(f"epoch {e}" for e in range(1, epochs + 1)) + " |"
    lines += [header, "|---|---:|" + "---:|" * epochs]
    notes = {e["name"]: e.get("lr_note", "") for e in race["entrants"]}
    for s in standings:
        accs = [f"{e.test_acc:.2%}" for e in s.epochs] + ["-"] * (epochs - len(s.epochs))
        lines.append(f"| {s.name} | {notes.get(s.name, '') or s.lr} | " + " | ".join(accs) + " |")
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
