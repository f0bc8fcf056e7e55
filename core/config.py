"""Run configuration: one frozen dataclass shared by the CLI, the app, the engine and the run log.

Keeping every knob in one immutable record means a run is fully described by its
config.json, which is what makes `--resume`, `--watch` and reproducibility possible.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping, Sequence

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
PRECISIONS = ("float32", "bfloat16")  # bfloat16: autocast of the forward passes; weights stay float32
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
    precision: str = "float32"
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
                  batch_size=128, epochs=1, seed=1, precision="bfloat16"),
        "not a tutorial: 99% MNIST test accuracy in the least time (benchmarks/fast99.py)", 0.99,
        "conv3x3/2+BatchNorm+ReLU 16, 2x(conv3x3+maxpool+BatchNorm+ReLU) 32/64 channels, fc 576->10; "
        "AdamW lr 0.01 one-cycle; batch 128; 1 epoch; bfloat16 autocast"),
}


# ---------------------------------------------------------------------------------------------
# The schema: every RunConfig field declared once. argparse's run options (core/options.py), the
# app's form, the race fields and the race dialog, the live learning-rate dialog and the resume
# rules are all generated from SETTINGS, so they cannot disagree about a field's name, words,
# parser or bounds.
# ---------------------------------------------------------------------------------------------

def canonical_init(name: str) -> str:
    return INIT_ALIASES.get(name, name)


def canonical_optimizer(name: str) -> str:
    return OPTIMIZER_ALIASES.get(name, name)


@dataclass(frozen=True)
class Bounds:
    """The numbers a field accepts: low/high limits (open = strictly), whole numbers only or not."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    whole: bool = False
    note: str = ""  # appended to a complaint, e.g. "(0 = automatic)"

    def complaint(self, value: Any) -> str | None:
        """Why `value` is out of bounds (the words after 'invalid <field> <value>: '), or None."""
        note = f" {self.note}" if self.note else ""
        if self.whole:
            top = None if self.high is None else int(self.high) - (1 if self.high_open else 0)
            wanted = f"a whole number >= {self.low:g}" if top is None else f"a whole number from {self.low:g} to {top}"
            ok = isinstance(value, int) and not isinstance(value, bool)
            if not ok or (self.low is not None and value < self.low) or (top is not None and value > top):
                return f"must be {wanted}{note}"
            return None
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return "must be a finite number"
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return f"must be {'>' if self.low_open else '>='} {self.low:g}{note}"
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return f"must be < {self.high:g}{note}" if self.high_open else f"must be at most {self.high:g}{note}"
        return None


def shorten(text: str, limit: int = 40) -> str:
    """A user's value as quoted in a one-line error: a 4,400-digit --seed is not echoed whole."""
    text = str(text)
    return repr(text) if len(text) <= limit else f"{text[:limit - 12]!r}... ({len(text):,} characters)"


