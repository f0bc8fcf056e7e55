"""The app's event sink: turns engine events (worker thread) into Textual messages (UI thread).

The Trainer calls a sink synchronously from its loop, so this must be cheap and must never
touch a widget. Step events are the only high-rate ones: they are buffered and posted as one
StepBatch at most every `min_interval` seconds (so <= 1/min_interval refreshes a second
whatever the step rate). A batch is also flushed at the end of each epoch and before any
other event, so order is kept and nothing is held back across an evaluation or a pause.

The default interval is 0.5 s (<= 2 posts a second): each post costs the UI thread a frame
(3-5 ms of Python holding the GIL the training thread needs, more when the log and the
loss chart are drawn in it), and a progress bar gains nothing from more;
benchmarks/app_overhead.py measures the cost.
"""

from __future__ import annotations

import time
from typing import Callable

from textual.message import Message

from core.events import Event, StepEvent
from tui.messages import RunEvent, StepBatch

Post = Callable[[Message], object]


class EventBridge:
    """A `core.events.Sink` that posts RunEvent / StepBatch messages through `post`."""

    def __init__(self, post: Post, min_interval: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._post = post
        self.min_interval = min_interval
        self._clock = clock
        self._pending: list[StepEvent] = []
        self._last_post = float("-inf")
        self.posts = 0  # number of messages posted (for tests and the overhead benchmark)

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepEvent):
            self._pending.append(event)
            now = self._clock()
            if now - self._last_post >= self.min_interval or event.seen >= event.epoch_size:
                self._flush(now)
            return
        self.flush()
        self._send(RunEvent(event))

    def flush(self) -> None:
        """Post buffered step events now (called before every non-step event)."""
        if self._pending:
            self._flush(self._clock())

    def _flush(self, now: float) -> None:
        batch, self._pending = self._pending, []
        self._last_post = now
        self._send(StepBatch(batch))

    def _send(self, message: Message) -> None:
        self.posts += 1
        self._post(message)
