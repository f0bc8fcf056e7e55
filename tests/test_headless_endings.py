"""How headless runs end when their reader goes away: a closed pipe (exit 141) or a hung-up terminal (130)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.runlog import CHECKPOINT_FILE, METRICS_FILE, iter_records, load_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")

TIMEOUT_S = 120


def long_run(data: Path, run_dir: Path, *extra: str) -> list[str]:
    # 50 epochs of 19 steps: far longer than the reader waits, so the pipe always closes mid-run
    return [sys.executable, "-m", "core.cli", "--no-ui", "--data-dir", str(data), "--run-dir", str(run_dir),
            "--hidden", "32", "--batch-size", "32", "--epochs", "50", "--log-interval", "1", "--device", "cpu", *extra]


def read_lines_then_close(args: list[str], cwd: Path, lines: int) -> tuple[list[str], int, str]:
    """What `| head -N` does: read N lines, close the pipe, and let the writer find out."""
    env = dict(os.environ, MNIST_TUI_OFFLINE="1", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        read = [proc.stdout.readline() for _ in range(lines)]
        proc.stdout.close()
        _, err = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return read, proc.returncode, err


def assert_interrupted_by_closed_output(run_dir: Path) -> None:
    end = list(iter_records(run_dir / METRICS_FILE))[-1]
    assert end["type"] == "end" and end["status"] == "interrupted", end
    assert end["reason"].startswith("output closed") and f"--resume {run_dir}" in end["reason"]
    assert end["epoch"] < 50
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["step"] == end["step"]


def test_closed_output_interrupts_the_run_with_a_checkpoint_and_exit_141(tiny_data, tmp_path):
    """A real process, as a shell runs it: nothing on stderr, not even Python's flush at exit."""
    run_dir = tmp_path / "run"
    read, code, err = read_lines_then_close(long_run(tiny_data, run_dir), tmp_path, 2)
    assert read[0].startswith("Training custom: mlp") and read[1].startswith("Train Epoch: 1 [")
    assert code == 141, err
    assert err == ""  # no "internal error", no "Exception ignored ... BrokenPipeError", no traceback
    assert_interrupted_by_closed_output(run_dir)


def test_json_into_a_closed_pipe_ends_the_same_way(tiny_data, tmp_path, monkeypatch, capsys):
    """`--json | head -1`, in this process (no second torch start-up): stdout is a real pipe, closed by its reader."""
    import threading

    from core.cli import main

    read_fd, write_fd = os.pipe()
    monkeypatch.setattr(sys, "stdout", os.fdopen(write_fd, "w"))
    first: list[str] = []

    def head_1() -> None:
        with os.fdopen(read_fd) as reader:
            first.append(reader.readline())

    reader = threading.Thread(target=head_1)
    reader.start()
    run_dir = tmp_path / "run"
    code = main(long_run(tiny_data, run_dir, "--json")[3:])
    reader.join()
    assert json.loads(first[0])["type"] == "config"
    assert code == 141 and capsys.readouterr().err == ""
    assert_interrupted_by_closed_output(run_dir)


def test_list_presets_into_a_closed_pipe_is_quiet(tmp_path):
    read, code, err = read_lines_then_close([sys.executable, "-m", "core.cli", "--list-presets"], tmp_path, 1)
    assert read[0].strip()
    assert code in (0, 141) and err == ""  # 0 when the few lines fit the pipe before it closed