_BOOL_WORDS = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class Setting:
    """One field of RunConfig, declared once: how people see it, type it, and where it applies.

    kind: "choice" (one of `choices`, or an alias), "number" (float), "whole" (int), "toggle"
    (bool), "sizes" (hidden layer sizes) or "text".
    """

    name: str
    kind: str
    label: str  # the form's label
    help: str  # --help text; the default is appended unless show_default is False
    choices: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    bounds: Bounds | None = None
    metavar: str | None = None
    noun: str = ""  # how messages name it ("learning rate"); default: the name with spaces
    raceable: bool = False  # may be the field a race varies
    race_values: str = ""  # the race dialog's suggestion
    resumable: bool = False  # may change when a run is resumed
    models: tuple[str, ...] = ()  # architectures it applies to (() = every one)
    optimizers: tuple[str, ...] = ()  # optimizers it applies to (() = every one)
    in_form: bool = False  # shown in the app's form (others keep the preset's / command line's value)
    optional: bool = False  # None is allowed (and shown as `empty` in the form)
    empty: str = ""
    show_default: bool = True

    @property
    def words(self) -> str:
        return self.noun or self.name.replace("_", " ")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def widget_id(self) -> str:
        return self.name.replace("_", "-")

    @property
    def default(self) -> Any:
        return _DEFAULTS[self.name]

    def parse(self, text: str) -> Any:
        """The one parser of this field, from text typed anywhere (command line, form, race, dialog)."""
        raw = text.strip()
        if self.optional and raw in ("", self.empty):
            return None
        if self.kind == "choice":
            return self.aliases.get(raw, raw)
        if self.kind == "sizes":
            return parse_hidden(raw)
        if self.kind == "toggle":
            if raw.lower() in _BOOL_WORDS:
                return _BOOL_WORDS[raw.lower()]
            raise ConfigError(f"invalid {self.words} {shorten(raw)}: must be on or off")
        if self.kind in ("number", "whole"):
            try:
                return int(raw) if self.kind == "whole" else float(raw)
            except ValueError:  # also Python's 4,300-digit limit on int()
                what = "a whole number" if self.kind == "whole" else "a number"
                raise ConfigError(f"invalid {self.words} {shorten(raw)}: must be {what}") from None
        return text  # free text (the run name) is kept as typed; validate() checks it

    def check(self, value: Any) -> None:
        """Raise ConfigError, naming the field, unless `value` is within this field's choices or bounds."""
        if value is None and self.optional:
            return
        if self.kind == "choice" and value not in self.choices:
            raise ConfigError(f"invalid {self.words} {value!r}: choose from {', '.join(self.choices)}")
        if self.kind == "toggle" and not isinstance(value, bool):
            raise ConfigError(f"invalid {self.words} {value!r}: must be true or false")
        if self.bounds is not None:
            complaint = self.bounds.complaint(value)
            if complaint:
                raise ConfigError(f"invalid {self.words} {value!r}: {complaint}")

    def read(self, text: str) -> Any:
        """parse + check: the value `text` stands for, or ConfigError in the command line's words."""
        value = self.parse(text)
        self.check(value)
        return value

    def show(self, value: Any) -> str:
        """The text that parses back to `value` (form inputs, placeholders, race values)."""
        if value is None:
            return self.empty
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, tuple):
            return ",".join(str(v) for v in value)
        return f"{value:g}" if isinstance(value, float) else str(value)

    def applies(self, model: str, optimizer: str) -> bool:
        """Whether this field changes anything for a run of `model` trained with `optimizer`."""
        return (not self.models or model in self.models) and (not self.optimizers or optimizer in self.optimizers)


MOMENTUM_OPTIMIZERS = ("momentum", "nesterov")

