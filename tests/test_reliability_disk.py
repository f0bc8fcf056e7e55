"""A full disk at any moment of a run: the run ends as failed with one clear line and exit 1, no
traceback, the last checkpoint on disk stays loadable, and once space is back the run resumes.

The disk is simulated by tests/faults.py (ENOSPC after N bytes of the run directory's writes); the
budgets below are spread over one whole run's writes, so the failure lands in config.json, in
the first checkpoint, in step records, in the epoch-end checkpoint and in the end record.
"""

from __future__ import annotations

import errno

import pytest
import torch

import faults
from core import runlog
from core.cli import main
from core.runlog import CHECKPOINT_FILE, CheckpointError, iter_records, load_checkpoint

ARGS = ["--no-ui", "--model", "mlp", "--hidden", "16", "--batch-size", "100", "--epochs", "2",
        "--log-interval", "2", "--device", "cpu"]


def cli(argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def reference(tiny_data, tmp_path_factory) -> tuple[faults.FullDisk, dict]:
    """One whole run with a budget that never runs out: its journal of writes, and its final weights."""
    run_dir = tmp_path_factory.mktemp("measure") / "run"
    with faults.disk_full_after(10**12) as disk:
        assert main([*ARGS, "--data-dir", str(tiny_data), "--run-dir", str(run_dir)]) == 0
    assert disk.failed_writes == 0
    return disk, load_checkpoint(run_dir / CHECKPOINT_FILE)["model"]


def kind(name: str) -> str:
    for known in (CHECKPOINT_FILE, runlog.CONFIG_FILE, runlog.METRICS_FILE):
        if known in name:
            return known
    raise AssertionError(f"unexpected file written: {name}")


def budgets(disk: faults.FullDisk) -> dict[str, int]:
    """A budget that runs out one byte into the first, a middle and the last write of each file."""
    chosen: dict[str, int] = {}
    for known in (CHECKPOINT_FILE, runlog.CONFIG_FILE, runlog.METRICS_FILE):
        writes = [w for w in disk.journal if kind(w[0]) == known]
        for label, write in (("first", writes[0]), ("middle", writes[len(writes) // 2]), ("last", writes[-1])):
            chosen[f"{label} {known}"] = write[1] + 1
    return chosen


WRITES = [f"{label} {name}" for name in (CHECKPOINT_FILE, runlog.CONFIG_FILE, runlog.METRICS_FILE)
          for label in ("first", "middle", "last")]


def test_fault_helper_behaves_like_a_full_disk(tmp_path):
    with faults.disk_full_after(10) as disk:
        fh = runlog.open(tmp_path / "f", "w", encoding="utf-8")
        fh.write("12345678")
        fh.flush()
        fh.write("abcdef")
        with pytest.raises(OSError) as info:
            fh.flush()
        assert info.value.errno == errno.ENOSPC
        with pytest.raises(OSError):
            fh.close()  # the unflushed rest is still refused on close
    assert (tmp_path / "f").read_text() == "12345678ab"  # a partial write, as a kernel does
    assert disk.failed_writes >= 1
    assert not hasattr(runlog, "open") and runlog.os.fdopen is __import__("os").fdopen


@pytest.mark.parametrize("write", WRITES)
def test_disk_full_fails_cleanly_and_the_run_resumes_to_the_same_weights(tiny_data, tmp_path, capsys, reference,
                                                                          write):
    journal, final_weights = reference
    run_dir = tmp_path / "run"
    with faults.disk_full_after(budgets(journal)[write]) as disk:
        code, err = cli([*ARGS, "--data-dir", str(tiny_data), "--run-dir", str(run_dir)], capsys)
    assert disk.failed_writes >= 1, "the budget ran out during the run"
    assert code == 1, err
    assert err.count("\n") == 1 and "Traceback" not in err and "internal error" not in err, err
    assert err.startswith("mnist-tui: error: ") and "No space left on device" in err, err
    if run_dir.exists():
        assert not list(run_dir.glob(".*.tmp")), "no half-written temp files left"

    if not (run_dir / CHECKPOINT_FILE).exists():
        assert "--resume" not in err  # failed before the first checkpoint: nothing to resume
        return
    assert f"--resume {run_dir}" in err
    state = load_checkpoint(run_dir / CHECKPOINT_FILE)
    assert all(r["type"] != "end" or r["status"] == "failed" for r in iter_records(run_dir / runlog.METRICS_FILE))

    code, err = cli(["--resume", str(run_dir), "--no-ui"], capsys)  # space is back
    assert code == 0, err
    final = load_checkpoint(run_dir / CHECKPOINT_FILE)
    assert final["epoch"] == 3 and final["step"] >= state["step"]
    assert list(iter_records(run_dir / runlog.METRICS_FILE))[-1]["status"] == "finished"
    for name, tensor in final_weights.items():  # resume is exact, even after a failed write
        assert torch.equal(final["model"][name], tensor), name


def test_damaged_checkpoint_error_is_not_hidden_by_the_fault_helper(tmp_path):
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / CHECKPOINT_FILE)
