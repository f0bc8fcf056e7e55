"""Standings of runs side by side, built from the same events the app, the log and --watch see.

A `Standing` folds one run's events into what a leaderboard and an overlaid chart need, so a
live race (events from the trainers), `--compare` (events tailed from metrics.jsonl) and
`--export` (events read back from disk) all rank runs by exactly the same rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from core import runlog
from core.events import ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, Event, SamplesEvent, StepEvent

WAITING, RUNNING, UNFINISHED = "waiting", "running", "unfinished"
LEADERBOARD_FILE = "leaderboard.md"  # a race directory's leaderboard, and --export's


@dataclass
class Standing:
    """One run's progress and results, updated event by event."""

    name: str
    run_dir: Path | None = None
    status: str = WAITING
    reason: str = ""
    config: dict = field(default_factory=dict)
    planned_epochs: int | None = None
    epochs: list[EpochEvent] = field(default_factory=list)
    losses: list[tuple[int, float, float]] = field(default_factory=list)  # (step, x in epochs, loss)
    samples: SamplesEvent | None = None
    confusion: ConfusionEvent | None = None
    classes: list[str] = field(default_factory=lambda: [str(d) for d in range(10)])
    elapsed: float = 0.0
    last_rate: float | None = None
    test_size: int | None = None
    malformed: int = 0  # records of its log skipped as damaged (shown to the user, never silently)
    device: str = ""

    def update(self, event: Event) -> None:
        if isinstance(event, ConfigEvent):
            self.config = event.config
            self.planned_epochs = event.config.get("epochs")
            self.classes = list(event.classes)
            self.test_size = event.test_size
            self.device = event.device
            self.status, self.reason = RUNNING, ""
            if event.resumed:  # steps after the checkpoint were logged once already: drop the old copies
                self.losses = [p for p in self.losses if p[0] <= event.start_step]
                self.epochs = [e for e in self.epochs if e.epoch < event.start_epoch]
        elif isinstance(event, StepEvent):
            x = (event.epoch - 1) + event.seen / max(event.epoch_size, 1)
            self.losses.append((event.step, x, event.loss))
            self.elapsed = max(self.elapsed, event.time)
            self.last_rate = event.samples_per_s
        elif isinstance(event, EpochEvent):
            self.epochs.append(event)
            self.elapsed = max(self.elapsed, event.time)
        elif isinstance(event, SamplesEvent):
            self.samples = event
        elif isinstance(event, ConfusionEvent):
            self.confusion = event
        elif isinstance(event, EndEvent):
            self.status, self.reason = event.status, event.reason
            self.elapsed = max(self.elapsed, event.time)

    # ---- derived figures ----
    @property
    def epoch_reached(self) -> int:
        return self.epochs[-1].epoch if self.epochs else 0

    @property
    def best(self) -> EpochEvent | None:
        """The epoch with the best test accuracy (the earliest one on a tie)."""
        best: EpochEvent | None = None
        for e in self.epochs:
            if best is None or e.test_acc > best.test_acc:
                best = e
        return best

    @property
    def best_test_acc(self) -> float | None:
        return self.best.test_acc if self.best else None

    @property
    def final_test_acc(self) -> float | None:
        return self.epochs[-1].test_acc if self.epochs else None

    @property
    def train_seconds(self) -> float:
        """Time spent in training steps (evaluation excluded), summed over epochs."""
        return sum(e.seconds for e in self.epochs)

    @property
    def samples_per_s(self) -> float | None:
        """Training throughput over all finished epochs; the live rate before the first one ends."""
        seconds = self.train_seconds
        if seconds > 0:
            return sum(e.samples_per_s * e.seconds for e in self.epochs) / seconds
        return self.last_rate

    @property
    def lr(self) -> float | None:
        value = self.config.get("lr")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def finished(self) -> bool:
        return self.status not in (WAITING, RUNNING)


def rank(standings: Iterable[Standing]) -> list[Standing]:
    """Best test accuracy first; on a tie, the lower test loss at that epoch (the more confident
    model), then the faster run; runs with no finished epoch yet go last, in the given order."""
    def key(s: Standing):
        best = s.best
        if best is None:
            return (1, 0.0, 0.0, 0.0)
        acc = best.test_acc if math.isfinite(best.test_acc) else -1.0
        loss = best.test_loss if math.isfinite(best.test_loss) else math.inf
        return (0, -acc, loss, s.train_seconds)

    return sorted(standings, key=key)


def read_standing(name: str, run_dir: Path) -> Standing:
    """A run's standing from its metrics.jsonl (waiting if it has none yet; unfinished without an end)."""
    standing = Standing(name, run_dir)
    path = run_dir / runlog.METRICS_FILE
    if not path.is_file():
        return standing
    events, standing.malformed = runlog.read_log(run_dir)
    for event in events:
        standing.update(event)
    if standing.status == RUNNING:
        standing.status = UNFINISHED
    return standing
