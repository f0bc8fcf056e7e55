"""`--race`, `--compare` and `--export` from the command line: exit codes, files, and what is printed."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import pytest

from core.cli import main

SMALL = ["--model", "mlp", "--hidden", "32", "--epochs", "1", "--batch-size", "100"]


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def init_race(tiny_data, tmp_path_factory):
    """One headless three-entrant race, exported, shared by the tests below."""
    race_dir = tmp_path_factory.mktemp("cli") / "race"
    code, out, err = run_main(["--no-ui", "--race", "init=xavier,kaiming,lecun", *SMALL, "--data-dir", str(tiny_data),
                               "--run-dir", str(race_dir), "--export", "csv"])
    return race_dir, code, out, err


def test_headless_race_trains_every_entrant_and_prints_the_leaderboard(init_race):
    race_dir, code, out, err = init_race
    assert code == 0, err
    assert "Race init 1/3: init-xavier-uniform (lr 0.01)" in out
    assert out.count("Run finished: trained 1 epochs") == 3
    board = out[out.index("Leaderboard: init race"):]
    rows = [line for line in board.splitlines() if line.startswith("| ") and "init-" in line]
    assert len(rows) == 3 and all(row.endswith("| finished |") for row in rows)
    assert [row.split(" | ")[0] for row in rows] == ["| 1", "| 2", "| 3"]
    table = [line for line in board.splitlines() if line.startswith("|")]
    assert (race_dir / "leaderboard.md").read_text().splitlines() == table
    for name in ("init-xavier-uniform", "init-kaiming-uniform", "init-lecun"):
        assert (race_dir / name / "metrics.jsonl").is_file()


def test_race_export_writes_csv_per_entrant_and_the_markdown_leaderboard(init_race):
    race_dir, code, out, _ = init_race
    export = race_dir / "export"
    assert sorted(p.name for p in export.iterdir()) == [
        "epochs.csv", "init-kaiming-uniform.csv", "init-lecun.csv", "init-xavier-uniform.csv", "leaderboard.md"]
    rows = list(csv.DictReader((export / "epochs.csv").open()))
    assert sorted(r["run"] for r in rows) == ["init-kaiming-uniform", "init-lecun", "init-xavier-uniform"]
    assert f"wrote {export / 'leaderboard.md'}" in out


def test_compare_export_reads_run_dirs_and_race_dirs(init_race, tmp_path):
    race_dir = init_race[0]
    code, out, err = run_main(["--compare", str(race_dir / "init-lecun"), str(race_dir / "init-xavier-uniform"),
                               "--export", "csv", "--export-dir", str(tmp_path / "out")])
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "epochs.csv", "init-lecun.csv", "init-xavier-uniform.csv", "leaderboard.md"]
    board = (tmp_path / "out" / "leaderboard.md").read_text()
    assert board.count("| finished |") == 2
    code, _, err = run_main(["--compare", str(race_dir), "--export", "csv", "--export-dir", str(tmp_path / "all")])
    assert code == 0, err
    assert (tmp_path / "all" / "leaderboard.md").read_text() == (race_dir / "leaderboard.md").read_text()


def test_race_in_json_mode_tags_every_record_with_its_entrant(tiny_data, tmp_path):
    code, out, err = run_main(["--no-ui", "--json", "--race", "seed=1,2", "--model", "linear", "--epochs", "1",
                               "--batch-size", "200", "--data-dir", str(tiny_data), "--run-dir", str(tmp_path / "r")])
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["entrant"] for r in records[:-1]} == {"seed-1", "seed-2"}
    seed2 = [r["type"] for r in records if r.get("entrant") == "seed-2"]
    assert seed2[0] == "config" and seed2[-1] == "end"
    assert records[-1]["type"] == "leaderboard" and len(records[-1]["rows"]) == 2


def test_a_failed_entrant_makes_the_race_exit_1_with_one_line(tiny_data, tmp_path):
    code, out, err = run_main(["--no-ui", "--race", "lr=1e6,0.01", *SMALL, "--data-dir", str(tiny_data),
                               "--run-dir", str(tmp_path / "r")])
    assert code == 1
    assert err.count("\n") == 1 and "1 of 2 race entrants failed; lr-1e+06: non-finite loss" in err
    assert "| failed |" in (tmp_path / "r" / "leaderboard.md").read_text()


@pytest.mark.parametrize("argv, words", [
    (["--race", "optimiser=sgd,adam", "--no-ui"], "invalid --race field 'optimiser'"),
    (["--race", "seed=1,2,3,4,5,6,7,8,9", "--no-ui"], "a race takes at most 8 entrants"),
    (["--race", "lr=0.1,x", "--no-ui"], "invalid --race value 'x': invalid learning rate 'x': must be a number"),
    (["--race", "optimizer=sgd,adam", "--optimizer", "adam", "--no-ui"], "--optimizer conflicts with --race"),
    (["--race", "seed=1,2", "--json"], "--json prints records on stdout and needs --no-ui"),
    (["--race", "seed=1,2", "--export", "csv"], "--export with --race needs --no-ui"),
    (["--race", "seed=1,2", "--compare", "x"], "--compare and --race cannot be combined"),
    (["--export", "csv"], "--export needs runs"),
    (["--export", "json"], "argument --export: invalid choice"),
    (["--compare", "x", "--lr", "0.1"], "--compare shows runs as they were trained; drop --lr"),
    (["--compare", "x", "--no-ui"], "--compare opens the app; with --no-ui add --export csv"),
    (["--compare", "x", "--export-dir", "y"], "--export-dir needs --export csv"),
])
def test_bad_usage_is_one_line_and_exit_2(argv, words):
    code, _, err = run_main(argv)
    assert code == 2
    assert err.count("\n") == 1 and words in err, err


def test_compare_of_something_that_is_not_a_run_is_exit_1(tmp_path):
    code, _, err = run_main(["--compare", str(tmp_path), "--export", "csv"])
    assert code == 1 and err.count("\n") == 1 and "neither a run directory" in err
    code, _, err = run_main(["--compare", str(tmp_path / "missing")])
    assert code == 1 and "does not exist" in err


def test_race_dir_that_exists_is_refused_before_training(tiny_data, tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "keep.txt").write_text("x")
    code, _, err = run_main(["--no-ui", "--race", "seed=1,2", "--data-dir", str(tiny_data), "--run-dir", str(tmp_path / "r")])
    assert code == 1 and "race directory" in err and "already exists" in err


def test_race_and_compare_without_no_ui_open_the_compare_app(init_race):
    calls = []

    def start_app(**kwargs):  # what tui.entry passes core: the app's launcher
        calls.append(kwargs)
        return 0

    assert main(["--race", "optimizer=sgd,adam", "--model", "linear", "--run-dir", "somewhere"], start_app) == 0
    assert calls[-1]["race"].field == "optimizer" and str(calls[-1]["run_dir"]) == "somewhere"
    assert [e.config.optimizer for e in calls[-1]["race"].entrants] == ["sgd", "adam"]
    race_dir = init_race[0]
    assert main(["--compare", str(race_dir), str(race_dir.parent)], start_app) == 1  # the second is no run: refused first
    assert main(["--compare", str(race_dir)], start_app) == 0
    assert calls[-1]["compare"] == [race_dir]
