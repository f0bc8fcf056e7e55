"""The one event vocabulary of a run.

The Trainer emits these; the JSONL log, the console printer, the app and `--watch` all
consume them. Each event round-trips through a plain JSON record, so a run read back from
metrics.jsonl looks exactly like a run watched live.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar, Union


@dataclass(frozen=True)
class ConfigEvent:
    """First record of every run (and of every resumed segment)."""

    type: ClassVar[str] = "config"
    config: dict[str, Any]
    run_dir: str
    device: str
    data_source: str
    bundled_data: bool
    train_size: int
    test_size: int
    steps_per_epoch: int
    total_steps: int
    classes: list[str]
    start_epoch: int = 1
    start_step: int = 0
    resumed: bool = False
    versions: dict[str, str] = field(default_factory=dict)
    parameters: int = 0


@dataclass(frozen=True)
class StepEvent:
    """Training progress, emitted every log interval (never every step: reading loss syncs)."""

    type: ClassVar[str] = "step"
    epoch: int
    step: int
    seen: int
    epoch_size: int
    loss: float
    lr: float
    time: float
    samples_per_s: float
    total_steps: int


@dataclass(frozen=True)
class EpochEvent:
    """End-of-epoch summary: train metrics from the epoch's batches, test metrics from a full eval."""

    type: ClassVar[str] = "epoch"
    epoch: int
    step: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    seconds: float
    samples_per_s: float
    lr: float
    time: float


@dataclass(frozen=True)
class SamplesEvent:
    """Predictions for a fixed set of test digits, with the pixels so `--watch` can draw them."""

    type: ClassVar[str] = "samples"
    epoch: int
    indices: list[int]
    labels: list[int]
    predictions: list[int]
    confidences: list[float]
    images: list[str]

    @staticmethod
    def encode_image(pixels: bytes) -> str:
        return base64.b64encode(pixels).decode("ascii")

    def image_bytes(self, i: int) -> bytes:
        """28*28 uint8 pixels of sample i."""
        return base64.b64decode(self.images[i])


@dataclass(frozen=True)
class ConfusionEvent:
    """Confusion matrix of the test set: matrix[true][predicted]."""

    type: ClassVar[str] = "confusion"
    epoch: int
    matrix: list[list[int]]


@dataclass(frozen=True)
class StateEvent:
    """A change of the run's state between steps.

    state: "lr" (the user set a learning rate), "paused", "resumed" (user controls), or "evaluating"
    (the epoch's training steps are done and the test set is being scored; it lasts until the
    epoch's EpochEvent, or the EndEvent when stopped meanwhile). Views show it instead of a
    progress bar sitting at 100% with an ETA of 00:00.
    """

    type: ClassVar[str] = "state"
    state: str
    step: int
    time: float
    lr: float | None = None
    message: str = ""


@dataclass(frozen=True)
class EndEvent:
    """Last record of a run: how it ended and why. status: finished|stopped|interrupted|failed."""

    type: ClassVar[str] = "end"
    status: str
    reason: str
    epoch: int
    step: int
    time: float
    checkpoint: str | None = None
    best_test_acc: float | None = None
    final_test_acc: float | None = None


Event = Union[ConfigEvent, StepEvent, EpochEvent, SamplesEvent, ConfusionEvent, StateEvent, EndEvent]
Sink = Callable[[Event], None]

EVENT_TYPES: dict[str, type] = {
    cls.type: cls
    for cls in (ConfigEvent, StepEvent, EpochEvent, SamplesEvent, ConfusionEvent, StateEvent, EndEvent)
}

END_STATUSES = ("finished", "stopped", "interrupted", "failed")


def to_record(event: Event) -> dict[str, Any]:
    """A JSON-ready dict with "type" first.

    Shallow on purpose: events hold only JSON values, and dataclasses.asdict's deep copy cost
    ~20 us per step record (vars: ~1 us), a measurable share of a fast model's training time (benchmarks/).
    Treat the nested lists and dicts as read-only: they are the event's own.
    """
    return {"type": event.type, **vars(event)}  # the fields (the events are plain dataclasses, no slots)


def from_record(record: dict[str, Any]) -> Event | None:
    """Rebuild an event from a metrics.jsonl record; None for unknown types or malformed records.

    Tolerant on purpose: `--watch` reads logs written by other versions, and a bad line must
    not take the viewer down.
    """
    cls = EVENT_TYPES.get(record.get("type", ""))
    if cls is None:
        return None
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in record.items() if k in names})
    except TypeError:
        return None
