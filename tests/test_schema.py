"""The config schema (core.config.SETTINGS): one declaration per field, and every copy generated from it agrees.

The walk test follows each field from the command line to RunConfig, into the app's form and
back, into config.json, and into the optimizer and model that train; the others pin the
disagreements the schema removed (hidden optimizer defaults, '-5' read as 5, the lr dialog's
missing upper bound, a weight-decay divergence blamed on the learning rate).
"""

from __future__ import annotations

import json

import pytest
import torch
from textual.app import App
from torch import nn

from core import runlog
from core.cli import build_parser, main
from core.config import (MAX_LR, OPTIMIZERS, RACEABLE, RESUMABLE, SETTING, SETTINGS, ConfigError, RunConfig,
                         checkpoint_mismatch, resume_changes, validate)
from core.engine import Trainer
from core.models import ACTIVATION_LAYERS
from core.optim import build_optimizer
from core.perf import native_bf16
from core.options import config_from_args, given_config_options
from core.race import RACE_FIELDS
from test_app_widgets import One  # a widget mounted alone in a tiny App
from tui.race_dialog import SUGGESTIONS
from tui.screens import LearningRateScreen
from tui.widgets.config_form import FIELDS, ConfigForm

# One value per command-line field, each different from RunConfig's default, together one valid run
# (a tiny MLP, so every MLP field matters). A field added to the schema without a value here fails
# test_the_walk_covers_every_field: the walk must grow with the schema.
WALK = {
    "dataset": "mnist",  # the only data set the tiny test files provide; the default, checked anyway
    "model": "mlp",  # the one architecture every field applies to
    "hidden": (24, 12),
    "activation": "tanh",
    "batch_norm": True,
    "dropout": 0.25,
    "optimizer": "nesterov",
    "momentum": 0.5,
    "weight_decay": 0.001,
    "init": "lecun",
    "lr": 0.05,
    "schedule": "onecycle",
    "normalize": "unit",
    "batch_size": 32,
    "epochs": 1,
    "seed": 7,
    "device": "cpu",
    "precision": "bfloat16",
    "train_size": 96,
    "log_interval": 2,
    "name": "walk",
}


def argv_for(values: dict) -> list[str]:
    argv = []
    for name, value in values.items():
        setting = SETTING[name]
        if setting.kind == "toggle":
            argv.append(setting.flag if value else "--no-" + setting.flag[2:])
        else:
            argv += [setting.flag, setting.show(value)]
    return argv


def test_the_walk_covers_every_field() -> None:
    assert list(WALK) == [s.name for s in SETTINGS]


def test_every_runconfig_field_is_declared_once() -> None:
    from dataclasses import fields

    assert sorted(SETTING) == sorted(f.name for f in fields(RunConfig))


