"""A Trainer in a child process, driven like one in a thread: the app's engine by default.

Why a process: a Trainer in a thread of the app shares the app's GIL. Every torch call the
training loop makes releases the GIL and must take it back; while the UI thread draws a chart
(10-30 ms of Python) the trainer waits the whole switch interval for each of those calls, so
the app cost small models as much training time as the UI thread spent drawing: 7-16% on a
2-core CPU (benchmarks/results/app_overhead.md, before this module). In its own process the
trainer has its own interpreter and GIL, and the UI draws on another core.

`EngineProcess` keeps the Trainer's interface (pause, resume, stop, set_lr, run, error), so the
app's thread worker drives it exactly as it drove a Trainer: `run()` blocks in that worker,
receiving the child's events over a pipe and handing each to the sinks in order.

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
from pathlib import Path
from typing import Any, Iterator, Sequence

from core.config import ConfigError, RunConfig
from core.events import EndEvent, Event, Sink

PRELOAD = ["core.engine", "torch._dynamo"]  # torch, and the compiler its optimizers import on their first step: paid once, in the forkserver


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
    """Trainer(config, run_dir, sinks, ...) with the training loop in a child process."""

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
        self.error: BaseException | None = None
        self.process: multiprocessing.process.BaseProcess | None = None  # while run() runs
        self._commands, self._child_commands = multiprocessing.Pipe()
        self._lock = threading.Lock()

    # ---- controls: the same calls as Trainer's, sent to the child's listener ----
    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def stop(self, status: str = "stopped", reason: str = "stopped by the user") -> None:
        self._send("stop", status, reason)

    def set_lr(self, lr: float) -> None:
        self._send("set_lr", lr)

    def _send(self, *command: Any) -> None:
        with self._lock:
            try:
                self._commands.send(command)
            except OSError:
                pass  # the child has ended; run() reports how

    # ---- the run ----
    def run(self) -> EndEvent:
        """Start the child, pass its events to the sinks until its end record, return that."""
        events, child_events = multiprocessing.Pipe(duplex=False)
        process = self.process = _context().Process(
            target=_child_main, name=f"mnist-tui engine {self.run_dir.name}", daemon=False,
            args=(child_events, self._child_commands, os.getcwd(), {**os.environ, **self.environ}, self.config, str(self.run_dir),
                  self.data_dir, self.data, self.resume_requested))
        with _real_stderr():
            process.start()
        child_events.close()  # the child holds its own copies; EOF on ours then means it is gone
        self._child_commands.close()
        try:
            return self._receive(events, process)
        finally:
            events.close()
            process.join(timeout=10)

    def _receive(self, events: Connection, process: multiprocessing.process.BaseProcess) -> EndEvent:
        while True:
            try:
                kind, *payload = events.recv()
            except EOFError:
                process.join(timeout=10)
                raise EngineCrash(f"the training process ended without a result (exit code {process.exitcode})")
            if kind == "event":
                for sink in self.sinks:
                    sink(payload[0])
            elif kind == "end":
                end, config_error = payload
                if config_error:
                    self.error = ConfigError(end.reason)
                return end
            elif kind == "config_error":
                raise ConfigError(payload[0])
            elif kind == "crash":
                raise EngineCrash(payload[0], payload[1])


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
        sink.send("config_error", str(exc))
        return
    sink.trainer = trainer
    signal.signal(signal.SIGTERM, lambda *_: _stop_soon(trainer, "interrupted by SIGTERM"))
    threading.Thread(target=_listen, args=(commands, trainer), daemon=True, name="commands").start()
    try:
        end = trainer.run()
    except ConfigError as exc:
        sink.send("config_error", str(exc))
        return
    except BaseException as exc:  # noqa: BLE001 - a bug: report it, the parent decides what to show
        sink.send("crash", f"internal error: {type(exc).__name__}: {exc}", traceback.format_exc())
        return
    sink.send("end", end, isinstance(getattr(trainer, "error", None), ConfigError))


class _PipeSink:
    """The child's only sink: each event to the parent. If the parent is gone, stop the run (and save it)."""

    def __init__(self, events: Connection) -> None:
        self.events = events
        self.trainer: Any = None
        self.parent_gone = False

    def __call__(self, event: Event) -> None:
        self.send("event", event)

    def send(self, *message: Any) -> None:
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


def _listen(commands: Connection, trainer: Any) -> None:
    """The child's command thread: apply the app's controls; the app gone means stop and save."""
    while True:
        try:
            name, *args = commands.recv()
        except (EOFError, OSError):
            _stop_for_good(trainer, "the app went away")
            return
        try:
            getattr(trainer, name)(*args)
        except ConfigError:
            pass  # e.g. a learning rate the app should have refused: ignored, as a Trainer in a thread would raise


if __name__ == "__main__":  # pragma: no cover - not a command
    sys.exit("core.engine_process is a module of mnist-tui")
