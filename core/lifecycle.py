"""The app's run lifecycle as one state machine: which phase a run is in and what may happen next.

Why: the app used to keep nine flags (run_status strings, pause_requested, control, last_run,
last_end, _quitting, ...) set from a dozen methods, and check_action re-derived from them what
a key may do. Here every phase, every transition and every key's rule sit in one table, so the
footer, check_action and the status line cannot disagree, and the whole is tested without
Textual (tests/test_lifecycle.py).

Triggers come from two sides: the user (start, pause, unpause, stop, quit) and the run itself
(its config record, a pause or resume record, its end record, and the engine returning).
A trigger a phase has no transition for is ignored (`fire` returns False): a late "resumed"
record after a stop, a second stop, a key pressed while its binding was being hidden.
"""

from __future__ import annotations

from enum import Enum


class Phase(Enum):
    IDLE = "idle"            # no run yet this session
    STARTING = "starting"    # engine asked to start; no record from it yet
    RUNNING = "running"
    PAUSING = "pausing"      # pause asked; the run pauses after its current step
    PAUSED = "paused"
    STOPPING = "stopping"    # stop asked; the run saves its checkpoint and ends
    QUITTING = "quitting"    # like STOPPING, and the app exits once the engine has returned
    CLOSING = "closing"      # the end record arrived; the engine is shutting down
    ENDED = "ended"          # the last run is over (how: see Lifecycle.end_status)
    WATCHING = "watching"    # read-only view of a run directory (--watch): no run controls


class Trigger(Enum):
    START = "start"
    RUN_BEGAN = "run_began"  # the config record or the first step
    PAUSE = "pause"
    PAUSED = "paused"        # the run's "paused" record
    UNPAUSE = "unpause"
    RESUMED = "resumed"      # the run's "resumed" record
    STOP = "stop"
    QUIT = "quit"
    END = "end"              # the run's end record
    ENGINE_DONE = "engine_done"  # the engine returned (with or without an end record)
    WATCH = "watch"


ACTIVE = frozenset({Phase.STARTING, Phase.RUNNING, Phase.PAUSING, Phase.PAUSED, Phase.STOPPING, Phase.QUITTING,
                    Phase.CLOSING})
_STEERABLE = (Phase.STARTING, Phase.RUNNING, Phase.PAUSING, Phase.PAUSED)

TRANSITIONS: dict[tuple[Phase, Trigger], Phase] = {
    (Phase.IDLE, Trigger.START): Phase.STARTING,
    (Phase.ENDED, Trigger.START): Phase.STARTING,
    (Phase.IDLE, Trigger.WATCH): Phase.WATCHING,
    (Phase.STARTING, Trigger.RUN_BEGAN): Phase.RUNNING,
    (Phase.STARTING, Trigger.PAUSE): Phase.PAUSING,
    (Phase.RUNNING, Trigger.PAUSE): Phase.PAUSING,
    (Phase.STARTING, Trigger.PAUSED): Phase.PAUSED,
    (Phase.RUNNING, Trigger.PAUSED): Phase.PAUSED,
    (Phase.PAUSING, Trigger.PAUSED): Phase.PAUSED,
    (Phase.PAUSING, Trigger.UNPAUSE): Phase.RUNNING,
    (Phase.PAUSED, Trigger.UNPAUSE): Phase.RUNNING,
    (Phase.PAUSED, Trigger.RESUMED): Phase.RUNNING,
    (Phase.PAUSING, Trigger.RESUMED): Phase.RUNNING,
    **{(phase, Trigger.STOP): Phase.STOPPING for phase in _STEERABLE},
    **{(phase, Trigger.QUIT): Phase.QUITTING for phase in _STEERABLE + (Phase.STOPPING, Phase.CLOSING)},
    **{(phase, Trigger.END): Phase.CLOSING for phase in _STEERABLE + (Phase.STOPPING,)},
    (Phase.QUITTING, Trigger.END): Phase.QUITTING,  # still quitting; the end status is kept
    **{(phase, Trigger.ENGINE_DONE): Phase.ENDED for phase in ACTIVE},
}

# which key (Textual action) applies in which phase: the footer and check_action read this
ACTIONS: dict[str, frozenset[Phase]] = {
    "start": frozenset({Phase.IDLE, Phase.ENDED}),
    "resume_run": frozenset({Phase.ENDED}),
    "race": frozenset({Phase.IDLE, Phase.ENDED}),
    "pause": frozenset({Phase.STARTING, Phase.RUNNING}),
    "unpause": frozenset({Phase.PAUSING, Phase.PAUSED}),
    "change_lr": frozenset(_STEERABLE),
    "stop": frozenset(_STEERABLE),
}

# what the status line says for a phase (ENDED and CLOSING say how the run ended)
STATUS_WORDS = {Phase.PAUSING: "running", Phase.QUITTING: "stopping"}
NOTES = {Phase.PAUSING: "pausing after this step", Phase.STOPPING: "finishing the step and saving a checkpoint",
         Phase.QUITTING: "saving the checkpoint, then quitting"}


class Lifecycle:
    """The phase of the app's current (or last) run, changed only through `fire`."""

    def __init__(self) -> None:
        self.phase = Phase.IDLE
        self.end_status = ""  # how the last run ended: finished, stopped, interrupted, failed

    def fire(self, trigger: Trigger, end_status: str = "") -> bool:
        """Apply a trigger; False (and no change) where the phase has no such transition."""
        target = TRANSITIONS.get((self.phase, trigger))
        if target is None:
            return False
        if trigger is Trigger.START:
            self.end_status = ""
        if end_status:
            self.end_status = end_status
        elif trigger is Trigger.ENGINE_DONE and not self.end_status:
            self.end_status = "failed"  # the engine returned without an end record: the run never ran
        self.phase = target
        return True

    def allows(self, action: str) -> bool | None:
        """Whether a key's action applies now; None for actions this machine does not rule."""
        phases = ACTIONS.get(action)
        return None if phases is None else self.phase in phases

    @property
    def active(self) -> bool:
        """A run is under way: its engine has not returned yet."""
        return self.phase in ACTIVE

    @property
    def quitting(self) -> bool:
        return self.phase is Phase.QUITTING

    @property
    def status_word(self) -> str:
        if self.phase in (Phase.ENDED, Phase.CLOSING):
            return self.end_status or "finished"
        return STATUS_WORDS.get(self.phase, self.phase.value)

    @property
    def note(self) -> str:
        return NOTES.get(self.phase, "")
