"""Non-finite loss: the run stops at the first NaN/Inf with status failed, names the step, suggests a
lower learning rate, keeps the last good checkpoint, and the command line exits 1 with one line.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from core.cli import main
from core.config import RunConfig
from core.engine import Trainer
from core.events import EndEvent, EpochEvent, StepEvent
from core.runlog import CHECKPOINT_FILE, METRICS_FILE, iter_records, load_checkpoint

DIVERGING = RunConfig(model="mlp", hidden=(32,), optimizer="sgd", lr=1e6, batch_size=32, epochs=2, device="cpu",
                      sample_count=0)


def run(config: RunConfig, run_dir, tiny_data, *extra_sinks) -> tuple[EndEvent, list]:
    events: list = []
    trainer = Trainer(config, run_dir, [events.append, *extra_sinks], data_dir=str(tiny_data))
    end = trainer.run()
    return end, events


def assert_kept_good_checkpoint(run_dir, before_step: int) -> dict:
    state = load_checkpoint(run_dir / CHECKPOINT_FILE)
    assert state["step"] < before_step
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())
    return state


def assert_log_has_no_non_finite_numbers(run_dir) -> None:
    def reject(constant: str):
        raise AssertionError(f"{constant} in metrics.jsonl")

    for line in (run_dir / METRICS_FILE).read_text().splitlines():
        json.loads(line, parse_constant=reject)


def test_lr_1e6_fails_at_the_first_non_finite_step_whatever_the_log_interval(tiny_data, tmp_path):
    named = set()
    for interval in (1, 7, 0):
        run_dir = tmp_path / f"every-{interval}"
        end, events = run(RunConfig(**{**DIVERGING.__dict__, "log_interval": interval}), run_dir, tiny_data)
        assert end.status == "failed"
        assert "non-finite loss" in end.reason and "lower learning rate" in end.reason and "1e+06" in end.reason
        step = int(end.reason.split(" at step ")[1].split()[0])
        named.add(step)
        logged = [e for e in events if isinstance(e, StepEvent)]
        assert all(math.isfinite(e.loss) for e in logged)
        assert all(e.step < step for e in logged)
        if interval == 1:  # every step was reported: the failing one is the first not reported
            assert step == logged[-1].step + 1
        assert not any(isinstance(e, EpochEvent) for e in events)
        assert_kept_good_checkpoint(run_dir, step)
        assert end.checkpoint == str(run_dir / CHECKPOINT_FILE)
        records = list(iter_records(run_dir / METRICS_FILE))
        assert records[-1]["type"] == "end" and records[-1]["status"] == "failed"
        assert_log_has_no_non_finite_numbers(run_dir)
    assert len(named) == 1, f"the named step depends on the log interval: {named}"


def test_command_line_exits_1_with_one_line(tiny_data, tmp_path, capsys):
    code = main(["--no-ui", "--data-dir", str(tiny_data), "--run-dir", str(tmp_path / "run"), "--model", "mlp",
                 "--hidden", "32", "--lr", "1e6", "--batch-size", "32", "--epochs", "2", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "non-finite loss" in err and "at step" in err and "try a lower learning rate" in err


@pytest.mark.parametrize("lr, epoch", [(1e8, 3), (1e20, 1)])
def test_divergence_seen_only_in_the_test_loss_fails_the_run(tiny_data, tmp_path, lr, epoch):
    """One step per epoch: training losses stay finite, but the model's test loss is NaN/Inf."""
    config = RunConfig(**{**DIVERGING.__dict__, "lr": lr, "batch_size": 600, "epochs": 3, "log_interval": 1})
    end, events = run(config, tmp_path / "run", tiny_data)
    assert end.status == "failed"
    assert f"non-finite test loss" in end.reason and f"(epoch {epoch})" in end.reason
    assert "lower learning rate" in end.reason
    assert [e.epoch for e in events if isinstance(e, EpochEvent)] == list(range(1, epoch))
    state = assert_kept_good_checkpoint(tmp_path / "run", before_step=epoch + 1)
    assert state["step"] == epoch - 1, "the checkpoint of the last epoch that evaluated cleanly"
    assert_log_has_no_non_finite_numbers(tmp_path / "run")


class Stopper:
    """A sink that stops its trainer during training step `at` (counted by a forward hook)."""

    def __init__(self, at: int, then=None) -> None:
        self.at, self.then, self.trainer, self.count = at, then, None, 0

    def __call__(self, event) -> None:
        if event.type == "config":
            self.trainer.model.register_forward_pre_hook(self._tick)

    def _tick(self, module, args) -> None:
        if module.training:
            self.count += 1
            if self.count == self.at:
                if self.then:
                    self.then(self.trainer)
                self.trainer.stop("interrupted", "test stop")


def run_with_stopper(config, run_dir, tiny_data, stopper: Stopper) -> tuple[EndEvent, list]:
    events: list = []
    trainer = Trainer(config, run_dir, [events.append, stopper], data_dir=str(tiny_data))
    stopper.trainer = trainer
    return trainer.run(), events


def test_a_stop_between_log_records_still_catches_the_nan_step(tiny_data, tmp_path):
    """NaN at step 5, stop at step 7, next record due at step 10: the unlogged losses are checked
    before the stop's checkpoint, so the run fails naming step 5 and keeps the old checkpoint."""
    config = RunConfig(**{**DIVERGING.__dict__, "log_interval": 10})
    end, events = run_with_stopper(config, tmp_path / "run", tiny_data, Stopper(at=7))
    assert not any(isinstance(e, StepEvent) for e in events)
    assert end.status == "failed" and "non-finite loss (nan) at step 5 (epoch 1)" in end.reason, end.reason
    assert_kept_good_checkpoint(tmp_path / "run", before_step=1)


def test_a_stop_never_checkpoints_overflowed_weights(tiny_data, tmp_path):
    """Weights that overflowed in a step whose loss was finite (forced here, right after step 3's
    record) are not saved over the last good checkpoint."""
    holder: dict = {}

    def overflow_and_stop_after_step_3(event) -> None:
        if isinstance(event, StepEvent) and event.step == 3:
            with torch.no_grad():
                next(holder["trainer"].model.parameters())[0, 0] = float("inf")
            holder["trainer"].stop("interrupted", "test stop")

    config = RunConfig(**{**DIVERGING.__dict__, "lr": 0.01, "log_interval": 1})
    trainer = Trainer(config, tmp_path / "run", [overflow_and_stop_after_step_3], data_dir=str(tiny_data))
    holder["trainer"] = trainer
    end = trainer.run()
    assert end.status == "failed" and "non-finite weights at step 3" in end.reason, end.reason
    assert_kept_good_checkpoint(tmp_path / "run", before_step=1)
