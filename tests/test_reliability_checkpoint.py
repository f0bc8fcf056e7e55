"""Checkpoints: atomic under kill -9, loaded with weights_only=True, and clear about files that are
damaged, foreign or from another architecture.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from core import runlog
from core.cli import main
from core.config import RunConfig
from core.engine import Trainer
from core.runlog import CHECKPOINT_FILE, CheckpointError, load_checkpoint

CONFIG = RunConfig(model="mlp", hidden=(16,), batch_size=64, epochs=1, device="cpu", sample_count=0)

# Runs in a fresh interpreter: forks writer children that die by SIGKILL at chosen or random
# moments of runlog.save_checkpoint, then loads what is left. Prints one JSON line per trial.
KILLER = textwrap.dedent("""
    import json, os, random, signal, sys, time
    from pathlib import Path
    os.environ["OMP_NUM_THREADS"] = "1"  # no OpenMP pool: a forked child must not wait on the parent's threads
    import torch
    from core import runlog
    torch.set_num_threads(1)

    path = Path(sys.argv[1]) / runlog.CHECKPOINT_FILE
    def state(version):
        # ~1.3 MB, so a write takes a while and many kernel writes
        return {"format": 1, "model": {"w": torch.full((320, 1024), float(version))}, "version": version}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    class DieAfter:
        # a file wrapper that passes `budget` bytes through, then kills the process
        def __init__(self, fh, budget):
            self.fh, self.budget = fh, budget
        def write(self, data):
            data = memoryview(data).cast("B")
            if len(data) >= self.budget:
                self.fh.write(data[:self.budget]); self.fh.flush(); die()
            self.budget -= len(data)
            return self.fh.write(data)
        def flush(self):
            self.fh.flush()

    def outcome():
        try:
            return runlog.load_checkpoint(path)["version"]
        except runlog.CheckpointError as exc:
            return "error: " + str(exc)

    runlog.save_checkpoint(path, state(0))
    size = path.stat().st_size
    # 1. deterministic: die after exactly k bytes of the new file, after fsync, after the rename
    for k in [0, 1, 64, 4096, size // 2, size - 1, size, "before-replace", "after-replace"]:
        previous = outcome()
        version = previous + 1
        pid = os.fork()
        if pid == 0:
            if k == "before-replace":
                os.replace = lambda *a: die()
            if k == "after-replace":
                real = os.replace
                os.replace = lambda *a: (real(*a), die())
            if isinstance(k, int):
                runlog.atomic_write_bytes(path, lambda fh: torch.save(state(version), DieAfter(fh, k)))
            else:
                runlog.save_checkpoint(path, state(version))
            os._exit(0)  # only reached if the kill did not happen
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"kill": str(k), "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                          "previous": previous, "new": version, "loaded": outcome()}), flush=True)
    # 2. random: a child writes checkpoints in a loop, SIGKILLed from outside at a random moment
    rng = random.Random(int(sys.argv[2]))
    t0 = time.perf_counter()
    runlog.save_checkpoint(path, state(outcome()))  # same version again: times one write
    one_write = time.perf_counter() - t0
    for trial in range(int(sys.argv[3])):
        base = outcome()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            v = base
            while True:
                v += 1
                os.write(write, b"s")  # about to start writing version v
                runlog.save_checkpoint(path, state(v))
        os.close(write)
        os.read(read, 1)  # the child is running: kill it anywhere within its next few writes
        time.sleep(rng.uniform(0, 3 * one_write))  # sampling kill points, not waiting for anything
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read)
        print(json.dumps({"kill": "random", "signal": 9, "previous": base, "new": None,
                          "loaded": outcome()}), flush=True)
