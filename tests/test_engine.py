"""The Trainer and the registries, on the tiny generated data set.

Every registry entry (model, optimizer, init) must build and take a training step, and the
config's choice lists must name exactly the registry tables, so adding one line to a table is
all a new entry needs. The Trainer tests check the numbers it reports against numbers computed
independently from its own events (loss weighting, confusion matrix, sample pixels).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from torch import nn

from core import config as config_mod
from core import data as data_mod
from core import models, optim
from core.config import ConfigError, RunConfig
from core.engine import DeviceError, Trainer, evaluate, resolve_device, sample_indices
from core.events import (ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, SamplesEvent, StateEvent, StepEvent)
from core.runlog import CHECKPOINT_FILE, load_checkpoint, read_events

CPU = torch.device("cpu")
SMALL = dict(hidden=(32,), batch_size=32, epochs=1, sample_count=10)


def batch(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 28, 28, generator=gen), torch.randint(0, 10, (n,), generator=gen)


def params_vector(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


# ---- registries ----

def test_config_choices_are_the_registry_tables() -> None:
    assert tuple(models.MODELS) == config_mod.MODELS
    assert tuple(optim.OPTIMIZERS) == config_mod.OPTIMIZERS
    assert tuple(optim.INITS) == config_mod.INITS
    assert tuple(models.ACTIVATION_LAYERS) == config_mod.ACTIVATIONS
    assert set(config_mod.INIT_ALIASES.values()) <= set(optim.INITS)
    assert set(config_mod.OPTIMIZER_ALIASES.values()) <= set(optim.OPTIMIZERS)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_every_model_builds_and_takes_a_step(name: str) -> None:
    config = RunConfig(model=name, hidden=(16,))
    model = models.build_model(config)
    x, y = batch()
    out = model(x)
    assert out.shape == (8, 10) and out.dtype == torch.float32
    assert models.parameter_count(model) > 0 and models.describe(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = params_vector(model)
    nn.functional.cross_entropy(out, y).backward()
    opt.step()
    assert not torch.equal(before, params_vector(model))


@pytest.mark.parametrize("activation", list(models.ACTIVATION_LAYERS))
def test_mlp_options(activation: str) -> None:
    model = models.build_model(RunConfig(model="mlp", hidden=(20, 10), activation=activation, batch_norm=True,
                                         dropout=0.3))
    kinds = [type(m) for m in model]
    assert kinds.count(nn.Linear) == 3 and kinds.count(nn.BatchNorm1d) == 2 and kinds.count(nn.Dropout) == 2
    assert isinstance(model[3], models.ACTIVATION_LAYERS[activation])
    assert model(batch()[0]).shape == (8, 10)


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_every_optimizer_builds_and_takes_a_step(name: str) -> None:
    torch.manual_seed(0)
    model = models.build_model(RunConfig(model="linear"))
    opt = optim.build_optimizer(model, RunConfig(optimizer=name, lr=0.05))
    x, y = batch(64)
    before = params_vector(model)
    losses = []
    for _ in range(5):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    after = params_vector(model)
    assert torch.isfinite(after).all() and not torch.equal(before, after)
    assert losses[-1] < losses[0], f"{name} did not reduce the loss on one fixed batch: {losses}"


@pytest.mark.parametrize("name", list(optim.INITS))
def test_every_init_applies_to_linear_and_conv_layers(name: str) -> None:
    torch.manual_seed(0)
    default = models.build_model(RunConfig(model="cnn"))
    torch.manual_seed(0)
    model = models.build_model(RunConfig(model="cnn"))
    optim.initialise(model, name)
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    reference = [m for m in default.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for layer, ref in zip(layers, reference):
        if name == "default":
            assert torch.equal(layer.weight, ref.weight)
        else:
            assert not torch.equal(layer.weight, ref.weight)
            assert torch.count_nonzero(layer.bias) == 0
            fan_in = layer.weight[0].numel()
            std = layer.weight.std().item()
            assert 0.2 / fan_in**0.5 < std < 3.0 / fan_in**0.5  # a scaled init, not zeros or N(0, 1)
    x, y = batch()
    nn.functional.cross_entropy(model(x), y).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_xavier_uniform_respects_its_bound() -> None:
    layer = nn.Linear(784, 16)
    optim.INITS["xavier-uniform"](layer.weight)
    assert layer.weight.abs().max().item() <= (6 / (784 + 16)) ** 0.5


def test_onecycle_schedule_warms_up_then_anneals() -> None:
    model = models.build_model(RunConfig(model="linear"))
    config = RunConfig(optimizer="sgd", lr=0.4, schedule="onecycle")
    opt = optim.build_optimizer(model, config)
    sched = optim.build_scheduler(opt, config, total_steps=100)
    lrs = []
    for _ in range(100):
        opt.step()
        sched.step() if len(lrs) < 99 else None
        lrs.append(opt.param_groups[0]["lr"])
    peak = lrs.index(max(lrs))
    assert 15 <= peak <= 30 and max(lrs) == pytest.approx(0.4, rel=0.05)
    assert lrs[0] < 0.05 and lrs[-1] < 0.01
    assert optim.build_scheduler(opt, RunConfig(schedule="constant"), 100) is None


# ---- small helpers ----

def test_sample_indices_cycle_through_classes() -> None:
    labels = torch.tensor([3, 1, 1, 3, 0, 0, 2])
    assert sample_indices(labels, 4) == [4, 1, 6, 0]
    assert sample_indices(labels, 7) == [4, 1, 6, 0, 5, 2, 3]
    assert sample_indices(labels, 20) == [4, 1, 6, 0, 5, 2, 3]
    assert sample_indices(labels, 0) == []


def test_evaluate_matches_a_direct_computation() -> None:
    torch.manual_seed(0)
    model = models.build_model(RunConfig(model="mlp", hidden=(8,), dropout=0.5))
    x, y = batch(203)
    loss, acc, predictions = evaluate(model, x, y, batch_size=50)  # uneven last batch
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert loss == pytest.approx(float(nn.functional.cross_entropy(out, y)), rel=1e-5)
    assert acc == pytest.approx(float((out.argmax(1) == y).float().mean()))
    assert torch.equal(predictions, out.argmax(1))
    model.train()
    assert evaluate(model, x, y, 50, should_stop=lambda: True) is None
    assert model.training  # evaluation leaves the mode as it found it


def test_resolve_device() -> None:
    assert resolve_device("cpu") == CPU
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="cuda is not available"):
            resolve_device("cuda")


# ---- the Trainer ----

def run(tmp_path: Path, data_dir: Path, sinks=(), name: str = "run", **overrides) -> tuple[EndEvent, list]:
    events: list = []
    config = RunConfig(**(SMALL | overrides))
    trainer = Trainer(config, tmp_path / name, [events.append, *sinks], data_dir=str(data_dir))
    end = trainer.run()
    return end, events


@pytest.mark.parametrize("model", list(models.MODELS))
def test_trainer_runs_every_model(tmp_path, tiny_data, model: str) -> None:
    end, events = run(tmp_path, tiny_data, model=model, train_size=64, log_interval=1, optimizer="adam", lr=0.001)
    assert end.status == "finished", end.reason
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [s.step for s in steps] == [1, 2] and all(s.loss > 0 for s in steps)


def test_trainer_event_stream(tmp_path, tiny_data) -> None:
    end, events = run(tmp_path, tiny_data, epochs=2, train_size=100, log_interval=1, optimizer="adam", lr=0.003)
    assert end.status == "finished" and end.reason == "trained 2 epochs"
    assert isinstance(events[0], ConfigEvent) and events[-1] is end
    config = events[0]
    assert (config.train_size, config.test_size, config.steps_per_epoch, config.total_steps) == (100, 200, 4, 8)
    assert config.start_epoch == 1 and not config.resumed and not config.bundled_data
    kinds = [e.type for e in events]
    assert kinds == ["config"] + (["step"] * 4 + ["state", "epoch", "samples", "confusion"]) * 2 + ["end"]
    # evaluation is announced after the epoch's last step, so views need not sit at 100% with ETA 00:00
    evaluating = [e for e in events if isinstance(e, StateEvent)]
    assert [(e.state, e.step, e.message) for e in evaluating] == [
        ("evaluating", 4, "evaluating epoch 1 on 200 test images"),
        ("evaluating", 8, "evaluating epoch 2 on 200 test images")]
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [s.step for s in steps] == list(range(1, 9))
    assert [s.seen for s in steps] == [32, 64, 96, 100] * 2
    assert all(s.epoch_size == 100 and s.total_steps == 8 and s.lr == 0.003 for s in steps)
    times = [s.time for s in steps]
    assert times == sorted(times)
    # the epoch's train loss is the sample-weighted mean of its batch losses (last batch has 4 images)
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    for epoch in epochs:
        losses = [s.loss for s in steps if s.epoch == epoch.epoch]
        assert epoch.train_loss == pytest.approx((32 * sum(losses[:3]) + 4 * losses[3]) / 100, rel=1e-5)
        assert 0 <= epoch.train_acc <= 1 and epoch.seconds > 0 and epoch.samples_per_s > 0
    assert epochs[-1].test_acc > 0.6  # learnable data; this is an end-to-end sanity check, not a benchmark
    assert end.best_test_acc == max(e.test_acc for e in epochs) and end.final_test_acc == epochs[-1].test_acc


def test_confusion_and_samples_agree_with_the_data(tmp_path, tiny_data) -> None:
    end, events = run(tmp_path, tiny_data, optimizer="adam", lr=0.003)
    epoch = next(e for e in events if isinstance(e, EpochEvent))
    confusion = next(e for e in events if isinstance(e, ConfusionEvent))
    samples = next(e for e in events if isinstance(e, SamplesEvent))
    bundle = data_mod.load(data_mod.locate("mnist", tiny_data), "mnist", CPU)
    matrix = torch.tensor(confusion.matrix)
    assert matrix.shape == (10, 10) and int(matrix.sum()) == 200
    assert matrix.sum(1).tolist() == torch.bincount(bundle.test_y, minlength=10).tolist()  # rows are true classes
    assert int(matrix.trace()) == round(epoch.test_acc * 200)
    assert len(samples.indices) == 10 and sorted(samples.labels) == list(range(10))
    for i, index in enumerate(samples.indices):
        assert samples.labels[i] == int(bundle.test_y[index])
        assert samples.image_bytes(i) == bytes(bundle.test_pixels[index].flatten().tolist())
        assert 0.1 <= samples.confidences[i] <= 1.0 and 0 <= samples.predictions[i] <= 9
    assert sum(p == l for p, l in zip(samples.predictions, samples.labels)) >= 1


def test_trainer_writes_the_run_directory(tmp_path, tiny_data) -> None:
    end, events = run(tmp_path, tiny_data)
    run_dir = tmp_path / "run"
    assert read_events(run_dir) == events
    assert end.checkpoint == str(run_dir / CHECKPOINT_FILE)
    state = load_checkpoint(run_dir / CHECKPOINT_FILE)
    assert state["epoch"] == 2 and state["step"] == 19 and state["config"]["hidden"] == [32]


def test_same_seed_same_run(tmp_path, tiny_data) -> None:
    losses = []
    for name in ("a", "b", "c"):
        seed = 7 if name != "c" else 8
        _, events = run(tmp_path, tiny_data, name=name, seed=seed, train_size=128, log_interval=1)
        losses.append([e.loss for e in events if isinstance(e, StepEvent)])
    assert losses[0] == losses[1] and losses[0] != losses[2]


def test_stop_from_a_sink_checkpoints_and_ends_stopped(tmp_path, tiny_data) -> None:
    holder: dict = {}

    def stop_at_third_step(event) -> None:
        if isinstance(event, StepEvent) and event.step == 3:
            holder["trainer"].stop()

    events: list = []
    trainer = Trainer(RunConfig(**(SMALL | {"epochs": 3, "log_interval": 1})), tmp_path / "run",
                      [events.append, stop_at_third_step], data_dir=str(tiny_data))
    holder["trainer"] = trainer
    end = trainer.run()
    assert (end.status, end.reason, end.step, end.epoch) == ("stopped", "stopped by the user", 3, 1)
    assert not any(isinstance(e, EpochEvent) for e in events)
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT_FILE)["step"] == 3


def test_set_lr_takes_effect_and_is_logged(tmp_path, tiny_data) -> None:
    holder: dict = {}

    def change_lr(event) -> None:
        if isinstance(event, StepEvent) and event.step == 2:
            holder["trainer"].set_lr(0.5)

    events: list = []
    trainer = Trainer(RunConfig(**(SMALL | {"log_interval": 1, "lr": 0.01})), tmp_path / "run",
                      [events.append, change_lr], data_dir=str(tiny_data))
    holder["trainer"] = trainer
    with pytest.raises(ConfigError, match="invalid learning rate"):
        trainer.set_lr(float("nan"))
    with pytest.raises(ConfigError):
        trainer.set_lr(0)
    assert trainer.run().status == "finished"
    lrs = [e.lr for e in events if isinstance(e, StepEvent)]
    assert lrs[:2] == [0.01, 0.01] and set(lrs[2:]) == {0.5}
    state = next(e for e in events if isinstance(e, StateEvent))
    assert (state.state, state.lr, state.step) == ("lr", 0.5, 2)


def test_pause_and_resume_from_another_thread(tmp_path, tiny_data) -> None:
    """The app's controls come from the UI thread: pause blocks the loop until resume()."""
    paused = threading.Event()
    holder: dict = {}

    def sink(event) -> None:
        if isinstance(event, StepEvent) and event.step == 2:
            holder["trainer"].pause()
        if isinstance(event, StateEvent) and event.state == "paused":
            assert holder["trainer"].paused
            paused.set()

    events: list = []
    trainer = Trainer(RunConfig(**(SMALL | {"log_interval": 1})), tmp_path / "run", [events.append, sink],
                      data_dir=str(tiny_data))
    holder["trainer"] = trainer

    def resumer() -> None:
        assert paused.wait(60), "the loop never reported that it paused"
        trainer.resume()

    helper = threading.Thread(target=resumer)
    helper.start()
    end = trainer.run()
    helper.join()
    assert end.status == "finished"
    states = [e.state for e in events if isinstance(e, StateEvent) and e.state != "evaluating"]
    assert states == ["paused", "resumed"]
    steps = [e.step for e in events if isinstance(e, StepEvent)]
    assert steps == list(range(1, 20))  # no step lost or repeated around the pause


