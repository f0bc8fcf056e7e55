"""Engines for app tests, behind the same Engine interface as core/engine_process.py's EngineProcess.

- `ScriptedEngine`: no torch, no training: a run made of plain events, stepping only when the
  test lets it (or freely), honouring pause, resume, stop and set_lr like a Trainer. UI
  behaviour tests use it: they check what the app does with events and keys, not training.
- `ScriptedDiskEngine`: a ScriptedEngine that writes its run directory with the real run-directory
  code (claim, metrics.jsonl, a checkpoint when it stops short) and resumes from it, so what the
  app or a race reads back from disk (what `r` resumes, what a race keeps) is real; also a race
  entrant: `scripted_race(monkeypatch)` puts it under every core.race.Race of a test.
- `ThreadEngine`: a real core.engine.Trainer in a thread of this process, for the tests that
  patch the engine here (a held evaluation), which a training process would not see.

Use: `MnistApp(..., engine_factory=ScriptedEngine.factory(...))` or `engine_factory=thread_engine`;
`gates = scripted_race(monkeypatch)` before a race starts.
"""

from __future__ import annotations

import collections
import dataclasses
import queue
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from core.engine_process import EngineProcess
from core.events import (ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, Event, SamplesEvent, StateEvent,
                         StepEvent)

_DONE = object()
STEPS_PER_EPOCH = 5  # a scripted run's default


