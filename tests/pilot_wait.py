"""Waiting in Pilot tests: for a condition the app makes true, with a deadline, never a sleep that
hopes. One copy for every app test file; each passes its own deadline (real training takes longer
than a scripted engine)."""

from __future__ import annotations

import functools
import time
from typing import Any, Callable


async def wait_for(pilot: Any, predicate: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            phase = getattr(getattr(pilot.app, "lifecycle", None), "phase", None)
            raise AssertionError(f"timed out waiting for {what}" + (f" (phase {phase})" if phase else ""))
        await pilot.pause(0.01)


def waiter(timeout: float) -> Callable[..., Any]:
    """wait_for with this file's default deadline (a call may still pass timeout=...)."""
    return functools.partial(wait_for, timeout=timeout)
