"""Ctrl-C / SIGTERM on a headless run: the step finishes, a checkpoint and an "end" record are
written, the exit code is 130, and a second signal forces the exit without harming the checkpoint.

These drive the real command line in a subprocess and synchronise on its --json stdout (the first
"step" record proves training is under way), so nothing here sleeps or guesses at timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.runlog import CHECKPOINT_FILE, METRICS_FILE, iter_records, load_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TIMEOUT_S = 120


def start_cli(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, MNIST_TUI_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "core.cli", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def long_run_args(data: Path, run_dir: Path) -> list[str]:
    # 50 epochs of 19 steps: far longer than any test waits, so the signal always lands mid-run
    return ["--no-ui", "--json", "--data-dir", str(data), "--run-dir", str(run_dir), "--model", "mlp",
            "--hidden", "32", "--batch-size", "32", "--epochs", "50", "--log-interval", "1", "--device", "cpu"]


def read_until_step(proc: subprocess.Popen) -> dict:
    """Block on stdout until the first step record; a watchdog kills a hung child instead of hanging pytest."""
    watchdog = threading.Timer(TIMEOUT_S, proc.kill)
    watchdog.start()
    try:
        for line in proc.stdout:
            record = json.loads(line)
            if record["type"] == "step":
                return record
    finally:
        watchdog.cancel()
    raise AssertionError(f"no step record; stderr: {proc.stderr.read()}")


def finish(proc: subprocess.Popen) -> tuple[list[dict], str]:
    out, err = proc.communicate(timeout=TIMEOUT_S)
    return [json.loads(line) for line in out.splitlines() if line.strip()], err


def resume_in_process(run_dir: Path, capsys, *extra: str) -> list[dict]:
    """--resume through the real entry point, in this process (a second torch start-up costs seconds)."""
    from core.cli import main

    capsys.readouterr()
    code = main(["--resume", str(run_dir), "--no-ui", "--json", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_finishes_step_checkpoints_exits_130_and_resumes(tiny_data, tmp_path, capsys, signum):
    run_dir = tmp_path / "run"
    proc = start_cli(long_run_args(tiny_data, run_dir), tmp_path)
    first = read_until_step(proc)
    if signum == signal.SIGINT:  # while it runs, a second process may not resume the same run
        from core.cli import main

        capsys.readouterr()
        assert main(["--resume", str(run_dir), "--no-ui"]) == 1
        assert f"is in use by mnist-tui pid {proc.pid};" in capsys.readouterr().err  # names the holder
    proc.send_signal(signum)
    records, err = finish(proc)

    assert proc.returncode == 130, err
    assert "Traceback" not in err
    end = records[-1]
    assert end["type"] == "end" and end["status"] == "interrupted"
    assert signal.Signals(signum).name in end["reason"] and "--resume" in end["reason"]
    logged = list(iter_records(run_dir / METRICS_FILE))
    assert logged[-1] == end, "the run log ends with the same end record the console printed"
    state = load_checkpoint(run_dir / CHECKPOINT_FILE)
    # the checkpoint is the state after the last finished step, which the end record names
    assert state["step"] == end["step"] >= first["step"]
    assert end["checkpoint"] == str(run_dir / CHECKPOINT_FILE)
    steps = [r["step"] for r in logged if r["type"] == "step"]
    assert steps == list(range(1, end["step"] + 1)), "log interval 1: every finished step was logged, none lost"
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]

    epochs = end["epoch"]  # finish the epoch it was stopped in
    resumed = resume_in_process(run_dir, capsys, "--epochs", str(epochs))
    assert resumed[0]["type"] == "config" and resumed[0]["resumed"] and resumed[0]["start_step"] == end["step"]
    assert resumed[-1]["status"] == "finished"
    steps = [r["step"] for r in iter_records(run_dir / METRICS_FILE) if r["type"] == "step"]
    assert steps == list(range(1, 19 * epochs + 1)), "the resumed log continues exactly where the interrupted one stopped"


def test_second_signal_forces_exit_and_keeps_checkpoint_loadable(tiny_data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    proc = start_cli(long_run_args(tiny_data, run_dir), tmp_path)
    first = read_until_step(proc)
    # Freeze the child so both signals are pending together: the first asks for a clean stop, the
    # second arrives before that stop can complete and must force the exit at once.
    os.kill(proc.pid, signal.SIGSTOP)
    os.kill(proc.pid, signal.SIGINT)
    os.kill(proc.pid, signal.SIGTERM)
    os.kill(proc.pid, signal.SIGCONT)
    records, err = finish(proc)

    assert proc.returncode == 130, err
    assert "forced exit" in err and "Traceback" not in err
    assert not any(r["type"] == "end" for r in records), "a forced exit writes nothing more"
    state = load_checkpoint(run_dir / CHECKPOINT_FILE)  # a checkpoint from before the signals
    last_logged = max([first["step"]] + [r["step"] for r in records if r["type"] == "step"])
    assert 0 <= state["step"] <= last_logged

    resumed = resume_in_process(run_dir, capsys, "--epochs", "1")
    assert resumed[-1]["status"] == "finished" and resumed[-1]["step"] == 19


def start_app_training_on_a_pty(data: Path, tmp_path: Path) -> tuple[int, int, Path]:
    """The real app (`python -m tui`, signal handlers as launched) on a pseudo-terminal, started
    with its s key; returns (pid, terminal, run_dir) once the run has logged a step."""
    import pty

    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "tui", *[a for a in long_run_args(data, run_dir) if a not in ("--no-ui", "--json")]]
    env = dict(os.environ, MNIST_TUI_OFFLINE="1", TERM="xterm-256color", COLUMNS="80", LINES="24")
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the app, with the pty as its controlling terminal
        os.chdir(tmp_path)
        os.execve(sys.executable, args, env)
    threading.Thread(target=drain, args=(terminal,), daemon=True).start()
    deadline = time.monotonic() + TIMEOUT_S
    metrics = run_dir / METRICS_FILE
    next_key = 0.0
    while not (metrics.exists() and any(r["type"] == "step" for r in iter_records(metrics))):
        now = time.monotonic()
        if now > deadline:
            os.kill(pid, signal.SIGKILL)
            os.close(terminal)
            raise AssertionError("the app never started training")
        if now >= next_key:  # Start; repeated every half second until the app is up and the run writes steps
            os.write(terminal, b"s")
            next_key = now + 0.5
        threading.Event().wait(0.05)  # the pace of the polls, not a guess at a result
    return pid, terminal, run_dir


def wait_for_the_app_to_leave(pid: int, what: str) -> int:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"the app did not leave after {what}")
        threading.Event().wait(0.05)


def assert_saved_and_interrupted(run_dir: Path, reason: str) -> None:
    end = list(iter_records(run_dir / METRICS_FILE))[-1]
    assert end["type"] == "end" and end["status"] == "interrupted"
    assert end["reason"].startswith(reason), end["reason"]  # not "quit from the app"
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["step"] == end["step"]


def test_app_hang_up_mid_run_saves_the_run_and_the_process_leaves(tiny_data, tmp_path):
    """Closing the app's terminal (an SSH session dropping) sends SIGHUP.

    Before tui/hangup.py the run was saved but the process then hung in Textual's exit, writing to
    the dead terminal. Here it must be gone, with exit code 130, an end record and a checkpoint.
    """
    pid, terminal, run_dir = start_app_training_on_a_pty(tiny_data, tmp_path)
    os.close(terminal)  # the terminal goes away: the kernel sends SIGHUP
    assert wait_for_the_app_to_leave(pid, "its terminal hung up") == 130
    assert_saved_and_interrupted(run_dir, "the terminal hung up (SIGHUP)")


def test_sigterm_to_the_app_mid_run_saves_the_run_and_exits_130(tiny_data, tmp_path):
    """A real SIGTERM (kill, a batch scheduler's time limit) to the app process while it trains."""
    pid, terminal, run_dir = start_app_training_on_a_pty(tiny_data, tmp_path)
    try:
        os.kill(pid, signal.SIGTERM)
        assert wait_for_the_app_to_leave(pid, "SIGTERM") == 130
    finally:
        os.close(terminal)
    assert_saved_and_interrupted(run_dir, "stopped by SIGTERM")


def drain(terminal: int) -> None:
    """Read the app's screen output, so its writes never block on a full pseudo-terminal."""
    try:
        while os.read(terminal, 65536):
            pass
    except OSError:
        pass
