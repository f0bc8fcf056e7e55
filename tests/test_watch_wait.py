"""`--watch` started before its run exists: it waits, saying so, as `tail -F` does; a race opens the compare view."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import core.cli as cli
from core.race import RACE_FILE
from core.runlog import METRICS_FILE


class Opened(list):
    """What the CLI would open in the app (no terminal needed): the launcher tui.entry would pass."""

    def start(self, **kwargs) -> int:
        self.append(kwargs)
        return 0


@pytest.fixture
def opened() -> Opened:
    return Opened()


def appear_after(polls: int, create) -> tuple[list[float], callable]:
    """A sleep that makes the run appear on its `polls`-th call: what another process does meanwhile."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == polls:
            create()

    return slept, sleep


def test_watch_waits_for_a_run_that_does_not_exist_yet(tmp_path, monkeypatch, capsys, opened):
    run_dir = tmp_path / "runs" / "20261123-101500-cnn-adam"

    def create() -> None:
        run_dir.mkdir(parents=True)
        (run_dir / METRICS_FILE).write_text("")

    slept, sleep = appear_after(3, create)
    monkeypatch.setattr(time, "sleep", sleep)
    assert cli.main(["--watch", str(run_dir)], opened.start) == 0
    assert len(slept) == 3 and all(s == cli.WATCH_POLL_S for s in slept)
    err = capsys.readouterr().err
    assert err == f"mnist-tui: waiting for {run_dir} to appear (no {METRICS_FILE} yet); Ctrl-C to stop\n"  # once
    assert opened == [{"watch": run_dir}]


def test_watch_of_an_existing_run_opens_at_once(tmp_path, monkeypatch, capsys, opened):
    (tmp_path / METRICS_FILE).write_text("")
    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail("waited for a run that exists"))
    assert cli.main(["--watch", str(tmp_path)], opened.start) == 0
    assert capsys.readouterr().err == "" and opened == [{"watch": tmp_path}]


def test_watch_of_a_race_opens_the_compare_view_even_when_it_appears_later(tmp_path, monkeypatch, opened):
    race_dir = tmp_path / "race"
    race_dir.mkdir()  # created, race.json not yet written
    slept, sleep = appear_after(1, lambda: (race_dir / RACE_FILE).write_text('{"entrants": []}'))
    monkeypatch.setattr(time, "sleep", sleep)
    assert cli.main(["--watch", str(race_dir)], opened.start) == 0
    assert opened == [{"compare": [race_dir], "data_dir": None}]


def test_watch_of_a_file_is_an_error_at_once(tmp_path, capsys, opened):
    a_file = tmp_path / "metrics.jsonl"
    a_file.write_text("")
    assert cli.main(["--watch", str(a_file)], opened.start) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file, not a run directory" in err and opened == []


def test_ctrl_c_while_waiting_exits_130(tmp_path, monkeypatch, capsys, opened):
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", interrupted)
    assert cli.main(["--watch", str(tmp_path / "not-yet")], opened.start) == 130
    assert opened == []
