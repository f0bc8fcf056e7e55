"""Leaderboard ranking, CSV and Markdown export, on hand-made events and on a real tiny run."""

from __future__ import annotations

import csv
import io

from core.config import RunConfig
from core.engine import Trainer
from core.events import ConfigEvent, EndEvent, EpochEvent, StepEvent
from core.export import epochs_csv, export, leaderboard_markdown, safe_file_name
from core.leaderboard import Standing, rank, read_standing


def config_event(epochs: int = 3, lr: float = 0.01, resumed: bool = False, start_epoch: int = 1,
                 start_step: int = 0) -> ConfigEvent:
    return ConfigEvent(config={"epochs": epochs, "lr": lr}, run_dir="r", device="cpu", data_source="x",
                       bundled_data=False, train_size=1000, test_size=100, steps_per_epoch=10, total_steps=30,
                       classes=[str(d) for d in range(10)], resumed=resumed, start_epoch=start_epoch,
                       start_step=start_step)


def epoch_event(epoch: int, test_acc: float, test_loss: float = 0.5, seconds: float = 2.0, rate: float = 500.0):
    return EpochEvent(epoch=epoch, step=10 * epoch, train_loss=0.4, train_acc=0.9, test_loss=test_loss,
                      test_acc=test_acc, seconds=seconds, samples_per_s=rate, lr=0.01, time=2.5 * epoch)


def standing(name: str, *epochs: EpochEvent, end: str | None = "finished") -> Standing:
    s = Standing(name)
    s.update(config_event())
    for e in epochs:
        s.update(e)
    if end:
        s.update(EndEvent(status=end, reason="", epoch=len(epochs), step=10 * len(epochs), time=2.5 * len(epochs)))
    return s


def test_standing_tracks_best_epoch_throughput_and_status():
    s = standing("a", epoch_event(1, 0.90, seconds=2.0, rate=500), epoch_event(2, 0.95, seconds=1.0, rate=1000),
                 epoch_event(3, 0.94), end=None)
    assert s.status == "running" and s.epoch_reached == 3 and s.planned_epochs == 3
    assert s.best.epoch == 2 and s.best_test_acc == 0.95 and s.final_test_acc == 0.94
    assert s.samples_per_s == (500 * 2 + 1000 * 1 + 500 * 2) / 5
    s.update(EndEvent(status="stopped", reason="by user", epoch=3, step=30, time=9.0))
    assert s.status == "stopped" and s.elapsed == 9.0


def test_resumed_run_drops_the_steps_logged_after_its_checkpoint():
    s = Standing("a")
    s.update(config_event())
    for step in range(1, 8):
        s.update(StepEvent(epoch=1, step=step, seen=100 * step, epoch_size=1000, loss=1.0 / step, lr=0.01,
                           time=step, samples_per_s=100, total_steps=30))
    s.update(config_event(resumed=True, start_epoch=1, start_step=5))
    assert [p[0] for p in s.losses] == [1, 2, 3, 4, 5]
    assert s.losses[-1][1] == 0.5  # x is in epochs: 500 of 1000 seen in epoch 1


def test_rank_by_best_accuracy_then_loss_then_speed_and_unstarted_last():
    slow = standing("slow", epoch_event(1, 0.97, test_loss=0.1, seconds=9))
    fast = standing("fast", epoch_event(1, 0.97, test_loss=0.1, seconds=1))
    sure = standing("sure", epoch_event(1, 0.97, test_loss=0.05, seconds=9))
    best = standing("best", epoch_event(1, 0.90), epoch_event(2, 0.99))
    waiting = Standing("waiting")
    assert [s.name for s in rank([waiting, slow, fast, sure, best])] == ["best", "sure", "fast", "slow", "waiting"]


def test_markdown_leaderboard_is_a_ranked_table():
    board = leaderboard_markdown([standing("b|x", epoch_event(1, 0.5)), standing("a", epoch_event(1, 0.9)),
                                  Standing("c")])
    lines = board.splitlines()
    assert lines[0] == ("| # | run | lr | best test acc | at epoch | final test acc | epochs | time | samples/s "
                        "| status | device |")
    assert lines[1].startswith("|---:|---|---:|")
    assert lines[2] == "| 1 | a | 0.01 | 90.00% | 1 | 90.00% | 1/3 | 00:02 | 500 | finished | cpu |"
    assert lines[3].startswith("| 2 | b\\|x | 0.01 | 50.00% |")
    assert lines[4] == "| - | c | - | - | - | - | 0 | - | - | waiting | - |"


def test_csv_has_one_row_per_epoch_and_a_long_format_with_the_run():
    a = standing("a", epoch_event(1, 0.5), epoch_event(2, 0.6))
    b = standing("b", epoch_event(1, 0.7))
    rows = list(csv.DictReader(io.StringIO(epochs_csv([a]))))
    assert [(r["epoch"], r["test_acc"]) for r in rows] == [("1", "0.5"), ("2", "0.6")]
    combined = list(csv.DictReader(io.StringIO(epochs_csv([a, b], with_run=True))))
    assert [(r["run"], r["epoch"]) for r in combined] == [("a", "1"), ("a", "2"), ("b", "1")]
    assert safe_file_name("race/optimizer-sgd") == "race_optimizer-sgd"
    assert safe_file_name("epochs") == "run-epochs"


def test_export_of_a_real_run_matches_its_log(tiny_data, tmp_path):
    config = RunConfig(model="mlp", hidden=(32,), batch_size=100, epochs=2, sample_count=2)
    Trainer(config, tmp_path / "run", data_dir=str(tiny_data)).run()
    s = read_standing("run", tmp_path / "run")
    assert s.status == "finished" and s.epoch_reached == 2
    written = export([s], tmp_path / "out")
    assert [p.name for p in written] == ["run.csv", "epochs.csv", "leaderboard.md"]
    rows = list(csv.DictReader((tmp_path / "out" / "run.csv").open()))
    assert [float(r["test_acc"]) for r in rows] == [e.test_acc for e in s.epochs]
    assert "| 1 | run | 0.01 |" in (tmp_path / "out" / "leaderboard.md").read_text()


def test_a_run_without_an_end_record_reads_as_unfinished(tiny_data, tmp_path):
    config = RunConfig(model="linear", batch_size=100, epochs=1, sample_count=0)
    Trainer(config, tmp_path / "run", data_dir=str(tiny_data)).run()
    log = tmp_path / "run" / "metrics.jsonl"
    log.write_text("".join(line for line in log.open() if '"type":"end"' not in line))
    assert read_standing("run", tmp_path / "run").status == "unfinished"
