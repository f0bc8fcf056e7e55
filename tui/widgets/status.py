"""The status bar: state, progress, epoch/step, samples per second, ETA, device and data source.

Each datum is a reactive, so the app just assigns values; Textual folds the assignments of
one batch into a single repaint. When the bundled sample is in use a third, highlighted line
says so and how to get the full data set.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from core.lines import format_duration

STATE_STYLES = {
    "idle": "bold", "starting": "bold yellow", "running": "bold green", "paused": "bold yellow",
    "stopping": "bold yellow", "finished": "bold green", "stopped": "bold", "interrupted": "bold yellow",
    "failed": "bold red", "watching": "bold cyan", "waiting": "bold yellow",
}
STATE_MARKS = {"running": "▶", "paused": "⏸", "failed": "✗", "finished": "✓", "stopped": "■",
               "interrupted": "■", "watching": "◉"}


class ProgressText:
    """A bar of '█' (done) and '░' (to do) that fills the width it is given: legible without colour."""

    def __init__(self, done: int, total: int) -> None:
        self.fraction = min(max(done / total, 0.0), 1.0) if total else 0.0

    def __rich_console__(self, console, options):
        width = max(options.max_width, 1)
        filled = int(round(self.fraction * width))
        yield Text("█" * filled, style="green") + Text("░" * (width - filled), style="dim")


def progress_bar(done: int, total: int) -> ProgressText:
    return ProgressText(done, total)


class StatusBar(Widget):
    """Two lines (three with the bundled-data notice) docked above the footer."""

    DEFAULT_CSS = """
    StatusBar { height: auto; padding: 0 1; background: $panel; }
    """

    state: reactive[str] = reactive("idle")
    note: reactive[str] = reactive("")
    epoch: reactive[int] = reactive(0)
    epochs: reactive[int] = reactive(0)
    step: reactive[int] = reactive(0)
    total_steps: reactive[int] = reactive(0)
    samples_per_s: reactive[float] = reactive(0.0)
    eta_s: reactive[float | None] = reactive(None)
    device: reactive[str] = reactive("")
    data_source: reactive[str] = reactive("")
    bundled: reactive[bool] = reactive(False, layout=True)
    run_dir: reactive[str] = reactive("")

    def render(self) -> RenderableType:
        state = self.state
        head = Text(f"{STATE_MARKS.get(state, '●')} {state}", style=STATE_STYLES.get(state, "bold"))
        if self.note:
            head.append(f" {self.note}", style="italic")
        line1 = Table.grid(padding=(0, 1), expand=True)
        line1.add_column(no_wrap=True)
        line1.add_column(ratio=1)
        line1.add_column(no_wrap=True, justify="right")
        pct = 100.0 * self.step / self.total_steps if self.total_steps else 0.0
        eta = format_duration(self.eta_s) if self.eta_s is not None and state == "running" else "--:--"
        where = (f"epoch {self.epoch}/{self.epochs}  step {self.step:,}/{self.total_steps:,}  {pct:3.0f}%  ETA {eta}"
                 if self.total_steps else "")
        line1.add_row(head, progress_bar(self.step, self.total_steps) if self.total_steps else Text(""), Text(where))
        rate = f"{self.samples_per_s:,.0f} samples/s" if self.samples_per_s else "- samples/s"
        parts = [rate]
        if self.device:
            parts.append(self.device)
        if self.data_source and not self.bundled:
            parts.append(self.data_source)
        if self.run_dir:
            parts.append(f"run {self.run_dir}")
        line2 = Text(" · ".join(parts), no_wrap=True, overflow="ellipsis")
        if not self.bundled:
            return Group(line1, line2)
        notice = Text("⚠ bundled sample data, not the full set: pass --data-dir DIR or set MNIST_TUI_DATA",
                      style="bold black on yellow", no_wrap=True, overflow="ellipsis")
        return Group(line1, line2, notice)
