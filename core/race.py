"""Races: the same model, data, data order and seed trained once per value of one setting.

A race answers the tutorials' question "which optimizer / initialisation / ... trains best?"
in one command. `parse_race` turns `optimizer=sgd,adam` into entrants (one RunConfig each),
`Race` trains them, and every entrant writes an ordinary run directory under the race
directory, next to a race.json that lists them, so `--compare RACE_DIR`, `--watch ENTRANT_DIR`
and `--resume RACE_DIR` all work.

Each entrant trains in its own engine process (core/engine_process.py, the app's engine), up to
`parallel` at once, each in a slot: a GPU of its own (CUDA_VISIBLE_DEVICES) or a share of the
CPU cores (MNIST_TUI_THREADS). A process per entrant is what makes parallel entrants fair and
reproducible: dropout draws from torch's global generator, which two trainers in one process
would share, so each result would depend on the scheduling; in processes of their own an
entrant is bit-for-bit the run `--no-ui` would give with its config (and thread count),
whatever else trains beside it. No scheduler of our own: a bounded thread pool waits on the
processes here, and across machines a batch system starts one `--entrant K` per task into
one shared race directory (claim_race_file writes the plan once, whoever arrives first).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import queue
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from core import runlog
from core.config import SETTINGS, ConfigError, RunConfig, validate
from core.events import EndEvent, Sink
from core.program import PROG

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
        return {"format": RACE_FORMAT, "field": self.field, "spec": self.spec,
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


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")


def plan_from_race_file(race_dir: Path) -> tuple[RacePlan, str | None]:
    """The plan a race directory was started with (for --resume RACE_DIR), and its data dir.

    race.json is read as hostile: each entrant's config is validated like a new run's, and
    its name must be a plain directory name inside the race directory.
    """
    data = read_race_file(race_dir)
    where = race_dir / RACE_FILE
    try:
        base = validate(RunConfig.from_dict(data.get("base_config") or {}))
        entrants = []
        for raw in data["entrants"]:
            name = raw.get("name") if isinstance(raw, dict) else None
            if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or raw.get("run_dir", name) != name:
                raise runlog.RunDirError(f"{where} has a malformed entrant {str(name)[:40]!r}")
            config = validate(RunConfig.from_dict(raw.get("config") or {}))
            entrants.append(Entrant(name=name, value=str(raw.get("value", "")), config=config,
                                    lr_note=str(raw.get("lr_note", ""))))
    except (ConfigError, TypeError, ValueError, AttributeError) as exc:
        raise runlog.RunDirError(f"{where} is damaged: {exc}") from None
    if not 2 <= len(entrants) <= MAX_ENTRANTS or len({e.name for e in entrants}) != len(entrants):
        raise runlog.RunDirError(f"{where} is damaged: {len(entrants)} entrants")
    data_dir = data.get("data_dir")
    plan = RacePlan(field=str(data.get("field", "")), entrants=tuple(entrants), base=base, spec=str(data.get("spec", "")))
    return plan, data_dir if isinstance(data_dir, str) else None


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


# ---- where entrants train: one engine process per slot (a GPU, or a share of the CPU cores) ----

@dataclass(frozen=True)
class Slot:
    """One place an entrant trains: its label ("cuda:3", "cpu ×1") and the environment of its engine
    process: CUDA_VISIBLE_DEVICES for a GPU (plus MNIST_TUI_DEVICE_LABEL, so its log names the GPU
    torch there calls cuda:0), MNIST_TUI_THREADS for a share of the cores (recorded in config.json)."""

    label: str
    env: dict[str, str] = field(default_factory=dict)


def visible_gpus() -> list[str]:
    """The GPU ids this process may use, as CUDA_VISIBLE_DEVICES names them (or 0..N-1)."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    listed = [g.strip() for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    return listed[:count] if listed else [str(i) for i in range(count)]


