"""The status bar: state, progress, epoch/step, samples per second, ETA, device and data source.

Each datum is a reactive, so the app just assigns values; Textual folds the assignments of
one batch into a single repaint. The progress bar is '█' done and '░' to do, legible without
colour. When the bundled sample is in use a third, highlighted line says so and how to get
the full data set.
"""

from __future__ import annotations

from rich.console import RenderableType
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
        """Plain Text assembled by hand: this repaints up to 10 times a second, so no tables."""
        width = max(self.size.width - 2, 20)
        state = self.state
        head = Text(f"{STATE_MARKS.get(state, '●')} {state}", style=STATE_STYLES.get(state, "bold"))
        if self.note:
            head.append(f" {self.note}", style="italic")
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append_text(head)
        if self.total_steps:
            pct = 100.0 * self.step / self.total_steps
            eta = format_duration(self.eta_s) if self.eta_s is not None and state == "running" else "--:--"
            where = f"epoch {self.epoch}/{self.epochs}  step {self.step:,}/{self.total_steps:,}  {pct:3.0f}%  ETA {eta}"
            room = width - head.cell_len - len(where) - 2
            if room >= 6:
                filled = int(round(min(max(self.step / self.total_steps, 0.0), 1.0) * room))
                line.append(" ")
                line.append("█" * filled, style="green")
                line.append("░" * (room - filled), style="dim")
                line.append(" ")
            else:
                line.append("  ")
            line.append(where)
        rate = f"{self.samples_per_s:,.0f} samples/s" if self.samples_per_s else "- samples/s"
        parts = [rate]
        if self.device:
            parts.append(self.device)
        if self.data_source and not self.bundled:
            parts.append(self.data_source)
        if self.run_dir:
            parts.append(f"run {self.run_dir}")
        line.append("\n" + " · ".join(parts))
        if self.bundled:
            line.append("\n")
            line.append("⚠ bundled sample data, not the full set: --data-dir DIR or MNIST_TUI_DATA",
                        style="bold black on yellow")
        return line
