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

RichLog wraps a line once, at the width it has when written; so the lines are kept and written
again when the width changes (a line written at 80 columns does not stay wrapped at 200), and a
line may come with a shorter form for a narrow log (a step line without its samples/s, which the
status bar shows), used when the full one would wrap.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from rich.text import Text
from textual.events import Resize
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import RichLog

from core.lines import format_duration

FLUSH_EVERY_S = 2.0
MAX_LINES = 5000


@dataclass(frozen=True)
class Entry:
    stamp: str
    line: str
    style: str
    short: str

    def text(self, width: int) -> Text:
        line = self.short if self.short and len(self.stamp) + len(self.line) > width else self.line
        return Text.assemble((self.stamp, "dim"), (line, self.style))


class RunLog(RichLog):
    """A RichLog that keeps the newest 5000 lines and the text of everything written (for tests)."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)  # see the module docstring

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=True, markup=False, highlight=False, auto_scroll=True,
                         min_width=20, id=id, classes=classes)  # wrap to the panel (the default 78 scrolls sideways)
        self.plain_lines: list[str] = []
        self.entries: deque[Entry] = deque(maxlen=MAX_LINES)
        self._pending: list[Entry] = []
        self._pending_since = 0.0
        self._last_flush = float("-inf")
        self._written_width = 0

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)  # scrollbar visibility (a layout if it changes) and thumb size
        self.refresh()

    def on_mount(self) -> None:
        self.set_interval(FLUSH_EVERY_S, self._flush_stale)

    @property
    def line_width(self) -> int:
        return self.scrollable_content_region.width

    def add(self, seconds: float, line: str, style: str = "", urgent: bool = True, short: str = "") -> None:
        """`short`: the line's form for a log too narrow for the whole line."""
        stamp = f"[{format_duration(seconds)}] "
        self.plain_lines.append(stamp + line)
        del self.plain_lines[:-MAX_LINES]
        now = time.monotonic()
        if not self._pending:
            self._pending_since = now
        entry = Entry(stamp, line, style, short)
        self.entries.append(entry)
        self._pending.append(entry)
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
            width = self.line_width
            if width and not self._written_width:
                self._written_width = width
            self.write(Text("\n").join(entry.text(width or 10**6) for entry in pending[-MAX_LINES:]), width=width or None)

    def on_resize(self, event: Resize) -> None:
        """Write every kept line again for the new width (rare: a terminal resize or a view shown)."""
        width = self.line_width
        if not width or width == self._written_width:
            return
        self._written_width = width
        self._pending.clear()
        self.clear()
        if self.entries:
            # the width said outright: the console may not have its new size yet
            self.write(Text("\n").join(entry.text(width) for entry in self.entries), width=width)

    def reset(self) -> None:
        self.plain_lines.clear()
        self.entries.clear()
        self._pending.clear()
        self.clear()
