"""RunConfig: validation with user-facing words, aliases, presets, and the config.json round trip."""

from __future__ import annotations

import json
import math

import pytest

from core.config import (INIT_ALIASES, OPTIMIZER_ALIASES, PRESETS, ConfigError, RunConfig, parse_hidden,
                         preset_config, validate)


@pytest.mark.parametrize("overrides, words", [
    ({"lr": 0}, "invalid learning rate 0: must be > 0"),
    ({"lr": -0.1}, "invalid learning rate"),
    ({"lr": math.nan}, "must be a finite number"),
    ({"lr": math.inf}, "must be a finite number"),
    ({"lr": True}, "must be a finite number"),
    ({"momentum": 1.0}, "invalid momentum 1.0: must be < 1"),
    ({"momentum": -0.5}, "invalid momentum"),
    ({"weight_decay": -1e-4}, "invalid weight decay"),
    ({"dropout": 1.0}, "invalid dropout 1.0: must be < 1"),
    ({"batch_size": 0}, "invalid batch size 0"),
    ({"batch_size": 2.5}, "invalid batch size"),
    ({"epochs": 0}, "invalid epochs 0"),
    ({"epochs": True}, "invalid epochs"),
    ({"eval_batch_size": 0}, "invalid eval batch size"),
    ({"seed": -1}, "invalid seed -1"),
    ({"seed": 2**63}, "invalid seed"),
    ({"train_size": 0}, "invalid train size 0"),
    ({"log_interval": -1}, "invalid log interval"),
    ({"sample_count": 65}, "invalid sample count"),
    ({"dataset": "cifar10"}, "invalid dataset 'cifar10': choose from mnist, fashion-mnist"),
    ({"model": "resnet"}, "invalid model 'resnet'"),
    ({"activation": "swish"}, "invalid activation"),
    ({"optimizer": "lbfgs"}, "invalid optimizer 'lbfgs'"),
    ({"init": "orthogonal"}, "invalid init"),
    ({"schedule": "cosine"}, "invalid schedule"),
    ({"device": "tpu"}, "invalid device"),
    ({"normalize": "zca"}, "invalid normalize"),
    ({"hidden": ()}, "an MLP needs at least one hidden layer"),
    ({"hidden": (64, 0)}, "invalid hidden size 0"),
    ({"hidden": (5120000,)}, "invalid hidden sizes 5120000: 4,070,400,010 parameters, more than the 100,000,000"),
    ({"hidden": (512, 20000, 20000)}, "more than the 100,000,000 allowed"),
    ({"name": ""}, "invalid name"),
    ({"name": "a/b"}, "no path separators"),
])
def test_invalid_values_are_rejected_with_the_field_named(overrides, words) -> None:
    with pytest.raises(ConfigError) as err:
        validate(RunConfig(**overrides))
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_hidden_is_not_checked_for_models_that_have_none() -> None:
    assert validate(RunConfig(model="cnn", hidden=())).model == "cnn"
    assert validate(RunConfig(model="linear", hidden=(10**9,))).model == "linear"


def test_large_but_sane_mlps_are_allowed() -> None:
    assert validate(RunConfig(hidden=(4096, 4096, 2048))).hidden == (4096, 4096, 2048)


@pytest.mark.parametrize("alias, canonical", [*INIT_ALIASES.items()])
def test_init_aliases_resolve(alias: str, canonical: str) -> None:
    assert validate(RunConfig(init=alias)).init == canonical


@pytest.mark.parametrize("alias, canonical", [*OPTIMIZER_ALIASES.items()])
def test_optimizer_aliases_resolve(alias: str, canonical: str) -> None:
    assert validate(RunConfig(optimizer=alias)).optimizer == canonical


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid_and_named_after_itself(name: str) -> None:
    preset = PRESETS[name]
    assert validate(preset.config) == preset.config  # presets use canonical names already
    assert preset.config.name == name
    assert 0.5 < preset.expected_test_acc < 1.0
    assert preset.description and preset.tutorial_result


def test_preset_settings_match_the_tutorials() -> None:
    """The numbers the tutorials used; a silent change here would break 'reproduces the tutorial'."""
    lin = PRESETS["linear-sgd"].config
    assert (lin.model, lin.optimizer, lin.lr, lin.batch_size, lin.epochs) == ("linear", "sgd", 0.1, 100, 15)
    cnn = PRESETS["cnn-adam"].config
    assert (cnn.model, cnn.optimizer, cnn.lr, cnn.init, cnn.batch_size) == ("cnn", "adam", 0.001, "xavier-uniform", 100)
    fashion = PRESETS["fashion-mlp"].config
    assert fashion.dataset == "fashion-mnist" and fashion.hidden == (256, 128)


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'nope': choose from "):
        preset_config("nope")


def test_with_overrides_ignores_none_and_keeps_frozen_original() -> None:
    base = PRESETS["cnn-adam"].config
    changed = base.with_overrides(lr=0.01, epochs=None, batch_size=None)
    assert changed.lr == 0.01 and changed.epochs == base.epochs and changed.batch_size == base.batch_size
    assert base.lr == 0.001
    with pytest.raises(AttributeError):
        base.lr = 1.0  # type: ignore[misc]


def test_json_round_trip_and_tolerance_of_unknown_keys() -> None:
    config = RunConfig(hidden=(128, 64, 32), train_size=500, dropout=0.25)
    data = json.loads(json.dumps(config.to_dict()))
    assert data["hidden"] == [128, 64, 32]
    assert RunConfig.from_dict(data) == config
    data["added_in_a_later_version"] = 1
    del data["dropout"]
    assert RunConfig.from_dict(data) == RunConfig(hidden=(128, 64, 32), train_size=500)


@pytest.mark.parametrize("text, sizes", [("512,256", (512, 256)), ("512-256", (512, 256)), ("64", (64,)),
                                         (" 32, 16 ", (32, 16))])
def test_parse_hidden(text: str, sizes: tuple[int, ...]) -> None:
    assert parse_hidden(text) == sizes


@pytest.mark.parametrize("text", ["", "a,b", "0", "1.5", ","])
def test_parse_hidden_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid hidden sizes"):
        parse_hidden(text)
