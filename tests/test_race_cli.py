"""`--race`, `--compare` and `--export` from the command line: exit codes, files, and what is printed."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re

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
    assert len(rows) == 3 and all(re.search(r"\| finished \| cpu( ×\d+)? \|$", row) for row in rows)
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


# ---- --entrant K: one entrant per process (a SLURM array, a shell loop) into one race dir ----

def entrant_command(tiny_data, race_dir, k: int, spec: str = "seed=1,2,3") -> list[str]:
    import sys

    return [sys.executable, "-m", "core.cli", "--no-ui", "--race", spec, *SMALL, "--train-size", "200",
            "--data-dir", str(tiny_data), "--run-dir", str(race_dir), "--entrant", str(k)]


def test_two_entrants_started_at_once_share_one_race_dir(tiny_data, tmp_path):
    """Both arrive together: race.json is created once, whole; each trains its own entrant."""
    import os
    import subprocess
    from pathlib import Path

    from core.race import RACE_FILE, read_race_file

    race_dir = tmp_path / "race"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen(entrant_command(tiny_data, race_dir, k), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for k in (0, 2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    data = read_race_file(race_dir)
    assert [e["name"] for e in data["entrants"]] == ["seed-1", "seed-2", "seed-3"]
    assert sorted(p.name for p in race_dir.iterdir()) == sorted([RACE_FILE, "leaderboard.md", "seed-1", "seed-3"])
    for name in ("seed-1", "seed-3"):
        records = [json.loads(line) for line in (race_dir / name / "metrics.jsonl").read_text().splitlines()]
        assert records[-1]["type"] == "end" and records[-1]["status"] == "finished"
    assert "entrant 0 of 3" in outputs[0][0] and "entrant 2 of 3" in outputs[1][0]
    # the third entrant, later and in this process: the same plan is accepted, the board has all three
    code, out, err = run_main(entrant_command(tiny_data, race_dir, 1)[3:])
    assert code == 0, err
    assert (race_dir / "leaderboard.md").read_text().count("| finished |") == 3


def test_the_same_entrant_twice_is_refused(tiny_data, tmp_path):
    from core.runlog import RunLog

    race_dir = tmp_path / "race"
    argv = entrant_command(tiny_data, race_dir, 0)[3:]
    assert run_main(argv)[0] == 0
    code, _, err = run_main(argv)  # it already ran: refused, with the command that would finish it
    assert code == 1 and err.count("\n") == 1
    assert f"entrant 0 (seed-1) has already run in {race_dir / 'seed-1'}" in err
    assert f"--resume {race_dir} --entrant 0" in err
    # while another process trains it (holds its run-dir lock): refused, even with --resume
    (race_dir / "seed-2").mkdir()
    log = RunLog(race_dir / "seed-2")
    try:
        code, _, err = run_main(entrant_command(tiny_data, race_dir, 1)[3:])
        assert code == 1 and "entrant 1 (seed-2) is already training" in err
        code, _, err = run_main(["--resume", str(race_dir), "--entrant", "1", "--no-ui"])
        assert code == 1 and "is already training" in err
    finally:
        log.close()
    # a different race into the same directory is refused before anything is written
    code, _, err = run_main(entrant_command(tiny_data, race_dir, 0, spec="seed=1,2,4")[3:])
    assert code == 2 and "holds a different race" in err


@pytest.mark.parametrize("argv, words", [
    (["--race", "seed=1,2", "--entrant", "0"], "--entrant trains one entrant headless"),
    (["--race", "seed=1,2", "--entrant", "2", "--no-ui", "--run-dir", "r"], "this race has entrants 0 to 1"),
    (["--race", "seed=1,2", "--entrant", "0", "--no-ui"], "--entrant needs --run-dir RACE_DIR"),
    (["--entrant", "0", "--no-ui"], "--entrant is for races"),
    (["--parallel", "2", "--no-ui"], "--parallel is for races"),
    (["--race", "seed=1,2", "--parallel", "0", "--no-ui"], "invalid --parallel 0"),
])
def test_bad_race_scaling_options_are_one_line_and_exit_2(argv, words):
    code, _, err = run_main(argv)
    assert code == 2
    assert err.count("\n") == 1 and words in err, err


def test_resume_race_dir_finishes_the_race_headless(tiny_data, tmp_path):
    race_dir = tmp_path / "race"
    assert run_main(entrant_command(tiny_data, race_dir, 1)[3:])[0] == 0  # only seed-2 ran so far
    code, out, err = run_main(["--resume", str(race_dir), "--no-ui", "--parallel", "2"])
    assert code == 0, err
    assert "seed-2: finished, kept as it is" in out
    assert (race_dir / "leaderboard.md").read_text().count("| finished |") == 3
    code, _, err = run_main(["--resume", str(race_dir), "--no-ui", "--lr", "0.1"])
    assert code == 2 and "finishes the race as it was planned; drop --lr" in err
