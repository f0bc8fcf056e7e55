"""How the app drives a run, on a scripted engine (tests/fake_engine.py): no torch, no training, so
each test checks what the app does with keys and events, fast. tests/test_app.py keeps real runs
end to end; tests/test_engine_process.py the training process itself.

Waiting is always for a condition the app makes true, with a generous deadline; no sleeps.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from fake_engine import ScriptedEngine

from pilot_wait import waiter

from core.config import ConfigError, RunConfig
from core.events import to_record
from core.lifecycle import Phase
from core.runlog import METRICS_FILE
from tui.app import MnistApp, RunSpec
from tui.redraw import Cadence
from tui.screens import MessageDialog

TIMEOUT_S = 60.0


wait_for = waiter(TIMEOUT_S)


def small(**overrides) -> RunConfig:
    return RunConfig(model="mlp", hidden=(16,), batch_size=10, epochs=2, sample_count=4).with_overrides(**overrides)


def keys_shown(app: MnistApp) -> set[str]:
    return {a for a in ("start", "resume_run", "pause", "unpause", "change_lr", "stop", "race")
            if app.check_action(a, ())}


async def test_keys_and_footer_follow_the_lifecycle_through_pause_continue_and_stop(tmp_path):
    gate = threading.Semaphore(0)
    ScriptedEngine.created.clear()
    app = MnistApp(small(epochs=50), run_dir=tmp_path / "run", cursor_blink=False,
                   engine_factory=ScriptedEngine.factory(gate=gate))
    async with app.run_test(size=(100, 30)) as pilot:
        assert keys_shown(app) == {"start", "race"} and app.run_status == "idle"
        await pilot.press("escape", "s")
        engine = ScriptedEngine.created[-1]
        assert keys_shown(app) == {"pause", "change_lr", "stop"}
        await pilot.press("p")  # before the first step: asked, not yet done
        assert app.lifecycle.phase is Phase.PAUSING and app.status.note == "pausing after this step"
        assert keys_shown(app) == {"unpause", "change_lr", "stop"}
        gate.release(1)  # one step, then the pause is read
        await wait_for(pilot, lambda: app.run_status == "paused", "the pause record")
        assert app.status.state == "paused" and app.status.note == ""
        await pilot.press("p")
        gate.release(2)
        await wait_for(pilot, lambda: app.status.step >= 2, "a step after continuing")
        assert app.run_status == "running" and "pause" in keys_shown(app)
        await pilot.press("x")
        assert keys_shown(app) == set() and app.status.state == "stopping"
        gate.release(1)
        await wait_for(pilot, lambda: not app.lifecycle.active, "the engine to return")
        assert app.run_status == "stopped" and keys_shown(app) == {"start", "resume_run", "race"}
        assert [c[0] for c in engine.commands] == ["pause", "resume", "stop"]
        assert any("Run stopped: stopped from the app" in line for line in app.run_log.plain_lines)


async def test_a_finished_run_draws_every_panel_and_the_watch_of_its_log_draws_the_same(tmp_path):
    """One run model under both: the live screen and --watch of the same records agree line for line."""
    spec_dir = tmp_path / "run"
    app = MnistApp(small(), run_dir=spec_dir, cursor_blink=False, engine_factory=ScriptedEngine.factory())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.lifecycle.phase is Phase.ENDED, "the run to end")
        live = (list(app.run_log.plain_lines), app.loss_chart.series["loss"].ys, app.acc_chart.series["test"].ys,
                app.samples.event, app.confusion.total, app.status.step, app.status.total_steps)
        assert app.run_status == "finished" and live[5] == live[6] == 10
        assert len(live[1]) == 10 and len(live[2]) == 2 and live[3] is not None and live[4] == 100
        await pilot.press("q")

    watched = tmp_path / "watched"
    watched.mkdir()
    events = list(ScriptedEngine(RunSpec(small(), spec_dir)).events())
    (watched / METRICS_FILE).write_text("".join(json.dumps(to_record(e)) + "\n" for e in events))
    viewer = MnistApp(watch_dir=watched, cursor_blink=False)
    async with viewer.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        seen = (list(viewer.run_log.plain_lines), viewer.loss_chart.series["loss"].ys,
                viewer.acc_chart.series["test"].ys, viewer.samples.event, viewer.confusion.total, viewer.status.step,
                viewer.status.total_steps)
        assert viewer.run_status == "finished"
        await pilot.press("q")
    assert seen == live


async def test_a_run_that_fails_shows_a_dialog_and_may_be_started_again(tmp_path):
    app = MnistApp(small(), run_dir=tmp_path / "run", cursor_blink=False,
                   engine_factory=ScriptedEngine.factory(fail_at=3))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageDialog), "the failure dialog")
        assert "non-finite loss at step 3" in app.screen.message and app.run_status == "failed"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.lifecycle.active, "the engine to return")
        assert app.check_action("start", ()) is True


async def test_an_engine_that_cannot_start_is_reported_and_leaves_the_app_usable(tmp_path):
    app = MnistApp(small(), run_dir=tmp_path / "run", cursor_blink=False,
                   engine_factory=ScriptedEngine.factory(start_error=RuntimeError("no forkserver here")))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageDialog), "the dialog")
        assert app.screen.message.startswith("internal error: RuntimeError: no forkserver here")
        assert app.run_status == "failed" and app.check_action("start", ()) is True
        assert any("Run failed: internal error" in line for line in app.run_log.plain_lines)


async def test_a_setting_the_engine_refuses_is_a_usage_error_not_an_internal_one(tmp_path):
    app = MnistApp(small(), run_dir=tmp_path / "run", cursor_blink=False,
                   engine_factory=ScriptedEngine.factory(start_error=ConfigError("invalid device 'tpu'")))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageDialog), "the dialog")
        assert app.screen.message == "invalid device 'tpu'"


async def test_quit_during_a_run_stops_it_as_interrupted_then_exits(tmp_path):
    gate = threading.Semaphore(0)
    ScriptedEngine.created.clear()
    app = MnistApp(small(epochs=50), run_dir=tmp_path / "run", cursor_blink=False,
                   engine_factory=ScriptedEngine.factory(gate=gate))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: ScriptedEngine.created and ScriptedEngine.created[-1].started.is_set(),
                       "the engine to start")
        await pilot.press("q")
        assert app.lifecycle.quitting and app.return_code is None  # still saving
        assert app.status.note == "saving the checkpoint, then quitting"
        gate.release(1)
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit")
    engine = ScriptedEngine.created[-1]
    assert app.return_code == 0 and engine.end is not None and engine.end.status == "interrupted"
    assert "--resume" in engine.end.reason and str(Path(tmp_path / "run")) in engine.end.reason


def test_cadence_draws_a_panel_at_most_once_per_period_unless_forced():
    now = [100.0]
    cadence = Cadence(clock=lambda: now[0])
    assert cadence.due("charts", 5.0)  # never drawn: due
    now[0] += 4.9
    assert not cadence.due("charts", 5.0)
    assert cadence.due("charts", 5.0, force=True)  # the end of a run, a replay: at once
    now[0] += 5.0
    assert cadence.due("charts", 5.0) and cadence.due("log", 2.0)
    cadence.forget()
    assert cadence.due("charts", 5.0)  # a new run's first figure is not held back


async def test_loss_points_held_back_while_training_are_drawn_by_the_next_forced_draw(tmp_path):
    """The redraw cadence holds a chart's new points back while a run trains; the draw at the end of
    a run (force) must draw them even when that beat brings no new points - in a real run the last
    steps arrive before the evaluation, the end record after it (seen in tmux: the chart's border said
    'step 2' beside a status bar at step 40)."""
    gate = threading.Semaphore(0)
    app = MnistApp(small(), run_dir=tmp_path / "run", cursor_blink=False,
                   engine_factory=ScriptedEngine.factory(gate=gate))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape", "s")
        gate.release(1)
        await wait_for(pilot, lambda: app.loss_chart.drawn > 0, "the first loss figure")
        first = str(app.loss_chart.border_subtitle)
        gate.release(3)  # three more points within the cadence's interval: folded, held back
        await wait_for(pilot, lambda: app.loss_chart.point_count("loss") == 4, "four loss points")
        await pilot.pause()
        assert str(app.loss_chart.border_subtitle) == first  # held back (the chart redraws every few seconds)
        app.view.draw(force=True)  # what the end of the run does; no new points since the last beat
        await pilot.pause()
        assert str(app.loss_chart.border_subtitle).endswith(f"step {app.loss_chart.series['loss'].xs[-1]:,.0f}")
        assert str(app.loss_chart.border_subtitle) != first
        gate.release(100)
        await wait_for(pilot, lambda: app.lifecycle.phase is Phase.ENDED, "the run to end")
        await pilot.press("q")


async def test_keys_typed_ahead_of_the_run_panels_are_kept_and_done_once_they_are_mounted(tmp_path):
    """The run panels mount after the first whole screen (tui/panels.py); keys the app reads before that
    (typed while it was starting) neither crash on the missing panels nor are lost, and a help screen
    opened and closed meanwhile (it drops callbacks queued for the next frame) does not stop the start-up."""

    class HeldStartUp(MnistApp):
        def on_ready(self, event) -> None:
            event.prevent_default()  # MnistApp.on_ready (the start-up's triggers) runs when the test says

    app = HeldStartUp(small(), run_dir=tmp_path / "run", cursor_blink=False, engine_factory=ScriptedEngine.factory())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("escape", "s", "a", "f1")
        assert not app.main.panels_mounted and app.lifecycle.phase is Phase.IDLE
        MnistApp.on_ready(app)
        await pilot.press("f1")  # the help screen closes, with whatever it held for its next frame
        await wait_for(pilot, lambda: app.main.panels_mounted, "the run panels")
        await wait_for(pilot, lambda: app.lifecycle.phase is Phase.ENDED, "the typed-ahead run to end")
        assert app.samples.ascii  # both keys done, in order
        assert app.run_status == "finished"


async def test_the_start_up_after_the_first_screen_happens_even_if_its_frame_callbacks_are_dropped(tmp_path):
    """Textual drops a call_after_refresh callback when the screen current at the time closes before the
    next frame (as a help screen opened by a key typed ahead, and closed, does); the start-up's timer
    still mounts the run panels and does the keys that waited for them."""

    class DroppedFrameCallbacks(MnistApp):
        def call_after_refresh(self, callback, *args, **kwargs) -> bool:
            if self.main.panels_mounted:
                return super().call_after_refresh(callback, *args, **kwargs)
            return True  # accepted, never called

    app = DroppedFrameCallbacks(small(), run_dir=tmp_path / "run", cursor_blink=False,
                                engine_factory=ScriptedEngine.factory())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.main.panels_mounted, "the run panels")
        await wait_for(pilot, lambda: app.lifecycle.phase is Phase.ENDED, "the typed-ahead run to end")
        assert app.run_status == "finished"
