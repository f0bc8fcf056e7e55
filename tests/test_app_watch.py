"""`--watch RUN_DIR`: the same app, read-only, fed from metrics.jsonl instead of a Trainer."""

from __future__ import annotations

import os

import pytest

from core.config import RunConfig
from core.engine import Trainer
from core import runlog
from core.runlog import METRICS_FILE
from tui.app import MnistApp


@pytest.fixture(scope="module")
def finished_run(tiny_data, tmp_path_factory):
    """A real 2-epoch run on generated data, written by the headless engine."""
    run_dir = tmp_path_factory.mktemp("watched") / "run"
    config = RunConfig(model="mlp", hidden=(32,), optimizer="adam", lr=0.003, batch_size=32, epochs=2)
    end = Trainer(config, run_dir, data_dir=str(tiny_data)).run()
    assert end.status == "finished"
    return run_dir


def step_lines(lines: list[bytes]) -> int:
    return sum(b'"type":"step"' in line for line in lines)


async def test_watch_shows_a_finished_run_completely_and_read_only(finished_run):
    lines = (finished_run / METRICS_FILE).read_bytes().splitlines()
    app = MnistApp(watch_dir=finished_run, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.run_status == "finished"
        assert app.loss_chart.point_count("loss") == step_lines(lines)
        assert app.acc_chart.point_count("test") == 2
        assert app.samples.event is not None and app.confusion.total == 200
        assert any(line.startswith("[") and "Run finished" in line for line in app.run_log.plain_lines)
        assert app.form.locked and app.form.query_one("#hidden").value == "32"
        for action in ("start", "resume_run", "pause", "stop", "change_lr"):
            assert app.check_action(action, ()) is False
        await pilot.press("s", "x", "p")  # controls do nothing in a read-only view
        assert not app.lifecycle.active and app.run_status == "finished"
        await pilot.press("q")
    assert app.return_code == 0


async def test_watch_tails_a_run_being_written_including_a_half_written_line(finished_run, tmp_path):
    lines = (finished_run / METRICS_FILE).read_bytes().splitlines(keepends=True)
    live = tmp_path / "live"
    live.mkdir()
    (live / "config.json").write_bytes((finished_run / "config.json").read_bytes())
    metrics = live / METRICS_FILE
    first_epoch = next(i for i, line in enumerate(lines) if b'"type":"epoch"' in line)
    half = lines[first_epoch][: len(lines[first_epoch]) // 2]
    metrics.write_bytes(b"".join(lines[:first_epoch]) + half)  # the writer is mid-line
    writer = runlog.lock_run_dir(live)  # and holds the run directory's lock, as a live writer does

    app = MnistApp(watch_dir=live, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.run_status == "evaluating"  # the last whole record: the first epoch's evaluation began
        assert app.loss_chart.point_count("loss") == step_lines(lines[:first_epoch])
        assert app.acc_chart.point_count("test") == 0  # the half line is not an event yet

        with open(metrics, "ab") as fh:
            fh.write(lines[first_epoch][len(half):])
        app.poll_watch()
        assert app.acc_chart.point_count("test") == 1
        assert app.run_status == "running"  # the epoch's result ends its evaluation

        with open(metrics, "ab") as fh:
            fh.write(b"".join(lines[first_epoch + 1:]))
        app.poll_watch()
        assert app.run_status == "finished"
        assert app.acc_chart.point_count("test") == 2
        assert app.loss_chart.point_count("loss") == step_lines(lines)
    os.close(writer)


async def test_watch_waits_for_a_metrics_file_that_does_not_exist_yet(finished_run, tmp_path):
    run_dir = tmp_path / "early"
    run_dir.mkdir()
    (run_dir / "config.json").write_bytes((finished_run / "config.json").read_bytes())
    app = MnistApp(watch_dir=run_dir, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.run_status == "waiting" and "waiting for metrics.jsonl" in app.status.note
        (run_dir / METRICS_FILE).write_bytes((finished_run / METRICS_FILE).read_bytes())
        app.poll_watch()
        assert app.run_status == "finished"
