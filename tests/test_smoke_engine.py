"""End-to-end smoke test of the engine on generated data: it trains, logs and checkpoints."""

from __future__ import annotations

from core.config import RunConfig
from core.engine import Trainer
from core.events import EndEvent, EpochEvent, from_record
from core.runlog import iter_records, load_checkpoint


def test_engine_learns_tiny_data_and_writes_run_dir(tiny_data, tmp_path):
    events = []
    config = RunConfig(model="mlp", hidden=(64,), optimizer="adam", lr=0.003, batch_size=32, epochs=3)
    end = Trainer(config, tmp_path / "run", [events.append], data_dir=str(tiny_data)).run()
    assert end.status == "finished", end.reason
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert epochs[-1].test_acc > 0.9
    records = list(iter_records(tmp_path / "run" / "metrics.jsonl"))
    assert records[0]["type"] == "config" and records[-1]["type"] == "end"
    assert isinstance(from_record(records[-1]), EndEvent)
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["epoch"] == 4
