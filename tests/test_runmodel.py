"""The one run model (core/runmodel.py): its fold, tested without Textual or torch."""

from __future__ import annotations

import json
import subprocess
import sys

from core.events import (ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, SamplesEvent, StateEvent, StepEvent,
                         from_record, to_record)
from core.leaderboard import Standing, rank
from core.runmodel import LOG_LIMIT, RunModel


def config(resumed: bool = False, start_step: int = 0, start_epoch: int = 1, bundled: bool = False) -> ConfigEvent:
    return ConfigEvent(config={"name": "r", "model": "mlp", "optimizer": "sgd", "lr": 0.1, "batch_size": 10,
                               "epochs": 3},
                       run_dir="runs/r", device="cpu", data_source="MNIST", bundled_data=bundled, train_size=100,
                       test_size=50, steps_per_epoch=10, total_steps=30, classes=list("abcdefghij"),
                       start_epoch=start_epoch, start_step=start_step, resumed=resumed)


def step(n: int, loss: float = 1.0, lr: float = 0.1, rate: float = 100.0) -> StepEvent:
    epoch = (n - 1) // 10 + 1
    return StepEvent(epoch=epoch, step=n, seen=((n - 1) % 10 + 1) * 10, epoch_size=100, loss=loss, lr=lr,
                     time=n * 0.1, samples_per_s=rate, total_steps=30)


def epoch(n: int, test_acc: float) -> EpochEvent:
    return EpochEvent(epoch=n, step=10 * n, train_loss=0.5, train_acc=0.8, test_loss=0.4, test_acc=test_acc,
                      seconds=1.0, samples_per_s=100.0, lr=0.1, time=float(n))


def samples(n: int) -> SamplesEvent:
    return SamplesEvent(epoch=n, indices=[0], labels=[1], predictions=[1], confidences=[0.9],
                        images=[SamplesEvent.encode_image(bytes(784))])


def a_run() -> list:
    return [config(), step(5, 2.0), step(10, 1.5), epoch(1, 0.7), samples(1),
            ConfusionEvent(epoch=1, matrix=[[1]]), StateEvent(state="paused", step=10, time=1.1),
            StateEvent(state="resumed", step=10, time=1.1, lr=0.05), step(15, 1.0, lr=0.05), epoch(2, 0.9),
            EndEvent(status="stopped", reason="stopped by the user", epoch=2, step=15, time=2.5)]


def test_fold_collects_what_every_screen_shows() -> None:
    model = RunModel("r").fold(a_run())
    assert model.state == "stopped" and model.status == "stopped" and model.finished
    assert model.end is not None and model.end.reason == "stopped by the user"
    assert model.last_step is not None and model.last_step.step == 15
    assert model.current_lr == 0.05 and model.lr == 0.1  # in force vs configured
    assert model.classes == list("abcdefghij") and model.test_size == 50
    assert [e.epoch for e in model.epochs] == [1, 2] and model.best_test_acc == 0.9
    assert [p[0] for p in model.losses] == [5, 10, 15]
    assert model.samples is not None and model.samples.epoch == 1
    assert model.confusion is not None and model.confusion.matrix == [[1]]
    assert (model.epoch, model.step, model.total_steps) == (2, 15, 30)
    assert model.clock == 2.5
    kinds = [line.kind for line in model.log]
    assert kinds == ["config", "step", "step", "epoch", "state", "state", "step", "epoch", "stopped"]
    assert model.log[-1].text.startswith("Run stopped: stopped by the user")


def test_states_follow_pause_evaluation_and_end() -> None:
    model = RunModel("r")
    assert model.state == "waiting" and model.eta_s is None
    model.update(config())
    assert model.state == "running" and (model.step, model.total_steps) == (0, 30)
    model.update(step(1, rate=100.0))
    assert model.eta_s == (30 - 1) * 10 / 100.0
    model.update(StateEvent(state="paused", step=1, time=0.2))
    assert model.state == "paused" and model.eta_s is None
    model.update(StateEvent(state="resumed", step=1, time=0.2))
    assert model.state == "running"
    model.update(StateEvent(state="evaluating", step=10, time=1.0))
    assert model.state == "evaluating"
    model.update(epoch(1, 0.7))
    assert model.state == "running"
    model.update(StateEvent(state="evaluating", step=10, time=1.0))
    model.update(step(11))
    assert model.state == "running"
    model.update(EndEvent(status="failed", reason="nan", epoch=2, step=11, time=2.0))
    assert model.state == "failed" and model.eta_s is None


def test_live_and_replayed_runs_fold_to_the_same_model() -> None:
    """The same run watched live and read back from JSON lines (--watch, --compare, replay) looks identical."""
    live = RunModel("r").fold(a_run())
    replayed = RunModel("r").fold([from_record(json.loads(json.dumps(to_record(e)))) for e in a_run()])
    assert replayed == live


def test_a_resumed_run_drops_records_after_its_checkpoint_and_starts_a_new_generation() -> None:
    model = RunModel("r").fold([config(), step(5), step(10), epoch(1, 0.7), step(15), epoch(2, 0.8),
                                EndEvent(status="interrupted", reason="quit", epoch=2, step=15, time=2.0)])
    assert model.generation == 0
    model.update(config(resumed=True, start_step=10, start_epoch=2))
    assert model.generation == 1
    assert [p[0] for p in model.losses] == [5, 10] and [e.epoch for e in model.epochs] == [1]
    assert model.state == "running" and model.end is None
    assert (model.epoch, model.step) == (2, 15)  # the last record seen until the new segment's first step
    model.update(step(11))
    assert (model.epoch, model.step) == (2, 11)


def test_a_resume_with_nothing_to_drop_keeps_the_generation() -> None:
    model = RunModel("r").fold([config(), step(10), epoch(1, 0.7)])
    model.update(config(resumed=True, start_step=10, start_epoch=2))
    assert model.generation == 0


def test_log_since_gives_the_new_lines_and_at_most_the_newest_limit() -> None:
    model = RunModel("r").fold([config(bundled=True)])
    assert [line.kind for line in model.log] == ["config", "note"]
    seen = model.log_total
    model.update(step(1))
    assert [line.text for line in model.log_since(seen)] == [model.log[-1].text]
    assert model.log_since(model.log_total) == []
    for n in range(3 * LOG_LIMIT):
        model.update(step(2 + n % 20))
    assert model.log_total == 3 + 3 * LOG_LIMIT
    assert len(model.log) <= 2 * LOG_LIMIT
    recent = model.log_since(0)
    assert len(recent) == LOG_LIMIT and recent[-1] == model.log[-1]


def test_malformed_records_are_counted() -> None:
    model = RunModel("r")
    model.note_malformed(2)
    model.note_malformed(0)
    model.note_malformed(1)
    assert model.malformed == 3


def test_a_run_model_ranks_like_a_standing() -> None:
    """The leaderboard, --export and the compare view rank by one rule, whichever they hold."""
    events = a_run()
    as_model = RunModel("a").fold(events)
    as_standing = Standing("a")
    for event in events:
        as_standing.update(event)
    other = RunModel("b").fold([config(), step(1), epoch(1, 0.95)])
    assert [s.name for s in rank([as_model, other])] == ["b", "a"]
    assert (as_standing.best_test_acc, as_standing.status, as_standing.losses) == (
        as_model.best_test_acc, as_model.status, as_model.losses)


def test_the_run_model_imports_neither_torch_nor_textual() -> None:
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'textual', 'tui'):\n"
            "            raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import core.runmodel\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
