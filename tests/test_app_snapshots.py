"""Snapshot tests (pytest-textual-snapshot) of the main screen, the help screen and a populated run.

The populated screens come from a synthetic run directory opened with --watch: hand-made
events (no training, no torch arithmetic), so the pictures are the same on every machine.
Update after an intended change with `pytest tests/test_app_snapshots.py --snapshot-update`
and look at the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core.config import RunConfig
from core.events import (ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, SamplesEvent, StepEvent, to_record)
from tui.app import MnistApp

STEPS_PER_EPOCH, EPOCHS, BATCH = 50, 3, 64


def synthetic_digit(label: int) -> bytes:
    """A ring with a bar whose angle depends on the label: recognisable and fully deterministic."""
    pixels = bytearray(28 * 28)
    for r in range(28):
        for c in range(28):
            d = math.hypot(r - 13.5, c - 13.5)
            angle = math.atan2(r - 13.5, c - 13.5)
            on_ring = 8 <= d <= 11
            on_bar = d < 8 and abs(math.sin(angle - label * math.pi / 10)) < 0.25
            pixels[r * 28 + c] = 255 if on_ring else 200 if on_bar else 0
    return bytes(pixels)


def synthetic_run(run_dir: Path) -> None:
    config = RunConfig(name="demo", hidden=(128,), optimizer="adam", lr=0.001, batch_size=BATCH, epochs=EPOCHS)
    total = STEPS_PER_EPOCH * EPOCHS
    events = [ConfigEvent(config=config.to_dict(), run_dir="runs/demo", device="cpu",
                          data_source="MNIST from /data/MNIST/raw", bundled_data=False, train_size=3200,
                          test_size=1000, steps_per_epoch=STEPS_PER_EPOCH, total_steps=total,
                          classes=[str(d) for d in range(10)], parameters=101770)]
    for epoch in range(1, EPOCHS + 1):
        for i in range(1, STEPS_PER_EPOCH + 1):
            step = (epoch - 1) * STEPS_PER_EPOCH + i
            loss = 0.15 + 2.1 * math.exp(-step / 25) + 0.04 * math.sin(step * 1.7)
            events.append(StepEvent(epoch=epoch, step=step, seen=i * BATCH, epoch_size=3200, loss=loss, lr=0.001,
                                    time=step * 0.1, samples_per_s=640.0, total_steps=total))
        acc = 0.80 + 0.05 * epoch
        events.append(EpochEvent(epoch=epoch, step=epoch * STEPS_PER_EPOCH, train_loss=0.9 / epoch,
                                 train_acc=acc - 0.01, test_loss=0.8 / epoch, test_acc=acc, seconds=5.0,
                                 samples_per_s=640.0, lr=0.001, time=epoch * STEPS_PER_EPOCH * 0.1 + 0.5))
        labels = [k % 10 for k in range(16)]
        predictions = [(k + 3) % 10 if k in (4, 11) else k % 10 for k in range(16)]
        events.append(SamplesEvent(epoch=epoch, indices=list(range(16)), labels=labels, predictions=predictions,
                                   confidences=[0.9] * 16,
                                   images=[SamplesEvent.encode_image(synthetic_digit(k)) for k in labels]))
        matrix = [[0] * 10 for _ in range(10)]
        for t in range(10):
            matrix[t][t] = 80 + 5 * epoch
            matrix[t][(t + 3) % 10] = 20 - 5 * epoch
        events.append(ConfusionEvent(epoch=epoch, matrix=matrix))
    events.append(EndEvent(status="finished", reason=f"trained {EPOCHS} epochs", epoch=EPOCHS + 1, step=total,
                           time=16.0, checkpoint="runs/demo/checkpoint.pt", best_test_acc=0.95, final_test_acc=0.95))
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"config": config.to_dict()}))
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(to_record(e)) + "\n" for e in events))


@pytest.fixture
def demo_run(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # a relative path keeps the tmp dir's name out of the picture
    synthetic_run(tmp_path / "demo-run")
    return Path("demo-run")


@pytest.fixture
def no_full_data(tmp_path, monkeypatch) -> None:
    """The form's data line on every machine: no cache, no $MNIST_TUI_DATA, so the bundled sample."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)


async def data_line_settled(pilot) -> None:
    """Wait for the form's data lookup (a thread) to show its answer."""
    from textual.css.query import NoMatches

    while True:
        try:
            text = str(pilot.app.form.query_one("#form-data").render())
        except NoMatches:  # not composed yet
            text = ""
        if text and "looking" not in text:
            return
        await pilot.pause(0.02)


def test_main_screen_80x24(snap_compare, no_full_data):
    assert snap_compare(MnistApp(RunConfig(), cursor_blink=False), terminal_size=(80, 24), run_before=data_line_settled)


def test_main_screen_120x40(snap_compare, no_full_data):
    assert snap_compare(MnistApp(RunConfig(), cursor_blink=False), terminal_size=(120, 40),
                        run_before=data_line_settled)


def test_help_screen(snap_compare, no_full_data):
    assert snap_compare(MnistApp(RunConfig(), cursor_blink=False), terminal_size=(80, 24), press=["question_mark"],
                        run_before=data_line_settled)


def test_watched_run_charts_120x40(snap_compare, demo_run):
    assert snap_compare(MnistApp(watch_dir=demo_run, cursor_blink=False), terminal_size=(120, 40))


def test_watched_run_digits_80x24(snap_compare, demo_run):
    assert snap_compare(MnistApp(watch_dir=demo_run, cursor_blink=False), terminal_size=(80, 24), press=["3"])


def test_watched_run_everything_at_180x50(snap_compare, demo_run):
    assert snap_compare(MnistApp(watch_dir=demo_run, cursor_blink=False), terminal_size=(180, 50))
