"""The one event vocabulary of a run.

The Trainer emits these; the JSONL log, the console printer, the app and `--watch` all
consume them. Each event round-trips through a plain JSON record, so a run read back from
metrics.jsonl looks exactly like a run watched live.
"""

from __future__ import annotations

import base64
import binascii
import math
import types
import typing
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


MAX_CLASSES = 10  # both data sets (MNIST, Fashion-MNIST) have ten classes
MAX_SAMPLES = 64  # the config's sample_count bound
IMAGE_BYTES = 28 * 28
MAX_TEXT = 10_000  # longest string field a reader keeps (a reason, a path, a message)


class MalformedRecord(ValueError):
    """A record of a known type whose fields do not fit the event: skipped and counted by readers."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and abs(value) < 1e300)


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's annotation (the dataclass annotations are the schema)."""
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is int:
        return _is_int(value) and abs(value) < 2**63
    if hint is float:
        return _is_number(value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is str:
        return isinstance(value, str) and len(value) <= MAX_TEXT
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(isinstance(k, str) and (item is Any or _fits(v, item))
                                               for k, v in value.items())
    return hint is Any


def _check_meaning(event: Event) -> None:
    """What the types cannot say: the shapes and ranges every view indexes by."""
    if isinstance(event, ConfusionEvent):
        side = len(event.matrix)
        if not 1 <= side <= MAX_CLASSES or any(len(row) != side or min(row) < 0 for row in event.matrix):
            raise MalformedRecord(f"confusion matrix is not a square of at most {MAX_CLASSES} counts per side")
    elif isinstance(event, SamplesEvent):
        count = len(event.indices)
        if count > MAX_SAMPLES or any(len(v) != count for v in (event.labels, event.predictions,
                                                                event.confidences, event.images)):
            raise MalformedRecord("samples lists differ in length")
        if any(not 0 <= v < MAX_CLASSES for v in event.labels + event.predictions):
            raise MalformedRecord("sample class out of range")
        if any(not 0 <= c <= 1 for c in event.confidences):
            raise MalformedRecord("sample confidence out of range")
        for image in event.images:
            try:
                if len(base64.b64decode(image, validate=True)) != IMAGE_BYTES:
                    raise MalformedRecord("sample image is not 28x28")
            except binascii.Error:
                raise MalformedRecord("sample image is not base64") from None
    elif isinstance(event, ConfigEvent):
        if not 1 <= len(event.classes) <= MAX_CLASSES:
            raise MalformedRecord("config record with an impossible number of classes")
        from core.config import ConfigError, config_from_json  # torch-free

        try:
            config_from_json(event.config, partial=True)
        except ConfigError as exc:
            raise MalformedRecord(str(exc)) from None
    elif isinstance(event, EndEvent) and event.status not in END_STATUSES:
        raise MalformedRecord(f"end status {event.status[:20]!r}")
    elif isinstance(event, (StepEvent, EpochEvent)) and (event.epoch < 0 or event.step < 0):
        raise MalformedRecord("negative epoch or step")


_HINTS: dict[type, dict[str, Any]] = {cls: typing.get_type_hints(cls) for cls in EVENT_TYPES.values()}


def parse_record(record: Any) -> Event | None:
    """The one place a record becomes an event: None for a type this version does not know (a newer
    writer's), MalformedRecord for a known type whose fields do not fit (a damaged or hostile file).

    Every field is checked against its annotation, and shapes the views index by (confusion
    matrix, sample lists, classes) against their bounds, so no reader downstream meets a bad value.
    """
    if not isinstance(record, dict):
        raise MalformedRecord("not a JSON object")
    kind = record.get("type", "")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return None
    hints = _HINTS[cls]
    values = {}
    for f in fields(cls):
        if f.name in record:
            if not _fits(record[f.name], hints[f.name]):
                raise MalformedRecord(f"{kind} record: bad {f.name}")
            values[f.name] = record[f.name]
    try:
        event = cls(**values)
    except TypeError:  # a required field is missing
        raise MalformedRecord(f"{kind} record: missing fields") from None
    _check_meaning(event)
    return event


def from_record(record: dict[str, Any]) -> Event | None:
    """Rebuild an event from a metrics.jsonl record; None for unknown types or malformed records.

    Tolerant on purpose: `--watch` reads logs written by other versions, and a bad line must
    not take the viewer down. Readers that count what they skip use parse_record.
    """
    try:
        return parse_record(record)
    except MalformedRecord:
        return None
