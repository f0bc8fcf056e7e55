"""Tests aimed at mutants that survived the rest of the suite (issue 17): each one fails on the named
change to the code and passes on the real one.

- an infinite loss must fail the run at its own step (`_flush_interval` testing `isnan` instead of
  `not isfinite` let it through as a step record, logged as `Infinity`);
- atomic_write_bytes must fsync the file and its directory (dropping both fsyncs kept every test green);
- `--json` must flush each record (tests that set PYTHONUNBUFFERED=1 hid a missing flush);
- the CSV export must put each value under its own header (swapping train_loss and train_acc went unseen).
"""

from __future__ import annotations

import csv
import fcntl
import json
import math
import os
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from core import engine, runlog
from core.config import RunConfig
from core.engine import Trainer
from core.events import StepEvent
from core.export import export
from core.leaderboard import read_standing
from core.runlog import CHECKPOINT_FILE, METRICS_FILE, iter_records, load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 120.0


# ---- (a) an infinite loss ----

@pytest.mark.parametrize("interval", [1, 5])
def test_an_infinite_loss_fails_the_run_at_its_step_and_is_never_logged(tiny_data, tmp_path, monkeypatch, interval):
    """Step 3's loss is +inf (its gradients stay finite, so only the loss itself says so)."""
    calls = {"n": 0}

    def cross_entropy(*args, **kwargs):
        loss = F.cross_entropy(*args, **kwargs)
        calls["n"] += 1
        return loss + math.inf if calls["n"] == 3 else loss

    monkeypatch.setattr(engine, "F", SimpleNamespace(cross_entropy=cross_entropy))
    config = RunConfig(model="mlp", hidden=(16,), optimizer="sgd", lr=0.01, batch_size=32, epochs=1, device="cpu",
                       sample_count=0, log_interval=interval)
    events: list = []
    end = Trainer(config, tmp_path / "run", [events.append], data_dir=str(tiny_data)).run()
    assert end.status == "failed"
    assert "non-finite loss" in end.reason and " at step 3 " in end.reason and "inf" in end.reason
    assert all(math.isfinite(e.loss) and e.step < 3 for e in events if isinstance(e, StepEvent))

    def reject(constant: str):
        raise AssertionError(f"{constant} in metrics.jsonl")

    for line in (tmp_path / "run" / METRICS_FILE).read_text().splitlines():
        json.loads(line, parse_constant=reject)
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT_FILE)["step"] < 3


# ---- (b) fsync of the file and of its directory ----

def test_atomic_write_fsyncs_the_new_file_and_then_its_directory(tmp_path, monkeypatch):
    synced: list[tuple[int, bool]] = []  # (inode, is a directory) of every fsync, in order
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        synced.append((st.st_ino, stat.S_ISDIR(st.st_mode)))
        real_fsync(fd)

    monkeypatch.setattr(runlog.os, "fsync", fsync)
    target = tmp_path / "config.json"
    runlog.atomic_write_bytes(target, lambda fh: fh.write(b"{}"))
    assert target.read_bytes() == b"{}"
    file_ino, dir_ino = target.stat().st_ino, tmp_path.stat().st_ino
    assert (file_ino, False) in synced, "the file's data was not fsynced before the rename"
    assert (dir_ino, True) in synced, "the directory was not fsynced after the rename"
    assert synced.index((file_ino, False)) < synced.index((dir_ino, True))


def test_atomic_write_renames_a_temp_file_of_the_same_directory_that_resume_would_clean_up(tmp_path, monkeypatch):
    """The temp file must sit beside the target (a rename across file systems is a copy, not atomic)
    and carry the name that remove_stale_temp_files deletes after a kill -9 cut the write short."""
    renamed: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def replace(src, dst) -> None:
        renamed.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(runlog.os, "replace", replace)
    target = tmp_path / runlog.CHECKPOINT_FILE
    runlog.atomic_write_bytes(target, lambda fh: fh.write(b"weights"))
    [(src, dst)] = renamed
    assert dst == target and src.parent == target.parent and not src.exists()
    src.write_bytes(b"half a checkpoint")  # what a kill -9 before the rename leaves behind
    assert runlog.remove_stale_temp_files(tmp_path) == [src] and not src.exists()
    assert target.read_bytes() == b"weights"


# ---- step records: the interval's mean loss and its real rate ----

