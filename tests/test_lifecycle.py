"""The app's run lifecycle (core/lifecycle.py), tested without Textual."""

from __future__ import annotations

import pytest

from core.lifecycle import ACTIONS, TRANSITIONS, Lifecycle, Phase, Trigger


def walk(*triggers: Trigger, end: str = "") -> Lifecycle:
    life = Lifecycle()
    for trigger in triggers:
        life.fire(trigger, end if trigger is Trigger.END else "")
    return life


def allowed(life: Lifecycle) -> set[str]:
    return {action for action in ACTIONS if life.allows(action)}


def test_a_run_from_start_to_finish() -> None:
    life = Lifecycle()
    assert life.phase is Phase.IDLE and allowed(life) == {"start", "race"} and not life.active
    assert life.fire(Trigger.START) and life.phase is Phase.STARTING and life.active
    assert allowed(life) == {"pause", "change_lr", "stop"}
    assert life.fire(Trigger.RUN_BEGAN) and life.status_word == "running"
    assert life.fire(Trigger.END, "finished") and life.phase is Phase.CLOSING and life.status_word == "finished"
    assert allowed(life) == set() and life.active  # the engine is still closing the run directory
    assert life.fire(Trigger.ENGINE_DONE) and life.phase is Phase.ENDED and not life.active
    assert allowed(life) == {"start", "resume_run", "race"} and life.status_word == "finished"


def test_pause_is_asked_then_confirmed_and_continue_applies_to_both() -> None:
    life = walk(Trigger.START, Trigger.RUN_BEGAN, Trigger.PAUSE)
    assert life.phase is Phase.PAUSING and life.status_word == "running" and life.note == "pausing after this step"
    assert allowed(life) == {"unpause", "change_lr", "stop"}
    assert life.fire(Trigger.PAUSED) and life.status_word == "paused" and "unpause" in allowed(life)
    assert life.fire(Trigger.UNPAUSE) and life.phase is Phase.RUNNING and "pause" in allowed(life)
    assert not life.fire(Trigger.RESUMED)  # the run's own "resumed" record changes nothing now


def test_a_pause_before_the_first_record_is_kept() -> None:
    life = walk(Trigger.START, Trigger.PAUSE, Trigger.RUN_BEGAN)
    assert life.phase is Phase.PAUSING


def test_stop_hides_every_control_and_ignores_late_records() -> None:
    life = walk(Trigger.START, Trigger.RUN_BEGAN, Trigger.PAUSE, Trigger.PAUSED, Trigger.STOP)
    assert life.phase is Phase.STOPPING and allowed(life) == set() and life.status_word == "stopping"
    assert not life.fire(Trigger.RESUMED) and not life.fire(Trigger.STOP) and not life.fire(Trigger.PAUSE)
    life.fire(Trigger.END, "stopped")
    life.fire(Trigger.ENGINE_DONE)
    assert life.phase is Phase.ENDED and life.end_status == "stopped"


def test_quit_keeps_quitting_through_the_end_record() -> None:
    life = walk(Trigger.START, Trigger.RUN_BEGAN, Trigger.QUIT)
    assert life.quitting and life.status_word == "stopping" and "saving" in life.note
    assert life.fire(Trigger.END, "interrupted") and life.quitting and life.end_status == "interrupted"
    assert life.fire(Trigger.ENGINE_DONE) and life.phase is Phase.ENDED and life.status_word == "interrupted"


def test_an_engine_that_returns_without_an_end_record_failed() -> None:
    life = walk(Trigger.START, Trigger.ENGINE_DONE)
    assert life.phase is Phase.ENDED and life.end_status == "failed"
    life.fire(Trigger.START)
    assert life.end_status == "" and life.phase is Phase.STARTING


def test_watching_allows_no_run_control() -> None:
    life = walk(Trigger.WATCH)
    assert life.phase is Phase.WATCHING and allowed(life) == set() and not life.active
    assert not life.fire(Trigger.START)


def test_actions_it_does_not_rule_are_left_to_the_app() -> None:
    assert Lifecycle().allows("help") is None


@pytest.mark.parametrize("phase", list(Phase))
def test_every_phase_is_reachable_from_idle(phase: Phase) -> None:
    reachable = {Phase.IDLE}
    frontier = [Phase.IDLE]
    while frontier:
        here = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is here and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert phase in reachable
