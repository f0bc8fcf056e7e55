"""Races: the same model, data, data order and seed trained once per value of one setting.

A race answers the tutorials' question "which optimizer / initialisation / ... trains best?"
in one command. `parse_race` turns `optimizer=sgd,adam` into entrants (one RunConfig each),
`Race` trains them one after another on one device with the data loaded once, and every
entrant writes an ordinary run directory under the race directory, next to a race.json that
lists them, so `--compare RACE_DIR`, `--watch ENTRANT_DIR` and `--resume ENTRANT_DIR` all work.

Entrants run one after another, not interleaved: dropout draws from torch's global RNG and
two trainers sharing it (or sharing the cores) would make each result depend on the
scheduling. Run alone, each entrant is bit-for-bit the run `--no-ui` would give with its
config, and its samples/s is measured with the device to itself.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from core import runlog
from core.config import SETTINGS, ConfigError, RunConfig, validate
from core.events import EndEvent, Sink

RACE_FILE = "race.json"
RACE_FORMAT = 1
MAX_ENTRANTS = 8

# The learning rate each optimizer races with unless --lr (or VALUE@LR) says otherwise. One shared
# lr would crown whichever optimizer it happens to suit: Adadelta's lr is a multiplier meant to
# be 1.0, and 0.01 leaves plain SGD crawling. These are PyTorch's defaults where those are the
# values people use (Adagrad, Adadelta, the Adam family), RMSprop at 1e-3 (Keras/TF and
# Hinton's lecture; PyTorch's 1e-2 is ten times that), plain SGD at 0.1 (the linear-sgd
# tutorial), and momentum/Nesterov at 0.01 with momentum 0.9 (an effective step of 0.1).
RACE_LR: dict[str, float] = {
    "sgd": 0.1,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.01,
    "rmsprop": 0.001,
    "adadelta": 1.0,
    "adam": 0.001,
    "adamw": 0.001,
    "radam": 0.001,
}


# Fields a race may vary (Setting.raceable in core/config.py), each with its one parser. Left out on
# purpose: dataset and train_size (a different test set is not a race), device (one device for a
# fair clock), epochs (a longer entrant is the same run continued), and bookkeeping fields.
RACE_FIELDS: dict[str, Callable[[str], Any]] = {s.name: s.parse for s in SETTINGS if s.raceable}


def value_label(value: Any) -> str:
    """How a raced value is shown and used in directory names: 'adam', '0.01', '512-256', 'on'."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "-".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Entrant:
    """One runner in a race: its name (also its run directory's name) and its full config."""

    name: str
    value: str
    config: RunConfig
    lr_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "run_dir": self.name, "lr_note": self.lr_note,
                "config": self.config.to_dict()}


@dataclass(frozen=True)
class RacePlan:
    """A parsed, validated race: which field, and the entrants in the order they will run."""

    field: str
    entrants: tuple[Entrant, ...]
    base: RunConfig
    spec: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"format": RACE_FORMAT, "field": self.field, "spec": self.spec, "order": "sequential",
                "base_config": self.base.to_dict(), "entrants": [e.to_dict() for e in self.entrants]}


def _split_value(raw: str, field_name: str) -> tuple[str, float | None]:
    """'adam@0.01' -> ('adam', 0.01): an entrant's own learning rate."""
    if "@" not in raw:
        return raw, None
    value, _, lr_text = raw.partition("@")
    if field_name == "lr":
        raise ConfigError(f"invalid --race value {raw!r}: VALUE@LR sets an entrant's lr; a race on lr needs no @")
    try:
        lr = float(lr_text)
    except ValueError:
        raise ConfigError(f"invalid --race value {raw!r}: the part after @ must be a learning rate, e.g. adam@0.01") from None
    return value, lr


def parse_race(spec: str) -> tuple[str, list[tuple[Any, float | None, str]]]:
    """'optimizer=sgd,adam@0.01' -> ('optimizer', [('sgd', None, 'sgd'), ('adam', 0.01, 'adam@0.01')]).

    Only the syntax and the value types are checked here; `plan_race` validates each entrant's
    whole config, so a race rejects exactly what a single run would, in the same words.
    """
    if "=" not in spec:
        raise ConfigError(f"invalid --race {spec!r}: use FIELD=VALUE,VALUE,... e.g. optimizer=sgd,adam")
    name, _, values_text = spec.partition("=")
    field_name = name.strip().replace("-", "_")
    if field_name not in RACE_FIELDS:
        raise ConfigError(f"invalid --race field {name.strip()!r}: race one of {', '.join(RACE_FIELDS)}")
    raws = [v.strip() for v in values_text.split(",")]
    if any(not v for v in raws):
        raise ConfigError(f"invalid --race {spec!r}: an empty value (values are separated by commas"
                          f"{'; hidden sizes inside a value by dashes, e.g. hidden=512-256,1024' if field_name == 'hidden' else ''})")
    if len(raws) < 2:
        raise ConfigError(f"invalid --race {spec!r}: a race needs at least two values, e.g. {field_name}=A,B")
    if len(raws) > MAX_ENTRANTS:
        raise ConfigError(f"invalid --race {spec!r}: {len(raws)} values, a race takes at most {MAX_ENTRANTS} entrants")
    parsed: list[tuple[Any, float | None, str]] = []
    for raw in raws:
        text, lr = _split_value(raw, field_name)
        try:
            value = RACE_FIELDS[field_name](text)
        except ConfigError as exc:  # the field's own words, as on the command line and in the form
            raise ConfigError(f"invalid --race value {raw!r}: {exc}") from None
        parsed.append((value, lr, raw))
    return field_name, parsed


