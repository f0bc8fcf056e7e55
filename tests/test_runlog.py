"""The run directory format: events <-> JSON records, metrics.jsonl writing and tailing, config, checkpoints.

(Crash-safety of checkpoints in depth lives in the reliability tests; these pin the format.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core import runlog
from core.events import (END_STATUSES, EVENT_TYPES, ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, SamplesEvent,
                         StateEvent, StepEvent, from_record, to_record)

EVENTS = [
    ConfigEvent(config={"name": "t", "epochs": 2}, run_dir="runs/x", device="cpu", data_source="MNIST from d",
                bundled_data=False, train_size=600, test_size=200, steps_per_epoch=10, total_steps=20,
                classes=[str(d) for d in range(10)], versions={"torch": "2"}, parameters=7850),
    StepEvent(epoch=1, step=5, seen=320, epoch_size=600, loss=1.25, lr=0.01, time=0.5, samples_per_s=640.0,
              total_steps=20),
    EpochEvent(epoch=1, step=10, train_loss=1.0, train_acc=0.7, test_loss=0.9, test_acc=0.75, seconds=1.5,
               samples_per_s=400.0, lr=0.01, time=1.6),
    SamplesEvent(epoch=1, indices=[3], labels=[7], predictions=[1], confidences=[0.5],
                 images=[SamplesEvent.encode_image(bytes(range(256)) * 3 + bytes(16))]),
    ConfusionEvent(epoch=1, matrix=[[1, 0], [2, 3]]),
    StateEvent(state="lr", step=7, time=0.7, lr=0.5, message="learning rate set to 0.5"),
    StateEvent(state="evaluating", step=9, time=0.9, message="evaluating epoch 1 on 10,000 test images"),
    EndEvent(status="finished", reason="trained 2 epochs", epoch=3, step=20, time=3.0, checkpoint="c.pt",
             best_test_acc=0.8, final_test_acc=0.8),
]


def test_every_event_type_round_trips_through_json() -> None:
    assert {e.type for e in EVENTS} == set(EVENT_TYPES)
    for event in EVENTS:
        record = json.loads(json.dumps(to_record(event)))
        assert next(iter(record)) == "type" and record["type"] == event.type
        assert from_record(record) == event


def test_design_fields_are_in_the_records() -> None:
    """The fields design.md promises readers of metrics.jsonl."""
    step, epoch, end = (to_record(e) for e in (EVENTS[1], EVENTS[2], EVENTS[-1]))
    assert {"epoch", "step", "seen", "loss", "lr", "time"} <= set(step)
    assert {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "samples_per_s"} <= set(epoch)
    assert {"status", "reason"} <= set(end) and end["status"] in END_STATUSES


def test_from_record_is_tolerant() -> None:
    assert from_record({"type": "nonsense"}) is None
    assert from_record({"no": "type"}) is None
    assert from_record({"type": "step", "epoch": 1}) is None  # missing fields: skipped, not raised
    record = to_record(EVENTS[1]) | {"added_later": True}
    assert from_record(record) == EVENTS[1]


def test_samples_event_image_bytes() -> None:
    assert EVENTS[3].image_bytes(0) == bytes(range(256)) * 3 + bytes(16)


def test_default_run_dir_is_timestamped_and_never_reused(tmp_path: Path) -> None:
    first = runlog.default_run_dir("cnn-adam", tmp_path)
    assert re.fullmatch(r"\d{8}-\d{6}-cnn-adam", first.name) and first.parent == tmp_path
    first.mkdir()
    second = runlog.default_run_dir("cnn-adam", tmp_path)
    if second.name[:15] == first.name[:15]:  # same second: a suffix, never the same directory
        assert second.name == first.name + "-2"
    assert second != first


def test_prepare_run_dir(tmp_path: Path) -> None:
    fresh = runlog.prepare_run_dir(tmp_path / "a" / "b")
    assert fresh.is_dir() and not any(fresh.iterdir())  # the write probe is cleaned up
    assert runlog.prepare_run_dir(fresh) == fresh       # an empty directory may be reused
    (fresh / "metrics.jsonl").write_text("")
    with pytest.raises(runlog.RunDirError, match="already exists.*--resume"):
        runlog.prepare_run_dir(fresh)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(runlog.RunDirError, match="already exists"):
        runlog.prepare_run_dir(a_file)
    with pytest.raises(runlog.RunDirError, match="not writable"):
        runlog.prepare_run_dir(a_file / "run")
    with pytest.raises(runlog.RunDirError, match="cannot resume .* no checkpoint.pt"):
        runlog.prepare_run_dir(fresh, resume=True)


def test_config_round_trip_and_errors(tmp_path: Path) -> None:
    runlog.write_config(tmp_path, {"config": {"lr": 0.1}, "data_dir": None})
    assert runlog.read_config(tmp_path) == {"config": {"lr": 0.1}, "data_dir": None}
    assert not [p for p in tmp_path.iterdir() if p.name != runlog.CONFIG_FILE]  # no temp files left
    with pytest.raises(runlog.RunDirError, match="not a run directory"):
        runlog.read_config(tmp_path / "nope")
    (tmp_path / runlog.CONFIG_FILE).write_text("{broken")
    with pytest.raises(runlog.RunDirError, match="cannot read"):
        runlog.read_config(tmp_path)


def test_runlog_writes_one_line_per_event_and_reads_back(tmp_path: Path) -> None:
    log = runlog.RunLog(tmp_path)
    for event in EVENTS:
        log(event)
    log.close()
    lines = (tmp_path / runlog.METRICS_FILE).read_text().splitlines()
    assert len(lines) == len(EVENTS) and all(line.startswith('{"type":') for line in lines)
    assert runlog.read_events(tmp_path) == EVENTS
    again = runlog.RunLog(tmp_path)  # a resumed run appends
    again(EVENTS[0])
    again.close()
    assert runlog.read_events(tmp_path) == EVENTS + [EVENTS[0]]


def test_iter_records_skips_damage_and_an_unfinished_last_line(tmp_path: Path) -> None:
    path = tmp_path / runlog.METRICS_FILE
    good = json.dumps(to_record(EVENTS[1]))
    path.write_text(f"{good}\nnot json\n[1, 2]\n\n{good}\n" + good[:20])
    assert list(runlog.iter_records(path)) == [to_record(EVENTS[1])] * 2
    with pytest.raises(runlog.RunDirError):
        runlog.read_events(tmp_path / "missing")


def test_metrics_tail_follows_a_growing_file(tmp_path: Path) -> None:
    path = tmp_path / runlog.METRICS_FILE
    tail = runlog.MetricsTail(path)
    assert tail.poll() == [] and tail.missing
    line = json.dumps(to_record(EVENTS[1])) + "\n"
    path.write_text(line[:30])
    assert tail.poll() == [] and not tail.missing  # half a line is held back
    with open(path, "a") as fh:
        fh.write(line[30:] + line)
    assert tail.poll() == [EVENTS[1], EVENTS[1]]
    assert tail.poll() == []
    path.write_text(json.dumps(to_record(EVENTS[2])) + "\n")  # truncated and rewritten: start over
    assert tail.poll() == [EVENTS[2]] and tail.restarted
    path.unlink()
    assert tail.poll() == [] and tail.missing


def test_checkpoint_round_trip_and_refusals(tmp_path: Path) -> None:
    import torch

    path = tmp_path / runlog.CHECKPOINT_FILE
    state = {"format": 1, "model": {"w": torch.arange(4.0)}, "epoch": 2}
    runlog.save_checkpoint(path, state)
    back = runlog.load_checkpoint(path)
    assert back["epoch"] == 2 and torch.equal(back["model"]["w"], torch.arange(4.0))
    with pytest.raises(runlog.CheckpointError, match="no checkpoint"):
        runlog.load_checkpoint(tmp_path / "none.pt")
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(runlog.CheckpointError, match="damaged or not a mnist-tui checkpoint"):
        runlog.load_checkpoint(path)
    torch.save({"weights": torch.zeros(1)}, path)
    with pytest.raises(runlog.CheckpointError, match="not a mnist-tui checkpoint"):
        runlog.load_checkpoint(path)
