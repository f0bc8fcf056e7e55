"""The status bar: where the run is, its numbers, and where it runs, in three lines.

1. state, progress bar, epoch/step, percent, ETA;
2. the numbers at a glance: last loss, last and best test accuracy, elapsed run time, samples/s;
3. where: device (or the GPU's name, load and memory), CPU% and memory of the app and its training
   process, the run directory, the data.

A fourth, highlighted line says when the bundled sample is in use. Each line is built from
phrases that are dropped whole, least useful first, when the terminal is narrow (an 80-column
terminal loses the data source before the run directory), so a phrase is never cut in the
middle; only a path that cannot fit on its own is shortened, in its middle, with '…'. The
height is the number of lines, not a measurement of wrapped text, so a resize never makes the
bar wrap. Each datum is a reactive, so the app just assigns values; Textual folds the
assignments of one batch into a single repaint. The progress bar is '█' done and '░' to do,
legible without colour.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from rich.console import RenderableType
from rich.text import Text
from textual import work
from textual.reactive import reactive
from textual.widget import Widget
from textual.worker import get_current_worker

from core.events import EpochEvent, Event, StepEvent
from core.lines import format_duration

STATE_STYLES = {
    "idle": "bold", "starting": "bold yellow", "running": "bold green", "paused": "bold yellow",
    "evaluating": "bold cyan", "stopping": "bold yellow", "finished": "bold green", "stopped": "bold",
    "interrupted": "bold yellow", "failed": "bold red", "watching": "bold cyan", "waiting": "bold yellow",
}
STATE_MARKS = {"running": "▶", "paused": "⏸", "evaluating": "⧗", "failed": "✗", "finished": "✓", "stopped": "■",
               "interrupted": "■", "watching": "◉"}
SEPARATOR = " · "
ACTIVE_STATES = ("starting", "running", "evaluating", "paused", "stopping")
BUNDLED_NOTICE = "⚠ bundled sample data, not the full set: --data-dir DIR or MNIST_TUI_DATA"
MACHINE_EVERY_S = 2.0


@dataclass(frozen=True)
class Phrase:
    """One piece of a line; `rank`: the lower, the longer it stays when room runs out."""

    text: str
    rank: int = 0
    style: str = ""
    path: bool = False  # may be shortened in its middle when it cannot fit whole


def short_path(path: str) -> str:
    """A run directory as the user typed it: relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return relative if not relative.startswith("..") else path


