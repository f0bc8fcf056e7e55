"""The headless printer's live line: the "evaluating" state and the machine at a glance, at several widths."""

from __future__ import annotations

import io
import re

import pytest

import core.console as console_mod
from core.console import ConsolePrinter
from core.events import ConfigEvent, EpochEvent, StateEvent, StepEvent
from core.machine import GIB, MIB, MachineStats

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
H200 = MachineStats(cpu_percent=97.4, rss_bytes=812 * MIB, gpu_name="NVIDIA H200", gpu_memory_used=3 * GIB,
                    gpu_memory_total=140 * GIB, gpu_utilization=45)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeMonitor:
    def __init__(self, stats: MachineStats) -> None:
        self.stats, self.samples, self.closed = stats, 0, False

    def sample(self) -> MachineStats:
        self.samples += 1
        return self.stats

    def close(self) -> None:
        self.closed = True


def config_event(device: str = "cuda:0") -> ConfigEvent:
    return ConfigEvent(config={"epochs": 2, "batch_size": 100, "name": "t", "model": "mlp", "optimizer": "adam",
                               "lr": 0.001}, run_dir="runs/t", device=device, data_source="MNIST from data",
                       bundled_data=False, train_size=1000, test_size=10000, steps_per_epoch=10, total_steps=20,
                       classes=[str(d) for d in range(10)])


def step(n: int) -> StepEvent:
    return StepEvent(epoch=1, step=n, seen=n * 100, epoch_size=1000, loss=0.25, lr=0.001, time=n * 0.1,
                     samples_per_s=5000.0, total_steps=20)


def last_frame(stream: FakeTerminal) -> str:
    """The last drawn state of the live line (Rich redraws it in place)."""
    plain = ANSI.sub("", stream.getvalue()).replace("\r", "\n")
    lines = [line for line in plain.splitlines() if line.startswith("epoch ")]
    return lines[-1]


@pytest.fixture
def printer(monkeypatch):
    def make(width: int, stats: MachineStats = H200) -> tuple[ConsolePrinter, FakeTerminal, list[FakeMonitor]]:
        monkeypatch.setenv("COLUMNS", str(width))
        monitors: list[FakeMonitor] = []

        def fake_monitor_for(device: str, pid=None) -> FakeMonitor:
            monitors.append(FakeMonitor(stats if device.startswith("cuda") else MachineStats(cpu_percent=50.0)))
            return monitors[-1]

        monkeypatch.setattr(console_mod, "monitor_for", fake_monitor_for)
        stream = FakeTerminal()
        return ConsolePrinter(stream, live=True), stream, monitors
    return make


def test_evaluating_replaces_the_finished_bar_until_the_epoch_line(printer):
    p, stream, _ = printer(120)
    p(config_event())
    p(step(10))
    p.progress.refresh()
    assert " 50%  loss 0.2500  5,000 samples/s  ETA 00:00" in last_frame(stream)
    p(StateEvent("evaluating", 10, 1.0, message="evaluating epoch 1 on 10,000 test images"))
    p.progress.refresh()
    frame = last_frame(stream)
    assert "evaluating on 10,000 test images" in frame and "ETA" not in frame
    p(EpochEvent(epoch=1, step=10, train_loss=0.3, train_acc=0.9, test_loss=0.2, test_acc=0.95, seconds=1.0,
                 samples_per_s=1000.0, lr=0.001, time=1.2))
    p(step(11))
    p.progress.refresh()
    assert "evaluating" not in last_frame(stream) and " 55%  loss" in last_frame(stream)


def test_piped_output_does_not_print_the_evaluating_state():
    stream = io.StringIO()
    p = ConsolePrinter(stream, live=False)
    p(config_event("cpu"))
    p(StateEvent("evaluating", 10, 1.0, message="evaluating epoch 1 on 10,000 test images"))
    p(StateEvent("lr", 10, 1.0, lr=0.5, message="learning rate set to 0.5"))
    out = stream.getvalue()
    assert "evaluating" not in out and "learning rate set to 0.5" in out


def drawn(p: ConsolePrinter, stream: FakeTerminal, device: str) -> str:
    """The live line after a run on `device` has taken a few steps."""
    p(config_event(device))
    p(step(5))
    p.progress.refresh()
    return last_frame(stream)


def test_machine_stats_on_the_live_line_at_130_columns(printer):
    p, stream, monitors = printer(130)
    now = [100.0]
    p.clock = lambda: now[0]
    frame = drawn(p, stream, "cuda:0")
    assert frame.endswith("|  H200 · gpu 45% · vram 3.0/140 GiB · cpu 97% · rss 812 MiB")
    assert len(frame) <= 130
    sampled = monitors[0].samples
    now[0] += 0.4
    p.progress.refresh()
    p.progress.refresh()
    assert monitors[0].samples == sampled  # redraws within half a second reuse the sample
    now[0] += 0.2
    p.progress.refresh()
    assert monitors[0].samples == sampled + 1
    p._stop_progress()
    assert monitors[0].closed


@pytest.mark.parametrize("width", [80, 100])
def test_live_line_fits_narrow_terminals_dropping_whole_stats(printer, width):
    p, stream, _ = printer(width)
    frame = drawn(p, stream, "cuda:0")
    assert len(frame) <= width, frame
    words, stats = frame.split("|  ")
    assert words.rstrip().endswith("ETA 00:00") and stats.startswith("gpu 45%")
    parts = stats.split(" · ")
    full = H200.short_text().split(" · ")
    assert all(part in full for part in parts)  # whole parts only, nothing cut mid-number


def test_no_gpu_shows_only_the_process(printer):
    p, stream, _ = printer(120)
    frame = drawn(p, stream, "cpu")
    assert frame.endswith("|  cpu 50%") and "gpu" not in frame
