"""Pilot tests of the Textual app: whole short runs on generated data, driven by the keys.

Waiting is always for a condition the app makes true (a state, a log line), with a generous
deadline for a loaded machine; no test sleeps and hopes.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pilot_wait import waiter

from core.config import RunConfig
from core.runlog import CHECKPOINT_FILE, METRICS_FILE, iter_records
from tui.app import MnistApp, process_engine
from tui.screens import HelpScreen, LearningRateScreen, MessageDialog, key_label

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 120.0


wait_for = waiter(TIMEOUT_S)


def records(run_dir: Path) -> list[dict]:
    return list(iter_records(run_dir / METRICS_FILE))


def log_has(app: MnistApp, text: str) -> bool:
    return any(text in line for line in app.run_log.plain_lines)


def small(**overrides) -> RunConfig:
    base = RunConfig(model="mlp", hidden=(32,), optimizer="adam", lr=0.003, batch_size=32, epochs=2)
    return base.with_overrides(**overrides)


async def test_keys_drive_a_whole_run_configure_start_pause_lr_stop_quit(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    app = MnistApp(small(epochs=300, log_interval=1), run_dir=run_dir, data_dir=str(tiny_data), cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        # configure with the keyboard: learning rate typed, optimizer picked from its list
        app.form.query_one("#lr").focus()
        await pilot.press(*"0.05")
        app.form.query_one("#optimizer").focus()
        await pilot.press("enter", "down", "enter")  # adam -> adamw
        assert app.form.query_one("#optimizer").value == "adamw"
        await pilot.press("escape", "s", "p")  # leave the form, start, pause at once
        await wait_for(pilot, lambda: app.run_status == "paused", "the run to pause")
        assert app.lifecycle.active and app.run_spec.config.lr == 0.05
        paused_step = app.status.step
        assert paused_step >= 1

        await pilot.press("l")
        assert isinstance(app.screen, LearningRateScreen)
        await pilot.press(*"0.02", "enter")
        assert not isinstance(app.screen, LearningRateScreen)
        assert app.status.step == paused_step  # paused means paused: nothing trained meanwhile

        await pilot.press("p")  # continue; the engine applies the new rate first
        await wait_for(pilot, lambda: log_has(app, "learning rate set to 0.02"), "the lr change in the log")
        await wait_for(pilot, lambda: app.model.current_lr == 0.02 and app.status.step > paused_step, "a step at lr 0.02")
        await pilot.press("x")
        await wait_for(pilot, lambda: not app.lifecycle.active, "the run to stop")
        assert app.run_status == "stopped"
        assert app.check_action("resume_run", ()) is True  # a stopped run can be resumed

        # what the panels show
        assert app.loss_chart.point_count("loss") >= 2
        assert log_has(app, "Training custom: mlp") and log_has(app, "Train Epoch: 1 [")
        assert log_has(app, "Run stopped: stopped from the app")
        assert app.status.state == "stopped"
        await pilot.press("q")
    assert app.return_code == 0
    recs = records(run_dir)
    assert recs[0]["type"] == "config" and recs[0]["config"]["optimizer"] == "adamw"
    states = [r["state"] for r in recs if r["type"] == "state" and r["state"] != "evaluating"]
    assert states[0] == "paused" and {"lr", "resumed"} <= set(states)
    lr_at = next(i for i, r in enumerate(recs) if r["type"] == "state" and r["state"] == "lr")
    assert recs[lr_at]["lr"] == 0.02
    assert all(r["lr"] == 0.02 for r in recs[lr_at:] if r["type"] == "step")
    assert all(r["lr"] == 0.05 for r in recs[:lr_at] if r["type"] == "step")
    assert recs[-1]["type"] == "end" and recs[-1]["status"] == "stopped"
    assert (run_dir / CHECKPOINT_FILE).is_file()


async def test_finished_run_fills_every_panel_and_can_be_resumed_for_more_epochs(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    app = MnistApp(small(epochs=2), run_dir=run_dir, data_dir=str(tiny_data), cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: not app.lifecycle.active and app.run_status != "starting", "the run to end")
        assert app.run_status == "finished", app.run_log.plain_lines[-1]
        acc = app.acc_chart
        assert acc.point_count("train") == 2 and acc.point_count("test") == 2
        assert acc.series["test"].ys[-1] > 80.0  # tiny_data is learnable: percent, not a fraction
        assert app.samples.event is not None and len(app.samples.event.images) == 16
        grid_text = str(app.samples.render())
        assert app.confusion.total == 200 and app.confusion.epoch == 2
        assert log_has(app, "Epoch 2: train loss") and log_has(app, "Run finished: trained 2 epochs")
        assert app.status.step == app.status.total_steps == 2 * 19
        assert grid_text  # rendered without error

        await pilot.press("r")  # nothing to resume: all epochs done
        assert not app.lifecycle.active
        epochs = app.form.query_one("#epochs")
        epochs.focus()
        await pilot.press(*"3", "escape", "r")
        await wait_for(pilot, lambda: not app.lifecycle.active and app.run_status == "finished"
                       and app.acc_chart.point_count("test") == 3, "the resumed run to finish")
        # history was replayed, then one more epoch trained
        assert log_has(app, "Resuming at epoch 3")
        assert app.loss_chart.series["loss"].xs[-1] == 3 * 19
        await pilot.press("q")
    ends = [r for r in records(run_dir) if r["type"] == "end"]
    assert [e["status"] for e in ends] == ["finished", "finished"]


async def test_quit_during_a_run_stops_the_worker_saves_the_checkpoint_then_exits(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    app = MnistApp(small(epochs=1000, log_interval=1), run_dir=run_dir, data_dir=str(tiny_data), cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.status.step > 0, "the first steps")
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit")
    assert app.return_code == 0
    recs = records(run_dir)
    assert recs[-1]["type"] == "end" and recs[-1]["status"] == "interrupted"
    assert "--resume" in recs[-1]["reason"]
    assert (run_dir / CHECKPOINT_FILE).is_file()
    assert recs[-1]["epoch"] < 1000
    assert app.engine_factory is process_engine and not multiprocessing.active_children()  # the training process has ended


async def test_invalid_values_are_marked_and_block_the_start(tiny_data, tmp_path):
    app = MnistApp(small(), run_dir=tmp_path / "run", data_dir=str(tiny_data), cursor_blink=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        lr = app.form.query_one("#lr")
        lr.focus()
        await pilot.press(*"abc")
        assert lr.has_class("-invalid")
        batch = app.form.query_one("#batch-size")
        batch.focus()
        await pilot.press("0")
        assert batch.has_class("-invalid")
        message = str(app.form.query_one("#form-message").render())
        assert "invalid batch size 0" in message  # core.config's own words
        await pilot.press("escape", "s")
        assert not app.lifecycle.active and app.run_status == "idle"
        assert not (tmp_path / "run").exists()
        assert any("invalid learning rate 'abc'" in n.message for n in app._notifications)
        lr.focus()
        await pilot.press("backspace", *"0.01")
        assert not lr.has_class("-invalid")


async def test_non_finite_loss_ends_in_a_dialog_not_a_crash(tiny_data, tmp_path):
    app = MnistApp(small(optimizer="sgd", lr=1e6), run_dir=tmp_path / "run", data_dir=str(tiny_data),
                   cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageDialog), "the failure dialog")
        assert "non-finite loss" in app.screen.message
        assert app.run_status == "failed"
        await pilot.press("enter")
        assert not isinstance(app.screen, MessageDialog)
        await wait_for(pilot, lambda: not app.lifecycle.active, "the worker to finish")
        assert app.check_action("start", ()) is True  # a failed run can be started again


async def test_missing_data_dir_is_reported_in_a_dialog(tmp_path):
    app = MnistApp(small(), run_dir=tmp_path / "run", data_dir=str(tmp_path / "nowhere"), cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageDialog), "the failure dialog")
        assert "does not exist" in app.screen.message
        await pilot.press("escape", "q")


async def test_help_screen_lists_every_key(tmp_path):
    """Reads what the help screen shows: each key of the app on a line with (the start of) what it does."""
    app = MnistApp(small(), cursor_blink=False)
    async with app.run_test(size=(160, 60)) as pilot:  # tall enough that the list needs no scrolling
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("#help-table")
        lines = [strip.text.strip() for strip in table.render_lines(table.region.reset_offset)]
        for binding in MnistApp.BINDINGS:
            label = key_label(binding.key)
            words = " ".join((binding.tooltip or binding.description).split()[:3])
            shown = [line for line in lines if line.startswith(label + "  ") and words in line]
            assert shown, f"the help screen does not show {label!r} with {words!r}:\n" + "\n".join(lines)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("size, layout", [((80, 24), "compact"), ((120, 40), "medium"), ((180, 50), "full")])
async def test_layout_adapts_to_the_terminal_size(size, layout):
    app = MnistApp(small(), cursor_blink=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert app.main.layout_mode == layout
        assert app.main.has_class(f"-{layout}")
        if layout == "compact":
            assert app.form.display and app.form.region.width > 0
            for key, view in (("2", "charts"), ("3", "digits"), ("4", "matrix"), ("5", "log")):
                await pilot.press(key)
                assert app.main.view == view
            await pilot.pause()
            assert app.form.region.width == 0 and app.run_log.region.width > 0
        if layout == "full":
            for widget in (app.form, app.loss_chart, app.acc_chart, app.run_log):
                assert widget.region.width > 0 and widget.region.height > 0


def test_importing_the_app_imports_neither_torch_nor_the_run_panels():
    """The run panels (plotext charts, RichLog, digits) are imported after the first frame (tui/panels.py)."""
    code = ("import sys; import tui.launch, tui.app; from tui.app import MnistApp; MnistApp(); "
            "print(*(m in sys.modules for m in ('torch', 'plotext', 'tui.panels', 'textual.widgets._rich_log')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"] * 4


def test_launch_without_a_terminal_is_a_usage_error():
    code = "import sys; from tui.launch import launch; sys.exit(launch())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 2
    assert out.stderr.strip() == "mnist-tui: error: the app needs a terminal; use --no-ui to train without one"


async def test_bundled_sample_is_announced_in_the_status_bar_and_the_log(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no cached full set
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)
    app = MnistApp(small(epochs=1, train_size=300), run_dir=tmp_path / "run", cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: not app.lifecycle.active and app.run_status != "starting", "the run to end")
        assert app.run_status == "finished"
        assert app.status.bundled
        status_text = "\n".join(line.text for line in app.status.render_lines(app.status.region.reset_offset))
        assert "⚠ bundled sample data" in status_text and "--data-dir" in status_text
        assert log_has(app, "Note: using the bundled MNIST sample")


def test_first_frame_is_painted_before_torch_is_imported(tmp_path):
    script = tmp_path / "probe.py"  # a file, not -c: Textual looks up the App subclass's source file
    script.write_text("""
import asyncio, sys
from tui.app import MnistApp
seen = {}
class Probe(MnistApp):
    def on_ready(self):  # Textual also runs MnistApp.on_ready (handlers run for each class in the MRO)
        from multiprocessing import forkserver
        seen['torch_at_first_frame'] = 'torch' in sys.modules
        seen['forkserver_at_first_frame'] = forkserver._forkserver._forkserver_pid is not None
        seen['panels_at_first_frame'] = 'tui.panels' in sys.modules or self.main.panels_mounted
async def main():
    app = Probe(cursor_blink=False)
    async with app.run_test() as pilot:
        while not app.torch_version and not app.engine_error:
            await asyncio.sleep(0.05)
        panels = app.main.panels_mounted
    print(seen['torch_at_first_frame'], seen['forkserver_at_first_frame'], seen['panels_at_first_frame'],
          app.torch_version != '', panels)
asyncio.run(main())
""")
    out = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    # painted without torch, before the training processes' forkserver (which imports torch on the
    # other core) was started and without the run panels; the panels and torch loaded right after
    assert out.stdout.split() == ["False", "False", "False", "True", "True"]