""")


def test_kill_9_while_writing_leaves_a_loadable_checkpoint(tmp_path):
    proc = subprocess.run([sys.executable, "-c", KILLER, str(tmp_path), "7", "12"], text=True,
                          capture_output=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    trials = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(trials) == 9 + 12
    for t in trials:
        assert t["signal"] == 9, t
        assert isinstance(t["loaded"], int), f"checkpoint unreadable after kill -9 ({t['kill']}): {t['loaded']}"
    for t in trials[:9]:
        # before the rename the old checkpoint is intact; after it, the new one is complete
        expected = t["new"] if t["kill"] == "after-replace" else t["previous"]
        assert t["loaded"] == expected, t
    for t in trials[9:]:
        assert t["loaded"] >= t["previous"], t
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != CHECKPOINT_FILE]
    assert all(name.startswith(f".{CHECKPOINT_FILE}.") and name.endswith(".tmp") for name in leftovers)


@pytest.fixture(scope="module")
def finished_run(tiny_data, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("ckpt") / "run"
    end = Trainer(CONFIG, run_dir, data_dir=str(tiny_data)).run()
    assert end.status == "finished", end.reason
    return run_dir


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_real_checkpoint_loads_with_weights_only(finished_run):
    state = torch.load(finished_run / CHECKPOINT_FILE, weights_only=True)
    assert state["format"] == 1 and state["step"] == 10 and "model" in state and "optimizer" in state


def test_checkpoint_with_code_in_it_is_refused_and_not_run(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(tmp_path / "pwned"),))

    torch.save({"format": 1, "model": {}, "extra": Payload()}, tmp_path / CHECKPOINT_FILE)
    with pytest.raises(CheckpointError, match="damaged or not a mnist-tui checkpoint"):
        load_checkpoint(tmp_path / CHECKPOINT_FILE)
    assert not (tmp_path / "pwned").exists()


def resume_cli(run_dir: Path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--resume", str(run_dir), "--no-ui", "--epochs", "2"])
    return code, capsys.readouterr().err


DAMAGE = {
    "empty": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "garbage": lambda p: p.write_bytes(os.urandom(4096)),
    "flipped bytes": lambda p: p.write_bytes(p.read_bytes()[:200] + bytes(200) + p.read_bytes()[400:]),
    "foreign torch file": lambda p: torch.save([1, 2, 3], p),
    "not a mnist-tui dict": lambda p: torch.save({"state_dict": {}}, p),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_checkpoint_gives_one_clear_line_and_exit_1(finished_run, tmp_path, capsys, damage):
    run_dir = copy_run(finished_run, tmp_path / "run")
    before = (run_dir / runlog.METRICS_FILE).read_bytes()
    DAMAGE[damage](run_dir / CHECKPOINT_FILE)
    code, err = resume_cli(run_dir, capsys)
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(run_dir / CHECKPOINT_FILE) in err and "checkpoint" in err
    assert (run_dir / runlog.METRICS_FILE).read_bytes() == before, "a refused resume leaves the log alone"


@pytest.mark.parametrize("change, field", [({"model": "linear"}, "model"), ({"hidden": (24,)}, "hidden"),
                                            ({"optimizer": "adam"}, "optimizer")])
def test_checkpoint_from_another_architecture_is_refused_by_name(finished_run, tmp_path, capsys, tiny_data,
                                                                 change, field):
    other = replace(CONFIG, **change)
    other_dir = tmp_path / "other"
    Trainer(other, other_dir, data_dir=str(tiny_data)).run()
    shutil.copy(finished_run / CHECKPOINT_FILE, other_dir / CHECKPOINT_FILE)  # the mlp's checkpoint
    code, err = resume_cli(other_dir, capsys)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert f"is for {field}=" in err


def test_checkpoint_whose_weights_do_not_fit_is_refused(finished_run, tmp_path, capsys):
    run_dir = copy_run(finished_run, tmp_path / "run")
    state = load_checkpoint(run_dir / CHECKPOINT_FILE)
    state["model"]["1.weight"] = torch.zeros(3, 3)  # right config, wrong tensor
    torch.save(state, run_dir / CHECKPOINT_FILE)
    code, err = resume_cli(run_dir, capsys)
    assert code == 1 and err.count("\n") == 1 and "does not fit this model" in err


def test_resume_removes_temp_files_left_by_a_killed_writer(finished_run, tmp_path, capsys):
    run_dir = copy_run(finished_run, tmp_path / "run")
    stale = [run_dir / f".{CHECKPOINT_FILE}.k9x2a.tmp", run_dir / f".{runlog.CONFIG_FILE}.q1w2e.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    keep = run_dir / "notes.tmp"
    keep.write_text("not ours")
    code, err = resume_cli(run_dir, capsys)
    assert code == 0, err
    assert not any(p.exists() for p in stale) and keep.exists()
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["epoch"] == 3
