"""Headless output: a live progress line on a terminal, plain tutorial-style lines when piped, or JSON.

Piped output must be greppable and diffable, so it never contains carriage returns or colour
codes; the live view is Rich's Progress, which draws only when stdout is a terminal.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from typing import IO, Callable

from rich.columns import Columns
from rich.console import Console, Group
from rich.progress import BarColumn, Progress, ProgressColumn, Task
from rich.text import Text

from core.events import ConfigEvent, EndEvent, EpochEvent, Event, SamplesEvent, StateEvent, StepEvent, to_record
from core.lines import eta_seconds, format_duration, format_event
from core.machine import MachineMonitor, MachineStats, monitor_for
from core.render import render_halfblock, sample_strip

SUMMARY_DIGITS = 8
BAR_WIDTH = 40
MIN_BAR_WIDTH = 10
MACHINE_REFRESH_S = 0.5  # machine stats are sampled at most twice a second, whatever Rich's refresh rate


class TrainingLine:
    """The live progress line's words and layout: epoch, bar, progress and the machine at a glance.

    One line at any width: the machine stats get the room left after the words and a short bar
    (dropping their least useful parts first), and the bar takes the rest, up to BAR_WIDTH.
    """

    def __init__(self, epochs: int, test_size: int, console: Console, monitor: MachineMonitor,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.epochs, self.test_size, self.console, self.monitor, self.clock = epochs, test_size, console, monitor, clock
        self._stats = MachineStats()
        self._sampled_at = -MACHINE_REFRESH_S

    def epoch(self, task: Task) -> str:
        return f"epoch {task.fields['epoch']}/{self.epochs}"

    def detail(self, task: Task) -> str:
        if task.fields["evaluating"]:
            return f"evaluating on {self.test_size:,} test images"
        return (f"{task.percentage:>3.0f}%  loss {task.fields['loss']:.4f}  {task.fields['rate']} samples/s  "
                f"ETA {task.fields['eta']}")

    def _words_width(self, task: Task) -> int:
        return len(self.epoch(task)) + len(self.detail(task)) + 2  # the grid's one-cell gaps around the bar

    def machine(self, task: Task) -> str:
        """'|  gpu 45% · vram ...' fitted to the room; the machine is sampled at most every MACHINE_REFRESH_S."""
        now = self.clock()
        if now - self._sampled_at >= MACHINE_REFRESH_S:
            self._sampled_at, self._stats = now, self.monitor.sample()
        room = self.console.width - self._words_width(task) - MIN_BAR_WIDTH - 4  # gap and "|  "
        text = self._stats.short_text(room) if room > 0 else ""
        return f"|  {text}" if text else ""

    def bar_width(self, task: Task) -> int:
        machine = self.machine(task)
        room = self.console.width - self._words_width(task) - (len(machine) + 1 if machine else 0)
        return max(MIN_BAR_WIDTH, min(BAR_WIDTH, room))


class FunctionColumn(ProgressColumn):
    def __init__(self, text_of: Callable[[Task], str], style: str = "") -> None:
        super().__init__()
        self.text_of, self.style = text_of, style

    def render(self, task: Task) -> Text:
        return Text(self.text_of(task), style=self.style)


class FittedBarColumn(BarColumn):
    """Rich's bar, as wide as the line has room for."""

    def __init__(self, line: TrainingLine) -> None:
        super().__init__(bar_width=BAR_WIDTH)
        self.line = line

    def render(self, task: Task):
        self.bar_width = self.line.bar_width(task)
        return super().render(task)


def output_gone(exc: BaseException) -> bool:
    """The reader of our output went away: a closed pipe (`| head`), or a terminal that hung up (EIO)."""
    return isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno in (errno.EPIPE, errno.EIO))