def test_step_records_carry_the_mean_loss_and_the_rate_of_their_interval(tiny_data, tmp_path, monkeypatch):
    losses: list[float] = []
    arrivals: list[tuple[float, StepEvent]] = []

    def cross_entropy(*args, **kwargs):
        loss = F.cross_entropy(*args, **kwargs)
        if torch.is_grad_enabled():  # a training step, not the evaluation
            losses.append(float(loss.detach()))  # a host sync per step: fine in a test, never in the engine
        return loss

    monkeypatch.setattr(engine, "F", SimpleNamespace(cross_entropy=cross_entropy))
    config = RunConfig(model="mlp", hidden=(16,), batch_size=32, epochs=2, device="cpu", sample_count=0,
                       log_interval=5)

    def sink(event) -> None:
        if isinstance(event, StepEvent):
            arrivals.append((time.perf_counter(), event))

    end = Trainer(config, tmp_path / "run", [sink], data_dir=str(tiny_data)).run()
    assert end.status == "finished"
    previous_step = 0
    for _, event in arrivals:
        interval = losses[previous_step:event.step]
        assert event.loss == pytest.approx(sum(interval) / len(interval), rel=1e-5), event.step
        previous_step = event.step
    # samples/s is the interval's images over its own duration: compare with the gaps between
    # arrivals (median of the ratios, so a preempted interval cannot decide it; 4x either way)
    ratios = []
    for (t0, a), (t1, b) in zip(arrivals, arrivals[1:]):
        if b.epoch == a.epoch:  # an evaluation falls between epochs, not inside an interval
            ratios.append(b.samples_per_s * (t1 - t0) / (b.seen - a.seen))
    ratios.sort()
    assert 0.25 < ratios[len(ratios) // 2] < 4, ratios


# ---- (c) --json flushes each record ----

def _child_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/wchan").read_text().strip()
    except OSError:
        return ""


@pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(fcntl, "F_SETPIPE_SZ"),
                    reason="needs Linux pipe sizing and /proc")
def test_json_records_reach_a_pipe_one_by_one_without_pythonunbuffered(tiny_data, tmp_path):
    """The real command writes into a pipe that is already full, with Python's default buffering.

    A flushed record is written at once, so the child blocks in that write with exactly one record
    logged. Without the flush the records pile up in an 8 KiB buffer and the child runs on: it
    blocks only after many records (or finishes). Then the test reads the first record while the
    run is still going, stops the run with SIGTERM, and checks stdout and metrics.jsonl agree.
    """
    if _child_state(os.getpid()) == "":
        pytest.skip("/proc/PID/wchan not readable here")
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    os.set_blocking(write_end, False)
    filler = 0
    try:
        while True:
            filler += os.write(write_end, b"#" * 512)
    except BlockingIOError:
        pass
    os.set_blocking(write_end, True)
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "MNIST_TUI_DATA")}
    env.update(MNIST_TUI_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    args = [sys.executable, "-m", "core.cli", "--no-ui", "--json", "--data-dir", str(tiny_data),
            "--run-dir", str(run_dir), "--model", "mlp", "--hidden", "16", "--batch-size", "32", "--epochs", "200",
            "--log-interval", "1"]
    with open(tmp_path / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(args, stdout=write_end, stderr=err, env=env, cwd=tmp_path)
    os.close(write_end)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        # Wait (for a state, with a deadline) until the child is blocked writing to the full pipe.
        while "pipe_write" not in _child_state(proc.pid):  # pipe_write or anon_pipe_write
            assert proc.poll() is None, "the run ended before it wrote to the pipe"
            assert time.monotonic() < deadline, "the child never blocked on its stdout"
            time.sleep(0.01)
        logged = list(iter_records(run_dir / METRICS_FILE))
        assert len(logged) == 1, f"{len(logged)} records logged before the first reached stdout: not flushed"
        stdout = os.fdopen(read_end, "rb")
        assert stdout.read(filler) == b"#" * filler
        first = json.loads(stdout.readline())
        assert first == logged[0] and first["type"] == "config"
        assert proc.poll() is None, "the first record arrived only when the run ended"
        proc.send_signal(signal.SIGTERM)
        rest = [json.loads(line) for line in stdout.read().splitlines()]
        assert proc.wait(TIMEOUT_S) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [first] + rest == list(iter_records(run_dir / METRICS_FILE))
    assert rest[-1]["type"] == "end" and rest[-1]["status"] == "interrupted"


# ---- (d) CSV columns under their own headers ----

def test_exported_csv_puts_every_value_under_its_own_header(tiny_data, tmp_path):
    config = RunConfig(model="mlp", hidden=(16,), batch_size=100, epochs=2, sample_count=0)
    Trainer(config, tmp_path / "run", data_dir=str(tiny_data)).run()
    epochs = [r for r in iter_records(tmp_path / "run" / METRICS_FILE) if r["type"] == "epoch"]
    export([read_standing("run", tmp_path / "run")], tmp_path / "out")
    for name in ("run.csv", "epochs.csv"):
        rows = list(csv.DictReader((tmp_path / "out" / name).open()))
        assert len(rows) == len(epochs) == 2
        for row, record in zip(rows, epochs):
            for column in ("epoch", "step", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
                           "samples_per_s", "lr"):
                assert column in row, f"{name} has no {column} column"
                if record.get(column) is not None:
                    assert float(row[column]) == pytest.approx(record[column], rel=1e-9), (name, column)
            assert row.get("run", "run") == "run"
        # train_loss and train_acc differ in kind: a loss of an unfinished model is not a fraction right
        assert all(float(r["train_acc"]) <= 1.0 for r in rows)