def middle_ellipsis(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    if width < 5:
        return text[:width]
    keep = width - 1
    return text[: keep // 3] + "…" + text[len(text) - (keep - keep // 3):]


def fit(phrases: Sequence[Phrase], width: int) -> Text:
    """The phrases joined by ' · ', dropping the highest-ranked whole phrases until the line fits."""
    kept = [p for p in phrases if p.text]
    while kept and len(SEPARATOR.join(p.text for p in kept)) > width:
        if len(kept) == 1:
            only = kept[0]
            text = middle_ellipsis(only.text, width) if only.path else only.text[:width]
            kept = [Phrase(text, only.rank, only.style)]
            break
        drop = max(range(len(kept)), key=lambda i: (kept[i].rank, i))
        if kept[drop].path and kept[drop].rank == min(p.rank for p in kept):
            room = width - len(SEPARATOR.join(p.text for i, p in enumerate(kept) if i != drop)) - len(SEPARATOR)
            if room >= 12:  # a path worth keeping, shortened in the middle
                kept[drop] = Phrase(middle_ellipsis(kept[drop].text, room), kept[drop].rank, kept[drop].style)
                continue
        del kept[drop]
    line = Text(no_wrap=True, overflow="crop")
    for i, phrase in enumerate(kept):
        if i:
            line.append(SEPARATOR, style="dim")
        line.append(phrase.text, style=phrase.style)
    return line


def machine_phrases(stats: Any) -> list[Phrase]:
    """core.machine's parts (GPU name, utilisation, memory; CPU%, RSS), each a phrase ranked by
    its own priority; a part it could not measure (no GPU, no psutil) is simply absent."""
    if stats is None:
        return []
    return [Phrase(text, 1 + priority) for priority, text in stats.parts()]


class ProcessTreeSampler:
    """Machine stats for the run: the GPU of its device (core.machine), and the CPU% and memory of
    the app with every process it started, summed (training runs in a child process, which one
    changes from run to run). Called off the UI thread."""

    def __init__(self) -> None:
        self._device: str | None = None
        self._gpu: Any = None
        self._monitors: dict[int, Any] = {}

    def __call__(self, device: str) -> Any:
        from core import machine

        if device != self._device:
            if self._gpu is not None:
                self._gpu.close()
            self._device, self._gpu = device, machine.monitor_for(device) if device.startswith("cuda") else None
        stats = self._gpu.sample() if self._gpu is not None else machine.MachineStats()
        try:
            import psutil

            me = psutil.Process()
            pids = [me.pid] + [child.pid for child in me.children(recursive=True)]
        except Exception:  # noqa: BLE001 - no psutil: no process stats
            return stats
        self._monitors = {pid: self._monitors.get(pid) or machine.MachineMonitor(pid=pid) for pid in pids}
        samples = [monitor.sample() for monitor in self._monitors.values()]
        cpu = [s.cpu_percent for s in samples if s.cpu_percent is not None]
        rss = [s.rss_bytes for s in samples if s.rss_bytes is not None]
        return replace(stats, cpu_percent=sum(cpu) if cpu else None, rss_bytes=sum(rss) if rss else None)


class StatusBar(Widget):
    """Three lines (four with the bundled-data notice) docked above the footer."""

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
    last_loss: reactive[float | None] = reactive(None)
    last_test_acc: reactive[float | None] = reactive(None)
    best_test_acc: reactive[float | None] = reactive(None)
    best_epoch: reactive[int] = reactive(0)
    elapsed_s: reactive[float | None] = reactive(None)
    machine: reactive[Any] = reactive(None)
    """The latest core.machine snapshot, or None (no stats: nothing shown)."""

    def __init__(self, *, sampler: Callable[[str], Any] | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        """`sampler(device)`: a core.machine.MachineStats; the default is a ProcessTreeSampler (tests pass a fake)."""
        super().__init__(id=id, classes=classes)
        self._sampler = sampler
        self.show_machine = True  # False in --watch: this machine's numbers are not the watched run's

    # ---- numbers folded from events ----
    def clear_numbers(self) -> None:
        self.last_loss = self.last_test_acc = self.best_test_acc = self.elapsed_s = None
        self.best_epoch = 0

    def observe(self, events: Sequence[Event]) -> None:
        """Take the numbers at a glance from a batch of events (live, replayed or watched)."""
        for event in events:
            if isinstance(event, StepEvent):
                self.last_loss = event.loss
            elif isinstance(event, EpochEvent):
                self.last_test_acc = event.test_acc
                if self.best_test_acc is None or event.test_acc > self.best_test_acc:
                    self.best_test_acc, self.best_epoch = event.test_acc, event.epoch
            elapsed = getattr(event, "time", None)
            if isinstance(elapsed, (int, float)):
                self.elapsed_s = float(elapsed)

    # ---- machine stats ----
    def watch_state(self, state: str) -> None:
        if state in ACTIVE_STATES and self.machine is None and self.is_mounted:
            self._sample_machine()  # at once, not up to MACHINE_EVERY_S into the run

    def on_mount(self) -> None:
        self._sample_machine()
        self.set_interval(MACHINE_EVERY_S, self._sample_machine)

    @work(thread=True, exclusive=True, group="machine-stats", exit_on_error=False)
    def _sample_machine(self) -> None:
        """NVML and psutil calls off the UI thread (the first NVML call can take a while)."""
        if not self.show_machine or self.state not in ACTIVE_STATES:  # idle numbers would be the app's own
            if self.machine is not None:
                self.app.call_from_thread(setattr, self, "machine", None)
            return
        if self._sampler is None:
            self._sampler = ProcessTreeSampler()
        try:
            stats = self._sampler(self.device or "cpu")
        except Exception:  # noqa: BLE001 - stats are a nicety: a failing library just shows nothing
            stats = None
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(setattr, self, "machine", stats)

    # ---- drawing ----
    def get_content_height(self, container, viewport, width: int) -> int:
        return 4 if self.bundled else 3

    def render(self) -> RenderableType:
        """Plain Text assembled by hand: this repaints up to 10 times a second, so no tables."""
        width = max(self.size.width - 2, 20)
        lines = [self._progress_line(width), fit(self._number_phrases(), width), fit(self._where_phrases(), width)]
        if self.bundled:
            lines.append(fit([Phrase(BUNDLED_NOTICE, style="bold black on yellow")], width))
        return Text("\n", no_wrap=True).join(lines)

    def _progress_line(self, width: int) -> Text:
        state = self.state
        head = [Phrase(f"{STATE_MARKS.get(state, '●')} {state}", 0, STATE_STYLES.get(state, "bold"))]
        if self.note:
            head.append(Phrase(self.note, 5, "italic"))
        if not self.total_steps:
            return fit(head, width)
        pct = 100.0 * self.step / self.total_steps
        eta = format_duration(self.eta_s) if self.eta_s is not None and state == "running" else "--:--"
        where = [Phrase(f"epoch {self.epoch}/{self.epochs}", 0), Phrase(f"step {self.step:,}/{self.total_steps:,}", 4),
                 Phrase(f"{pct:3.0f}%", 1), Phrase(f"ETA {eta}", 2)]
        left = fit(head, width - 12)  # the state and its note first: they say what is happening now
        right = fit(where, width - left.cell_len - 2)
        room = width - left.cell_len - right.cell_len - 2
        line = Text(no_wrap=True, overflow="crop")
        line.append_text(left)
        if room >= 6:
            filled = int(round(min(max(self.step / self.total_steps, 0.0), 1.0) * room))
            line.append(" ")
            line.append("█" * filled, style="green")
            line.append("░" * (room - filled), style="dim")
            line.append(" ")
        else:
            line.append(" " * max(2, room + 2))
        line.append_text(right)
        return line

    def _number_phrases(self) -> list[Phrase]:
        phrases = []
        if self.last_loss is not None:
            phrases.append(Phrase(f"loss {self.last_loss:.4f}", 0, "bold"))
        if self.last_test_acc is not None:
            phrases.append(Phrase(f"test {self.last_test_acc:.2%}", 0, "bold"))
        if self.best_test_acc is not None:
            phrases.append(Phrase(f"best {self.best_test_acc:.2%} (epoch {self.best_epoch})", 1))
        if self.elapsed_s is not None:
            phrases.append(Phrase(f"{format_duration(self.elapsed_s)} elapsed", 1))
        if self.samples_per_s:
            phrases.append(Phrase(f"{self.samples_per_s:,.0f} samples/s", 2))
        return phrases

    def _where_phrases(self) -> list[Phrase]:
        machine = machine_phrases(self.machine)
        has_gpu_name = bool(getattr(self.machine, "gpu_name", None))
        phrases = []
        if self.device and not (has_gpu_name and self.device.startswith("cuda")):
            phrases.append(Phrase(f"device {self.device}", 2))
        phrases.extend(machine)
        if self.run_dir:
            phrases.append(Phrase(f"run {short_path(self.run_dir)}", 0, path=True))
        if self.data_source and not self.bundled:
            phrases.append(Phrase(self.data_source, 6, path=True))
        return phrases
