"""Run configuration: one frozen dataclass shared by the CLI, the app, the engine and the run log.

Keeping every knob in one immutable record means a run is fully described by its
config.json, which is what makes `--resume`, `--watch` and reproducibility possible.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

DATASETS = ("mnist", "fashion-mnist")
MODELS = ("linear", "mlp", "cnn", "fast-cnn")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "radam")
INITS = ("default", "xavier-uniform", "xavier-normal", "kaiming-uniform", "kaiming-normal", "lecun")
INIT_ALIASES = {"xavier": "xavier-uniform", "kaiming": "kaiming-uniform", "he": "kaiming-uniform",
                "he-uniform": "kaiming-uniform", "he-normal": "kaiming-normal", "lecun-normal": "lecun"}
OPTIMIZER_ALIASES = {"nag": "nesterov", "rmsp": "rmsprop"}
SCHEDULES = ("constant", "onecycle")
NORMALIZATIONS = ("standard", "unit")  # standard: (x/255 - mean)/std; unit: x/255 like ToTensor()
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_MLP_PARAMETERS = 100_000_000  # 400 MB of float32 weights; far beyond anything MNIST needs
MAX_LR = 1e30  # far past divergence (1e6 already fails cleanly), still far inside float32's range
MAX_NAME_LENGTH = 100


class ConfigError(ValueError):
    """An invalid setting, with a message meant for the user (one line, names the field)."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a training run. Defaults are the pytorch/examples MNIST ones."""

    name: str = "custom"
    dataset: str = "mnist"
    model: str = "mlp"
    hidden: tuple[int, ...] = (512, 256)
    activation: str = "relu"
    batch_norm: bool = False
    dropout: float = 0.0
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    init: str = "default"
    normalize: str = "standard"
    batch_size: int = 64
    epochs: int = 10
    seed: int = 1
    device: str = "auto"
    train_size: int | None = None
    log_interval: int = 0
    eval_batch_size: int = 2000
    sample_count: int = 16

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        """Rebuild from config.json, ignoring unknown keys so older/newer logs still open."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "hidden" in kwargs:
            kwargs["hidden"] = tuple(int(h) for h in kwargs["hidden"])
        return cls(**kwargs)

    def with_overrides(self, **overrides: Any) -> "RunConfig":
        """Apply only the overrides that were actually given (None means 'not given')."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **given)


@dataclass(frozen=True)
class Preset:
    """A tutorial reproduced: its settings, what the tutorial reported, and the bar we must clear."""

    config: RunConfig
    tutorial_result: str
    expected_test_acc: float
    description: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


PRESETS: dict[str, Preset] = {
    "mlp-sigmoid": Preset(
        RunConfig(name="mlp-sigmoid", model="mlp", hidden=(512, 256), activation="sigmoid",
                  optimizer="momentum", momentum=0.5, lr=0.01, batch_size=32, epochs=10),
        "about 0.90 test accuracy after 10 epochs", 0.89,
        "MLP 784-512-256-10, sigmoid; SGD lr 0.01 momentum 0.5; batch 32; 10 epochs"),
    "linear-sgd": Preset(
        RunConfig(name="linear-sgd", model="linear", optimizer="sgd", lr=0.1, batch_size=100, epochs=15,
                  normalize="unit"),
        "cost 0.274 at epoch 15, test accuracy 0.886 (test images not scaled)", 0.91,
        "softmax regression 784->10; SGD lr 0.1; batch 100; 15 epochs"),
    "cnn-adam": Preset(
        RunConfig(name="cnn-adam", model="cnn", optimizer="adam", lr=0.001, init="xavier-uniform",
                  batch_size=100, epochs=15, seed=777),
        "about 98% test accuracy", 0.985,
        "2x(conv3x3+ReLU+maxpool) 32/64 channels, fc 3136->10, Xavier; Adam lr 0.001; batch 100; 15 epochs"),
    "mlp-bn-adam": Preset(
        RunConfig(name="mlp-bn-adam", model="mlp", hidden=(512, 256), activation="relu", batch_norm=True,
                  dropout=0.5, optimizer="adam", lr=0.01, init="kaiming-uniform", batch_size=100, epochs=15),
        "trains to the high 90s", 0.975,
        "MLP 784-512-256-10, BatchNorm, ReLU, dropout 0.5, Kaiming-uniform; Adam lr 0.01; batch 100; 15 epochs"),
    "fashion-mlp": Preset(
        RunConfig(name="fashion-mlp", dataset="fashion-mnist", model="mlp", hidden=(256, 128),
                  activation="relu", optimizer="sgd", lr=0.01, batch_size=64, epochs=30),
        "88.63% (measured on the training set)", 0.86,
        "Fashion-MNIST; MLP 784-256-128-10 ReLU; SGD lr 0.01; batch 64; 30 epochs"),
    "fast": Preset(
        RunConfig(name="fast", model="fast-cnn", optimizer="adamw", lr=0.01, weight_decay=0.01, schedule="onecycle",
                  batch_size=128, epochs=1, seed=1),
        "not a tutorial: 99% MNIST test accuracy in the least time (benchmarks/time_to_accuracy.py)", 0.99,
        "3x(conv3x3+maxpool+BatchNorm+ReLU) 16/32/64 channels, fc 576->10; AdamW lr 0.01 one-cycle; "
        "batch 128; 1 epoch"),
}


