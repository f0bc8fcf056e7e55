"""The log panel: the headless mode's lines (core.lines), each stamped with its time into the run.

Stamps are the run's own clock (event.time, paused time excluded), not the wall clock, so
the live app and `--watch` of the same run show identical lines.

Every RichLog write grows its virtual size, which makes Textual lay out the whole screen
again; so frequent lines (steps, `urgent=False`) are buffered and written together at most
once a second, while rare ones (epochs, state changes, the end) go out at once.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from core.lines import format_duration

FLUSH_EVERY_S = 1.0


class RunLog(RichLog):
    """A RichLog that keeps the newest 5000 lines and the text of everything written (for tests)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_lines=5000, wrap=True, markup=False, highlight=False, auto_scroll=True,
                         id=id, classes=classes)
        self.plain_lines: list[str] = []
        self._pending: list[Text] = []

    def on_mount(self) -> None:
        self.set_interval(FLUSH_EVERY_S, self.flush)

    def add(self, seconds: float, line: str, style: str = "", urgent: bool = True) -> None:
        stamp = f"[{format_duration(seconds)}] "
        self.plain_lines.append(stamp + line)
        del self.plain_lines[:-5000]
        self._pending.append(Text.assemble((stamp, "dim"), (line, style)))
        if urgent:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines as one renderable: one layout pass however many lines."""
        if self._pending:
            pending, self._pending = self._pending, []
            self.write(Text("\n").join(pending[-5000:]))

    def reset(self) -> None:
        self.plain_lines.clear()
        self._pending.clear()
        self.clear()
