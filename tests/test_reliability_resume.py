"""Exact resume: a CPU run stopped at an arbitrary point and continued with resume=True ends with
bit-identical weights, optimizer state and metrics to the same run left alone.

The stop is requested from inside the run (a forward hook counting training or evaluation
batches), so it can land on any step, not only where a progress record is logged.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import pytest
import torch

from core import data as data_mod
from core.config import RunConfig
from core.engine import Trainer
from core.events import ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, SamplesEvent, StepEvent
from core.runlog import CHECKPOINT_FILE, load_checkpoint

BASE = RunConfig(model="mlp", hidden=(32,), optimizer="sgd", lr=0.05, batch_size=32, epochs=2, seed=3,
                 device="cpu", log_interval=5, eval_batch_size=50, sample_count=4)
STEPS_PER_EPOCH = 19  # 600 images in batches of 32: 18 full batches and one of 24


@pytest.fixture(scope="module")
def bundle(tiny_data):
    return data_mod.load(data_mod.locate("mnist", tiny_data), "mnist", torch.device("cpu"))


class StopWhen:
    """A sink that, once the run starts, hooks the model and stops the trainer at a chosen point.

    `when(kind, count)` is asked before every training ("train") or evaluation ("eval") forward
    pass and after every event ("event:<type>"); returning True requests the stop.
    """

    def __init__(self, when: Callable[[str, int], bool]) -> None:
        self.when = when
        self.trainer: Trainer | None = None
        self.counts: dict[str, int] = {}
        self.fired = False

    def _tick(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if not self.fired and self.when(kind, self.counts[kind]):
            self.fired = True
            self.trainer.stop("interrupted", "test stop")

    def __call__(self, event) -> None:
        if isinstance(event, ConfigEvent):
            self.trainer.model.register_forward_pre_hook(
                lambda module, args: self._tick("train" if module.training else "eval"))
        self._tick(f"event:{event.type}")


def run(config: RunConfig, run_dir: Path, bundle, *, resume: bool = False, stop: StopWhen | None = None,
        setup: Callable[[Trainer], None] | None = None) -> tuple[Trainer, list]:
    events: list = []
    trainer = Trainer(config, run_dir, [events.append] + ([stop] if stop else []), data=bundle, resume=resume)
    if stop:
        stop.trainer = trainer
    if setup:
        setup(trainer)
    end = trainer.run()
    assert end.status in ("finished", "interrupted"), end.reason
    return trainer, events


def metrics(events: list) -> list[tuple]:
    """Everything a run reports that must not depend on being interrupted (no times, no rates)."""
    out: list[tuple] = []
    for e in events:
        if isinstance(e, StepEvent):
            out.append(("step", e.epoch, e.step, e.seen, e.loss, e.lr))
        elif isinstance(e, EpochEvent):
            out.append(("epoch", e.epoch, e.step, e.train_loss, e.train_acc, e.test_loss, e.test_acc, e.lr))
        elif isinstance(e, SamplesEvent):
            out.append(("samples", e.epoch, tuple(e.predictions), tuple(e.confidences)))
        elif isinstance(e, ConfusionEvent):
            out.append(("confusion", e.epoch, str(e.matrix)))
    return out


def assert_same_state(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), what
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, dict):
            assert_same_state(x, y, f"{what}.{key}")
        elif isinstance(x, list):
            assert len(x) == len(y), f"{what}.{key}"
            for i, (u, v) in enumerate(zip(x, y)):
                if isinstance(u, dict):
                    assert_same_state(u, v, f"{what}.{key}[{i}]")
                else:
                    assert u == v, f"{what}.{key}[{i}]"
        elif isinstance(x, torch.Tensor):
            assert torch.equal(x, y), f"{what}.{key} differs"
        else:
            assert x == y, f"{what}.{key}: {x!r} != {y!r}"


def check_exact_resume(config: RunConfig, tmp_path: Path, bundle, stops: list[Callable[[str, int], bool]],
                       setup: Callable[[Trainer], None] | None = None) -> list[EndEvent]:
    reference, ref_events = run(config, tmp_path / "straight", bundle, setup=setup)
    run_dir = tmp_path / "stopped"
    seen: list = []
    ends: list[EndEvent] = []
    trainer = None
    for i, when in enumerate(stops + [lambda kind, n: False]):
        stop = StopWhen(when)
        trainer, events = run(config, run_dir, bundle, resume=i > 0, stop=stop, setup=setup if i == 0 else None)
        assert stop.fired == (i < len(stops)), f"stop {i} never fired"
        ends.append(events[-1])
        seen.extend(events)
    assert ends[-1].status == "finished"
    assert [e.status for e in ends[:-1]] == ["interrupted"] * len(stops)
    assert metrics(seen) == metrics(ref_events)
    assert_same_state(trainer.model.state_dict(), reference.model.state_dict(), "model")
    assert_same_state(trainer.optimizer.state_dict(), reference.optimizer.state_dict(), "optimizer")
    assert_same_state(load_checkpoint(run_dir / CHECKPOINT_FILE)["model"],
                      load_checkpoint(tmp_path / "straight" / CHECKPOINT_FILE)["model"], "checkpoint")
    return ends


def at_train_step(n: int) -> Callable[[str, int], bool]:
    """Stop during training step n (it finishes; the checkpoint is taken after it)."""
    return lambda kind, count: kind == "train" and count == n


def test_resume_mid_epoch_between_log_records(tmp_path, bundle):
    ends = check_exact_resume(BASE, tmp_path, bundle, [at_train_step(7)])
    assert ends[0].step == 7  # not a multiple of log_interval 5: a partial interval is carried over


def test_resume_when_stopped_by_a_sink_after_n_step_records(tmp_path, bundle):
    """The way the app and the signal handler stop a run: from outside, on a progress record."""
    ends = check_exact_resume(BASE, tmp_path, bundle, [lambda kind, n: kind == "event:step" and n == 2])
    assert ends[0].step == 10


def test_resume_after_last_step_of_epoch_before_evaluation(tmp_path, bundle):
    config = replace(BASE, log_interval=0)
    ends = check_exact_resume(config, tmp_path, bundle, [at_train_step(STEPS_PER_EPOCH)])
    assert (ends[0].step, ends[0].epoch) == (STEPS_PER_EPOCH, 1)


def test_resume_when_stopped_during_evaluation(tmp_path, bundle):
    ends = check_exact_resume(BASE, tmp_path, bundle, [lambda kind, n: kind == "eval" and n == 2])
    assert (ends[0].step, ends[0].epoch) == (STEPS_PER_EPOCH, 1), "evaluation abandoned, redone on resume"


def test_resume_when_stopped_after_epoch_end(tmp_path, bundle):
    ends = check_exact_resume(BASE, tmp_path, bundle, [lambda kind, n: kind == "event:samples" and n == 1])
    assert (ends[0].step, ends[0].epoch) == (STEPS_PER_EPOCH, 2)


def test_resume_dropout_batchnorm_adam_stopped_twice(tmp_path, bundle):
    config = replace(BASE, hidden=(48, 24), batch_norm=True, dropout=0.3, optimizer="adam", lr=0.003,
                     init="kaiming-uniform", epochs=3, log_interval=4)
    ends = check_exact_resume(config, tmp_path, bundle, [at_train_step(5), at_train_step(31 - 5)])
    assert [e.step for e in ends] == [5, 31, 3 * STEPS_PER_EPOCH]


def test_resume_onecycle_schedule_with_momentum(tmp_path, bundle):
    config = replace(BASE, optimizer="nesterov", schedule="onecycle", lr=0.1, log_interval=3)
    check_exact_resume(config, tmp_path, bundle, [at_train_step(23)])


def test_resume_keeps_a_learning_rate_set_by_hand(tmp_path, bundle):
    """set_lr() replaces the schedule for the rest of the run; a resume must not bring it back."""
    config = replace(BASE, optimizer="momentum", schedule="onecycle", lr=0.1, log_interval=1)

    def set_lr_at_step_4(trainer: Trainer) -> None:
        trainer.sinks.append(lambda e: trainer.set_lr(0.02) if isinstance(e, StepEvent) and e.step == 4 else None)

    check_exact_resume(config, tmp_path, bundle, [at_train_step(11)], setup=set_lr_at_step_4)
