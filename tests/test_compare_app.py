"""Pilot tests of the compare view: a live three-entrant race on generated data, a race started
from the app's form, and finished runs opened read-only.

Waiting is for a condition the app makes true (the race worker returning), with a generous
deadline for a loaded machine; no test sleeps and hopes.
"""

from __future__ import annotations


from pilot_wait import waiter

from core.config import RunConfig
from core.leaderboard import rank
from fake_engine import STEPS_PER_EPOCH, scripted_race
from core.race import plan_race
from core.runlog import iter_records
from tui.app import MnistApp
from tui.compare import CompareApp, CompareScreen
from tui.race_dialog import RaceDialog

TIMEOUT_S = 180.0
BASE = RunConfig(name="t", model="mlp", hidden=(32,), batch_size=100, epochs=2, sample_count=4)


wait_for = waiter(TIMEOUT_S)


def board_rows(screen: CompareScreen) -> list[list[str]]:
    """Every leaderboard cell, ranked, in core.export's column order (whether or not the width shows it)."""
    table = screen.leaderboard
    return [list(table.cells(name).values()) for name in table.order]


def shown_rows(screen: CompareScreen) -> list[list[str]]:
    """The cells the table draws (the columns that fit)."""
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

        # the charts overlay one series per entrant, each with its own colour AND marker (readable without
        # colour); the legend is a line of its own, outside the plots, so it hides no curve
        legend = str(screen.query_one("#compare-legend").render())
        for chart in (screen.loss_chart, screen.acc_chart):
            assert list(chart.series) == ["optimizer-sgd", "optimizer-adam", "optimizer-adadelta"]
            assert len({s.color for s in chart.series.values()}) == 3
            assert len({s.marker for s in chart.series.values()}) == 3
            text = chart_text(chart)
            for name, series in chart.series.items():
                assert name not in text  # no legend drawn over the data
                assert f"{series.marker} {name}" in legend
        loss_text = chart_text(screen.loss_chart)
        assert all(series.marker in loss_text for series in screen.loss_chart.series.values())
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
            # the digits themselves are drawn after the race, not just their captions (issue 14: blank digits)
            grid = screen.query_one("#compare-digits")
            drawn = "".join(grid.render_line(y).text for y in range(1, 8))
            assert drawn.count("▀") >= 14 * 7, drawn[:80]
        await pilot.press("q")
    assert app.return_code == 0


async def test_race_started_from_the_form_then_stopped_and_back(tiny_data, tmp_path, monkeypatch):
    """The form's race dialog to the compare view and back, on scripted entrants (the slots, the race
    directory and the data are the real Race's; the races above train for real)."""
    gates = scripted_race(monkeypatch)
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
        gates["seed-1"].release(STEPS_PER_EPOCH)  # one epoch, then seed-1 waits, running, for the stop
        await wait_for(pilot, lambda: screen.standings["seed-1"].epochs, "the first entrant's first epoch")
        assert screen.check_action("back", ()) is False  # no way back while the race runs
        await pilot.press("x")
        await wait_for(pilot, lambda: not screen.race_running, "the race to stop")
        await pilot.pause()
        # on this machine's default (one entrant per core, at most 2 cores' worth here) both trained at once
        statuses = {row[1]: row[9] for row in board_rows(screen)}
        started = len(screen.race.slots)
        assert statuses == ({"seed-1": "stopped", "seed-2": "stopped"} if started > 1
                            else {"seed-1": "stopped", "seed-2": "waiting"})
        assert screen.check_action("resume_race", ()) is True  # r would finish it
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


# ---- key rules: only the keys that apply are shown and accepted ----

def footer_keys(app) -> set[str]:
    """The keys the footer offers now (the screen's and the app's, as Textual resolves them)."""
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show and active.enabled}


