"""A Trainer in a child process behind the one Engine interface: how every app run trains.

Why a process: a Trainer in a thread of the app shares the app's GIL. Every torch call the
training loop makes releases the GIL and must take it back; while the UI thread draws a chart
(10-30 ms of Python) the trainer waits the whole switch interval for each of those calls, so
the app cost small models as much training time as the UI thread spent drawing: 7-16% on a
2-core CPU (benchmarks/results/app_overhead.md, before this module). In its own process the
trainer has its own interpreter and GIL, and the UI draws on another core.

The one Engine interface (`Engine` below) is how the app drives every run, and how anything
else may (a race entrant, a benchmark):

    engine = EngineProcess(config, run_dir, data_dir=...)   # cheap: no process yet; any thread
    engine.pause() / resume() / stop(status, reason) / set_lr(lr)   # any thread, any time, even
                                       # before start(): commands wait in the pipe until the child reads them
    engine.start()                     # forks the child (blocks while the forkserver imports torch, once)
    for event in engine.events(): ... # blocks; every event of the run, in the order of its log
    engine.end                         # the EndEvent, once events() is exhausted

`events()` raises ConfigError when the run was refused (a usage error) and EngineCrash when the
child died outside the Trainer's own error handling. `run()` does all of it, handing each event
to the sinks, for callers that only want the end. Commands and replies are typed (the
dataclasses below), never tuples, so both ends name what they send.

The child is forked from a forkserver that has already imported torch and the engine, so a run
starts in milliseconds instead of paying torch's import (2 s) again; the forkserver itself is
single-threaded, so forking it is safe where forking the app (Textual's threads) would not be.
The child takes the parent's working directory and environment of the moment (the forkserver
keeps those of its own start). Its stdout and stderr go to /dev/null: anything it printed
would land in the middle of the app's screen; errors come back as messages instead.

Never lost work: the child ignores SIGINT and SIGHUP (the terminal sends them to the whole
process group; the app decides, and stops the run itself), and if the app disappears (its end
of the command pipe closes) the child stops the run as "interrupted", which saves the
checkpoint and ends the log like any stop.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence, Union

from core.config import ConfigError, RunConfig
from core.events import EndEvent, Event, Sink

PRELOAD = ["core.engine"]  # torch and the engine, paid once, in the forkserver (the compiler is never imported: core/eager.py)


class Engine(Protocol):
    """How a run is driven: what the app (and tests' fake engines) implement. See the module docstring."""

    end: EndEvent | None
    error: BaseException | None

    def start(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self, status: str = "stopped", reason: str = "stopped by the user") -> None: ...
    def set_lr(self, lr: float) -> None: ...
    def events(self) -> Iterator[Event]: ...


# ---- commands: parent -> child, applied to the child's Trainer ----
@dataclass(frozen=True)
class Pause:
    def apply(self, trainer: Any) -> None:
        trainer.pause()


@dataclass(frozen=True)
class Resume:
    def apply(self, trainer: Any) -> None:
        trainer.resume()


@dataclass(frozen=True)
class Stop:
    status: str = "stopped"
    reason: str = "stopped by the user"

    def apply(self, trainer: Any) -> None:
        trainer.stop(self.status, self.reason)


@dataclass(frozen=True)
class SetLr:
    lr: float

    def apply(self, trainer: Any) -> None:
        trainer.set_lr(self.lr)


Command = Union[Pause, Resume, Stop, SetLr]


# ---- replies: child -> parent ----
@dataclass(frozen=True)
class EventReply:
    event: Event


@dataclass(frozen=True)
class EndReply:
    end: EndEvent
    config_error: bool = False  # the run failed on an invalid setting (a usage error)


@dataclass(frozen=True)
class ConfigErrorReply:
    message: str


@dataclass(frozen=True)
class CrashReply:
    message: str
    details: str = ""


Reply = Union[EventReply, EndReply, ConfigErrorReply, CrashReply]


class EngineCrash(RuntimeError):
    """The child failed outside the Trainer's own error handling (a bug, or it was killed)."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def available(data: Any = None) -> bool:
    """Whether a run can train in a child process here: a forkserver (POSIX), and preloaded data,
    if any, on the CPU (CUDA tensors would need CUDA's own IPC to cross)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    tensor = getattr(data, "train_x", None)
    return tensor is None or tensor.device.type == "cpu"


def _context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def warm_up() -> None:
    """Start the forkserver (and its torch import) now, off the UI thread, so the first run starts fast."""
    from multiprocessing import forkserver

    _context()
    with _real_stderr():
        forkserver.ensure_running()


_STDERR_SWAP = threading.Lock()


@contextlib.contextmanager
def _real_stderr() -> Iterator[None]:
    """multiprocessing hands sys.stderr's file descriptor to its helper processes; inside a Textual
    app sys.stderr is the app's capture object, whose fileno() is not a descriptor, and starting
    them fails ("bad value(s) in fds_to_keep"). Lend it the process's real stderr meanwhile."""
    with _STDERR_SWAP:  # one swap at a time: two runs starting at once (a parallel race) would restore
        current = sys.stderr  # each other's copy and leave the real stderr in place of the app's
        try:
            valid = current is not None and current.fileno() >= 0
        except (AttributeError, OSError, ValueError):
            valid = False
        if not valid:
            sys.stderr = sys.__stderr__ or open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        try:
            yield
        finally:
            sys.stderr = current


class EngineProcess:
    """A Trainer(config, run_dir, ...) in a child process, behind the Engine interface."""

    def __init__(self, config: RunConfig, run_dir: Path, sinks: Sequence[Sink] = (), *,
                 data_dir: str | None = None, data: Any = None, resume: bool = False,
                 environ: dict[str, str] | None = None) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.sinks = list(sinks)
        self.data_dir = data_dir
        self.data = data
        self.resume_requested = resume
        self.environ = dict(environ or {})  # set over the parent's environment in the child (a race's slot)
        self.end: EndEvent | None = None
        self.error: BaseException | None = None
        self.process: multiprocessing.process.BaseProcess | None = None  # once started
        self._commands, self._child_commands = multiprocessing.Pipe()
        self._events: Connection | None = None
        self._lock = threading.Lock()

    # ---- controls: typed commands to the child's listener (queued in the pipe until it reads them) ----
    def pause(self) -> None:
        self._send(Pause())

    def resume(self) -> None:
        self._send(Resume())

    def stop(self, status: str = "stopped", reason: str = "stopped by the user") -> None:
        self._send(Stop(status, reason))

    def set_lr(self, lr: float) -> None:
        self._send(SetLr(lr))

    def _send(self, command: Command) -> None:
        with self._lock:
            try:
                self._commands.send(command)
            except OSError:
                pass  # the child has ended; events() reports how

    # ---- the run ----
    def start(self) -> None:
        """Fork the child from the forkserver (which is started first if need be: torch's import, once)."""
        if self.process is not None:
            raise RuntimeError("an EngineProcess runs once")
        events, child_events = multiprocessing.Pipe(duplex=False)
        self._events = events
        process = self.process = _context().Process(
            target=_child_main, name=f"mnist-tui engine {self.run_dir.name}", daemon=False,
            args=(child_events, self._child_commands, os.getcwd(), {**os.environ, **self.environ}, self.config, str(self.run_dir),
                  self.data_dir, self.data, self.resume_requested))
        with _real_stderr():
            process.start()
        child_events.close()  # the child holds its own copies; EOF on ours then means it is gone
        self._child_commands.close()

    def events(self) -> Iterator[Event]:
        """The child's events until its end record (then `self.end` is set); the child is reaped after."""
        if self.process is None or self._events is None:
            raise RuntimeError("start() the engine first")
        events, process = self._events, self.process
        try:
            while True:
                try:
                    reply: Reply = events.recv()
                except EOFError:
                    process.join(timeout=10)
                    raise EngineCrash(f"the training process ended without a result (exit code {process.exitcode})")
                if isinstance(reply, EventReply):
                    yield reply.event
                elif isinstance(reply, EndReply):
                    self.end = reply.end
                    if reply.config_error:
                        self.error = ConfigError(reply.end.reason)
                    return
                elif isinstance(reply, ConfigErrorReply):
                    raise ConfigError(reply.message)
                elif isinstance(reply, CrashReply):
                    raise EngineCrash(reply.message, reply.details)
        finally:
            events.close()
            process.join(timeout=10)

    def run(self) -> EndEvent:
        """Start the child, pass its events to the sinks until its end record, return that."""
        self.start()
        for event in self.events():
            for sink in self.sinks:
                sink(event)
        assert self.end is not None
        return self.end


def _child_main(events: Connection, commands: Connection, cwd: str, environ: dict[str, str], config: RunConfig,
                run_dir: str, data_dir: str | None, data: Any, resume: bool) -> None:
    """The child: the parent's directory and environment, quiet output, then one Trainer run."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):  # SIGTERM: until there is a Trainer to stop
        signal.signal(sig, signal.SIG_IGN)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from core.engine import Trainer

    sink = _PipeSink(events)
    try:
        trainer = Trainer(config, Path(run_dir), [sink], data_dir=data_dir, data=data, resume=resume)
    except ConfigError as exc:
        sink.send(ConfigErrorReply(str(exc)))
        return
    sink.trainer = trainer
    signal.signal(signal.SIGTERM, lambda *_: _stop_soon(trainer, "interrupted by SIGTERM"))
    _apply_waiting(commands, trainer)  # controls sent before the child existed apply before the first step
    threading.Thread(target=_listen, args=(commands, trainer), daemon=True, name="commands").start()
    try:
        end = trainer.run()
    except ConfigError as exc:
        sink.send(ConfigErrorReply(str(exc)))
        return
    except BaseException as exc:  # noqa: BLE001 - a bug: report it, the parent decides what to show
        sink.send(CrashReply(f"internal error: {type(exc).__name__}: {exc}", traceback.format_exc()))
        return
    sink.send(EndReply(end, isinstance(getattr(trainer, "error", None), ConfigError)))


class _PipeSink:
    """The child's only sink: each event to the parent. If the parent is gone, stop the run (and save it)."""

    def __init__(self, events: Connection) -> None:
        self.events = events
        self.trainer: Any = None
        self.parent_gone = False

    def __call__(self, event: Event) -> None:
        self.send(EventReply(event))

    def send(self, message: Reply) -> None:
        if self.parent_gone:
            return
        try:
            self.events.send(message)
        except OSError:
            self.parent_gone = True
            if self.trainer is not None:
                _stop_for_good(self.trainer, "the app went away")


def _stop_for_good(trainer: Any, reason: str) -> None:
    """Nobody will steer this run again: stop it as interrupted (which saves it), saying how to go on."""
    trainer.stop("interrupted", f"{reason}; continue with mnist-tui --resume {trainer.run_dir}")


def _stop_soon(trainer: Any, reason: str) -> None:
    """Stop from a signal handler: on a thread, as the handler may interrupt the loop inside the Trainer's lock."""
    threading.Thread(target=_stop_for_good, args=(trainer, reason)).start()


def _apply_waiting(commands: Connection, trainer: Any) -> None:
    try:
        while commands.poll():
            _apply(commands.recv(), trainer)
    except (EOFError, OSError):
        pass  # the app is gone already: the listener sees it too, and stops the run


def _apply(command: Command, trainer: Any) -> None:
    try:
        command.apply(trainer)
    except ConfigError:
        pass  # e.g. a learning rate the app should have refused: ignored, the run goes on


def _listen(commands: Connection, trainer: Any) -> None:
    """The child's command thread: apply the app's controls; the app gone means stop and save."""
    while True:
        try:
            command: Command = commands.recv()
        except (EOFError, OSError):
            _stop_for_good(trainer, "the app went away")
            return
        _apply(command, trainer)


if __name__ == "__main__":  # pragma: no cover - not a command
    sys.exit("core.engine_process is a module of mnist-tui")