async def test_every_field_agrees_from_the_command_line_to_the_optimizer_and_model(tiny_data, tmp_path) -> None:
    # command line -> RunConfig
    args = build_parser().parse_args(argv_for(WALK))
    assert given_config_options(args) == list(WALK)
    config = config_from_args(args)
    assert {name: getattr(config, name) for name in WALK} == WALK

    # RunConfig -> the form (each shown field shows the value its parser reads back) -> RunConfig
    form = ConfigForm(config)
    async with One(form).run_test(size=(80, 40)) as pilot:
        await pilot.pause()
        for field in FIELDS:
            widget = form.query_one(f"#{field.id}")
            shown = widget.value  # type: ignore[attr-defined]
            assert (field.parse(shown) if field.kind == "input" else shown) == getattr(config, field.key), field.key
            assert not widget.disabled, f"{field.key} applies to this run but is disabled"
        assert form.read() == config  # fields the form does not show pass through unchanged

    # RunConfig -> config.json, and the optimizer and model that train
    trainer = Trainer(config, tmp_path / "run", data_dir=str(tiny_data))
    end = trainer.run()
    assert end.status == "finished", end.reason
    saved = json.loads((tmp_path / "run" / runlog.CONFIG_FILE).read_text())["config"]
    assert RunConfig.from_dict(saved) == config
    assert saved["hidden"] == list(WALK["hidden"]) and saved["weight_decay"] == WALK["weight_decay"]

    group = trainer.optimizer.param_groups[0]
    assert isinstance(trainer.optimizer, torch.optim.SGD) and group["nesterov"] is True
    assert (group["momentum"], group["weight_decay"]) == (WALK["momentum"], WALK["weight_decay"])
    assert trainer.scheduler is not None and group["max_lr"] == WALK["lr"]  # one-cycle peaks at --lr
    model = trainer.model
    widths = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)]
    assert widths == [*WALK["hidden"], 10]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model.modules()) == len(WALK["hidden"])
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [WALK["dropout"]] * len(WALK["hidden"])
    activation = type(ACTIVATION_LAYERS[WALK["activation"]]())
    assert sum(isinstance(m, activation) for m in model.modules()) == len(WALK["hidden"])
    assert trainer.data.train_size == WALK["train_size"]
    assert trainer.device.type == "cpu"
    assert trainer.perf.bf16 == native_bf16(trainer.device)  # bfloat16 where the CPU has it, else float32
    speed = json.loads((tmp_path / "run" / runlog.CONFIG_FILE).read_text())["speed"]
    assert ("bf16 autocast" if trainer.perf.bf16 else "float32 (bfloat16 asked for") in speed


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("decay, momentum", [(0.0, 0.0), (0.003, 0.7)])
def test_the_optimizer_trains_with_exactly_the_recorded_settings(optimizer, decay, momentum) -> None:
    """No hidden defaults: --weight-decay 0 is 0 for adamw, --momentum 0 is 0 for nesterov."""
    argv = ["--optimizer", optimizer, "--weight-decay", str(decay), "--momentum", str(momentum), "--model", "linear"]
    config = config_from_args(build_parser().parse_args(argv))
    group = build_optimizer(nn.Linear(4, 2), config).param_groups[0]
    assert group["weight_decay"] == decay
    if SETTING["momentum"].applies(config.model, optimizer):
        assert group["momentum"] == momentum
        assert group["nesterov"] == (optimizer == "nesterov" and momentum > 0)


def test_nesterov_with_momentum_zero_trains_as_plain_sgd(tiny_data, tmp_path, capsys) -> None:
    code = main(["--no-ui", "--optimizer", "nesterov", "--momentum", "0", "--model", "linear", "--epochs", "1",
                 "--train-size", "64", "--data-dir", str(tiny_data), "--run-dir", str(tmp_path / "r")])
    assert code == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "r" / runlog.CONFIG_FILE).read_text())["config"]["momentum"] == 0


def test_the_fast_preset_sets_adamw_decay_visibly() -> None:
    from core.config import PRESETS

    fast = PRESETS["fast"].config
    assert fast.optimizer == "adamw" and fast.weight_decay == 0.01
    assert build_optimizer(nn.Linear(4, 2), fast).param_groups[0]["weight_decay"] == 0.01


@pytest.mark.parametrize("text", ["-5", "512,-5", "-512-256", "5--6", "0"])
def test_negative_or_zero_hidden_sizes_are_refused_not_read_as_positive(text) -> None:
    with pytest.raises(ConfigError, match="invalid hidden sizes"):
        SETTING["hidden"].parse(text)


def test_hidden_dashes_between_sizes_still_separate_them() -> None:
    assert SETTING["hidden"].parse("512-256") == (512, 256)


