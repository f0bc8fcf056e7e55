"""Every custom Textual message of the app, as dataclasses in one place.

Messages are the only thing the training worker hands to the UI thread: the worker never
touches a widget or a reactive. Keeping them together makes the cross-thread surface easy
to audit (and to extend, e.g. for a compare view that tags events with a run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from core.events import EndEvent, Event


@dataclass
class EventBatch(Message):
    """Engine events coalesced by the bridge (tui/bridge.py): everything since the last post,
    oldest first. At most two routine posts a second, so the screen refresh rate does not grow
    with the step or epoch rate; nothing is dropped (every step reaches the loss chart)."""

    events: list[Event] = field(default_factory=list)


@dataclass
class RunFinished(Message):
    """The training worker returned: the run directory is closed and a new run may start.

    `end` is None only when the engine could not even be created; then `error` says why.
    `usage_error` is True when the run failed on an invalid setting (exit code 2 territory).
    """

    end: EndEvent | None
    error: str = ""
    usage_error: bool = False


@dataclass
class EngineReady(Message):
    """torch and the engine finished importing off the UI thread (error is set if they could not)."""

    torch_version: str = ""
    error: str = ""