SETTINGS: tuple[Setting, ...] = (
    Setting("dataset", "choice", "Dataset", "data set", DATASETS, in_form=True),
    Setting("model", "choice", "Architecture", "architecture", MODELS, in_form=True, raceable=True,
            race_values="linear,mlp,cnn"),
    Setting("hidden", "sizes", "Hidden sizes", "MLP hidden layer sizes, e.g. 512,256", metavar="SIZES",
            noun="hidden sizes", models=("mlp",), in_form=True, raceable=True, race_values="128,512-256,1024-512"),
    Setting("activation", "choice", "Activation", "MLP activation", ACTIVATIONS, models=("mlp",), in_form=True,
            raceable=True, race_values="relu,sigmoid,tanh,gelu"),
    Setting("batch_norm", "toggle", "Batch norm", "MLP batch norm", models=("mlp",), in_form=True,
            raceable=True, race_values="off,on"),
    Setting("dropout", "number", "Dropout", "MLP dropout probability", bounds=Bounds(0, 1, high_open=True),
            metavar="P", models=("mlp",), in_form=True, raceable=True, race_values="0,0.2,0.5"),
    Setting("optimizer", "choice", "Optimizer", f"one of {', '.join(OPTIMIZERS)} "
            f"(aliases: {', '.join(OPTIMIZER_ALIASES)})", OPTIMIZERS, OPTIMIZER_ALIASES, metavar="NAME",
            in_form=True, raceable=True, race_values="sgd,momentum,nesterov,adagrad,rmsprop,adadelta,adam,radam",
            show_default=False),
    Setting("momentum", "number", "Momentum", "momentum for momentum/nesterov", bounds=Bounds(0, 1, high_open=True),
            metavar="M", optimizers=MOMENTUM_OPTIMIZERS, in_form=True, raceable=True, race_values="0.5,0.9,0.99"),
    Setting("weight_decay", "number", "Weight decay", "weight decay: L2 for most optimizers, decoupled for adamw",
            bounds=Bounds(0, MAX_LR), metavar="WD", raceable=True, race_values="0,0.0001,0.001"),
    Setting("init", "choice", "Init", f"weight initialisation: {', '.join(INITS)} (aliases: {', '.join(INIT_ALIASES)})",
            INITS, INIT_ALIASES, metavar="NAME", in_form=True, raceable=True, race_values="xavier,kaiming,lecun",
            show_default=False),
    Setting("lr", "number", "Learning rate", "learning rate", bounds=Bounds(0, MAX_LR, low_open=True), metavar="LR",
            noun="learning rate", in_form=True, raceable=True, race_values="0.1,0.01,0.001"),
    Setting("schedule", "choice", "Schedule", "learning-rate schedule; onecycle warms up then anneals (and cycles adam-family beta1)", SCHEDULES, raceable=True,
            race_values="constant,onecycle"),
    Setting("normalize", "choice", "Normalize", "input scaling: standard = (x/255-mean)/std (default), "
            "unit = x/255 like ToTensor()", NORMALIZATIONS, raceable=True, race_values="standard,unit",
            show_default=False),
    Setting("batch_size", "whole", "Batch size", "training batch size", bounds=Bounds(1, whole=True), metavar="N",
            in_form=True, raceable=True, race_values="32,64,128,256"),
    Setting("epochs", "whole", "Epochs", "number of epochs", bounds=Bounds(1, whole=True), metavar="N",
            in_form=True, resumable=True),
    Setting("seed", "whole", "Seed", "random seed: the same seed on the same device gives the same run",
            bounds=Bounds(0, 2**63, high_open=True, whole=True), metavar="N", in_form=True, raceable=True,
            race_values="1,2,3"),
    Setting("device", "choice", "Device", "auto (default) picks cuda, then mps, then cpu", DEVICES, in_form=True,
            resumable=True, show_default=False),
    Setting("precision", "choice", "Precision", "bfloat16 runs the training forward, the loss and evaluation "
            "under bf16 autocast (weights and optimizer stay float32); a device without native bf16 trains in "
            "float32 instead, and config.json's speed line says so", PRECISIONS, raceable=True,
            race_values="float32,bfloat16"),
    Setting("train_size", "whole", "Train images", "use only the first N training images (quick runs)",
            bounds=Bounds(1, whole=True), metavar="N", in_form=True, optional=True, empty="all", show_default=False),
    Setting("log_interval", "whole", "Log interval", "steps between progress records (0 = ~25 per epoch)",
            bounds=Bounds(0, whole=True, note="(0 = automatic)"), metavar="STEPS", show_default=False),
    Setting("name", "text", "Name", "run name used in the run directory (default: the preset's)",
            show_default=False),
)
# Fields with no command-line option: kept at their defaults (or a preset's) and checked the same way.
INTERNAL_SETTINGS: tuple[Setting, ...] = (
    Setting("eval_batch_size", "whole", "Eval batch size", "test-set batch size", bounds=Bounds(1, whole=True)),
    Setting("sample_count", "whole", "Samples", "test digits shown", bounds=Bounds(0, 65, high_open=True, whole=True)),
)
SETTING: dict[str, Setting] = {s.name: s for s in SETTINGS + INTERNAL_SETTINGS}
RESUMABLE: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.resumable)
RACEABLE: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.raceable)
_DEFAULTS = {f.name: f.default for f in fields(RunConfig)}


def _check_schema() -> None:
    """Every RunConfig field has exactly one Setting (a new field without one fails at import)."""
    declared = [s.name for s in SETTINGS + INTERNAL_SETTINGS]
    missing = set(_DEFAULTS) - set(declared)
    if missing or len(declared) != len(set(declared)) or set(declared) - set(_DEFAULTS):
        raise AssertionError(f"core.config.SETTINGS disagrees with RunConfig: missing {sorted(missing)}")


_check_schema()