def silence_stdout() -> None:
    """Point stdout at /dev/null, so Python's flush at exit does not fail (and complain on stderr) again.

    What the Python docs advise for SIGPIPE: the data still buffered for the closed pipe is dropped.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout already closed or not a real file (tests)
        pass


class ConsolePrinter:
    """An event sink for `--no-ui`.

    When the output goes away (`| head -2` has read its lines) the printer stops writing and calls
    `on_output_closed` once: for the command line that is an interrupt, like Ctrl-C, not a
    failure of the run.
    """

    def __init__(self, stream: IO[str] | None = None, *, json_mode: bool = False, live: bool | None = None,
                 on_output_closed: Callable[[], None] | None = None) -> None:
        self.on_output_closed = on_output_closed
        self.clock = time.monotonic  # when the machine stats were last sampled; tests set their own
        self.output_closed = False
        self.hung_up = False  # the output was a terminal that hung up (EIO), not a pipe whose reader left
        self.stream = stream or sys.stdout
        self.json_mode = json_mode
        self.live = self.stream.isatty() if live is None else live
        self.console = Console(file=self.stream, force_terminal=self.live, no_color=not self.live,
                               highlight=False, soft_wrap=True)
        self.progress: Progress | None = None
        self.task = None
        self.batch_size = 1
        self.test_size: int | None = None
        self.classes: list[str] = [str(d) for d in range(10)]
        self.last_samples: SamplesEvent | None = None

    def __call__(self, event: Event) -> None:
        if self.output_closed:
            return
        try:
            self._show(event)
        except OSError as exc:
            if not output_gone(exc):
                raise
            self.output_closed = True
            self.hung_up = exc.errno == errno.EIO
            try:
                self._stop_progress()  # Rich stops its refresh thread before its last (failing) write
            except OSError:
                pass
            if self.on_output_closed is not None:
                self.on_output_closed()

    def _show(self, event: Event) -> None:
        if self.json_mode:
            if isinstance(event, ConfigEvent) and event.bundled_data:  # stdout is for records; still tell the user
                sys.stderr.write(f"Note: using the {event.data_source}\n")
            self.stream.write(json.dumps(to_record(event), separators=(",", ":")) + "\n")
            self.stream.flush()
            return
        if isinstance(event, ConfigEvent):
            self.batch_size = event.config["batch_size"]
            self.test_size = event.test_size
            self.classes = event.classes
            self._print(format_event(event))
            if event.bundled_data:
                self._print(f"Note: using the {event.data_source}", style="yellow")
            if self.live:
                self._start_progress(event)
        elif isinstance(event, StepEvent):
            if self.progress is not None:
                eta = eta_seconds(event, self.batch_size)
                self.progress.update(self.task, completed=event.step, epoch=event.epoch, loss=event.loss, evaluating=False,
                                     rate=f"{event.samples_per_s:,.0f}",
                                     eta=format_duration(eta) if eta is not None else "--:--")
            else:
                self._print(format_event(event))
        elif isinstance(event, StateEvent) and event.state == "evaluating":
            # transient: live, it replaces the bar's 100% / ETA 00:00; piped, the epoch line follows at once
            if self.progress is not None:
                self.progress.update(self.task, evaluating=True)
        elif isinstance(event, EpochEvent) and self.progress is not None:
            self.progress.update(self.task, evaluating=False)  # the evaluation it announced is done
            self._print(format_event(event, self.test_size))
        elif isinstance(event, SamplesEvent):
            self.last_samples = event
        elif isinstance(event, EndEvent):
            self._stop_progress()
            if self.test_size is None and event.status == "failed":
                return  # failed before training began: the CLI's one stderr line says it; don't say it twice
            self._print(format_event(event), style="bold green" if event.status == "finished" else "bold red")
            self._print_samples()
        else:
            line = format_event(event, self.test_size)
            if line:
                self._print(line)
        self.stream.flush()

    def _print(self, line: str | None, style: str | None = None) -> None:
        if line is None:
            return
        if self.live:
            target = self.progress.console if self.progress is not None else self.console
            target.print(line, style=style, markup=False)
        else:
            self.stream.write(line + "\n")

    def _start_progress(self, event: ConfigEvent) -> None:
        self.monitor = monitor_for(event.device)
        line = TrainingLine(event.config["epochs"], event.test_size, self.console, self.monitor, self.clock)
        self.progress = Progress(
            FunctionColumn(line.epoch), FittedBarColumn(line), FunctionColumn(line.detail),
            FunctionColumn(line.machine, style="dim"),
            console=self.console, transient=True, refresh_per_second=5)
        self.task = self.progress.add_task("train", total=event.total_steps, completed=event.start_step,
                                           epoch=event.start_epoch, loss=float("nan"), rate="-", eta="--:--",
                                           evaluating=False)
        self.progress.start()

    def _stop_progress(self) -> None:
        if self.progress is not None:
            progress, self.progress = self.progress, None
            self.monitor.close()
            progress.stop()

    def _print_samples(self) -> None:
        """The end-of-run row of test digits with predicted/true classes; wrong ones marked."""
        s = self.last_samples
        if s is None:
            return
        count = min(SUMMARY_DIGITS, len(s.images))
        images = [s.image_bytes(i) for i in range(count)]
        if not self.live:
            self.stream.write("Sample test digits (ok/x predicted/true):\n")
            for line in sample_strip(images, s.labels[:count], s.predictions[:count], self.classes):
                self.stream.write(line + "\n")
            return
        cells = []
        for i in range(count):
            ok = s.predictions[i] == s.labels[i]
            caption = Text(f"{'✓' if ok else '✗'} {self.classes[s.predictions[i]][:6]}/{self.classes[s.labels[i]][:6]}",
                           style="green" if ok else "bold red")
            cells.append(Group(render_halfblock(images[i], 14), caption))
        self.console.print("Sample test digits (predicted/true):")
        self.console.print(Columns(cells, padding=(0, 2)))
