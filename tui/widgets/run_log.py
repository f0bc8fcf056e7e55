"""The log panel: the headless mode's lines (core.lines), each stamped with its time into the run.

Stamps are the run's own clock (event.time, paused time excluded), not the wall clock, so
the live app and `--watch` of the same run show identical lines.

Every RichLog write grows its virtual size, and Widget.virtual_size is a layout reactive: each
write would make Textual lay out and repaint the whole screen (30-70 ms of the UI thread at
180x50, holding the GIL the training thread needs). A log only needs a layout when a scrollbar
appears or disappears, and `show_*_scrollbar` are layout reactives of their own; so here the
virtual size only repaints the log and updates its scrollbars. Lines added with `urgent=False`
wait for `flush()`, which the screen's redraw clock calls (tui/redraw.py: every two seconds, at
once for a state change or the end), so a batch of lines is one write.

RichLog wraps a line once, at the width it has when written; so the lines are kept and written
again when the width changes (a line written at 80 columns does not stay wrapped at 200), and a
line may come with a shorter form for a narrow log (a step line without its samples/s, which the
status bar shows), used when the full one would wrap.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rich.text import Text
from textual.events import Resize
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import RichLog

from core.lines import format_duration

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
        self._written_width = 0

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)  # scrollbar visibility (a layout if it changes) and thumb size
        self.refresh()

    @property
    def line_width(self) -> int:
        return self.scrollable_content_region.width

    def add(self, seconds: float, line: str, style: str = "", urgent: bool = True, short: str = "") -> None:
        """`short`: the line's form for a log too narrow for the whole line."""
        stamp = f"[{format_duration(seconds)}] "
        self.plain_lines.append(stamp + line)
        del self.plain_lines[:-MAX_LINES]
        entry = Entry(stamp, line, style, short)
        self.entries.append(entry)
        self._pending.append(entry)
        if urgent:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines as one renderable: one layout pass however many lines."""
        if self._pending:
            pending, self._pending = self._pending, []
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