def test_stop_while_paused_ends_the_run(tmp_path, tiny_data) -> None:
    holder: dict = {}

    def sink(event) -> None:
        if isinstance(event, StepEvent) and event.step == 1:
            holder["trainer"].pause()
        if isinstance(event, StateEvent) and event.state == "paused":
            threading.Thread(target=holder["trainer"].stop, args=("stopped", "quit while paused")).start()

    trainer = Trainer(RunConfig(**(SMALL | {"log_interval": 1})), tmp_path / "run", [sink], data_dir=str(tiny_data))
    holder["trainer"] = trainer
    end = trainer.run()
    assert (end.status, end.reason) == ("stopped", "quit while paused")


def test_setup_failures_end_failed_and_leave_no_empty_run_dir(tmp_path, tiny_data) -> None:
    end, events = run(tmp_path, tiny_data, batch_size=601)
    assert end.status == "failed" and "invalid batch size 601" in end.reason
    assert [e.type for e in events] == ["end"]
    assert not (tmp_path / "run").exists()
    end, _ = run(tmp_path, tmp_path, name="run2")
    assert end.status == "failed" and "no MNIST files" in end.reason and not (tmp_path / "run2").exists()


def test_trainer_accepts_preloaded_data(tmp_path, tiny_data) -> None:
    bundle = data_mod.load(data_mod.locate("mnist", tiny_data), "mnist", CPU, train_size=64)
    events: list = []
    end = Trainer(RunConfig(**SMALL), tmp_path / "run", [events.append], data=bundle).run()
    assert end.status == "finished" and events[0].train_size == 64
