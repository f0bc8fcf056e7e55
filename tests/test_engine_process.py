"""The training process behind the app (core/engine_process.py): same run, same controls, same log
as a Trainer in a thread; and when the app goes away or the process dies, nothing is left
hanging and the checkpoint is kept.

Controls are sent from the sink as the events arrive (the app's pattern), so each one lands on a
live run; waiting is only ever for the run's own end.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import signal
from pathlib import Path

import pytest

from core.config import ConfigError, RunConfig
from core.engine_process import EngineCrash, EngineProcess
from core.events import EndEvent, StateEvent, StepEvent
from core.runlog import CHECKPOINT_FILE, METRICS_FILE, iter_records, load_checkpoint


def small(**overrides) -> RunConfig:
    base = RunConfig(model="mlp", hidden=(16,), optimizer="sgd", lr=0.05, batch_size=32, epochs=2,
                     log_interval=1, sample_count=4)
    return base.with_overrides(**overrides)


def records(run_dir: Path) -> list[dict]:
    return list(iter_records(run_dir / METRICS_FILE))


def test_a_finished_run_reaches_the_sinks_in_the_order_of_its_log(tiny_data, tmp_path):
    seen = []
    run_dir = tmp_path / "run"
    end = EngineProcess(small(), run_dir, [seen.append], data_dir=str(tiny_data)).run()
    assert end.status == "finished" and end.final_test_acc is not None
    assert [e.type for e in seen] == [r["type"] for r in records(run_dir)]
    # plain values only: a torch object in an event (torch.__version__ is one) makes the app, which
    # never imports torch, import it to read the event (seconds before the first step shows)
    blocker = ("import pickle, sys\n"
               "class Block:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] == 'torch':\n"
               "            raise ImportError('the app must not need torch to read ' + name)\n"
               "sys.meta_path.insert(0, Block())\n"
               "print(len(pickle.loads(sys.stdin.buffer.read())))\n")
    out = subprocess.run([sys.executable, "-c", blocker], input=pickle.dumps(seen), capture_output=True, timeout=60)
    assert out.returncode == 0 and int(out.stdout) == len(seen), out.stderr.decode()[-500:]
    assert seen[0].type == "config" and seen[-1] == end
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["step"] == end.step
    assert not multiprocessing.active_children()


def test_pause_lr_resume_stop_reach_the_running_process(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    engine = None
    sent = set()

    def steer(event) -> None:
        if isinstance(event, StepEvent) and "pause" not in sent:
            sent.add("pause")
            engine.pause()
        elif isinstance(event, StateEvent) and event.state == "paused":
            engine.set_lr(0.02)
            engine.resume()
        elif isinstance(event, StepEvent) and event.lr == 0.02 and "stop" not in sent:
            sent.add("stop")
            engine.stop("stopped", "stopped by the test")

    engine = EngineProcess(small(epochs=500), run_dir, [steer], data_dir=str(tiny_data))
    end = engine.run()
    assert (end.status, end.reason) == ("stopped", "stopped by the test")
    states = [r["state"] for r in records(run_dir) if r["type"] == "state" and r["state"] != "evaluating"]
    assert states[0] == "paused" and {"lr", "resumed"} <= set(states)
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["step"] == end.step
    assert end.epoch < 500


def test_controls_sent_before_start_wait_in_the_pipe_and_apply_in_order(tiny_data, tmp_path):
    """The engine exists from the moment the user presses s; a pause and a stop sent before the child
    is even forked must still land (this replaced tui/control.py's queue)."""
    run_dir = tmp_path / "run"
    engine = EngineProcess(small(epochs=500), run_dir, data_dir=str(tiny_data))
    engine.pause()
    engine.set_lr(0.02)
    engine.stop("stopped", "stopped before it began")
    engine.start()
    seen = list(engine.events())
    assert engine.end is not None and (engine.end.status, engine.end.reason) == ("stopped", "stopped before it began")
    assert seen[-1] == engine.end and engine.end.step <= 1  # the Trainer reads controls after each step
    assert any(isinstance(e, StateEvent) and e.lr == 0.02 for e in seen)
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["step"] == engine.end.step
    with pytest.raises(RuntimeError, match="runs once"):
        engine.start()


def test_commands_and_replies_are_typed_and_survive_the_pipe():
    import pickle

    from core.engine_process import EndReply, EventReply, Pause, SetLr, Stop

    end = EndEvent(status="finished", reason="done", epoch=1, step=2, time=3.0)
    for message in (Pause(), SetLr(0.1), Stop("interrupted", "quit"), EventReply(end), EndReply(end, True)):
        assert pickle.loads(pickle.dumps(message)) == message


def test_the_app_going_away_stops_the_run_and_keeps_its_checkpoint(tiny_data, tmp_path):
    """The app's end of the command pipe closing (the app crashed or was killed) is a stop, not lost work."""
    run_dir = tmp_path / "run"
    engine = None

    def vanish(event) -> None:
        if isinstance(event, StepEvent):
            engine._commands.close()

    engine = EngineProcess(small(epochs=500), run_dir, [vanish], data_dir=str(tiny_data))
    end = engine.run()
    assert end.status == "interrupted" and "the app went away" in end.reason
    assert records(run_dir)[-1]["type"] == "end"
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["step"] == end.step


def signalled_at_first_step(sig: int, data: Path, run_dir: Path) -> EngineProcess:
    """A long run whose training process gets `sig` once its first step is reported; run() left to the test."""
    engine = None

    def send(event) -> None:
        if isinstance(event, StepEvent) and event.step == 1:
            os.kill(engine.process.pid, sig)

    engine = EngineProcess(small(epochs=500), run_dir, [send], data_dir=str(data))
    return engine


def test_sigterm_to_the_training_process_stops_and_saves(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    end = signalled_at_first_step(signal.SIGTERM, tiny_data, run_dir).run()
    assert end.status == "interrupted" and "SIGTERM" in end.reason and "--resume" in end.reason
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["step"] == end.step


def test_a_killed_training_process_is_an_error_and_the_last_checkpoint_is_kept(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    engine = signalled_at_first_step(signal.SIGKILL, tiny_data, run_dir)
    with pytest.raises(EngineCrash, match="ended without a result"):
        engine.run()
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["step"] == 0  # the one written at the start
    assert not multiprocessing.active_children()


def test_an_invalid_config_is_a_config_error_in_the_parent(tmp_path):
    with pytest.raises(ConfigError, match="batch size"):
        EngineProcess(small(batch_size=0), tmp_path / "run", []).run()


def test_missing_data_ends_the_run_as_failed_with_the_reason(tmp_path):
    seen = []
    end = EngineProcess(small(), tmp_path / "run", [seen.append], data_dir=str(tmp_path / "nowhere")).run()
    assert isinstance(end, EndEvent) and end.status == "failed" and "nowhere" in end.reason
    assert seen == [end]


def test_the_process_works_in_the_parents_directory_and_environment(tiny_data, tmp_path, monkeypatch):
    """The forkserver keeps the directory and environment of its own start; a run must take the app's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNIST_TUI_DATA", str(tiny_data))
    end = EngineProcess(small(epochs=1), Path("relative-run"), []).run()
    assert end.status == "finished"
    assert (tmp_path / "relative-run" / CHECKPOINT_FILE).is_file()


def test_data_on_a_gpu_stays_in_the_app_process():
    """CUDA tensors cannot be pickled to a forked child without CUDA IPC: such runs use the thread engine."""
    from types import SimpleNamespace

    import torch

    from core.engine_process import available

    assert available(None) and available(SimpleNamespace(train_x=torch.zeros(1)))
    assert not available(SimpleNamespace(train_x=torch.zeros(1, device="meta")))
