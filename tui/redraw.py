"""The one redraw clock of a screen: when what the run model says reaches the widgets.

Before, four clocks decided independently (the event bridge posted every 0.5 s, the charts
throttled themselves to one figure per 5 s with their own timers, the digits and matrix had
a 5 s timer of the app, the log flushed every 2 s on its own interval). Now a screen has one
`RedrawClock`: each beat (TICK_S) it drains its sources into run models and asks its views to
draw; `Cadence` tells a view which of its panels are due on this beat:

- the status line and the footer: every beat (cheap; Textual folds the reactive changes);
- the log: every LOG_EVERY_S, or at once when a line that matters arrives (a state, the end);
- charts, digits and matrix: at most every PANEL_EVERY_S while the run trains (a plotext
  figure or a grid of digits is 10-40 ms of the UI thread, CPU a model training on every
  core wants; benchmarks/app_overhead.py), at once when nothing is drawn yet or the run is not
  training (a replay, --watch of a finished run, the end).

An urgent event (tui/bridge.py's EventsWaiting) makes the clock beat at once.
"""

from __future__ import annotations

import time
from typing import Callable

from textual.message_pump import MessagePump

TICK_S = 0.5
LOG_EVERY_S = 2.0
PANEL_EVERY_S = 5.0


class Cadence:
    """Which panels of one view are due: a named last-drawn time per panel kind."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, float] = {}

    def due(self, kind: str, every_s: float, force: bool = False) -> bool:
        now = self._clock()
        if force or now - self._last.get(kind, float("-inf")) >= every_s:
            self._last[kind] = now
            return True
        return False

    def forget(self) -> None:
        """A new run: the first figures of it are due at once."""
        self._last.clear()


class RedrawClock:
    """Calls `beat()` every TICK_S on `owner` (an App or Screen), and at once on `now()`."""

    def __init__(self, owner: MessagePump, beat: Callable[[], None], interval: float = TICK_S) -> None:
        self.owner = owner
        self.beat = beat
        self.interval = interval
        self.beats = 0
        self._timer = None

    def start(self) -> None:
        if self._timer is None:
            self._timer = self.owner.set_interval(self.interval, self.now, name="redraw clock")

    def now(self) -> None:
        self.beats += 1
        self.beat()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
