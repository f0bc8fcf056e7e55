"""The app under stress: resized to 40x12 and back mid-run, keys mashed while training, quit during
evaluation, SIGTERM, and a --watch whose log is truncated, replaced or deleted underneath it.
In every case no exception escapes (run_test re-raises any) and no training is left running.

Waiting is always for a condition (a state, a thread leaving the engine) with a generous
deadline for a loaded machine; nothing sleeps and hopes.

The resize and the key mash are UI behaviour: they run on tests/fake_engine.py's ScriptedDiskEngine
(a scripted run that keeps its run directory with the real run-directory code and resumes from
it), stepped once per key or size by the test, so every key lands on a live run on any machine
and nothing trains. The quit during evaluation patches the engine in this process (a held
evaluation), so it trains with ThreadEngine (a real Trainer in a thread, behind the app's one
Engine interface). The app side is the same for every engine; tests/test_app.py keeps real runs
end to end and tests/test_engine_process.py covers the training process itself.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from pilot_wait import waiter

from core import engine
from core.config import RunConfig
from core.runlog import CHECKPOINT_FILE, METRICS_FILE, iter_records, load_checkpoint, lock_run_dir
import fake_engine
from fake_engine import ScriptedDiskEngine, thread_engine
from tui.app import MnistApp
from tui.main_screen import layout_for

TIMEOUT_S = 120.0
CORE_DIR = Path(engine.__file__).resolve().parent


wait_for = waiter(TIMEOUT_S)


async def keys(pilot, *names: str) -> None:
    """Press keys at typing speed. Pilot.press also waits for the whole process to go idle after
    every key (at least 40 ms, up to 2 s while anything runs); this sends the same Key events as
    Pilot.press and waits, as Pilot.press then does, until the screen has handled what was sent."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    app = pilot.app
    for key in names:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
        await pilot._wait_for_screen()


def training_left() -> list[str]:
    """What is still training: a thread of this process with any frame in the project's core package,
    in torch (whatever its file name: the engine, its process bridge, an optimizer) or in the tests'
    fake engines, or a live child process (a training process started by the app)."""
    import multiprocessing

    import torch

    roots = (CORE_DIR, Path(torch.__file__).resolve().parent)
    fakes = Path(fake_engine.__file__).resolve()
    left = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        while frame is not None:
            where = Path(frame.f_code.co_filename).resolve()
            if where == fakes or any(where.is_relative_to(root) for root in roots):
                left.append(f"thread {ident} in {where.name}")
                break
            frame = frame.f_back
    left += [f"process {child.pid} ({child.name})" for child in multiprocessing.active_children()]
    return left


