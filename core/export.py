"""Results out of the terminal: each run's per-epoch metrics as CSV, the leaderboard as Markdown.

CSV is what a spreadsheet or pandas reads; the Markdown table pastes straight into a README or
a report. Both are built from Standings, so they say exactly what the leaderboard on screen says.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Sequence

from core import runlog
from core.leaderboard import LEADERBOARD_FILE, Standing, rank
from core.lines import format_duration

EPOCH_COLUMNS = ("epoch", "step", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "samples_per_s",
                 "lr", "time")
FORMATS = ("csv",)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula


def valid_text(value: str) -> str:
    """Text that encodes as UTF-8: undecodable bytes of a file name (surrogates) become U+FFFD."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def text_cell(value: str) -> str:
    """A text cell that a spreadsheet shows as text (OWASP CSV injection: a leading ' defuses a
    formula such as =1+2+cmd|x), in valid UTF-8 (a run named after a non-UTF-8 directory shows U+FFFD)."""
    value = valid_text(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def epochs_csv(standings: Sequence[Standing], with_run: bool = False) -> str:
    """Per-epoch metrics, one row per epoch; with_run adds a leading `run` column (long format).
    Only the run name is text; every other cell is a number from a validated record."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((("run",) if with_run else ()) + EPOCH_COLUMNS)
    for s in standings:
        for e in s.epochs:
            writer.writerow(((text_cell(s.name),) if with_run else ()) + tuple(getattr(e, c) for c in EPOCH_COLUMNS))
    return out.getvalue()


def _pct(value: float | None) -> str:
    return f"{value:.2%}" if value is not None else "-"


def leaderboard_rows(standings: Sequence[Standing]) -> list[list[str]]:
    """The leaderboard's cells, ranked: one list of strings per run, in LEADERBOARD_COLUMNS order."""
    rows = []
    for place, s in enumerate(rank(standings), start=1):
        best = s.best
        rate = s.samples_per_s
        epochs = f"{s.epoch_reached}/{s.planned_epochs}" if s.planned_epochs else str(s.epoch_reached)
        rows.append([str(place) if best else "-", s.name, f"{s.lr:g}" if s.lr is not None else "-",
                     _pct(s.best_test_acc), str(best.epoch) if best else "-", _pct(s.final_test_acc), epochs,
                     format_duration(s.elapsed) if s.status != "waiting" else "-",
                     f"{rate:,.0f}" if rate else "-", s.status, s.device or "-"])
    return rows


LEADERBOARD_COLUMNS = ("#", "run", "lr", "best test acc", "at epoch", "final test acc", "epochs", "time", "samples/s",
                       "status", "device")


def leaderboard_markdown(standings: Sequence[Standing]) -> str:
    """A GitHub-flavoured Markdown table; numbers right-aligned."""
    right = {"#", "lr", "best test acc", "at epoch", "final test acc", "epochs", "time", "samples/s"}
    lines = ["| " + " | ".join(LEADERBOARD_COLUMNS) + " |",
             "|" + "|".join("---:" if c in right else "---" for c in LEADERBOARD_COLUMNS) + "|"]
    for row in leaderboard_rows(standings):
        lines.append("| " + " | ".join(valid_text(cell).replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines) + "\n"


def safe_file_name(name: str) -> str:
    """A run name as a file name: path separators and odd characters become _, never clashing with
    the combined files (epochs.csv, leaderboard.md)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_.") or "run"
    return f"run-{stem}" if stem in ("epochs", "leaderboard") else stem


def export(standings: Sequence[Standing], out_dir: Path, fmt: str = "csv") -> list[Path]:
    """Write <run>.csv per run, epochs.csv (all runs, long format) and leaderboard.md; return the paths."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for s in standings:
            path = out_dir / f"{safe_file_name(s.name)}.csv"
            runlog.atomic_write_bytes(path, lambda fh, s=s: fh.write(epochs_csv([s]).encode()))
            written.append(path)
        combined = out_dir / "epochs.csv"
        runlog.atomic_write_bytes(combined, lambda fh: fh.write(epochs_csv(standings, with_run=True).encode()))
        board = out_dir / LEADERBOARD_FILE
        runlog.atomic_write_bytes(board, lambda fh: fh.write(leaderboard_markdown(standings).encode()))
    except OSError as exc:
        raise runlog.RunDirError(f"cannot write the export to {out_dir}: {exc.strerror or exc}") from None
    return written + [combined, board]
