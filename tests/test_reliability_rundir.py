"""Run directories are never overwritten silently, a live run cannot be resumed twice at once, and
the same seed on the same device gives the same run (with its config and versions recorded).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from core import runlog
from core.cli import main
from core.config import RunConfig
from core.engine import Trainer
from core.events import EpochEvent, StepEvent

QUICK = ["--no-ui", "--model", "mlp", "--hidden", "16", "--batch-size", "100", "--epochs", "1", "--device", "cpu"]


def cli(argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir())}


def test_runs_started_in_the_same_second_get_their_own_directories(tiny_data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runlog.time, "strftime", lambda fmt, *a: "20261123-120000")
    for _ in range(2):
        code, err = cli([*QUICK, "--data-dir", str(tiny_data), "--name", "same"], capsys)
        assert code == 0, err
    dirs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert dirs == ["20261123-120000-same", "20261123-120000-same-2"]
    for name in dirs:
        records = list(runlog.iter_records(tmp_path / "runs" / name / runlog.METRICS_FILE))
        assert [r["type"] for r in records].count("config") == 1 and records[-1]["status"] == "finished"


def _racing_default_run_dir(monkeypatch, raced: Path) -> None:
    """The first name default_run_dir offers is taken by another process before we create it."""
    real = runlog.default_run_dir
    offered: list[Path] = []

    def racing(name, base=None):
        if not offered:
            raced.mkdir(parents=True)
            offered.append(raced)
            return raced
        offered.append(real(name, base))
        return offered[-1]

    monkeypatch.setattr(runlog, "default_run_dir", racing)


def test_a_name_taken_between_check_and_create_is_not_shared(tmp_path, monkeypatch):
    """Another process creates the directory after default_run_dir saw it free: mkdir decides."""
    raced = tmp_path / "runs" / "taken"
    _racing_default_run_dir(monkeypatch, raced)
    mine = runlog.create_new_run_dir("taken", tmp_path / "runs")
    assert mine != raced and mine.is_dir() and not any(mine.iterdir())


@pytest.mark.parametrize("contents", ["a finished run", "someone's files"])
def test_run_dir_that_is_not_empty_is_refused_and_left_untouched(tiny_data, tmp_path, capsys, contents):
    run_dir = tmp_path / "run"
    if contents == "a finished run":
        assert cli([*QUICK, "--data-dir", str(tiny_data), "--run-dir", str(run_dir)], capsys)[0] == 0
    else:
        run_dir.mkdir()
        (run_dir / "notes.txt").write_text("mine")
    before = snapshot(run_dir)
    code, err = cli([*QUICK, "--data-dir", str(tiny_data), "--run-dir", str(run_dir), "--epochs", "2"], capsys)
    assert code == 1 and err.count("\n") == 1
    assert "already exists" in err and f"--resume {run_dir}" in err
    assert snapshot(run_dir) == before


def test_empty_existing_run_dir_is_used(tiny_data, tmp_path, capsys):
    run_dir = tmp_path / "made-by-hand"
    run_dir.mkdir()
    code, err = cli([*QUICK, "--data-dir", str(tiny_data), "--run-dir", str(run_dir)], capsys)
    assert code == 0, err
    assert (run_dir / runlog.CHECKPOINT_FILE).is_file()


def test_resuming_a_run_that_is_still_being_written_is_refused(tiny_data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert cli([*QUICK, "--data-dir", str(tiny_data), "--run-dir", str(run_dir)], capsys)[0] == 0
    live = runlog.RunLog(run_dir)  # what a running trainer holds (tests/test_reliability_signals.py
    try:                           # checks the same across two processes)
        before = snapshot(run_dir)
        code, err = cli(["--resume", str(run_dir), "--no-ui", "--epochs", "2"], capsys)
        assert code == 1 and err.count("\n") == 1 and "in use" in err and f"--watch {run_dir}" in err
        assert snapshot(run_dir) == before
    finally:
        live.close()
    code, err = cli(["--resume", str(run_dir), "--no-ui", "--epochs", "2"], capsys)
    assert code == 0, err


# ---- reproducibility ----

CONFIG = RunConfig(model="mlp", hidden=(32, 16), batch_norm=True, dropout=0.2, optimizer="adam", lr=0.003,
                   batch_size=50, epochs=2, seed=11, device="cpu", log_interval=3)


def metrics(events: list) -> list[tuple]:
    return [(e.step, e.loss) if isinstance(e, StepEvent) else (e.epoch, e.train_loss, e.train_acc, e.test_loss, e.test_acc)
            for e in events if isinstance(e, (StepEvent, EpochEvent))]


def train(config: RunConfig, run_dir: Path, tiny_data) -> tuple[list, dict]:
    events: list = []
    end = Trainer(config, run_dir, [events.append], data_dir=str(tiny_data)).run()
    assert end.status == "finished", end.reason
    return events, runlog.load_checkpoint(run_dir / runlog.CHECKPOINT_FILE)["model"]


def test_same_seed_and_device_give_the_same_run_twice(tiny_data, tmp_path):
    first, weights1 = train(CONFIG, tmp_path / "a", tiny_data)
    torch.manual_seed(12345)  # whatever the process did before must not matter
    torch.randn(100)
    second, weights2 = train(CONFIG, tmp_path / "b", tiny_data)
    assert metrics(first) == metrics(second) and len(metrics(first)) >= 10
    assert all(torch.equal(weights1[k], weights2[k]) for k in weights1)
    other, _ = train(replace(CONFIG, seed=12), tmp_path / "c", tiny_data)
    assert metrics(other) != metrics(first), "the seed really drives the run"


def test_config_json_records_the_config_and_library_versions(tiny_data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, err = cli([*QUICK, "--data-dir", str(tiny_data), "--run-dir", str(run_dir), "--seed", "42", "--lr", "0.02"],
                    capsys)
    assert code == 0, err
    saved = json.loads((run_dir / runlog.CONFIG_FILE).read_text())
    assert RunConfig.from_dict(saved["config"]) == RunConfig(
        model="mlp", hidden=(16,), batch_size=100, epochs=1, device="cpu", seed=42, lr=0.02)
    assert saved["device"] == "cpu" and str(tiny_data) in saved["data_source"]
    versions = saved["versions"]
    assert versions["torch"] == torch.__version__
    from importlib.metadata import version

    assert versions["torchvision"] == version("torchvision")  # read without importing it (seconds)
    assert versions["python"].count(".") == 2 and versions["platform"]



def test_the_apps_next_run_dir_is_claimed_not_just_named(tmp_path, monkeypatch):
    from tui.app import MnistApp

    raced = tmp_path / "runs" / "taken"
    _racing_default_run_dir(monkeypatch, raced)
    app = MnistApp(RunConfig(), run_dir=tmp_path / "runs" / "first")
    assert app._next_run_dir(RunConfig()) == tmp_path / "runs" / "first"  # --run-dir is the first run's
    second = app._next_run_dir(RunConfig())
    assert second != raced and second.parent == tmp_path / "runs" and second.is_dir()


def test_a_race_dir_is_claimed_not_just_named(tmp_path, monkeypatch):
    from core.race import create_race_dir, plan_race

    raced = tmp_path / "runs" / "taken"
    _racing_default_run_dir(monkeypatch, raced)
    race_dir = create_race_dir(plan_race(RunConfig(), "seed=1,2"), tmp_path / "runs")
    assert race_dir != raced and race_dir.is_dir() and not any(race_dir.iterdir())


async def test_app_start_where_no_run_dir_can_be_made_is_a_notice_not_a_crash(tmp_path):
    from tui.app import MnistApp

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    app = MnistApp(RunConfig(model="linear", epochs=1), run_dir=blocker / "first")
    app._cli_run_dir_used = True  # the next run goes beside --run-dir, inside a regular file: impossible
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert not app.lifecycle.active and app.run_status == "idle"
        assert any("cannot create run directory" in str(n.message) for n in app._notifications)