def plan_race(base: RunConfig, spec: str, lr: float | None = None) -> RacePlan:
    """Entrants for `spec` on top of `base`. `lr` is an explicit --lr: it then applies to all.

    In an optimizer race without --lr each optimizer gets its RACE_LR; `VALUE@LR` beats both.
    """
    field_name, parsed = parse_race(spec)
    entrants: list[Entrant] = []
    seen: dict[tuple[Any, float | None], str] = {}
    for value, own_lr, raw in parsed:
        overrides: dict[str, Any] = {field_name: value}
        if own_lr is not None:
            overrides["lr"], note = own_lr, f"lr {own_lr:g} (set with @)"
        elif lr is not None:
            overrides["lr"], note = lr, f"lr {lr:g} (--lr)"
        elif field_name == "optimizer" and value in RACE_LR:
            overrides["lr"], note = RACE_LR[value], f"lr {RACE_LR[value]:g} ({value}'s race default)"
        else:
            note = f"lr {base.lr:g}"
        label = value_label(value)
        name = f"{field_name.replace('_', '-')}-{label}" + (f"-lr{own_lr:g}" if own_lr is not None else "")
        try:
            config = validate(replace(base, name=name, **overrides))
        except ConfigError as exc:
            raise ConfigError(f"invalid --race value {raw!r}: {exc}") from None
        key = (getattr(config, field_name), config.lr if own_lr is not None else None)
        if key in seen:
            raise ConfigError(f"invalid --race {spec!r}: {raw!r} is the same entrant as {seen[key]!r}")
        seen[key] = raw
        entrants.append(Entrant(name=name, value=label + (f"@{own_lr:g}" if own_lr is not None else ""),
                                config=config, lr_note=note))
    return RacePlan(field=field_name, entrants=tuple(entrants), base=validate(base), spec=spec)


def create_race_dir(plan: RacePlan, base: Path | None = None) -> Path:
    """Claim runs/<time>-race-<preset>-<field> with mkdir, so two races started in the same second
    (two panes, a shell loop) never share a directory (see runlog.create_new_run_dir)."""
    return runlog.create_new_run_dir(f"race-{plan.base.name}-{plan.field.replace('_', '-')}", base)


