"""A hand-over point between the UI thread's controls and a Trainer built on the worker thread.

The Trainer (and torch with it) is created inside the worker, so for a moment after Start the
UI has nothing to call pause()/stop() on. RunControl queues such requests and applies them,
in order, as soon as the worker attaches its Trainer; afterwards calls go straight through
(the Trainer's controls are thread-safe flags read between steps).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from core.config import RunConfig

Request = Callable[[Any], None]


class RunControl:
    """One run's identity (config, directory, resume flag) and its control channel."""

    def __init__(self, config: RunConfig, run_dir: Path, resume: bool = False) -> None:
        self.config = config
        self.run_dir = run_dir
        self.resume = resume
        self._lock = threading.Lock()
        self._trainer: Any = None
        self._queued: list[Request] = []

    def attach(self, trainer: Any) -> None:
        """Called by the worker once its Trainer exists; replays requests made before that."""
        with self._lock:
            self._trainer = trainer
            queued, self._queued = self._queued, []
            for request in queued:
                request(trainer)

    def send(self, request: Request) -> None:
        """Apply `request(trainer)` now, or as soon as the Trainer is attached."""
        with self._lock:
            if self._trainer is None:
                self._queued.append(request)
            else:
                request(self._trainer)

    def pause(self) -> None:
        self.send(lambda t: t.pause())

    def resume_training(self) -> None:
        self.send(lambda t: t.resume())

    def stop(self, status: str = "stopped", reason: str = "stopped from the app") -> None:
        self.send(lambda t: t.stop(status, reason))

    def set_lr(self, lr: float) -> None:
        self.send(lambda t: t.set_lr(lr))
