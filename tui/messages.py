"""Every custom Textual message of the app, as dataclasses in one place.

Messages (and the event inbox of tui/bridge.py) are the only things a worker hands to the UI
thread: a worker never touches a widget or a reactive. A run's end reaches the app as Textual's
own Worker.StateChanged. Keeping them together makes the cross-thread surface easy
to audit (and to extend, e.g. for a compare view that tags events with a run).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


class EventsWaiting(Message):
    """Events that change what the user may do (a config, a pause, the end) are in an inbox
    (tui/bridge.py): tick the redraw clock now rather than at its next beat. Carries nothing."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsWaiting)


@dataclass
class EngineReady(Message):
    """torch and the engine finished importing off the UI thread (error is set if they could not)."""

    torch_version: str = ""
    error: str = ""