class ScriptedEngine:
    """A run of `epochs` x `steps_per_epoch` steps whose events are made up, in a Trainer's order.

    `gate`: if given, a threading.Semaphore each step takes one permit of (the test paces the run
    by releasing steps); `fail_at`: the
    run ends "failed" at that step, as a non-finite loss would end it.
    """

    created: list["ScriptedEngine"] = []

    def __init__(self, spec: Any, data_dir: str | None = None, data: Any = None, *, steps_per_epoch: int = STEPS_PER_EPOCH,
                 gate: threading.Semaphore | None = None, fail_at: int | None = None,
                 start_error: BaseException | None = None) -> None:
        self.spec = spec
        self.config = spec.config
        self.steps_per_epoch = steps_per_epoch
        self.gate = gate
        self.fail_at = fail_at
        self.start_error = start_error
        self.end: EndEvent | None = None
        self.error: BaseException | None = None
        self.commands: list[tuple] = []
        self.started = threading.Event()
        self._lock = threading.Lock()
        self._paused = False
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._stop: tuple[str, str] | None = None
        self._lr = float(spec.config.lr)
        self._pending_lr: float | None = None
        ScriptedEngine.created.append(self)

    @classmethod
    def factory(cls, **options: Any) -> Callable[..., "ScriptedEngine"]:
        return lambda spec, data_dir, data: cls(spec, data_dir, data, **options)

    # ---- controls ----
    def pause(self) -> None:
        with self._lock:
            self.commands.append(("pause",))
            self._paused = True
            self._unpaused.clear()

    def resume(self) -> None:
        with self._lock:
            self.commands.append(("resume",))
            self._paused = False
            self._unpaused.set()

    def stop(self, status: str = "stopped", reason: str = "stopped by the user") -> None:
        with self._lock:
            self.commands.append(("stop", status, reason))
            if self._stop is None:
                self._stop = (status, reason)
            self._unpaused.set()

    def set_lr(self, lr: float) -> None:
        with self._lock:
            self.commands.append(("set_lr", lr))
            self._pending_lr = lr

    # ---- the run ----
    def start(self) -> None:
        self.started.set()
        if self.start_error is not None:
            raise self.start_error

    def events(self) -> Iterator[Event]:
        config, spe = self.config, self.steps_per_epoch
        total = config.epochs * spe
        clock = 0.0
        yield ConfigEvent(config=config.to_dict(), run_dir=str(self.spec.run_dir), device="cpu",
                          data_source="scripted", bundled_data=False, train_size=spe * config.batch_size,
                          test_size=100, steps_per_epoch=spe, total_steps=total, classes=[str(d) for d in range(10)],
                          resumed=self.spec.resume)
        step, done = 0, self._steps_done()
        for epoch in range(1, config.epochs + 1):
            for batch in range(1, spe + 1):
                if step < done:  # trained before the checkpoint this run resumes
                    step += 1
                    continue
                self._wait_for_step()
                yield from self._controls(step, clock)
                if self._stop is not None:
                    yield self._finish(self._stop[0], self._stop[1], epoch, step, clock)
                    return
                step += 1
                clock += 0.01
                if self.fail_at == step:
                    yield self._finish("failed", f"non-finite loss at step {step}", epoch, step, clock)
                    return
                yield StepEvent(epoch=epoch, step=step, seen=batch * config.batch_size,
                                epoch_size=spe * config.batch_size, loss=1.0 / step, lr=self._lr, time=clock,
                                samples_per_s=1000.0, total_steps=total)
            if step <= done:
                continue  # evaluated before the checkpoint
            yield EpochEvent(epoch=epoch, step=step, train_loss=0.5, train_acc=0.5 + epoch / 100,
                             test_loss=0.4, test_acc=0.6 + epoch / 100, seconds=0.05, samples_per_s=1000.0,
                             lr=self._lr, time=clock)
            yield SamplesEvent(epoch=epoch, indices=list(range(4)), labels=[0, 1, 2, 3], predictions=[0, 1, 2, 4],
                               confidences=[0.9] * 4, images=[SamplesEvent.encode_image(bytes([200] * 784))] * 4)
            yield ConfusionEvent(epoch=epoch, matrix=[[10 if i == j else 0 for j in range(10)] for i in range(10)])
        yield self._finish("finished", f"trained {config.epochs} epochs", config.epochs, step, clock)

    def _steps_done(self) -> int:
        return 0

    def _wait_for_step(self) -> None:
        if self.gate is not None:
            self.gate.acquire(timeout=60)

    def _controls(self, step: int, clock: float) -> Iterator[Event]:
        with self._lock:
            lr, self._pending_lr = self._pending_lr, None
            paused = self._paused
        if lr is not None:
            self._lr = lr
            yield StateEvent(state="lr", step=step, time=clock, lr=lr, message=f"learning rate set to {lr:g}")
        if paused and self._stop is None:
            yield StateEvent(state="paused", step=step, time=clock, message="paused")
            self._unpaused.wait(60)
            with self._lock:
                lr, self._pending_lr = self._pending_lr, None
            if lr is not None:
                self._lr = lr
                yield StateEvent(state="lr", step=step, time=clock, lr=lr, message=f"learning rate set to {lr:g}")
            if self._stop is None:
                yield StateEvent(state="resumed", step=step, time=clock, message="resumed")

    def _finish(self, status: str, reason: str, epoch: int, step: int, clock: float) -> EndEvent:
        self.end = EndEvent(status=status, reason=reason, epoch=epoch, step=step, time=clock)
        return self.end