def canonical_init(name: str) -> str:
    return INIT_ALIASES.get(name, name)


def canonical_optimizer(name: str) -> str:
    return OPTIMIZER_ALIASES.get(name, name)


def _choice(field_name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"invalid {field_name} {value!r}: choose from {', '.join(choices)}")


def _finite_positive(field_name: str, value: float, allow_zero: bool = False) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigError(f"invalid {field_name} {value!r}: must be a finite number")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"invalid {field_name} {value!r}: must be {'>= 0' if allow_zero else '> 0'}")


def _positive_int(field_name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"invalid {field_name} {value!r}: must be a whole number >= 1")


def validate(config: RunConfig) -> RunConfig:
    """Check every field and return the config with aliases resolved.

    Validation lives here, not in argparse, so the app's form and the CLI reject exactly
    the same values with exactly the same words.
    """
    if isinstance(config.init, str) and isinstance(config.optimizer, str):  # else _choice names the bad value
        config = replace(config, init=canonical_init(config.init), optimizer=canonical_optimizer(config.optimizer))
    _choice("dataset", config.dataset, DATASETS)
    _choice("model", config.model, MODELS)
    _choice("activation", config.activation, ACTIVATIONS)
    _choice("optimizer", config.optimizer, OPTIMIZERS)
    _choice("init", config.init, INITS)
    _choice("schedule", config.schedule, SCHEDULES)
    _choice("device", config.device, DEVICES)
    _choice("normalize", config.normalize, NORMALIZATIONS)
    _finite_positive("learning rate", config.lr)
    if config.lr > MAX_LR:  # float32 weights: a larger step overflows inside the optimizer itself
        raise ConfigError(f"invalid learning rate {config.lr!r}: must be at most {MAX_LR:g}")
    _finite_positive("momentum", config.momentum, allow_zero=True)
    if config.momentum >= 1:
        raise ConfigError(f"invalid momentum {config.momentum!r}: must be < 1")
    _finite_positive("weight decay", config.weight_decay, allow_zero=True)
    if config.weight_decay > MAX_LR:
        raise ConfigError(f"invalid weight decay {config.weight_decay!r}: must be at most {MAX_LR:g}")
    if not isinstance(config.batch_norm, bool):
        raise ConfigError(f"invalid batch norm {config.batch_norm!r}: must be true or false")
    _finite_positive("dropout", config.dropout, allow_zero=True)
    if config.dropout >= 1:
        raise ConfigError(f"invalid dropout {config.dropout!r}: must be < 1")
    _positive_int("batch size", config.batch_size)
    _positive_int("epochs", config.epochs)
    _positive_int("eval batch size", config.eval_batch_size)
    if not isinstance(config.seed, int) or isinstance(config.seed, bool) or not 0 <= config.seed < 2**63:
        raise ConfigError(f"invalid seed {config.seed!r}: must be a whole number >= 0")
    if config.train_size is not None:
        _positive_int("train size", config.train_size)
    if not isinstance(config.log_interval, int) or config.log_interval < 0:
        raise ConfigError(f"invalid log interval {config.log_interval!r}: must be >= 0 (0 = automatic)")
    if not isinstance(config.sample_count, int) or not 0 <= config.sample_count <= 64:
        raise ConfigError(f"invalid sample count {config.sample_count!r}: must be 0..64")
    if config.model == "mlp":
        if not isinstance(config.hidden, (tuple, list)) or not config.hidden:
            raise ConfigError("invalid hidden sizes: an MLP needs at least one hidden layer")
        for size in config.hidden:
            _positive_int("hidden size", size)
        widths = (28 * 28, *config.hidden, 10)
        weights = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
        if weights > MAX_MLP_PARAMETERS:  # a typo like 5120000 would otherwise try to allocate tens of GB
            raise ConfigError(f"invalid hidden sizes {','.join(map(str, config.hidden))}: {weights:,} parameters, "
                              f"more than the {MAX_MLP_PARAMETERS:,} allowed")
    if not isinstance(config.name, str) or not config.name or any(c in config.name for c in "/\\\0"):
        raise ConfigError(f"invalid name {config.name!r}: must be non-empty with no path separators")
    if len(config.name) > MAX_NAME_LENGTH:  # it becomes part of a directory name
        raise ConfigError(f"invalid name {config.name[:20]!r}...: at most {MAX_NAME_LENGTH} characters")
    return config


def preset_config(name: str) -> RunConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: choose from {', '.join(PRESETS)}")
    return PRESETS[name].config


def parse_hidden(text: str) -> tuple[int, ...]:
    """'512,256' or '512-256' -> (512, 256), with a user-facing error for anything else."""
    parts = [p for p in text.replace("-", ",").replace(" ", ",").split(",") if p]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"invalid hidden sizes {text!r}: use comma-separated whole numbers like 512,256") from None
    if not sizes or any(s < 1 for s in sizes):
        raise ConfigError(f"invalid hidden sizes {text!r}: use comma-separated whole numbers like 512,256")
    return sizes
