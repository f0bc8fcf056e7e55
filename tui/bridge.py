"""Where engine events cross from a worker thread to the UI thread: an inbox, not a clock.

The engine (core/engine_process.py, read in a thread worker) hands every event to an
EventInbox, which only appends it to a thread-safe deque: the worker never touches a widget,
and nothing here decides when the screen redraws. The screen's one redraw clock
(tui/redraw.py) drains the inbox on each tick, folds the events into the run model
(core/runmodel.py) and lets the views draw what changed.

Events that change what the user may do next (a run's config, a pause or resume, the end)
should not wait for the next tick: for those the inbox also posts one EventsWaiting message,
which makes the clock tick at once. The message carries nothing (the events stay in order in
the deque) and replaces an unhandled one of its kind, so a burst posts no queue of wake-ups.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Generic, TypeVar

from textual.message import Message

from core.events import ConfigEvent, EndEvent, Event, StateEvent, StepEvent
from tui.messages import EventsWaiting

Post = Callable[[Message], object]
URGENT = (ConfigEvent, StateEvent, EndEvent)
Item = TypeVar("Item")


class Inbox(Generic[Item]):
    """A deque filled by worker threads and drained by the UI thread (deque appends and poplefts are atomic)."""

    def __init__(self, post: Post) -> None:
        self._post = post
        self._items: deque[Item] = deque()
        self.wakes = 0  # EventsWaiting messages posted (for tests)

    def put(self, item: Item, urgent: bool = False) -> None:
        self._items.append(item)
        if urgent:
            self.wakes += 1
            self._post(EventsWaiting())

    def drain(self) -> list[Item]:
        items = []
        try:
            while True:
                items.append(self._items.popleft())
        except IndexError:
            return items


class EventInbox(Inbox[Event]):
    """A `core.events.Sink` for one run: `inbox(event)` from the worker, `drain()` on the UI thread.

    The run's first step record wakes the clock too: the first sign of training should not wait a beat."""

    def __init__(self, post: Post) -> None:
        super().__init__(post)
        self._stepped = False

    def __call__(self, event: Event) -> None:
        first_step = not self._stepped and isinstance(event, StepEvent)
        self._stepped |= first_step
        self.put(event, urgent=first_step or isinstance(event, URGENT))