class ScriptedDiskEngine(ScriptedEngine):
    """A ScriptedEngine that keeps its run directory as a Trainer does, with core.runlog's own code:
    the directory claimed (its lock held while it runs, so a second writer is refused), every event
    in metrics.jsonl, and a checkpoint file when the run ends short of its epochs (stopped or
    interrupted), which a resume continues from. So what the app or a race reads back from disk
    (whether `r` may resume, what a race resumes or keeps) is real. A stop wakes a gated run at
    once, as a Trainer reads its stop flag after the step it is in.

    Also core.race.Race's engine (`run()`, like EngineProcess's): see `scripted_race`.
    """

    def __init__(self, spec: Any, data_dir: str | None = None, data: Any = None, *,
                 sinks: Sequence[Callable[[Event], None]] = (), **options: Any) -> None:
        super().__init__(spec, data_dir, data, **options)
        self.run_dir = Path(spec.run_dir)
        self.sinks = list(sinks)

    def stop(self, status: str = "stopped", reason: str = "stopped by the user") -> None:
        super().stop(status, reason)
        if self.gate is not None:
            self.gate.release()

    def _steps_done(self) -> int:
        if not self.spec.resume:
            return 0
        from core import runlog

        return int(runlog.load_checkpoint(self.run_dir / runlog.CHECKPOINT_FILE)["step"])

    def events(self) -> Iterator[Event]:
        from core import runlog
        from core.engine import CHECKPOINT_FORMAT

        claim = runlog.claim_run_dir(self.run_dir, resume=self.spec.resume)
        log = runlog.RunLog(self.run_dir, claim=claim)
        try:
            for event in super().events():
                if event.type == "end" and event.status in ("stopped", "interrupted"):  # saved, then said
                    path = self.run_dir / runlog.CHECKPOINT_FILE
                    runlog.save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "model": {}, "epoch": event.epoch,
                                                  "step": event.step})
                    event = self.end = dataclasses.replace(event, checkpoint=str(path))
                log(event)
                yield event
        finally:
            log.close()
            claim.release()

    run = EngineProcess.run  # the Engine interface's run(): start, every event to the sinks, the end


def scripted_race(monkeypatch: Any, **options: Any) -> "collections.defaultdict[str, threading.Semaphore]":
    """Every core.race.Race of this test trains ScriptedDiskEngines; returns their gates by entrant
    name (each starts closed: the test releases an entrant's steps, before or after it starts)."""
    from core.race import Race
    from tui.app import RunSpec

    gates: collections.defaultdict[str, threading.Semaphore] = collections.defaultdict(lambda: threading.Semaphore(0))

    def engine(race: Race, entrant: Any, sinks: list, data: Any, slot: Any, resume: bool,
               alone: bool = False) -> ScriptedDiskEngine:
        spec = RunSpec(entrant.config, race.race_dir / entrant.name, resume)
        return ScriptedDiskEngine(spec, sinks=sinks, gate=gates[entrant.name], **options)

    monkeypatch.setattr(Race, "_engine", engine)
    return gates


class ThreadEngine:
    """A real Trainer in a thread of this process (what the app's removed thread engine did), for tests only."""

    def __init__(self, spec: Any, data_dir: str | None = None, data: Any = None) -> None:
        self.spec, self.data_dir, self.data = spec, data_dir, data
        self.end: EndEvent | None = None
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._trainer: Any = None
        self._waiting: list[Callable[[Any], None]] = []

    def _send(self, command: Callable[[Any], None]) -> None:
        with self._lock:
            if self._trainer is None:
                self._waiting.append(command)
            else:
                command(self._trainer)

    def pause(self) -> None:
        self._send(lambda t: t.pause())

    def resume(self) -> None:
        self._send(lambda t: t.resume())

    def stop(self, status: str = "stopped", reason: str = "stopped by the user") -> None:
        self._send(lambda t: t.stop(status, reason))

    def set_lr(self, lr: float) -> None:
        self._send(lambda t: t.set_lr(lr))

    def start(self) -> None:
        from core.engine import Trainer

        trainer = Trainer(self.spec.config, self.spec.run_dir, [self._queue.put], data_dir=self.data_dir,
                          data=self.data, resume=self.spec.resume)
        with self._lock:
            self._trainer = trainer
            for command in self._waiting:
                command(trainer)
            self._waiting.clear()
        threading.Thread(target=self._run, args=(trainer,), name="thread engine").start()

    def _run(self, trainer: Any) -> None:
        try:
            self.end = trainer.run()
            self.error = getattr(trainer, "error", None)
            self._queue.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to events()
            self._queue.put(exc)

    def events(self) -> Iterator[Event]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


def thread_engine(spec: Any, data_dir: str | None, data: Any) -> ThreadEngine:
    return ThreadEngine(spec, data_dir, data)
