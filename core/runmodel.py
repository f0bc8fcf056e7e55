"""One run as the screen sees it, folded from the one event vocabulary (core/events.py).

Why one model: the main screen, `--watch`, the replay before a resume and every run of the
compare view used to fold events into widgets each in its own way, and the copies drifted
(the compare view wrote into chart internals; the main screen kept nine flags). Now every
way in folds the same events into a `RunModel`, and the screens are views that read it. The
fold is plain Python (no torch, no Textual), so it is tested on its own and costs a few
microseconds per event on the UI thread.

A `RunModel` is a `core.leaderboard.Standing` (what a leaderboard ranks: epochs, losses,
samples, confusion, status) plus what a live screen shows on top: the last step record, the
learning rate in force, the run's state (running, paused, evaluating, ended), its end
record, the log lines and a count of malformed records a reader skipped.

Views redraw incrementally: `losses` and `epochs` only grow until `generation` changes (a
resumed run drops the records after its checkpoint, a replaced log starts over), `log_total`
counts every line ever added (`log` keeps the newest LOG_LIMIT), and `samples`/`confusion`
are replaced, never mutated, so a view compares identities to know what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.events import ConfigEvent, EndEvent, EpochEvent, Event, StateEvent, StepEvent
from core.leaderboard import RUNNING, Standing
from core.lines import config_line, end_line, epoch_line, eta_seconds, step_line

LOG_LIMIT = 5000
PAUSED, EVALUATING = "paused", "evaluating"


@dataclass(frozen=True)
class LogLine:
    """One line of the run's log: its time into the run, the text (core.lines wording) and a kind
    ("step", "epoch", "config", "note", "state", or the end status) a view maps to a style."""

    time: float
    text: str
    kind: str
    short: str = ""  # a shorter form for a narrow log (a step line without its samples/s)


@dataclass
class RunModel(Standing):
    """One run, event by event: `update(event)` for each, in order; views read the fields."""

    config_event: ConfigEvent | None = None
    last_step: StepEvent | None = None
    current_lr: float | None = None  # the learning rate in force (Standing.lr is the configured one)
    state: str = "waiting"
    end: EndEvent | None = None
    clock: float = 0.0  # the run's own time of its latest record (paused time excluded)
    generation: int = 0
    log: list[LogLine] = field(default_factory=list)
    log_total: int = 0

    def update(self, event: Event) -> None:
        """Fold one event (the leaderboard's part first, then the live screen's)."""
        resumed = isinstance(event, ConfigEvent) and event.resumed
        before = (len(self.losses), len(self.epochs))
        super().update(event)
        if resumed and (len(self.losses), len(self.epochs)) != before:
            self.generation += 1  # records after the checkpoint were dropped: views redraw from scratch
        if isinstance(event, StepEvent):
            self.last_step, self.current_lr, self.clock = event, event.lr, event.time
            if self.state in (EVALUATING, "waiting"):
                self.state = RUNNING
            self._add_log(event.time, step_line(event), "step", step_line(event, rate=False))
        elif isinstance(event, EpochEvent):
            self.clock = event.time
            if self.state == EVALUATING:  # the epoch's record is the evaluation's result
                self.state = RUNNING
            self._add_log(event.time, epoch_line(event, self.test_size), "epoch")
        elif isinstance(event, ConfigEvent):
            self.config_event, self.end, self.state = event, None, RUNNING
            self.current_lr = self.lr
            if not resumed:
                self.last_step = None
            self._add_log(self.clock, config_line(event), "config")
            if event.bundled_data:
                self._add_log(self.clock, f"Note: using the {event.data_source}", "note")
        elif isinstance(event, StateEvent):
            self.clock = event.time
            if event.lr is not None:
                self.current_lr = event.lr
            if event.state in (PAUSED, EVALUATING):
                self.state = event.state
            elif event.state in ("resumed", "running", "evaluated"):
                self.state = RUNNING
            self._add_log(event.time, event.message or event.state, "state")
        elif isinstance(event, EndEvent):
            self.end, self.state, self.clock = event, event.status, event.time
            self._add_log(event.time, end_line(event), event.status)

    def fold(self, events: list[Event] | tuple[Event, ...]) -> RunModel:
        for event in events:
            self.update(event)
        return self

    def note_malformed(self, count: int) -> None:
        """A reader skipped `count` more records it could not trust (hostile or torn lines)."""
        self.malformed += max(0, count)

    # ---- what a status line shows ----
    @property
    def total_steps(self) -> int:
        if self.last_step is not None:
            return self.last_step.total_steps
        return self.config_event.total_steps if self.config_event else 0

    @property
    def step(self) -> int:
        if self.last_step is not None:
            return self.last_step.step
        return self.config_event.start_step if self.config_event else 0

    @property
    def epoch(self) -> int:
        if self.last_step is not None:
            return self.last_step.epoch
        return self.config_event.start_epoch if self.config_event else 0

    @property
    def eta_s(self) -> float | None:
        """Training time left at the current rate; None once the run is not training."""
        if self.last_step is None or self.state != RUNNING:
            return None
        return eta_seconds(self.last_step, int(self.config.get("batch_size", 1) or 1))

    @property
    def samples_per_s_now(self) -> float:
        return self.last_step.samples_per_s if self.last_step is not None else 0.0

    def _add_log(self, time: float, text: str, kind: str, short: str = "") -> None:
        self.log.append(LogLine(time, text, kind, short))
        self.log_total += 1
        if len(self.log) > 2 * LOG_LIMIT:  # trimmed in chunks: a slice per line would cost O(n) each step
            del self.log[:-LOG_LIMIT]

    def log_since(self, total: int) -> list[LogLine]:
        """Lines added after a view had seen `total` of them (at most the newest LOG_LIMIT)."""
        new = min(self.log_total - total, len(self.log), LOG_LIMIT)
        return self.log[len(self.log) - new:] if new > 0 else []
