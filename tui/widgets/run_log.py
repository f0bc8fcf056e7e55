"""The log panel: the headless mode's lines (core.lines), each stamped with its time into the run.

Stamps are the run's own clock (event.time, paused time excluded), not the wall clock, so
the live app and `--watch` of the same run show identical lines.

Every RichLog write grows its virtual size, and Widget.virtual_size is a layout reactive: each
write would make Textual lay out and repaint the whole screen (30-70 ms of the UI thread at
180x50, holding the GIL the training thread needs). A log only needs a layout when a scrollbar
appears or disappears, and `show_*_scrollbar` are layout reactives of their own; so here the
virtual size only repaints the log and updates its scrollbars. Frequent lines (`urgent=False`:
steps and epochs) are still buffered and written together every two seconds,
in the frame the step batch that brings them draws anyway; rare ones (state changes, the
end) go out at once.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import RichLog

from core.lines import format_duration

FLUSH_EVERY_S = 2.0


class RunLog(RichLog):
    """A RichLog that keeps the newest 5000 lines and the text of everything written (for tests)."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)  # see the module docstring

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_lines=5000, wrap=True, markup=False, highlight=False, auto_scroll=True,
                         id=id, classes=classes)
        self.plain_lines: list[str] = []
        self._pending: list[Text] = []
        self._pending_since = 0.0
        self._last_flush = float("-inf")

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)  # scrollbar visibility (a layout if it changes) and thumb size
        self.refresh()

    def on_mount(self) -> None:
        self.set_interval(FLUSH_EVERY_S, self._flush_stale)

    def add(self, seconds: float, line: str, style: str = "", urgent: bool = True) -> None:
        stamp = f"[{format_duration(seconds)}] "
        self.plain_lines.append(stamp + line)
        del self.plain_lines[:-5000]
        now = time.monotonic()
        if not self._pending:
            self._pending_since = now
        self._pending.append(Text.assemble((stamp, "dim"), (line, style)))
        if urgent or now - self._last_flush >= FLUSH_EVERY_S:
            self.flush()

    def _flush_stale(self) -> None:
        """The timer's part: lines no later add() flushed (the last ones before a quiet spell)."""
        if self._pending and time.monotonic() - self._pending_since >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines as one renderable: one layout pass however many lines."""
        if self._pending:
            pending, self._pending = self._pending, []
            self._last_flush = time.monotonic()
            self.write(Text("\n").join(pending[-5000:]))

    def reset(self) -> None:
        self.plain_lines.clear()
        self._pending.clear()
        self.clear()
