"""What every entry into mnist-tui shares: the program's name, its exit codes, and how a
headless run turns SIGINT/SIGTERM into "stop after this step, keep a checkpoint".

Defined once here so the command line, headless races and the app cannot drift apart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Callable, Iterator

PROG = "mnist-tui"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_OUTPUT_CLOSED = 141  # 128 + SIGPIPE, what shells expect of `... | head`


def stop_reason(signum: int) -> str:
    """How a run stopped by `signum` says why in its end record."""
    if signum == signal.SIGHUP:
        return "the terminal hung up (SIGHUP)"
    return f"interrupted by {signal.Signals(signum).name}"


@contextlib.contextmanager
def stop_on_signals(is_stopping: Callable[[], bool], stop: Callable[[str], None], kept: str) -> Iterator[list[int]]:
    """While inside: the first SIGINT/SIGTERM/SIGHUP calls stop(reason); a second one exits 130 at once.

    SIGHUP (the SSH session dropped) saves like Ctrl-C; under nohup it stays ignored, as asked.
    `kept` names what survives a forced exit (checkpoints are written atomically, so leaving
    mid-write loses nothing already saved). Yields the signals received, in order; the previous
    handlers come back on the way out.
    """
    received: list[int] = []

    def on_signal(signum: int, _frame) -> None:
        received.append(signum)
        if is_stopping():  # second signal: the user means it
            sys.stderr.write(f"{PROG}: forced exit; {kept}\n")
            os._exit(EXIT_INTERRUPTED)
        stop(stop_reason(signum))

    hangup = [signal.SIGHUP] if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN else []
    previous = {s: signal.signal(s, on_signal) for s in [signal.SIGINT, signal.SIGTERM, *hangup]}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
