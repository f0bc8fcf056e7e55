"""The app's event sink: turns engine events (worker thread) into Textual messages (UI thread).

The Trainer calls a sink synchronously from its loop, so this must be cheap and must never
touch a widget. Events are buffered and posted together as one EventBatch at most every
`min_interval` seconds, whatever their kind: a fast model finishes several epochs a second,
and a message per step, per epoch, per sample grid and per matrix would each cost the UI
thread a frame (3-5 ms of Python: CPU a training run on a small machine wants, and the GIL
itself when the engine runs in the app's thread). Events that change what the user may do next (the run's config, a pause or resume,
the end) are posted at once, with everything buffered before them, so order is kept and a
pause or the end is never held back.

The default interval is 0.5 s (<= 2 routine posts a second): a progress bar gains nothing from
more; benchmarks/app_overhead.py measures what the rest costs.
"""

from __future__ import annotations

import time
from typing import Callable

from textual.message import Message

from core.events import ConfigEvent, EndEvent, Event, StateEvent
from tui.messages import EventBatch

Post = Callable[[Message], object]
URGENT = (ConfigEvent, StateEvent, EndEvent)


class EventBridge:
    """A `core.events.Sink` that posts EventBatch messages through `post`."""

    def __init__(self, post: Post, min_interval: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._post = post
        self.min_interval = min_interval
        self._clock = clock
        self._pending: list[Event] = []
        self._last_post = float("-inf")
        self.posts = 0  # number of messages posted (for tests)

    def __call__(self, event: Event) -> None:
        self._pending.append(event)
        now = self._clock()
        if isinstance(event, URGENT) or now - self._last_post >= self.min_interval:
            self._flush(now)

    def flush(self) -> None:
        """Post whatever is buffered now (the worker's last act before it reports the run's end)."""
        if self._pending:
            self._flush(self._clock())

    def _flush(self, now: float) -> None:
        batch, self._pending = self._pending, []
        self._last_post = now
        self.posts += 1
        self._post(EventBatch(batch))