def validate(config: RunConfig) -> RunConfig:
    """Check every field against its Setting and return the config with aliases resolved.

    Validation lives here, not in argparse, so the app's form, races and the CLI reject exactly
    the same values with exactly the same words.
    """
    if isinstance(config.init, str) and isinstance(config.optimizer, str):  # else check() names the bad value
        config = replace(config, init=canonical_init(config.init), optimizer=canonical_optimizer(config.optimizer))
    for setting in SETTINGS + INTERNAL_SETTINGS:
        if setting.kind != "sizes" and setting.name != "name":
            setting.check(getattr(config, setting.name))
    if config.model == "mlp":
        if not isinstance(config.hidden, (tuple, list)) or not config.hidden:
            raise ConfigError("invalid hidden sizes: an MLP needs at least one hidden layer")
        for size in config.hidden:
            if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                raise ConfigError(f"invalid hidden size {size!r}: must be a whole number >= 1")
        widths = (28 * 28, *config.hidden, 10)
        weights = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
        if weights > MAX_MLP_PARAMETERS:  # a typo like 5120000 would otherwise try to allocate tens of GB
            raise ConfigError(f"invalid hidden sizes {','.join(map(str, config.hidden))}: {weights:,} parameters, "
                              f"more than the {MAX_MLP_PARAMETERS:,} allowed")
    if (not isinstance(config.name, str) or not config.name or any(c in config.name for c in "/\\\0")
            or not config.name.isprintable() or config.name in (".", "..")):  # no newlines or control codes
        raise ConfigError(f"invalid name {str(config.name)[:40]!r}: must be printable and non-empty, with no path "
                          f"separators")
    if len(config.name) > MAX_NAME_LENGTH:  # it becomes part of a directory name
        raise ConfigError(f"invalid name {config.name[:20]!r}...: at most {MAX_NAME_LENGTH} characters")
    return config


def preset_config(name: str) -> RunConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: choose from {', '.join(PRESETS)}")
    return PRESETS[name].config


def resume_changes(saved: RunConfig, wanted: RunConfig) -> RunConfig:
    """`saved` continued with what a resume may change (the RESUMABLE fields) taken from `wanted`."""
    return replace(saved, **{name: getattr(wanted, name) for name in RESUMABLE})


def refused_on_resume(given: Sequence[str]) -> list[str]:
    """Of the fields a user set, those a resume may not change."""
    return [name for name in given if name not in RESUMABLE]


def checkpoint_mismatch(saved: RunConfig, current: RunConfig) -> str | None:
    """The first field a resume may not change on which a checkpoint's config and the run's differ."""
    for setting in SETTINGS + INTERNAL_SETTINGS:
        if not setting.resumable and getattr(saved, setting.name) != getattr(current, setting.name):
            return setting.name
    return None


def parse_hidden(text: str) -> tuple[int, ...]:
    """'512,256' or '512-256' -> (512, 256), with a user-facing error for anything else.

    A dash separates sizes only between digits, so '-5' is a negative size (refused), not 5.
    """
    parts = [p for p in re.split(r"[,\s]+|(?<=\d)-(?=\d)", text.strip()) if p]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"invalid hidden sizes {shorten(text)}: use comma-separated whole numbers like 512,256") from None
    if not sizes or any(s < 1 for s in sizes):
        raise ConfigError(f"invalid hidden sizes {shorten(text)}: use comma-separated whole numbers like 512,256")
    return sizes


TEXT_FIELDS = tuple(s.name for s in SETTINGS if s.kind in ("choice", "text"))  # config.json holds these as text


def config_from_json(data: Any, partial: bool = False) -> RunConfig:
    """A RunConfig from untrusted JSON (config.json, a log's config record): every field's type and
    bounds checked by validate(), any problem a ConfigError naming the field; never TypeError.

    partial: a record may name only some fields (older writers, hand-written logs); the rest default.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"the run's config is {type(data).__name__}, not a JSON object")
    known = {f.name for f in fields(RunConfig)}
    kwargs = {k: v for k, v in data.items() if k in known}
    if not partial and not kwargs:
        raise ConfigError("the run's config names no setting")
    if "hidden" in kwargs:
        hidden = kwargs["hidden"]
        if not isinstance(hidden, list) or not all(isinstance(h, int) and not isinstance(h, bool) for h in hidden):
            raise ConfigError(f"invalid hidden sizes {str(hidden)[:40]!r}: must be a list of whole numbers")
        kwargs["hidden"] = tuple(hidden)
    for name in TEXT_FIELDS:
        if name in kwargs and not isinstance(kwargs[name], str):
            raise ConfigError(f"invalid {name} {str(kwargs[name])[:40]!r}: must be text")
    try:
        return validate(RunConfig(**kwargs))
    except ConfigError as exc:  # a hostile file's values can be long: the message stays one short line
        text = " ".join(str(exc).split())
        raise ConfigError(text if len(text) <= 200 else f"{text[:150]}...{text[-45:]}") from None