def assert_no_training_left(timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while left := training_left():
        if time.monotonic() > deadline:
            raise AssertionError(f"training is still running after the app closed: {left}")
        threading.Event().wait(0.02)  # polling a condition with a deadline, not a guess


def small(**overrides) -> RunConfig:
    base = RunConfig(model="mlp", hidden=(16,), optimizer="adam", lr=0.003, batch_size=32, epochs=500,
                     log_interval=1, sample_count=4)
    return base.with_overrides(**overrides)


def ends(run_dir: Path) -> list[dict]:
    return [r for r in iter_records(run_dir / METRICS_FILE) if r["type"] == "end"]


def scripted(gate: threading.Semaphore):
    """The app's engine for the UI tests here: ScriptedDiskEngine runs that step only when `gate` lets them."""
    ScriptedDiskEngine.created.clear()
    return ScriptedDiskEngine.factory(gate=gate)


async def test_resize_to_40x12_and_back_while_training(tmp_path):
    run_dir = tmp_path / "run"
    gate = threading.Semaphore(0)
    app = MnistApp(small(), run_dir=run_dir, cursor_blink=False, engine_factory=scripted(gate))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        gate.release()
        await wait_for(pilot, lambda: app.status.step > 0, "the first steps")
        for width, height in [(80, 24), (40, 12), (200, 60), (41, 13), (120, 40)]:
            await pilot.resize_terminal(width, height)
            before = app.status.step
            gate.release()
            await wait_for(pilot, lambda: app.status.step > before, f"training to go on at {width}x{height}")
            assert app.main.layout_mode == layout_for(width, height)
            if (width, height) == (40, 12):  # every view by its key, at the smallest size
                for key, view in zip("23451", ("charts", "digits", "matrix", "log", "setup")):
                    await keys(pilot, "escape", key)
                    await wait_for(pilot, lambda: app.main.view == view, f"the {view} view")
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit")
    assert app.return_code == 0
    assert_no_training_left()
    assert ends(run_dir)[-1]["status"] == "interrupted"
    load_checkpoint(run_dir / CHECKPOINT_FILE)


MASH_KEYS = ["s", "r", "p", "space", "l", "x", "1", "2", "3", "4", "5", "a", "escape", "question_mark", "tab",
             "shift+tab", "enter", "up", "down", "left", "right", "backspace", "0", "9", ".", "e", "-", "z",
             "pageup", "pagedown", "home", "end", "f1", "delete"]


async def test_mashing_keys_while_training_never_crashes(tmp_path, monkeypatch):
    """250 random keys (start, stop, pause, lr dialog, views, help, form edits...) on a live
    app; the run takes one step per key, so keys land between steps, on any machine.

    'c' (the race) and 'q' are left out of the mash: one would start a race of many runs on a
    2-core test machine, the other would simply end the test early; both are tested on their own.
    """
    monkeypatch.chdir(tmp_path)  # runs started by a mashed 's' go to ./runs
    run_dir = tmp_path / "run"
    gate = threading.Semaphore(0)
    app = MnistApp(small(), run_dir=run_dir, cursor_blink=False, engine_factory=scripted(gate))
    rng = random.Random(2026)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s")
        gate.release()
        await wait_for(pilot, lambda: app.status.step > 0, "the first steps")
        screens, states = set(), set()
        for i in range(250):
            gate.release()
            await keys(pilot, rng.choice(MASH_KEYS))
            screens.add(type(app.screen).__name__)
            states.add(app.run_status)
            if i % 50 == 49:  # now and then make sure a run is going, so keys land on a live run
                while app.screen is not app.main:
                    await keys(pilot, "escape")
                if not app.lifecycle.active:
                    await keys(pilot, "escape", "s")
        while app.screen is not app.main:  # close whatever dialog the mash left open
            await keys(pilot, "escape")
        await pilot.press("escape", "q")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit")
    assert_no_training_left()
    assert ScriptedDiskEngine.created and all(e.end is not None for e in ScriptedDiskEngine.created)
    # the mash reached the dialogs and the run controls, not just the form
    assert {"HelpScreen", "LearningRateScreen"} <= screens, screens
    assert {"paused", "stopped"} <= states, states
    run_dirs = [run_dir] + sorted((tmp_path / "runs").glob("*")) if (tmp_path / "runs").exists() else [run_dir]
    for directory in run_dirs:
        if (directory / METRICS_FILE).exists():
            statuses = [e["status"] for e in ends(directory)]
            assert statuses, f"{directory} has no end record"
            assert set(statuses) <= {"stopped", "interrupted", "finished", "failed"}
            assert all(e["status"] != "failed" for e in ends(directory)), ends(directory)
        if (directory / CHECKPOINT_FILE).exists():
            load_checkpoint(directory / CHECKPOINT_FILE)


async def test_quit_during_evaluation_stops_saves_and_exits(tiny_data, tmp_path, monkeypatch):
    """The first evaluation is held until q has been pressed, so the quit lands inside it."""
    entered, release = threading.Event(), threading.Event()
    real_evaluate = engine.evaluate

    def held_evaluate(*args, **kwargs):
        entered.set()
        release.wait(TIMEOUT_S)
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(engine, "evaluate", held_evaluate)
    run_dir = tmp_path / "run"
    app = MnistApp(small(epochs=3), run_dir=run_dir, data_dir=str(tiny_data), cursor_blink=False,
                   engine_factory=thread_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, entered.is_set, "the first evaluation")
        await pilot.press("q")
        assert app.run_status == "stopping"
        release.set()
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit")
    assert app.return_code == 0
    assert_no_training_left()
    records = list(iter_records(run_dir / METRICS_FILE))
    assert not any(r["type"] == "epoch" for r in records), "the abandoned evaluation logged nothing"
    assert records[-1]["type"] == "end" and records[-1]["status"] == "interrupted"
    state = load_checkpoint(run_dir / CHECKPOINT_FILE)
    assert (state["epoch"], state["batch"], state["step"]) == (1, 19, 19)  # all of epoch 1, eval still due


# A real SIGTERM to the app process: tests/test_reliability_signals.py (the app on a pseudo-terminal).


# ---- --watch with the log changing underneath ----

@pytest.fixture(scope="module")
def finished_run(tiny_data, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("watched") / "run"
    config = RunConfig(model="mlp", hidden=(16,), batch_size=32, epochs=2, log_interval=2, sample_count=4)
    end = engine.Trainer(config, run_dir, data_dir=str(tiny_data)).run()
    assert end.status == "finished"
    return run_dir


async def test_watch_survives_its_log_being_truncated_replaced_and_deleted(finished_run, tmp_path):
    run_dir = Path(shutil.copytree(finished_run, tmp_path / "run"))
    metrics = run_dir / METRICS_FILE
    full = metrics.read_bytes()
    lines = full.splitlines(keepends=True)
    steps_in = lambda data: data.count(b'"type":"step"')  # noqa: E731

    app = MnistApp(watch_dir=run_dir, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.run_status == "finished"
        assert app.loss_chart.point_count("loss") == steps_in(full)

        half = b"".join(lines[:12])
        metrics.write_bytes(half + lines[12][:7])  # truncated in place, mid-line (log rotated / rewritten)
        app.poll_watch()
        await pilot.pause()
        assert app.loss_chart.point_count("loss") == steps_in(half), "the view starts over from the shorter log"

        metrics.write_bytes(b"")  # truncated to nothing
        app.poll_watch()
        await pilot.pause()
        assert app.loss_chart.point_count("loss") == 0

        metrics.unlink()  # deleted
        app.poll_watch()
        await pilot.pause()
        assert "waiting for metrics.jsonl" in app.status.note

        shutil.rmtree(run_dir)  # the whole run directory removed
        app.poll_watch()
        await pilot.pause()
        assert "waiting for metrics.jsonl" in app.status.note

        run_dir.mkdir()
        replacement = run_dir / "new.jsonl"
        replacement.write_bytes(full + b"not json at all\n\xff\xfe garbage\n{\"type\": \"step\"}\n")
        replacement.replace(metrics)  # a new file appears under the same name
        app.poll_watch()
        await pilot.pause()
        assert app.run_status == "finished"
        assert app.loss_chart.point_count("loss") == steps_in(full), "damaged lines are skipped"

        for width, height in [(40, 12), (100, 30)]:  # and it still draws at any size
            await pilot.resize_terminal(width, height)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit")
    assert app.return_code == 0


async def test_watch_timer_keeps_polling_through_changes_without_errors(finished_run, tmp_path):
    """The same changes, but left to the app's own polling timer."""
    run_dir = Path(shutil.copytree(finished_run, tmp_path / "run"))
    metrics = run_dir / METRICS_FILE
    full = metrics.read_bytes()
    app = MnistApp(watch_dir=run_dir, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_status == "finished", "the finished run")
        metrics.unlink()
        await wait_for(pilot, lambda: "waiting for" in app.status.note, "the missing log to be noticed")
        writer = lock_run_dir(run_dir)  # a live writer holds the run directory's lock while it writes
        metrics.write_bytes(full[: len(full) // 3])
        await wait_for(pilot, lambda: app.run_status == "running", "the log to be read again")
        with open(metrics, "ab") as fh:
            fh.write(full[len(full) // 3:])
        await wait_for(pilot, lambda: app.run_status == "finished", "the rest of the log")
        os.close(writer)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit")


def test_tail_reads_a_deleted_and_recreated_log_from_the_start(finished_run, tmp_path):
    """Deleted, seen missing, then recreated longer: even if the inode number is reused, the
    tail must start over rather than skip the new file's first bytes."""
    from core.runlog import MetricsTail

    full = (finished_run / METRICS_FILE).read_bytes()
    path = tmp_path / METRICS_FILE
    path.write_bytes(full[: full.index(b"\n") + 1])  # just the config record
    tail = MetricsTail(path)
    assert [e.type for e in tail.poll()] == ["config"]
    inode = path.stat().st_ino
    path.unlink()
    assert tail.poll() == [] and tail.missing
    path.write_bytes(full)
    events = tail.poll()
    assert tail.restarted and events[0].type == "config" and events[-1].type == "end"
    assert len(events) == full.count(b"\n"), f"inode reused: {path.stat().st_ino == inode}"