async def test_no_main_screen_key_acts_or_shows_during_a_race_and_each_race_key_only_when_it_applies(
        tiny_data, tmp_path, monkeypatch):
    """Key rules, on scripted entrants (tests/fake_engine.py's ScriptedDiskEngine writes each entrant's run
    directory with the real run-directory code, so what `r` resumes is read from real files); the
    races above and tests/test_race*.py train for real."""
    gates = scripted_race(monkeypatch)
    app = MnistApp(BASE.with_overrides(epochs=100_000), run_dir=tmp_path / "runs" / "first", data_dir=str(tiny_data),
                   cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.click("#race")
        await pilot.pause()
        dialog = app.screen
        dialog.query_one("#race-field").value = "seed"
        await pilot.pause()
        dialog.query_one("#race-values").value = "1,2,3"
        dialog.query_one("#race-parallel").value = "1"
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.parallel == 1
        gates["seed-1"].release(STEPS_PER_EPOCH)  # one epoch, then seed-1 waits, running, for the test
        await wait_for(pilot, lambda: screen.standings["seed-1"].epochs, "the first entrant's first epoch")

        # during the race: n and x are offered; s, r, c, p, l (the main screen's) are neither shown nor acted on
        shown = footer_keys(app)
        assert {"n", "x", "e", "question_mark", "q"} <= shown
        assert not shown & {"s", "r", "c", "p", "l", "escape"}
        for key in ("s", "r", "c", "p", "l", "space", "1"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen, f"{key} opened {app.screen}"
            assert app.run_engine is None
        assert not (tmp_path / "runs" / "first").exists()  # nothing started behind the race
        assert screen.race_running and [s.status for s in screen.standings.values()].count("running") == 1

        # ? lists the compare keys, not the main screen's
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = str(app.screen.bindings)
        assert "end the selected running entrant" in help_text and "start a new run" not in help_text
        assert not any(key == "r" for key, _ in app.screen.bindings)  # r does not apply while the race runs
        await pilot.press("escape")
        await pilot.pause()

        # n ends the selected (running) entrant; the race goes on with the next
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.standings["seed-1"].status == "stopped", "seed-1 to end")
        await wait_for(pilot, lambda: screen.standings["seed-2"].status == "running", "seed-2 to start")
        await pilot.press("x")
        await wait_for(pilot, lambda: not screen.race_running, "the race to stop")
        await pilot.pause()
        shown = footer_keys(app)
        assert {"r", "escape", "e"} <= shown and not shown & {"n", "x", "s", "c"}
        assert "r finishes it" in str(screen.query_one("#compare-status").render())
        await pilot.press("s")  # still the compare screen's: nothing starts
        assert app.run_engine is None and app.screen is screen

        # r finishes the race: seed-2 continues from its checkpoint, seed-3 starts, seed-1 (skipped) stays
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.standings["seed-2"].status == "running", "seed-2 to resume")
        assert screen.standings["seed-1"].status == "stopped"
        await pilot.press("x")
        await wait_for(pilot, lambda: not screen.race_running, "the race to stop again")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main
        assert app.check_action("start", ()) is True  # the main keys are back


async def test_compare_view_help_cursor_on_leader_and_80x24_layout(tmp_path):
    from test_compare_snapshot import synthetic_race

    synthetic_race(tmp_path / "race")
    app = CompareApp(compare_paths=[tmp_path / "race"])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.compare_screen
        await pilot.pause()
        board = screen.leaderboard
        assert board.order[0] == "optimizer-adam" and board.selected == "optimizer-adam"  # the leader, not row 1 given
        assert board.cursor_row == 0 and board.has_focus
        # one view at a time: the leaderboard first, with the columns that matter most
        assert screen.has_class("-compact") and screen.view == "board"
        assert board.display and board.region.height > 0 and screen.loss_chart.region.height == 0
        assert board.columns_shown[:3] == ["#", "run", "best test acc"]
        assert {"epochs", "status"} <= set(board.columns_shown) and "at epoch" not in board.columns_shown
        assert sum(c.get_render_width(board) for c in board.columns.values()) <= board.size.width
        await pilot.press("2")
        await pilot.pause()
        assert screen.view == "charts" and screen.loss_chart.region.height >= 6 and board.region.height == 0
        await pilot.press("down")  # the user picks a run: the cursor no longer follows the leader
        await pilot.press("1")
        await pilot.pause()
        board.focus()
        await pilot.press("down")
        await pilot.pause()
        assert board.selected == board.order[1]
        screen.apply("optimizer-sgd", [])
        assert board.selected == board.order[1]
        await pilot.press("question_mark")
        await pilot.pause()
        assert "compare view keys" in str(app.screen.query_one(".dialog-title").render())
        assert ("1 2 3 4", "show the leaderboard, the charts, the digits or the matrix") in app.screen.bindings
        assert not any(key == "n" for key, _ in app.screen.bindings)  # no race here: n, x, r are not listed
    async with CompareApp(compare_paths=[tmp_path / "race"]).run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        screen = pilot.app.compare_screen
        assert not screen.has_class("-compact") and screen.check_action("view", ()) is False
        assert len(screen.leaderboard.columns_shown) == 11  # everything fits at 160 columns


