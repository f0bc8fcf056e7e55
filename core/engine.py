"""The Trainer: the training loop, its controls, evaluation, checkpoints and events.

Modelled on pytorch/examples mnist/main.py, with three differences that make it fast and
safe: batches are slices of device-resident tensors, the loss is read back to the host only
once per log interval (reading it is a device sync), and every way a run can end leaves a
loadable checkpoint and an "end" record in metrics.jsonl.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from core import data as data_mod
from core import perf
from core import runlog
from core.config import SETTING, ConfigError, RunConfig, checkpoint_mismatch, validate
from core.events import (ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, Event, SamplesEvent, Sink,
                         StateEvent, StepEvent)
from core.idx import DataError
from core.models import build_model, parameter_count
from core.optim import build_optimizer, build_scheduler, initialise

CHECKPOINT_FORMAT = 1
DEVICE_LABEL_ENV = "MNIST_TUI_DEVICE_LABEL"  # set by core.race for an entrant's engine process
# Progress records an epoch when log_interval is 0. Each costs ~0.2 ms of Python and I/O (measured
# in the loop, with cold caches); at 50 an epoch that was ~3% of linear-sgd's training time. The app
# redraws at most 10 times a second anyway.
LOG_RECORDS_PER_EPOCH = 25


class NonFiniteLoss(Exception):
    """Training diverged: `what` (loss, test loss, weights) became NaN/Inf at `step`."""

    def __init__(self, step: int, epoch: int, value: float | None, what: str = "loss") -> None:
        shown = f" ({value})" if value is not None else ""
        super().__init__(f"non-finite {what}{shown} at step {step} (epoch {epoch})")
        self.step, self.epoch, self.value = step, epoch, value


class DeviceError(ConfigError):
    """The requested device does not exist on this machine (a usage error, exit 2)."""


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA, then Apple MPS, then the CPU; an unavailable explicit choice is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device cuda is not available here (no CUDA GPU visible to torch); use --device cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError("device mps is not available here (Apple GPUs only); use --device cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)


def library_versions() -> dict[str, str]:
    """Versions recorded in config.json; read from package metadata because importing torchvision
    just for its __version__ costs seconds of start-up."""
    from importlib import metadata

    try:
        vision = metadata.version("torchvision")
    except metadata.PackageNotFoundError:
        vision = "not installed"
    # str(): torch.__version__ is a TorchVersion, and pickling one to the app (core/engine_process.py)
    # made the app import torch to read the run's first record: 10+ s before its first step showed
    return {"python": platform.python_version(), "torch": str(torch.__version__), "torchvision": vision,
            "platform": platform.platform()}


def sample_indices(labels: torch.Tensor, count: int) -> list[int]:
    """A fixed, varied set of test digits: first of each class, then the second of each, ..."""
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        if len(by_class.setdefault(label, [])) < count:
            by_class[label].append(i)
    picked: list[int] = []
    rank = 0
    while len(picked) < count and any(rank < len(v) for v in by_class.values()):
        for label in sorted(by_class):
            if rank < len(by_class[label]) and len(picked) < count:
                picked.append(by_class[label][rank])
        rank += 1
    return picked


@torch.inference_mode()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int,
             should_stop=lambda: False) -> tuple[float, float, torch.Tensor] | None:
    """Mean loss, accuracy and all predictions over a split in large batches; None if stopped."""
    was_training = model.training
    model.eval()
    try:
        total_loss = torch.zeros((), device=x.device)
        predictions = torch.empty(y.shape[0], dtype=torch.long, device=x.device)
        for start in range(0, y.shape[0], batch_size):
            if should_stop():
                return None
            out = model(x[start:start + batch_size])
            total_loss += F.cross_entropy(out, y[start:start + batch_size], reduction="sum")
            predictions[start:start + batch_size] = out.argmax(1)
        correct = (predictions == y).sum()
        loss, acc = (torch.stack([total_loss, correct.to(total_loss.dtype)]) / y.shape[0]).tolist()
        return loss, acc, predictions
    finally:
        model.train(was_training)


def divergence_hint(config: RunConfig, optimizer: torch.optim.Optimizer) -> str:
    """What to change after a non-finite loss: the weight decay when it alone shrinks every weight past
    zero each step (lr x decay >= 1), else the learning rate."""
    lr = optimizer.param_groups[0]["lr"]
    if config.weight_decay > 0 and lr * config.weight_decay >= 1:
        return (f"try a lower weight decay than {config.weight_decay:g} (learning rate x weight decay = "
                f"{lr * config.weight_decay:g}: each step pushes every weight past zero)")
    return f"try a lower learning rate than {lr:g}"


class Trainer:
    """Runs one training run; `run()` is meant for a worker thread, the controls for any thread."""

    def __init__(self, config: RunConfig, run_dir: Path, sinks: Sequence[Sink] = (), *,
                 data_dir: str | None = None, data: data_mod.DataBundle | None = None,
                 resume: bool = False, checkpoint_every_s: float = 60.0,
                 claim: runlog.RunDirClaim | None = None) -> None:
        self.config = validate(config)
        self.run_dir = Path(run_dir)
        self.sinks: list[Sink] = list(sinks)
        self.data_dir = data_dir
        self.data = data
        self.resume_requested = resume
        self.checkpoint_every_s = checkpoint_every_s
        self._lock = threading.Lock()
        self._control_pending = False
        self._paused = False
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._stop_status: str | None = None
        self._stop_reason = ""
        self._pending_lr: float | None = None
        self._log: runlog.RunLog | None = None
        self._claim = claim  # the run directory's lock; taken first thing in _setup unless given
        self.best_test_acc: float | None = None
        self.last_test_acc: float | None = None
        self.global_step = 0
        self.epoch = 1

    # ---- controls (thread-safe; read by the loop between steps) ----
    def pause(self) -> None:
        with self._lock:
            self._paused = True
            self._unpaused.clear()
            self._control_pending = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._control_pending = True
            self._unpaused.set()

    def stop(self, status: str = "stopped", reason: str = "stopped by the user") -> None:
        """Ask the loop to finish its current step, checkpoint and end with `status`."""
        with self._lock:
            if self._stop_status is None:
                self._stop_status, self._stop_reason = status, reason
            self._control_pending = True
            self._unpaused.set()

    def set_lr(self, lr: float) -> None:
        SETTING["lr"].check(lr)  # the command line's bounds and words
        with self._lock:
            self._pending_lr = float(lr)
            self._control_pending = True

    @property
    def device_label(self) -> str:
        """The device as the log records it. A race gives each engine process one GPU through
        CUDA_VISIBLE_DEVICES, where torch calls it cuda:0; DEVICE_LABEL_ENV names the real one."""
        label = os.environ.get(DEVICE_LABEL_ENV, "")
        return label if label.split(":")[0] == self.device.type else str(self.device)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stop_requested(self) -> bool:
        return self._stop_status is not None

    # ---- plumbing ----
    def emit(self, event: Event) -> None:
        if self._log is not None:
            self._log(event)
        for sink in self.sinks:
            sink(event)

    def _elapsed(self) -> float:
        return self._elapsed_before + (time.perf_counter() - self._t0)

    # ---- setup ----
    def _setup(self) -> None:
        config = self.config
        if self._claim is None:  # before the data and the checkpoint: a second writer is refused at once
            self._claim = runlog.claim_run_dir(self.run_dir, resume=self.resume_requested)
        if self._claim.restart:  # the first checkpoint never completed: start again from step 0, in place
            self.resume_requested = False
        self.device = resolve_device(config.device)
        if self.data is None:
            location = data_mod.locate(config.dataset, self.data_dir)
            self.data = data_mod.load(location, config.dataset, self.device, config.train_size, config.normalize)
        data = self.data
        if config.batch_size > data.train_size:
            raise ConfigError(f"invalid batch size {config.batch_size}: larger than the {data.train_size} training images")
        self.steps_per_epoch = math.ceil(data.train_size / config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.log_every = config.log_interval or max(1, round(self.steps_per_epoch / LOG_RECORDS_PER_EPOCH))
        seed_everything(config.seed)
        self.model = build_model(config)
        initialise(self.model, config.init)
        self.model.to(self.device)
        self.perf = perf.Settings(config, self.model, self.device)  # threads, memory layout: see core/perf.py
        self.perf.apply_threads()
        self.model = self.perf.prepare_model(self.model)
        self._forward = self.perf.forward(self.model)
        self.optimizer = build_optimizer(self.model, config)
        self.scheduler = build_scheduler(self.optimizer, config, self.total_steps)
        self.shuffle_gen = torch.Generator().manual_seed(config.seed)
        self.samples = sample_indices(data.test_y.cpu(), min(config.sample_count, data.test_size))
        self.batch = 0
        self.perm: torch.Tensor | None = None
        self._elapsed_before = 0.0
        self._epoch_loss = 0.0  # sum of batch loss x batch size, on the host: added once per log interval
        self._epoch_correct = torch.zeros((), dtype=torch.long, device=self.device)
        self._epoch_seen = 0
        self._epoch_time = 0.0
        self._losses: list[torch.Tensor] = []  # this log interval's step losses, still on the device
        self._outputs: list[torch.Tensor] = []  # logits of the steps not yet scored for train accuracy
        ckpt_path = self.run_dir / runlog.CHECKPOINT_FILE
        if self.resume_requested:
            self._restore(runlog.load_checkpoint(ckpt_path, map_location=self.device))
        else:
            runlog.write_config(self.run_dir, {
                "config": config.to_dict(), "data_dir": self.data_dir, "data_source": data.source,
                "device": self.device_label, "speed": self.perf.describe(), "versions": library_versions(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        self._log = runlog.RunLog(self.run_dir, claim=self._claim)

    def _state(self) -> dict[str, Any]:
        """Everything needed to continue bit-identically: weights, optimizer, RNGs, epoch position."""
        self._count_correct()
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "epoch": self.epoch, "batch": self.batch, "step": self.global_step,
            "perm": self.perm.cpu() if self.perm is not None else None,
            "shuffle_rng": self.shuffle_gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
            "epoch_loss": torch.tensor(self._epoch_loss, dtype=torch.float64), "epoch_correct": self._epoch_correct.cpu(),
            "epoch_seen": self._epoch_seen, "epoch_time": self._epoch_time,
            "interval": torch.stack(self._losses).cpu() if self._losses else torch.zeros(0),
            "elapsed": self._elapsed(),
            "best_test_acc": self.best_test_acc, "last_test_acc": self.last_test_acc,
            "lr": self.optimizer.param_groups[0]["lr"],
        }

    def _restore(self, state: dict[str, Any]) -> None:
        saved = RunConfig.from_dict(state.get("config", {}))
        name = checkpoint_mismatch(saved, self.config)  # only the schema's resumable fields may differ
        if name is not None:
            raise runlog.CheckpointError(
                f"checkpoint {self.run_dir / runlog.CHECKPOINT_FILE} is for {name}={getattr(saved, name)!r}, "
                f"this run has {name}={getattr(self.config, name)!r}")
        if self.config.schedule == "onecycle" and saved.epochs != self.config.epochs:
            # OneCycleLR's phases are fixed by its total steps at creation; its saved state would
            # crash the loop past the old end ("Tried to step N times"), so refuse up front.
            raise ConfigError(f"this run's one-cycle schedule is planned for {saved.epochs} epochs; "
                              f"--epochs cannot change when resuming it")
        done = int(state.get("epoch", 1)) - 1
        if done >= self.config.epochs:  # "Resuming at epoch 4" then "Run finished" trained nothing and said so nowhere
            more = ("a one-cycle run cannot be extended; start a new run" if self.config.schedule == "onecycle"
                    else f"resume with --epochs N (N > {done}) to train more")
            raise ConfigError(f"nothing left to train: {self.run_dir} has trained {done} of {self.config.epochs} "
                              f"epochs; {more}")
        perm = state.get("perm")
        if perm is not None and perm.numel() != self.data.train_size:
            # e.g. begun on the bundled sample, resumed where the full set is found: the saved epoch order
            # would index past the data and surface as a baffling "non-finite loss"
            raise DataError(f"this run was training on {perm.numel()} images, but the data found now has "
                            f"{self.data.train_size} ({self.data.source}); resume with the same data via --data-dir")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler and state.get("scheduler"):
                self.scheduler.load_state_dict(state["scheduler"])
            elif state.get("scheduler") is None:
                self.scheduler = None  # an lr set by hand ended the schedule before this checkpoint
        except (RuntimeError, KeyError, ValueError) as exc:
            raise runlog.CheckpointError(f"checkpoint does not fit this model: {str(exc).splitlines()[0][:160]}") from None
        self.epoch, self.batch, self.global_step = int(state["epoch"]), int(state["batch"]), int(state["step"])
        self.perm = state["perm"].to(self.device) if state.get("perm") is not None else None
        self.shuffle_gen.set_state(state["shuffle_rng"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self._epoch_loss = float(state["epoch_loss"])
        self._epoch_correct = state["epoch_correct"].to(self.device)
        self._epoch_seen = int(state["epoch_seen"])
        self._epoch_time = float(state.get("epoch_time", 0.0))
        self._losses[:] = state["interval"].to(self.device).unbind(0)
        self._elapsed_before = float(state.get("elapsed", 0.0))
        self.best_test_acc = state.get("best_test_acc")
        self.last_test_acc = state.get("last_test_acc")

    def save_checkpoint(self) -> Path:
        path = self.run_dir / runlog.CHECKPOINT_FILE
        state = self._state()
        self._check_finite(state)
        runlog.save_checkpoint(path, state)
        self._last_checkpoint = time.perf_counter()
        return path

    def _check_finite(self, state: dict[str, Any]) -> None:
        """Never replace the last good checkpoint with a diverged model. A stop between log records
        would otherwise save the weights of steps whose losses were never checked; and weights can
        overflow even when the loss did not. One device sync, and checkpoints are rare."""
        pending = state["interval"]  # losses of the steps since the last step record
        bad = (~torch.isfinite(pending)).nonzero()
        if len(bad):
            first = int(bad[0])
            raise NonFiniteLoss(self.global_step - pending.shape[0] + first + 1, self.epoch, float(pending[first]))
        tensors = [t for t in state["model"].values() if t.is_floating_point()]
        if tensors and not bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()):
            raise NonFiniteLoss(self.global_step, self.epoch, None, what="weights")

    # ---- the run ----
    def run(self) -> EndEvent:
        """Train to the end or until stopped; always returns (and logs) the end record."""
        self._t0 = time.perf_counter()
        self._elapsed_before = 0.0
        try:
            self._setup()
        except (DataError, ConfigError, runlog.CheckpointError, runlog.RunDirError, OSError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
                exc = self._os_error(exc)
            self._discard_empty_run_dir()
            return self._finish("failed", str(exc), exc)
        self._t0 = time.perf_counter()
        try:
            self.emit(ConfigEvent(
                config=self.config.to_dict(), run_dir=str(self.run_dir), device=self.device_label,
                data_source=self.data.source, bundled_data=self.data.bundled, train_size=self.data.train_size,
                test_size=self.data.test_size, steps_per_epoch=self.steps_per_epoch, total_steps=self.total_steps,
                classes=list(self.data.classes), start_epoch=self.epoch, start_step=self.global_step,
                resumed=self.resume_requested, versions=library_versions(), parameters=parameter_count(self.model)))
            if not self.resume_requested:
                self.save_checkpoint()
            self._last_checkpoint = time.perf_counter()
            while self.epoch <= self.config.epochs:
                if not self._train_epoch():
                    break
                if not self._end_epoch():
                    break
            if self._stop_status is not None:
                checkpoint = self.save_checkpoint()
                return self._finish(self._stop_status, self._stop_reason, checkpoint=checkpoint)
            checkpoint = self.run_dir / runlog.CHECKPOINT_FILE  # written at the end of the last epoch
            return self._finish("finished", f"trained {self.config.epochs} epochs", checkpoint=checkpoint)
        except NonFiniteLoss as exc:
            reason = f"{exc}; the last good checkpoint is kept; {divergence_hint(self.config, self.optimizer)}"
            return self._finish("failed", reason, exc, checkpoint=self.run_dir / runlog.CHECKPOINT_FILE)
        except OSError as exc:  # e.g. a full disk; the previous checkpoint is intact (atomic writes)
            checkpoint = self.run_dir / runlog.CHECKPOINT_FILE
            hint = f"; the last checkpoint is kept: make room, then --resume {self.run_dir}" if checkpoint.exists() else ""
            return self._finish("failed", f"cannot write to {self.run_dir}: {exc.strerror or exc}{hint}", exc,
                                checkpoint=checkpoint)
        except Exception as exc:  # a bug or e.g. CUDA out of memory: still end the log, then let the caller report it
            self._finish("failed", f"internal error: {type(exc).__name__}: {exc}", exc)
            raise

    def _finish(self, status: str, reason: str, exc: BaseException | None = None,
                checkpoint: Path | None = None) -> EndEvent:
        if getattr(self, "perf", None) is not None:
            self.perf.restore_threads()  # the thread count is process-wide; the next run picks its own
        end = EndEvent(status=status, reason=reason, epoch=self.epoch, step=self.global_step,
                       time=round(self._elapsed() if hasattr(self, "_elapsed_before") else 0.0, 3),
                       checkpoint=str(checkpoint) if checkpoint and checkpoint.exists() else None,
                       best_test_acc=self.best_test_acc, final_test_acc=self.last_test_acc)
        self.error = exc
        if self._log is not None:
            try:
                self._log(end)
            except OSError as write_error:  # the sinks and the caller still get the end record
                if end.status != "failed":  # a log without its end record is a failed write like any other
                    hint = f"; the last checkpoint is kept: make room, then --resume {self.run_dir}"
                    end = dataclasses.replace(end, status="failed", reason=(
                        f"cannot write to {self.run_dir}: {write_error.strerror or write_error}{hint}"))
                    self.error = write_error
            self._log.close()
        if self._claim is not None:
            self._claim.release()
        for sink in self.sinks:
            sink(end)
        return end

    def _os_error(self, exc: OSError) -> Exception:
        """An OSError at start-up as one line naming the path it is about: the run directory's own
        files are a write problem, anything else (a --data-dir too long, unreadable) a data one."""
        name = exc.filename
        if name is not None and not os.path.abspath(os.fsdecode(name)).startswith(os.path.abspath(self.run_dir)):
            return DataError(f"cannot read {runlog.short_path(name)}: {exc.strerror or exc}")
        return runlog.RunDirError(f"cannot write to {runlog.short_path(self.run_dir)}: {exc.strerror or exc}")

    def _discard_empty_run_dir(self) -> None:
        """A run that failed before writing anything leaves no empty directory behind."""
        if self.resume_requested or self._log is not None or self._claim is None or self._claim.restart:
            return  # (_finish releases the claim)
        self._claim.release(discard_dir=True)

    def _new_epoch_order(self) -> None:
        self.perm = torch.randperm(self.data.train_size, generator=self.shuffle_gen).to(self.device)
        self.batch = 0

    def _handle_controls(self) -> bool:
        """Apply lr changes, wait while paused; False when the loop must stop."""
        with self._lock:
            self._control_pending = False
            new_lr, self._pending_lr = self._pending_lr, None
        if new_lr is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = new_lr
            self.scheduler = None  # a hand-set lr overrides the schedule from here on
            self.emit(StateEvent("lr", self.global_step, round(self._elapsed(), 3), lr=new_lr,
                                 message=f"learning rate set to {new_lr:g}"))
        if self._paused and self._stop_status is None:
            paused_at = time.perf_counter()
            self.emit(StateEvent("paused", self.global_step, round(self._elapsed(), 3), message="paused"))
            self._unpaused.wait()
            self._t0 += time.perf_counter() - paused_at  # paused time is not training time
            self._interval_t0 += time.perf_counter() - paused_at
            self._epoch_t0 += time.perf_counter() - paused_at
            if self._stop_status is None:
                self.emit(StateEvent("resumed", self.global_step, round(self._elapsed(), 3), message="resumed"))
            return self._handle_controls() if self._control_pending else self._stop_status is None
        return self._stop_status is None

    def _train_epoch(self) -> bool:
        """Run the rest of the current epoch; False if a stop was requested.

        A step adds to the bare loop only two detaches and two list appends: the interval's losses
        are summed and read back once per log interval, and the logits are scored against their
        labels once per epoch (or when a checkpoint needs the count), so no step waits on the device
        and none pays for extra small ops. The position is kept in a local and written back before
        anything that reads it (a flush, the controls, a checkpoint).
        """
        if self.perm is None:
            self._new_epoch_order()
        model, optimizer, scheduler = self.model, self.optimizer, self.scheduler
        forward, autocast = self._forward, self.perf.autocast()
        x_all, y_all, perm = self.data.train_x, self.data.train_y, self.perm
        bs, steps, log_every = self.config.batch_size, self.steps_per_epoch, self.log_every
        losses, outputs = self._losses, self._outputs
        n, batch = len(losses), self.batch
        self._interval_t0 = time.perf_counter()
        self._interval_seen = 0
        self._epoch_t0 = time.perf_counter()
        model.train()
        while batch < steps:
            index = perm[batch * bs:(batch + 1) * bs]
            x, y = x_all[index], y_all[index]
            if autocast is None:
                out = forward(x)
                loss = F.cross_entropy(out, y)
            else:
                with autocast:
                    out = forward(x)
                    loss = F.cross_entropy(out, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.detach())
            outputs.append(out.detach())
            batch += 1
            n += 1
            if n == log_every or batch == steps:
                self._advance(batch)
                self._flush_interval()
                n = 0
                scheduler = self.scheduler
            if self._control_pending:
                self._advance(batch)
                if not self._handle_controls():
                    self._epoch_time += time.perf_counter() - self._epoch_t0
                    return False
                scheduler = self.scheduler
        self._advance(batch)
        self._count_correct()
        self._epoch_time += time.perf_counter() - self._epoch_t0
        return True

    def _advance(self, batch: int) -> None:
        """Move the run's position (batch, step, images seen) up to `batch` of this epoch."""
        done = batch - self.batch
        if done:
            size, bs = self.data.train_size, self.config.batch_size
            seen = min(batch * bs, size) - min(self.batch * bs, size)
            self.batch = batch
            self.global_step += done
            self._epoch_seen += seen
            self._interval_seen += seen

    def _count_correct(self) -> None:
        """Add the kept logits' correct predictions to the epoch's count: one pass on the device."""
        outputs = self._outputs
        if not outputs:
            return
        logits = torch.cat(outputs)
        start = (self.batch - len(outputs)) * self.config.batch_size
        labels = self.data.train_y[self.perm[start:start + logits.shape[0]]]
        self._epoch_correct += (logits.argmax(1) == labels).sum()
        outputs.clear()

    def _flush_interval(self) -> None:
        """Read the interval's losses back (the only host sync in training) and emit a step event."""
        losses = self._losses
        n = len(losses)
        stacked = torch.stack(losses)
        total = stacked.sum().item()
        if not math.isfinite(total):
            bad = int((~torch.isfinite(stacked)).nonzero()[0])
            step = self.global_step - n + bad + 1
            raise NonFiniteLoss(step, self.epoch, float(stacked[bad]))
        size, bs = self.data.train_size, self.config.batch_size
        weighted = total * bs
        if self.batch == self.steps_per_epoch and size % bs:
            weighted += losses[-1].item() * (size % bs - bs)  # the epoch's last batch is smaller
        self._epoch_loss += weighted
        losses.clear()
        now = time.perf_counter()
        rate = self._interval_seen / max(now - self._interval_t0, 1e-9)
        self._interval_t0, self._interval_seen = now, 0
        self.emit(StepEvent(epoch=self.epoch, step=self.global_step, seen=min(self.batch * bs, size),
                            epoch_size=size, loss=total / n, lr=self.optimizer.param_groups[0]["lr"],
                            time=round(self._elapsed(), 3), samples_per_s=round(rate, 1),
                            total_steps=self.total_steps))
        if now - self._last_checkpoint >= self.checkpoint_every_s:
            self.save_checkpoint()

    def _end_epoch(self) -> bool:
        """Evaluate, emit epoch/samples/confusion events, checkpoint; False if stopped during eval."""
        data, config = self.data, self.config
        self.emit(StateEvent("evaluating", self.global_step, round(self._elapsed(), 3),
                             message=f"evaluating epoch {self.epoch} on {data.test_size:,} test images"))
        with self.perf.inference():  # the run's precision (bf16 autocast or none), as in training
            result = evaluate(self.model, data.test_x, data.test_y, config.eval_batch_size,
                              should_stop=lambda: self._stop_status is not None)
        if result is None:
            return False
        test_loss, test_acc, predictions = result
        if not math.isfinite(test_loss):  # a diverged model can still report finite training losses
            raise NonFiniteLoss(self.global_step, self.epoch, test_loss, what="test loss")
        train_loss = self._epoch_loss / max(self._epoch_seen, 1)
        train_correct = self._epoch_correct.item() / max(self._epoch_seen, 1)
        seconds = self._epoch_time
        self.last_test_acc = test_acc
        self.best_test_acc = max(self.best_test_acc or 0.0, test_acc)
        now = round(self._elapsed(), 3)
        lr = self.optimizer.param_groups[0]["lr"]
        self.emit(EpochEvent(epoch=self.epoch, step=self.global_step, train_loss=train_loss, train_acc=train_correct,
                             test_loss=test_loss, test_acc=test_acc, seconds=round(seconds, 3),
                             samples_per_s=round(self._epoch_seen / max(seconds, 1e-9), 1), lr=lr, time=now))
        if self.samples:
            self._emit_samples(predictions)
        classes = len(data.classes)
        matrix = torch.bincount(data.test_y * classes + predictions, minlength=classes * classes)
        self.emit(ConfusionEvent(epoch=self.epoch, matrix=matrix.view(classes, classes).tolist()))
        self.epoch += 1
        self.perm = None
        self.batch = 0
        self._epoch_loss = 0.0
        self._epoch_correct.zero_()
        self._epoch_seen = 0
        self._epoch_time = 0.0
        if self.epoch <= config.epochs:
            self._new_epoch_order()
        self.save_checkpoint()
        return self._stop_status is None

    def _emit_samples(self, predictions: torch.Tensor) -> None:
        idx = torch.tensor(self.samples, device=self.device)
        with torch.inference_mode(), self.perf.inference():  # the precision that made `predictions`
            was_training = self.model.training
            self.model.eval()
            probs = F.softmax(self.model(self.data.test_x[idx]).float(), dim=1)
            self.model.train(was_training)
        confidences = probs.max(1).values.tolist()
        pixels = self.data.test_pixels[torch.tensor(self.samples)]
        self.emit(SamplesEvent(
            epoch=self.epoch, indices=list(self.samples), labels=self.data.test_y[idx].tolist(),
            predictions=predictions[idx].tolist(), confidences=[round(c, 4) for c in confidences],
            images=[SamplesEvent.encode_image(bytes(p.flatten().tolist())) for p in pixels]))