def write_race_file(race_dir: Path, plan: RacePlan, extra: dict[str, Any] | None = None) -> None:
    data = {**plan.to_dict(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **(extra or {})}
    runlog.atomic_write_bytes(race_dir / RACE_FILE, lambda fh: fh.write(json.dumps(data, indent=2).encode()))


def is_race_dir(path: Path) -> bool:
    return (path / RACE_FILE).is_file()


def read_race_file(race_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((race_dir / RACE_FILE).read_text())
    except FileNotFoundError:
        raise runlog.RunDirError(f"{race_dir} is not a race directory: no {RACE_FILE}") from None
    except (OSError, ValueError) as exc:
        raise runlog.RunDirError(f"cannot read {race_dir / RACE_FILE}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entrants"), list):
        raise runlog.RunDirError(f"{race_dir / RACE_FILE} is not a mnist-tui race file")
    return data


@dataclass(frozen=True)
class RunRef:
    """A run to show or export: a display name and its directory (which may not exist yet)."""

    name: str
    run_dir: Path
    race: str | None = None  # the race directory it belongs to, if any


def resolve_runs(paths: Sequence[str | Path]) -> list[RunRef]:
    """Expand race directories into their entrants; keep run directories; reject anything else.

    An entrant that has not started yet is kept (its directory may not exist): a live race
    shows it as waiting. Names that collide (two races both have optimizer-sgd) get their
    parent's name in front.
    """
    refs: list[RunRef] = []
    for raw in paths:
        path = Path(raw)
        if is_race_dir(path):
            data = read_race_file(path)
            for entrant in data["entrants"]:
                if not isinstance(entrant, dict) or not isinstance(entrant.get("run_dir"), str):
                    raise runlog.RunDirError(f"{path / RACE_FILE} has a malformed entrant")
                refs.append(RunRef(str(entrant.get("name") or entrant["run_dir"]), path / entrant["run_dir"], str(path)))
        elif runlog.is_run_dir(path):
            refs.append(RunRef(path.name or str(path), path))
        elif not path.exists():
            raise runlog.RunDirError(f"{path} does not exist")
        else:
            raise runlog.RunDirError(f"{path} is neither a run directory (no {runlog.METRICS_FILE}) "
                                     f"nor a race directory (no {RACE_FILE})")
    names = [r.name for r in refs]
    out = []
    for ref in refs:
        if names.count(ref.name) > 1:
            ref = replace(ref, name=f"{ref.run_dir.parent.name}/{ref.name}")
        out.append(ref)
    if len({r.run_dir.resolve() for r in out}) != len(out):
        raise runlog.RunDirError("the same run directory is given twice")
    return out


@dataclass
class RaceResult:
    """How each entrant ended (None: never started because the race was stopped first)."""

    race_dir: Path
    ends: dict[str, EndEvent | None] = field(default_factory=dict)
    errors: dict[str, BaseException | None] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [n for n, e in self.ends.items() if e is not None and e.status == "failed"]

    @property
    def interrupted(self) -> bool:
        return any(e is not None and e.status == "interrupted" for e in self.ends.values())


class Race:
    """Runs a RacePlan's entrants one after another on one device, with the data loaded once.

    `run()` is meant for a worker thread; `stop()` (end the race) and `skip()` (end only the
    current entrant) for any thread. `sinks_for(entrant)` gives the sinks of each entrant's
    Trainer; `on_entrant(index, entrant)` is called as each one starts.
    """

    def __init__(self, plan: RacePlan, race_dir: Path, *, data_dir: str | None = None,
                 sinks_for: Callable[[Entrant], Sequence[Sink]] = lambda e: (),
                 on_entrant: Callable[[int, Entrant], None] = lambda i, e: None,
                 checkpoint_every_s: float = 60.0) -> None:
        self.plan = plan
        self.race_dir = Path(race_dir)
        self.data_dir = data_dir
        self.sinks_for = sinks_for
        self.on_entrant = on_entrant
        self.checkpoint_every_s = checkpoint_every_s
        self._lock = threading.Lock()
        self._stop: tuple[str, str] | None = None
        self.current = None  # the running core.engine.Trainer
        self.current_index: int | None = None
        self.data_source = ""

    def stop(self, status: str = "stopped", reason: str = "race stopped by the user") -> None:
        """End the race: the running entrant checkpoints and ends with `status`; the rest never start."""
        with self._lock:
            if self._stop is None:
                self._stop = (status, reason)
            current = self.current
        if current is not None:
            current.stop(status, reason)

    def skip(self, reason: str = "skipped by the user") -> None:
        """End only the running entrant (status stopped); the race goes on with the next."""
        with self._lock:
            current = self.current
        if current is not None:
            current.stop("stopped", reason)

    @property
    def stop_requested(self) -> bool:
        return self._stop is not None

    def load_data(self) -> dict[str, Any]:
        """Each distinct input scaling once (usually one bundle), on the race's device.

        Raises DataError (exit 1) or ConfigError (exit 2) before anything is written.
        """
        from core import data as data_mod
        from core.engine import resolve_device

        base = self.plan.base
        device = resolve_device(base.device)
        location = data_mod.locate(base.dataset, self.data_dir)
        bundles: dict[str, Any] = {}
        for entrant in self.plan.entrants:
            scaling = entrant.config.normalize
            if scaling not in bundles:
                bundles[scaling] = data_mod.load(location, base.dataset, device, base.train_size, scaling)
        first = next(iter(bundles.values()))
        for entrant in self.plan.entrants:
            if entrant.config.batch_size > first.train_size:
                raise ConfigError(f"invalid batch size {entrant.config.batch_size} for entrant {entrant.name}: "
                                  f"larger than the {first.train_size} training images")
        self.data_source = first.source
        return bundles

    def run(self, bundles: dict[str, Any] | None = None) -> RaceResult:
        """Load the data (unless given), write race.json, then train each entrant in turn."""
        from core.engine import Trainer

        bundles = bundles if bundles is not None else self.load_data()
        runlog.prepare_run_dir(self.race_dir)
        write_race_file(self.race_dir, self.plan, {"data_dir": self.data_dir, "data_source": self.data_source})
        result = RaceResult(self.race_dir)
        for index, entrant in enumerate(self.plan.entrants):
            with self._lock:
                if self._stop is not None:
                    result.ends[entrant.name] = None
                    continue
                trainer = Trainer(entrant.config, self.race_dir / entrant.name, list(self.sinks_for(entrant)),
                                  data_dir=self.data_dir, data=bundles[entrant.config.normalize],
                                  checkpoint_every_s=self.checkpoint_every_s)
                self.current, self.current_index = trainer, index
            self.on_entrant(index, entrant)
            try:
                end = trainer.run()
            finally:
                with self._lock:
                    self.current = None
            result.ends[entrant.name] = end
            result.errors[entrant.name] = getattr(trainer, "error", None)
        self.current_index = None
        return result