def plan_slots(entrants: int, device_type: str, parallel: int | None = None, *, gpus: Sequence[str] = (),
               cores: int | None = None) -> list[Slot]:
    """The slots a race trains in: `parallel` of them (default: one per GPU, else one per core).

    On CUDA slot k is GPU k mod G. On a CPU the cores are shared out: each of N entrants at once
    gets cores // N torch threads, so they do not fight over cores (a user's MNIST_TUI_THREADS or
    OMP_NUM_THREADS wins). One slot changes nothing: each entrant is then exactly the run
    `--no-ui` gives with its config.
    """
    if parallel is not None and parallel < 1:
        raise ConfigError(f"invalid --parallel {parallel}: must be at least 1")
    cores = cores or os.cpu_count() or 1
    if device_type == "cuda" and gpus:
        count = min(entrants, parallel or len(gpus))
        return [Slot(f"cuda:{gpus[k % len(gpus)]}", {"CUDA_VISIBLE_DEVICES": gpus[k % len(gpus)],
                                                     "MNIST_TUI_DEVICE_LABEL": f"cuda:{gpus[k % len(gpus)]}"})
                for k in range(count)]
    count = min(entrants, parallel or (cores if device_type == "cpu" else 1))
    if count == 1 or device_type != "cpu":
        return [Slot(device_type)] * count
    if os.environ.get("MNIST_TUI_THREADS") or os.environ.get("OMP_NUM_THREADS"):
        return [Slot("cpu")] * count
    threads = max(1, cores // count)
    return [Slot(f"cpu ×{threads}", {"MNIST_TUI_THREADS": str(threads)})] * count


# ---- a race directory shared by several processes (--entrant K, a SLURM array) ----

def _plan_identity(data: dict[str, Any]) -> tuple:
    """What makes two race.json files the same race: the field and each entrant's name and config."""
    return (data.get("field"), [(e.get("name"), e.get("config")) for e in data.get("entrants", [])
                                if isinstance(e, dict)])


def claim_race_file(race_dir: Path, plan: RacePlan, extra: dict[str, Any] | None = None) -> None:
    """Write race.json once, whoever comes first; refuse a race dir that holds a different race.

    The file is written whole under a temporary name and then hard-linked into place: link()
    fails if race.json exists, so of two processes arriving together exactly one creates it,
    and nobody ever sees half a file. The loser checks the winner's plan is its own.
    """
    race_dir.mkdir(parents=True, exist_ok=True)
    data = {**plan.to_dict(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **(extra or {})}
    target = race_dir / RACE_FILE
    if not target.exists():
        fd, tmp = tempfile.mkstemp(prefix=f".{RACE_FILE}.", suffix=".tmp", dir=race_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(json.dumps(data, indent=2).encode())
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, target)
        except FileExistsError:
            pass  # another entrant wrote it a moment ago: checked below like any existing plan
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    check_same_race(race_dir, plan)


def check_same_race(race_dir: Path, plan: RacePlan) -> None:
    """ConfigError unless race_dir's race.json (if there is one yet) plans exactly this race."""
    if not (race_dir / RACE_FILE).exists():
        return
    existing = read_race_file(race_dir)
    if _plan_identity(existing) != _plan_identity(json.loads(json.dumps(plan.to_dict()))):
        raise ConfigError(f"{race_dir} holds a different race ({existing.get('spec') or existing.get('field')!r}); "
                          f"give each race its own --run-dir")


def entrant_in_use(run_dir: Path) -> bool:
    """Whether a live process holds this entrant's run-dir lock (core.runlog's)."""
    return runlog.writer_pid(run_dir) is not None


# ---- what a resumed race does with each entrant ----

START, RESUME, KEEP = "start", "resume", "keep"


def last_end(run_dir: Path) -> dict[str, Any] | None:
    """The entrant's last end record, or None when its log has none (never ran, or was killed)."""
    path = run_dir / runlog.METRICS_FILE
    if not path.is_file():
        return None
    end = None
    for record in runlog.iter_records(path):
        if record.get("type") == "end":
            end = record
        elif record.get("type") == "config":
            end = None  # a resumed run's earlier end no longer counts
    return end


def entrant_action(run_dir: Path) -> tuple[str, str]:
    """(START | RESUME | KEEP, why) for one entrant of a race being finished with --resume RACE_DIR.

    Finished, failed and skipped entrants stay as they are; an interrupted, stopped or killed one
    continues from its checkpoint; one that never got a checkpoint starts (again) from scratch.
    """
    end = last_end(run_dir)
    status = str(end.get("status")) if end else ""
    if status in ("finished", "failed"):
        return KEEP, status
    if status == "stopped" and str(end.get("reason", "")).startswith("skipped"):
        return KEEP, "skipped"
    if (run_dir / runlog.CHECKPOINT_FILE).is_file():
        return RESUME, status or "unfinished"
    if run_dir.exists() and any(run_dir.iterdir()):
        return START, "no checkpoint yet"
    return START, "waiting"


# ---- the race ----

class Race:
    """Trains a RacePlan's entrants, each in its own engine process (core/engine_process.py).

    Up to `parallel` entrants train at once (see plan_slots), driven by a pool of threads that
    each wait on one engine process. `only` limits the race to some entrants (--entrant K);
    `resume` finishes a race: see entrant_action. `engine`: "process" (the app: training never
    shares the UI's GIL) or "auto" (the command line: an entrant that trains alone, as --entrant K
    makes it, trains in this process, which is then that entrant's as a --no-ui run's is, without a
    second torch import and a fork; several entrants each in a process). `run()` is meant for a worker thread;
    `stop()` (end the race) and `skip(name)` (end one entrant) for any thread. `sinks_for(entrant)`
    gives each entrant's sinks; `on_entrant(index, entrant, slot)` is called as each one starts.
    Sinks of one entrant are called from one thread; those of different entrants concurrently.
    """

    def __init__(self, plan: RacePlan, race_dir: Path, *, data_dir: str | None = None,
                 sinks_for: Callable[[Entrant], Sequence[Sink]] = lambda e: (),
                 on_entrant: Callable[..., None] = lambda i, e, slot=None: None,
                 parallel: int | None = 1, only: Sequence[int] | None = None, resume: bool = False,
                 engine: str = "process") -> None:
        self.plan = plan
        self.race_dir = Path(race_dir)
        self.data_dir = data_dir
        self.sinks_for = sinks_for
        self.on_entrant = on_entrant
        self.parallel = parallel
        self.only = list(only) if only is not None else None
        self.resume = resume
        self.engine = engine
        self._lock = threading.Lock()
        self._stop: tuple[str, str] | None = None
        self.running: dict[str, Any] = {}  # entrant name -> its engine (EngineProcess or Trainer)
        self.slots: list[Slot] = []
        self.actions: dict[str, tuple[str, str]] = {}
        self.data_source = ""

    @property
    def current(self) -> Any:
        """The first running entrant's engine (None between entrants)."""
        with self._lock:
            return next(iter(self.running.values()), None)

    @property
    def current_index(self) -> int | None:
        with self._lock:
            names = [e.name for e in self.plan.entrants]
            return min((names.index(n) for n in self.running), default=None)

    def stop(self, status: str = "stopped", reason: str = "race stopped by the user") -> None:
        """End the race: running entrants checkpoint and end with `status`; the rest never start."""
        with self._lock:
            if self._stop is None:
                self._stop = (status, reason)
            running = list(self.running.values())
        for engine in running:
            engine.stop(status, reason)

    def skip(self, reason: str = "skipped by the user", name: str | None = None) -> None:
        """End one running entrant (`name`, else the first running) as stopped; the race goes on."""
        with self._lock:
            engine = self.running.get(name) if name else next(iter(self.running.values()), None)
        if engine is not None:
            engine.stop("stopped", reason)

    @property
    def stop_requested(self) -> bool:
        return self._stop is not None

    def check_entrants(self) -> list[tuple[int, Entrant]]:
        """The entrants this race will train; RunDirError if one is training elsewhere or (unless
        resuming) has already run. Cheap: call it before loading data, so a refusal is immediate."""
        if self.only is not None or self.resume:
            check_same_race(self.race_dir, self.plan)
        todo = self.entrants_to_run()
        for index, entrant in todo:
            run_dir = self.race_dir / entrant.name
            if entrant_in_use(run_dir):
                raise runlog.RunDirError(f"entrant {index} ({entrant.name}) is already training in {run_dir} "
                                         f"(another mnist-tui holds it); watch it with --compare {self.race_dir}")
            if not self.resume and run_dir.exists() and any(run_dir.iterdir()):
                raise runlog.RunDirError(f"entrant {index} ({entrant.name}) has already run in {run_dir}; finish it "
                                         f"with {PROG} --resume {self.race_dir} --entrant {index} --no-ui")
        return todo

    def entrants_to_run(self) -> list[tuple[int, Entrant]]:
        chosen = [(i, e) for i, e in enumerate(self.plan.entrants) if self.only is None or i in self.only]
        if self.resume:
            self.actions = {e.name: entrant_action(self.race_dir / e.name) for _, e in chosen}
            return [(i, e) for i, e in chosen if self.actions[e.name][0] != KEEP]
        return chosen

    def load_data(self) -> dict[str, Any]:
        """Each distinct input scaling once (usually one bundle), on the CPU, shared with every
        engine process; on a GPU each process loads its own onto its device (an empty dict).

        Raises DataError (exit 1) or ConfigError (exit 2) before anything is written.
        """
        from core import data as data_mod

        base = self.plan.base
        device = self.choose_slots()
        if device.type != "cpu":
            return {}
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

    def choose_slots(self) -> Any:
        """Where the entrants will train (self.slots), from the race's device; returns that device."""
        from core.engine import resolve_device

        device = resolve_device(self.plan.base.device)
        self.slots = plan_slots(len(self.plan.entrants), device.type, self.parallel,
                                gpus=visible_gpus() if device.type == "cuda" else ())
        return device

    def _engine(self, entrant: Entrant, sinks: list[Sink], data: Any, slot: Slot, resume: bool, alone: bool) -> Any:
        from core.perf import THREADS_ENV  # torch is loaded by now (choose_slots)

        if self.engine == "auto" and alone and set(slot.env) <= {THREADS_ENV}:
            from core.engine import Trainer

            os.environ.update(slot.env)  # the slot's thread count: this process is the entrant's now
            return Trainer(entrant.config, self.race_dir / entrant.name, sinks, data_dir=self.data_dir, data=data,
                           resume=resume)
        from core.engine_process import EngineProcess

        return EngineProcess(entrant.config, self.race_dir / entrant.name, sinks, data_dir=self.data_dir, data=data,
                             resume=resume, environ=slot.env)

    def run(self, bundles: dict[str, Any] | None = None) -> RaceResult:
        """Load the data (unless given), write race.json, then train the entrants in the slots."""
        bundles = bundles if bundles is not None else self.load_data()
        if not self.slots:
            self.choose_slots()
        extra = {"data_dir": self.data_dir, "data_source": self.data_source}
        if self.resume or self.only is not None:
            claim_race_file(self.race_dir, self.plan, extra)
        else:
            runlog.prepare_run_dir(self.race_dir)
            write_race_file(self.race_dir, self.plan, extra)
        todo = self.check_entrants()
        result = RaceResult(self.race_dir)
        result.ends = {e.name: None for _, e in todo}
        free: queue.SimpleQueue[Slot] = queue.SimpleQueue()
        for slot in self.slots:
            free.put(slot)

        def train(index: int, entrant: Entrant) -> None:
            slot = free.get()
            try:
                with self._lock:
                    if self._stop is not None:
                        return
                    resume = self.resume and self.actions.get(entrant.name, (START,))[0] == RESUME
                    engine = self._engine(entrant, list(self.sinks_for(entrant)),
                                          bundles.get(entrant.config.normalize), slot, resume, alone=len(todo) == 1)
                    self.running[entrant.name] = engine
                self.on_entrant(index, entrant, slot)
                try:
                    result.ends[entrant.name] = engine.run()
                    result.errors[entrant.name] = getattr(engine, "error", None)
                finally:
                    with self._lock:
                        self.running.pop(entrant.name, None)
            finally:
                free.put(slot)

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(self.slots),
                                                   thread_name_prefix="race-entrant") as pool:
            futures = [pool.submit(train, index, entrant) for index, entrant in todo]
            for future in futures:  # every entrant ends (or never starts) before the race returns
                error = future.exception()
                if error is not None:
                    self.stop("interrupted", f"another entrant crashed: {error}")
            for future in futures:
                future.result()  # a crash (EngineCrash, a bug) reaches the caller once all have ended
        return result
