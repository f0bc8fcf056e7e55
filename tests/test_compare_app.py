"""Pilot tests of the compare view: a live three-entrant race on generated data, a race started
from the app's form, and finished runs opened read-only.

Waiting is for a condition the app makes true (the race worker returning), with a generous
deadline for a loaded machine; no test sleeps and hopes.
"""

from __future__ import annotations

import time

from core.config import RunConfig
from core.leaderboard import rank
from core.race import plan_race
from core.runlog import iter_records
from tui.app import MnistApp
from tui.compare import CompareApp, CompareScreen
from tui.race_dialog import RaceDialog

TIMEOUT_S = 180.0
BASE = RunConfig(name="t", model="mlp", hidden=(32,), batch_size=100, epochs=2, sample_count=4)


async def wait_for(pilot, predicate, what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def board_rows(screen: CompareScreen) -> list[list[str]]:
    table = screen.leaderboard
    return [[str(cell) for cell in table.get_row_at(r)] for r in range(table.row_count)]


def chart_text(chart) -> str:
    return chart.render().plain


async def test_three_entrant_race_fills_leaderboard_legend_and_detail(tiny_data, tmp_path):
    plan = plan_race(BASE, "optimizer=sgd,adam,adadelta")
    app = CompareApp(plan=plan, race_dir=tmp_path / "race", data_dir=str(tiny_data))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.compare_screen
        await wait_for(pilot, lambda: not screen.race_running, "the race to end")
        await pilot.pause()
        assert screen.race_error == ""

        # the leaderboard: every entrant, ranked as core ranks them, finished, two epochs each
        rows = board_rows(screen)
        ranked = [s.name for s in rank(screen.standings.values())]
        assert [row[1] for row in rows] == ranked
        assert sorted(ranked) == ["optimizer-adadelta", "optimizer-adam", "optimizer-sgd"]
        assert [row[0] for row in rows] == ["1", "2", "3"]
        for row in rows:
            assert row[6] == "2/2" and row[9] == "finished"
            assert row[3].endswith("%") and row[8] != "-"  # best test acc and samples/s are filled
        lrs = {row[1]: row[2] for row in rows}
        assert lrs == {"optimizer-sgd": "0.1", "optimizer-adam": "0.001", "optimizer-adadelta": "1"}
        assert (tmp_path / "race" / "leaderboard.md").read_text().count("| finished |") == 3

        # the charts overlay one named series per entrant, and plotext draws the names as a legend
        for chart in (screen.loss_chart, screen.acc_chart):
            assert list(chart.series) == ["optimizer-sgd", "optimizer-adam", "optimizer-adadelta"]
            assert len({s.color for s in chart.series.values()}) == 3
            text = chart_text(chart)
            for name in chart.series:
                assert name in text, f"{name} missing from the legend"
        assert [len(s.xs) for s in screen.acc_chart.series.values()] == [2, 2, 2]
        steps = [r for r in iter_records(tmp_path / "race" / "optimizer-adam" / "metrics.jsonl") if r["type"] == "step"]
        assert screen.loss_chart.series["optimizer-adam"].ys == [r["loss"] for r in steps]

        # selecting an entrant shows its digits and its confusion matrix
        screen.leaderboard.focus()
        for index in range(3):
            screen.leaderboard.move_cursor(row=index)
            await pilot.pause()
            name = rows[index][1]
            standing = screen.standings[name]
            assert screen.query_one("#compare-digits").event is standing.samples
            assert screen.query_one("#compare-matrix").matrix == standing.confusion.matrix
            assert screen.query_one("#compare-samples").border_title.startswith(name)
        await pilot.press("q")
    assert app.return_code == 0


async def test_race_started_from_the_form_then_stopped_and_back(tiny_data, tmp_path):
    # far more epochs than the test waits for: only the stop may end the first entrant (200 on the tiny
    # data set could finish before the key arrived on a busy machine)
    app = MnistApp(BASE.with_overrides(epochs=100_000), run_dir=tmp_path / "runs" / "first", data_dir=str(tiny_data),
                   cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.click("#race")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, RaceDialog)
        dialog.query_one("#race-values").value = "sgd,adamm"
        await pilot.press("enter")
        assert app.screen is dialog  # a bad value keeps the dialog open and says why
        assert "invalid optimizer 'adamm'" in str(dialog.query_one("#race-error").render())
        dialog.query_one("#race-field").value = "seed"
        await pilot.pause()
        assert dialog.query_one("#race-values").value == "1,2,3"
        dialog.query_one("#race-values").value = "1,2"
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.plan.field == "seed"
        assert screen.race_dir.parent == tmp_path / "runs"
        await wait_for(pilot, lambda: screen.standings["seed-1"].epochs, "the first entrant's first epoch")
        assert screen.check_action("back", ()) is False  # no way back while the race runs
        await pilot.press("x")
        await wait_for(pilot, lambda: not screen.race_running, "the race to stop")
        await pilot.pause()
        statuses = {row[1]: row[9] for row in board_rows(screen)}
        assert statuses == {"seed-1": "stopped", "seed-2": "waiting"}
        assert not (screen.race_dir / "seed-2").exists()
        await pilot.press("escape")
        assert app.screen is app.main


async def test_finished_race_opens_read_only_with_the_same_leaderboard(tiny_data, tmp_path):
    from core.race import Race

    plan = plan_race(BASE.with_overrides(epochs=1), "init=xavier,kaiming")
    Race(plan, tmp_path / "race", data_dir=str(tiny_data)).run()
    app = CompareApp(compare_paths=[tmp_path / "race"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.compare_screen
        await pilot.pause()
        assert not screen.live and screen.check_action("stop_race", ()) is False
        rows = board_rows(screen)
        assert sorted(row[1] for row in rows) == ["init-kaiming-uniform", "init-xavier-uniform"]
        assert all(row[9] == "finished" for row in rows)
        assert "comparing 2 runs (read-only)" in str(screen.query_one("#compare-status").render())
        await pilot.press("e")
        await pilot.pause()
        assert (tmp_path / "race" / "export" / "epochs.csv").is_file()


async def test_compare_follows_a_live_run_as_its_log_grows(tmp_path):
    """Read-only like --watch: records appended after opening show up at the next poll."""
    from test_compare_snapshot import synthetic_race

    synthetic_race(tmp_path / "race")
    log = tmp_path / "race" / "optimizer-adam" / "metrics.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    first_epoch = next(i for i, line in enumerate(lines) if '"type": "epoch"' in line)
    log.write_text("".join(lines[:first_epoch]) + lines[first_epoch][:20])  # a half-written epoch record
    app = CompareApp(compare_paths=[tmp_path / "race"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.compare_screen
        await pilot.pause()
        adam = screen.standings["optimizer-adam"]
        assert adam.status == "running" and adam.epochs == [] and adam.losses
        assert {row[1]: row[9] for row in board_rows(screen)}["optimizer-adam"] == "running"
        with log.open("a") as fh:
            fh.write(lines[first_epoch][20:] + "".join(lines[first_epoch + 1:]))
        screen.poll()
        await pilot.pause()
        assert adam.status == "finished" and adam.epoch_reached == 3
        assert {row[1]: row[9] for row in board_rows(screen)}["optimizer-adam"] == "finished"
        assert len(screen.acc_chart.series["optimizer-adam"].xs) == 3
