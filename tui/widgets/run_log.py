"""The log panel: the headless mode's lines (core.lines), each stamped with its time into the run.

Stamps are the run's own clock (event.time, paused time excluded), not the wall clock, so
the live app and `--watch` of the same run show identical lines.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from core.lines import format_duration


class RunLog(RichLog):
    """A RichLog that keeps the newest 5000 lines and the text of everything written (for tests)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_lines=5000, wrap=True, markup=False, highlight=False, auto_scroll=True,
                         id=id, classes=classes)
        self.plain_lines: list[str] = []

    def add(self, seconds: float, line: str, style: str = "") -> None:
        stamp = f"[{format_duration(seconds)}] "
        self.plain_lines.append(stamp + line)
        del self.plain_lines[:-5000]
        self.write(Text.assemble((stamp, "dim"), (line, style)))

    def reset(self) -> None:
        self.plain_lines.clear()
        self.clear()