async def test_race_dialog_proposes_a_short_race_and_remembers_the_last(tiny_data, tmp_path):
    from tui.race_dialog import RaceRequest, SUGGESTIONS

    assert len(SUGGESTIONS["optimizer"].split(",")) <= 3
    app = MnistApp(BASE, run_dir=tmp_path / "runs" / "first", data_dir=str(tiny_data), cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.click("#race") if app.main.query("#race") else None
        app.action_race()
        await pilot.pause()
        dialog = app.screen
        assert dialog.query_one("#race-values").value == SUGGESTIONS["optimizer"]
        assert dialog.query_one("#race-dialog").region.right <= 80  # fits 80 columns
        dialog.query_one("#race-values").value = "sgd,adam@0.01"
        dialog.query_one("#race-parallel").value = "x"
        await pilot.press("enter")
        assert "invalid entrants at once 'x'" in str(dialog.query_one("#race-error").render())
        dialog.query_one("#race-parallel").value = "2"
        results = []
        dialog.dismiss = results.append  # keep the app off training: only what the dialog hands back matters
        dialog._submit()
        assert isinstance(results[0], RaceRequest) and results[0].parallel == 2
        assert [e.name for e in results[0].plan.entrants] == ["optimizer-sgd", "optimizer-adam-lr0.01"]
        app.last_race = dialog.submitted
        app.pop_screen()
        app.action_race()
        await pilot.pause()
        again = app.screen
        assert again is not dialog
        assert again.query_one("#race-values").value == "sgd,adam@0.01"
        assert again.query_one("#race-parallel").value == "2"


async def test_quitting_a_race_says_how_to_finish_it_and_resume_race_dir_continues_it(tiny_data, tmp_path):
    from core.race import plan_from_race_file
    from core.runlog import iter_records

    race_dir = tmp_path / "race"
    plan = plan_race(BASE.with_overrides(epochs=100_000), "seed=1,2,3")
    app = CompareApp(plan=plan, race_dir=race_dir, data_dir=str(tiny_data), parallel=2)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.compare_screen
        await wait_for(pilot, lambda: all(screen.standings[n].epochs for n in ("seed-1", "seed-2")),
                       "both entrants' first epochs")
        await pilot.press("q")
        await wait_for(pilot, lambda: not screen.race_running, "the entrants to save and the app to quit")
    assert app.race_resume_hint == f"mnist-tui --resume {race_dir}"
    ends = [list(iter_records(race_dir / n / "metrics.jsonl"))[-1] for n in ("seed-1", "seed-2")]
    assert all(e["status"] == "interrupted" and f"mnist-tui --resume {race_dir}" in e["reason"] for e in ends)
    assert not (race_dir / "seed-3").exists()

    loaded, _ = plan_from_race_file(race_dir)
    again = CompareApp(plan=loaded, race_dir=race_dir, data_dir=str(tiny_data), parallel=1, resume_race=True)
    async with again.run_test(size=(100, 30)) as pilot:
        screen = again.compare_screen
        # what each entrant did before is on screen at once, read back from its log
        assert screen.standings["seed-1"].epochs and screen.standings["seed-2"].epochs
        assert screen.standings["seed-3"].status == "waiting"
        await wait_for(pilot, lambda: screen.standings["seed-1"].status == "running", "seed-1 to continue")
        config = next(r for r in reversed(list(iter_records(race_dir / "seed-1" / "metrics.jsonl")))
                      if r["type"] == "config")
        assert config["resumed"] is True
        await pilot.press("x")
        await wait_for(pilot, lambda: not screen.race_running, "the race to stop")