def test_resume_of_a_finished_run_says_nothing_was_left_to_train(tiny_data, tmp_path, capsys):
    from core.cli import main

    run_dir = tmp_path / "run"
    assert main(["--no-ui", "--data-dir", str(tiny_data), "--run-dir", str(run_dir), "--epochs", "1",
                 "--hidden", "16", "--batch-size", "64"]) == 0
    log_before = (run_dir / METRICS_FILE).read_bytes()
    capsys.readouterr()
    assert main(["--resume", str(run_dir), "--no-ui"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert f"nothing left to train: {run_dir} has trained 1 of 1 epochs; resume with --epochs N (N > 1)" in err
    assert (run_dir / METRICS_FILE).read_bytes() == log_before  # the finished run's log is left as it was
    assert main(["--resume", str(run_dir), "--no-ui", "--json", "--epochs", "2"]) == 0  # the suggestion works
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["status"] == "finished"


def test_resume_of_a_file_is_one_clear_line(tmp_path, capsys):
    from core.cli import main

    a_file = tmp_path / "checkpoint.pt"
    a_file.write_bytes(b"x")
    assert main(["--resume", str(a_file), "--no-ui"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{a_file} is a file, not a run directory" in err and "Errno" not in err


def test_headless_run_on_a_terminal_that_hangs_up_saves_and_exits_130(tiny_data, tmp_path):
    """The live line on a real pseudo-terminal; closing it sends SIGHUP and then fails writes (EIO).

    The hang-up, not the failed writes, is what the end record and the exit code report.
    """
    import pty
    import threading
    import time

    run_dir = tmp_path / "run"
    env = dict(os.environ, MNIST_TUI_OFFLINE="1", TERM="xterm-256color", COLUMNS="100", OMP_NUM_THREADS="1")
    pid, terminal = pty.fork()
    if pid == 0:  # the child: a headless run with the pty as its controlling terminal
        os.chdir(tmp_path)
        os.execve(sys.executable, long_run(tiny_data, run_dir), env)

    def drain() -> None:  # read the screen, so the child's writes never block on a full pty
        try:
            while os.read(terminal, 65536):
                pass
        except OSError:
            pass

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + TIMEOUT_S
    metrics = run_dir / METRICS_FILE
    try:
        while not (metrics.exists() and any(r["type"] == "step" for r in iter_records(metrics))):
            assert time.monotonic() < deadline, "the run never started training"
            threading.Event().wait(0.1)  # the pace of the polls, not a guess at a result
    finally:
        os.close(terminal)  # the terminal goes away: the kernel sends SIGHUP
    while not (done := os.waitpid(pid, os.WNOHANG))[0]:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            raise AssertionError("the run did not leave after its terminal hung up")
        threading.Event().wait(0.05)
    assert os.waitstatus_to_exitcode(done[1]) == 130
    end = list(iter_records(metrics))[-1]
    assert end["status"] == "interrupted" and end["reason"].startswith("the terminal hung up (SIGHUP)")
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["step"] == end["step"]


def test_a_write_that_finds_the_terminal_hung_up_before_its_sighup_is_the_same_hang_up(tiny_data, tmp_path, monkeypatch,
                                                                                        capsys):
    """A terminal that hangs up fails writes (EIO) and sends SIGHUP; either may reach the run first. EIO first
    must end as the hang-up (130, its reason, the end record written), and the SIGHUP behind it is not a
    second Ctrl-C forcing an exit without the end record (the pty test above only sees whichever came first)."""
    import errno
    import io
    import signal

    from core import console, program
    from core.cli import main

    class HungUpTerminal(io.StringIO):
        def write(self, text: str) -> int:
            if self.getvalue():  # the first record got through; then the terminal is gone
                raise OSError(errno.EIO, "Input/output error")
            return super().write(text)

    forced: list[int] = []
    monkeypatch.setattr(program.os, "_exit", forced.append)  # a forced exit would end pytest too
    monkeypatch.setattr(sys, "stdout", HungUpTerminal())
    write_event = console.ConsolePrinter.__call__

    def then_the_kernels_sighup(printer, event) -> None:
        was_closed = printer.output_closed
        write_event(printer, event)
        if printer.output_closed and not was_closed:
            os.kill(os.getpid(), signal.SIGHUP)  # handled here, in this thread, before the run goes on

    monkeypatch.setattr(console.ConsolePrinter, "__call__", then_the_kernels_sighup)
    run_dir = tmp_path / "run"
    code = main(long_run(tiny_data, run_dir, "--json")[3:])
    assert (code, forced) == (130, [])
    assert "forced exit" not in capsys.readouterr().err
    end = list(iter_records(run_dir / METRICS_FILE))[-1]
    assert end["type"] == "end" and end["status"] == "interrupted", end
    assert end["reason"].startswith("the terminal hung up (SIGHUP)") and f"--resume {run_dir}" in end["reason"]
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["step"] == end["step"]