def test_a_huge_weight_decay_is_blamed_on_the_weight_decay(tiny_data, tmp_path, capsys) -> None:
    code = main(["--no-ui", "--weight-decay", "1e30", "--model", "linear", "--epochs", "1", "--train-size", "128",
                 "--batch-size", "32", "--data-dir", str(tiny_data), "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "non-finite loss" in err and "try a lower weight decay than 1e+30" in err and "learning rate than" not in err


# ---- what is generated from the schema ----

def test_cli_options_are_generated_with_their_flags_metavars_and_choices() -> None:
    parser = build_parser()
    options = {a.dest: a for a in parser._actions}
    for setting in SETTINGS:
        action = options[setting.name]
        assert setting.flag in action.option_strings
        if setting.kind == "choice" and not setting.aliases:
            assert tuple(action.choices) == setting.choices
        if setting.metavar:
            assert action.metavar == setting.metavar
    assert options["batch_norm"].option_strings == ["--batch-norm", "--no-batch-norm"]
    assert "(default 0.9)" in options["momentum"].help and "(default 0)" in options["weight_decay"].help


def test_race_fields_and_the_race_dialog_come_from_the_schema() -> None:
    assert list(RACE_FIELDS) == list(RACEABLE)
    for name in RACEABLE:
        values = SUGGESTIONS[name].split(",")
        assert len(values) >= 2
        for value in values:  # every suggestion parses with the field's own parser and is a valid value
            parsed = RACE_FIELDS[name](value)
            validate(RunConfig(**{name: parsed}))


def test_resume_rules_come_from_the_schema() -> None:
    assert RESUMABLE == ("epochs", "device")
    saved = RunConfig(epochs=3, lr=0.1)
    wanted = RunConfig(epochs=9, device="cpu", lr=0.5, seed=4)
    assert resume_changes(saved, wanted) == RunConfig(epochs=9, device="cpu", lr=0.1)
    assert checkpoint_mismatch(saved, RunConfig(epochs=9, device="cpu", lr=0.1)) is None
    assert checkpoint_mismatch(saved, RunConfig(epochs=3, lr=0.1, seed=2)) == "seed"


@pytest.mark.parametrize("text, words", [("1e31", f"must be at most {MAX_LR:g}"), ("0", "must be > 0"),
                                         ("abc", "must be a number"), ("nan", "must be a finite number")])
async def test_the_lr_dialog_enforces_the_command_lines_bounds(text, words, capsys) -> None:
    assert main(["--no-ui", "--lr", text]) == 2
    cli_error = capsys.readouterr().err
    assert words in cli_error

    class Host(App):
        result = "not dismissed"

        def on_mount(self) -> None:
            self.push_screen(LearningRateScreen(0.01), lambda lr: setattr(self, "result", lr))

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        field = app.screen.query_one("#lr-input")
        field.value = text
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LearningRateScreen) and app.result == "not dismissed"
        shown = str(app.screen.query_one("#lr-error").render())
        assert words in shown and shown in cli_error  # the same words as the command line
        field.value = "0.2"
        await pilot.press("enter")
        await pilot.pause()
    assert app.result == 0.2


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_one_cycle_keeps_the_recorded_momentum_and_builds_for_every_optimizer(optimizer) -> None:
    """torch's OneCycleLR would set SGD's momentum to 0.85-0.95 and refuse Adagrad/Adadelta."""
    from core.optim import build_scheduler

    config = validate(RunConfig(model="linear", optimizer=optimizer, schedule="onecycle", momentum=0.5))
    built = build_optimizer(nn.Linear(4, 2), config)
    build_scheduler(built, config, total_steps=20)
    group = built.param_groups[0]
    if "momentum" in group:
        assert group["momentum"] == (0.5 if optimizer in ("momentum", "nesterov") else 0)


@pytest.mark.parametrize("setting", SETTINGS + tuple(s for s in SETTING.values() if s not in SETTINGS),
                         ids=lambda s: s.name)
def test_each_fields_text_reads_back_as_its_value(setting) -> None:
    """show() and parse() are inverse for the default and the walk's value: what a form or a race
    dialog displays, typed back, is the same setting."""
    for value in (setting.default, WALK.get(setting.name, setting.default)):
        assert setting.parse(setting.show(value)) == value
        setting.check(value)


async def test_each_form_field_explains_itself_with_the_command_lines_help() -> None:
    form = ConfigForm(RunConfig())
    async with One(form).run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        for field in FIELDS:
            tooltip = str(form.query_one(f"#{field.id}").tooltip)
            assert field.setting.help in tooltip and field.setting.flag in tooltip


@pytest.mark.parametrize("flag", ["--seed", "--lr", "--hidden", "--epochs"])
def test_a_huge_bad_value_is_quoted_short(flag, capsys) -> None:
    value = "9" * 5000 + "x"
    assert main(["--no-ui", f"{flag}={value}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 300 and "5,001 characters" in err
