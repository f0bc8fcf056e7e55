"""End-to-end tests of `mnist-tui` on generated IDX files: exit codes, output formats, JSONL schema, resume.

Most tests call core.cli.main(argv) in-process (capsys's stdout is not a terminal, exactly like
a pipe). Subprocesses are used only where a real process matters: SIGINT, a real pipe and a
real terminal, and the installed console script.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_dataset
from core import data as data_mod
from core.cli import main
from core.config import PRESETS, RunConfig
from core.engine import Trainer
from core.events import StepEvent
from core.runlog import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, iter_records, load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["--hidden", "32", "--batch-size", "32"]
STEP_LINE = re.compile(r"^Train Epoch: (\d+) \[ *(\d+)/(\d+) \( *(\d+)%\)\]  Loss: (\d+\.\d{4})\b")
EPOCH_LINE = re.compile(r"^Epoch (\d+): train loss \d+\.\d{4} acc [\d.]+% \| test loss \d+\.\d{4} acc (\d+)/(\d+) "
                        r"\(([\d.]+)%\)")
STEP_FIELDS = {"epoch", "step", "seen", "loss", "lr", "time"}
EPOCH_FIELDS = {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "samples_per_s"}


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def no_traceback(err: str) -> None:
    assert "Traceback" not in err and "internal error" not in err, err


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MNIST_TUI_DATA"}
    env.update(MNIST_TUI_OFFLINE="1", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", **extra)
    return env


# ---- usage: --help, --list-presets, exit 2 ----

def test_help(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--no-ui", "--watch", "--resume", "--list-presets", "--json", "--preset", "--data-dir",
                   "--run-dir", "--train-size", "--device", "Exit codes"):
        assert option in out


def test_list_presets(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["--list-presets"]) == 0
    out = capsys.readouterr().out
    for name, preset in PRESETS.items():
        row = next(line for line in out.splitlines() if line.startswith(f"{name} | "))
        assert preset.config.dataset in row and f"{preset.expected_test_acc:.3f}" in row


@pytest.mark.parametrize("argv, words", [
    (["--no-ui", "--lr", "-1"], "invalid learning rate -1.0"),
    (["--no-ui", "--lr", "abc"], "argument --lr: invalid learning rate 'abc': must be a number"),
    (["--no-ui", "--lr", "nan"], "must be a finite number"),
    (["--no-ui", "--epochs", "0"], "invalid epochs 0"),
    (["--no-ui", "--batch-size", "2.5"], "argument --batch-size: invalid batch size '2.5': must be a whole number"),
    (["--no-ui", "--hidden=-5"], "invalid hidden sizes '-5'"),
    (["--no-ui", "--hidden", "-5"], "invalid hidden sizes '-5'"),
    (["--no-ui", "--lr", "1e31"], "invalid learning rate 1e+31: must be at most 1e+30"),
    (["--no-ui", "--optimizer", "lbfgs"], "invalid optimizer 'lbfgs'"),
    (["--no-ui", "--init", "zeros"], "invalid init 'zeros'"),
    (["--no-ui", "--preset", "resnet"], "argument --preset"),
    (["--no-ui", "--dataset", "cifar"], "argument --dataset"),
    (["--no-ui", "--hidden", "a,b"], "invalid hidden sizes"),
    (["--no-ui", "--hidden", "5120000"], "parameters, more than the"),
    (["--no-ui", "--dropout", "1"], "invalid dropout"),
    (["--no-ui", "--name", "a/b"], "no path separators"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--json"], "--json prints records on stdout and needs --no-ui"),
    (["--resume", "x", "--no-ui", "--lr", "0.1"], "only --epochs and --device may change (got --lr)"),
    (["--resume", "x", "--no-ui", "--preset", "cnn-adam"], "only --epochs and --device may change"),
])
def test_bad_usage_exits_2_with_one_line(capsys, argv, words) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-tui: error: ") and words in lines[0], captured.err


@pytest.mark.parametrize("extra, words", [
    (["--batch-size", "601"], "invalid batch size 601"),
    (["--train-size", "601"], "invalid train size 601"),
])
def test_values_invalid_for_the_data_exit_2(capsys, tiny_data, tmp_path, extra, words) -> None:
    assert main(["--no-ui", "--data-dir", str(tiny_data), "--run-dir", str(tmp_path / "r"), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and words in captured.err
    assert captured.out == ""  # said once, on stderr
    assert not (tmp_path / "r").exists()


def test_unavailable_device_exits_2(capsys, tiny_data, tmp_path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["--no-ui", "--device", "cuda", "--data-dir", str(tiny_data), "--run-dir", str(tmp_path / "r")]) == 2
    assert "device cuda is not available" in capsys.readouterr().err


# ---- run failures: exit 1 ----

def test_missing_data_dir_exits_1_without_fallback(capsys, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--no-ui", "--data-dir", str(empty), "--run-dir", str(tmp_path / "r")]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and f"no MNIST files in {empty}" in captured.err
    assert captured.out == ""
    assert not (tmp_path / "r").exists()  # nothing half-made is left behind
    assert main(["--no-ui", "--data-dir", str(tmp_path / "nope"), "--run-dir", str(tmp_path / "r")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_corrupt_data_exits_1_naming_the_file(capsys, tmp_path) -> None:
    data = write_dataset(tmp_path / "data", train=64, test=20, gz=True)
    bad = data / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-30])
    assert main(["--no-ui", "--data-dir", str(data), "--run-dir", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err
    no_traceback(err)


def test_run_dir_problems_exit_1(capsys, tiny_data, tmp_path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "metrics.jsonl").write_text("")
    assert main(["--no-ui", "--data-dir", str(tiny_data), "--run-dir", str(taken)]) == 1
    assert "already exists" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["--no-ui", "--data-dir", str(tiny_data), "--run-dir", str(blocker / "run")]) == 1
    assert "not writable" in capsys.readouterr().err


def test_resume_problems_exit_1(capsys, tiny_data, tmp_path) -> None:
    assert main(["--resume", str(tmp_path / "none"), "--no-ui"]) == 1
    assert "not a run directory" in capsys.readouterr().err
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / CONFIG_FILE).write_text(json.dumps({"config": RunConfig().to_dict(), "data_dir": str(tiny_data)}))
    (run_dir / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    assert main(["--resume", str(run_dir), "--no-ui"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged or not a mnist-tui checkpoint" in err


def test_watch_of_a_folder_of_runs_exits_1(capsys, tmp_path) -> None:
    (tmp_path / "20261123-101500-cnn-adam").mkdir()
    (tmp_path / "20261123-101500-cnn-adam" / METRICS_FILE).write_text("")
    assert main(["--watch", str(tmp_path)]) == 1
    assert "holds runs, it is not one" in capsys.readouterr().err


# ---- finished runs: exit 0, output formats ----

def test_piped_output_is_plain_lines(capsys, tiny_data, tmp_path) -> None:
    assert main(["--no-ui", "--data-dir", str(tiny_data), "--run-dir", str(tmp_path / "r"), "--epochs", "2",
                 *QUICK]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    out = captured.out
    assert "\r" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert lines[0].startswith("Training custom: mlp on MNIST from ") and "(600 train / 200 test)" in lines[0]
    steps = [m for line in lines if (m := STEP_LINE.match(line))]
    epochs = [m for line in lines if (m := EPOCH_LINE.match(line))]
    assert [int(m[1]) for m in epochs] == [1, 2]
    assert all(m[3] == "200" for m in epochs)
    assert {int(m[1]) for m in steps} == {1, 2} and all(m[3] == "600" for m in steps)
    assert steps[-1][2] == "600" and steps[-1][4] == "100"
    assert len(steps) == 2 * 19  # 19 steps an epoch: auto interval logs each step on this tiny set
    assert any(line.startswith("Run finished: trained 2 epochs") for line in lines)
    tail = lines[lines.index("Sample test digits (ok/x predicted/true):") + 1:]
    assert len(tail) == 7 + 1  # one row of 8 ASCII digits, 7 text rows each, then their captions
    assert len(re.findall(r"(?:ok|x )\d/\d", tail[7])) == 8


def test_json_output_is_the_metrics_log(capsys, tiny_data, tmp_path) -> None:
    run_dir = tmp_path / "r"
    assert main(["--no-ui", "--json", "--data-dir", str(tiny_data), "--run-dir", str(run_dir), "--epochs", "2",
                 "--log-interval", "5", *QUICK]) == 0
    out = capsys.readouterr().out
    assert out == (run_dir / METRICS_FILE).read_text()  # --json prints exactly the metrics.jsonl records
    recs = records(out)
    assert recs[0]["type"] == "config" and recs[-1]["type"] == "end"
    assert recs[0]["config"]["hidden"] == [32] and recs[0]["train_size"] == 600
    for rec in recs:
        if rec["type"] == "step":
            assert STEP_FIELDS <= set(rec)
            assert isinstance(rec["loss"], float) and rec["seen"] <= 600 and rec["lr"] == 0.01
        elif rec["type"] == "epoch":
            assert EPOCH_FIELDS <= set(rec)
            assert 0 <= rec["test_acc"] <= 1 and rec["samples_per_s"] > 0
    assert [r["epoch"] for r in recs if r["type"] == "epoch"] == [1, 2]
    assert [r["step"] for r in recs if r["type"] == "step"] == [5, 10, 15, 19, 24, 29, 34, 38]
    assert {"status", "reason"} <= set(recs[-1]) and recs[-1]["status"] == "finished"
    saved = json.loads((run_dir / CONFIG_FILE).read_text())
    assert saved["config"] == recs[0]["config"] and saved["data_dir"] == str(tiny_data)


def test_preset_and_explicit_options_compose(capsys, tiny_data, tmp_path) -> None:
    assert main(["--no-ui", "--json", "--preset", "mlp-bn-adam", "--hidden", "16", "--epochs", "1",
                 "--optimizer", "nag", "--init", "he", "--data-dir", str(tiny_data),
                 "--run-dir", str(tmp_path / "r")]) == 0
    config = records(capsys.readouterr().out)[0]["config"]
    assert (config["name"], config["batch_norm"], config["dropout"], config["batch_size"]) == ("mlp-bn-adam", True, 0.5, 100)
    assert (config["hidden"], config["epochs"], config["optimizer"], config["init"]) == ([16], 1, "nesterov",
                                                                                        "kaiming-uniform")


def test_default_run_dir_is_under_runs(capsys, tiny_data, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--no-ui", "--data-dir", str(tiny_data), "--epochs", "1", "--name", "quick", *QUICK]) == 0
    made = list((tmp_path / "runs").iterdir())
    assert len(made) == 1 and re.fullmatch(r"\d{8}-\d{6}-quick", made[0].name)
    assert (made[0] / CHECKPOINT_FILE).is_file() and (made[0] / CONFIG_FILE).is_file()


@pytest.fixture
def offline_no_data(monkeypatch, tmp_path):
    """A first run on a machine with no data anywhere and no network."""
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)
    monkeypatch.setenv("MNIST_TUI_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    for name, info in list(data_mod.DATASETS.items()):
        monkeypatch.setitem(data_mod.DATASETS, name, dataclasses.replace(info, system_dirs=()))


def test_offline_first_run_uses_the_bundled_sample_says_so_and_learns(capsys, tmp_path, offline_no_data) -> None:
    assert main(["--no-ui", "--preset", "linear-sgd", "--epochs", "3", "--run-dir", str(tmp_path / "r")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "on the bundled sample (5000 train / 1000 test)" in lines[0]
    assert lines[1].startswith("Note: using the bundled MNIST sample (") and "--data-dir" in lines[1]
    accuracies = [float(m[4]) for line in lines if (m := EPOCH_LINE.match(line))]
    assert len(accuracies) == 3 and accuracies[-1] > 80.0, accuracies


def test_bundled_notice_goes_to_stderr_in_json_mode(capsys, tmp_path, offline_no_data) -> None:
    assert main(["--no-ui", "--json", "--dataset", "fashion-mnist", "--model", "linear", "--train-size", "500",
                 "--epochs", "1", "--batch-size", "100", "--run-dir", str(tmp_path / "r")]) == 0
    captured = capsys.readouterr()
    assert "Note: using the bundled Fashion-MNIST sample" in captured.err
    first = records(captured.out)[0]
    assert first["bundled_data"] is True and first["classes"][0] == "T-shirt/top"


# ---- resume ----

def test_resume_finishes_a_run_stopped_part_way(capsys, tiny_data, tmp_path) -> None:
    run_dir = tmp_path / "run"
    holder: dict = {}

    def stop_mid_epoch_two(event) -> None:
        if isinstance(event, StepEvent) and event.epoch == 2 and event.seen >= 320:
            holder["trainer"].stop("interrupted", "test interruption")

    config = RunConfig(hidden=(32,), batch_size=32, epochs=3, log_interval=1)
    holder["trainer"] = Trainer(config, run_dir, [stop_mid_epoch_two], data_dir=str(tiny_data))
    assert holder["trainer"].run().status == "interrupted"

    assert main(["--resume", str(run_dir), "--no-ui", "--json"]) == 0
    out = records(capsys.readouterr().out)
    assert out[0]["type"] == "config" and out[0]["resumed"] is True
    assert (out[0]["start_epoch"], out[0]["start_step"]) == (2, 29)
    assert [r["step"] for r in out if r["type"] == "step"][0] == 30  # picks up at the next step
    assert out[-1]["status"] == "finished" and out[-1]["reason"] == "trained 3 epochs"
    log = list(iter_records(run_dir / METRICS_FILE))
    assert [r["epoch"] for r in log if r["type"] == "epoch"] == [1, 2, 3]  # every epoch once
    assert [r["status"] for r in log if r["type"] == "end"] == ["interrupted", "finished"]
    steps = [r["step"] for r in log if r["type"] == "step"]
    assert steps == list(range(1, 58))  # no step lost or repeated across the interruption
    assert load_checkpoint(run_dir / CHECKPOINT_FILE)["epoch"] == 4


def test_resume_can_extend_a_finished_run(capsys, tiny_data, tmp_path) -> None:
    run_dir = tmp_path / "run"
    assert main(["--no-ui", "--data-dir", str(tiny_data), "--run-dir", str(run_dir), "--epochs", "1", *QUICK]) == 0
    capsys.readouterr()
    assert main(["--resume", str(run_dir), "--no-ui", "--json", "--epochs", "2"]) == 0
    out = records(capsys.readouterr().out)
    assert [r["epoch"] for r in out if r["type"] == "epoch"] == [2]
    log = list(iter_records(run_dir / METRICS_FILE))
    assert [r["epoch"] for r in log if r["type"] == "epoch"] == [1, 2]


def test_resume_on_different_data_is_refused(capsys, tiny_data, tmp_path) -> None:
    """Begun on one data set (say the bundled sample), resumed where another is found: a clear error."""
    run_dir = tmp_path / "run"
    holder: dict = {}

    def stop(event) -> None:
        if isinstance(event, StepEvent) and event.step == 2:
            holder["trainer"].stop("interrupted", "test")

    holder["trainer"] = Trainer(RunConfig(hidden=(16,), batch_size=32, log_interval=1), run_dir, [stop],
                                data_dir=str(tiny_data))
    assert holder["trainer"].run().status == "interrupted"
    other = write_dataset(tmp_path / "other", train=900, test=50)
    assert main(["--resume", str(run_dir), "--no-ui", "--data-dir", str(other)]) == 1
    captured = capsys.readouterr()
    assert "was training on 600 images, but the data found now has 900" in captured.err
    assert captured.out == ""


def test_resume_of_a_one_cycle_run_cannot_change_epochs(capsys, tiny_data, tmp_path) -> None:
    run_dir = tmp_path / "run"
    assert main(["--no-ui", "--data-dir", str(tiny_data), "--run-dir", str(run_dir), "--epochs", "1",
                 "--schedule", "onecycle", *QUICK]) == 0
    capsys.readouterr()
    assert main(["--resume", str(run_dir), "--no-ui", "--epochs", "2"]) == 2
    assert "one-cycle schedule is planned for 1 epochs" in capsys.readouterr().err


# ---- terminal vs pipe ----

class FakeTerminal(io.StringIO):
    """stdout that says it is a terminal, so the printer takes its live path without a pty."""

    def isatty(self) -> bool:
        return True


def test_live_progress_on_a_terminal(tiny_data, tmp_path, monkeypatch) -> None:
    """On a tty: a live progress bar redrawn in place and one summary line per epoch, no per-step lines."""
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["--no-ui", "--data-dir", str(tiny_data), "--run-dir", str(tmp_path / "r"), "--epochs", "2",
                 *QUICK]) == 0
    out = terminal.getvalue()
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out).replace("\r", "\n")
    assert "\x1b[" in out  # styled and redrawn, unlike piped output
    assert re.search(r"epoch [12]/2 .*\d+%  loss \d\.\d{4}", plain)  # the live progress line
    summaries = [m[1] for line in plain.splitlines() if (m := EPOCH_LINE.match(line.strip()))]
    assert summaries == ["1", "2"]
    assert "Train Epoch:" not in plain
    assert out.count("▀") >= 8 * 7 * 14  # the end-of-run digits drawn as half-blocks


# ---- real processes ----

def command() -> list[str]:
    """The program as a user runs it: `python -m tui` runs the entry the `mnist-tui` script names.

    Not the installed script itself: a shared editable install may predate the checkout under test
    (test_the_console_script_is_the_tui_entry checks what the script runs).
    """
    return [sys.executable, "-m", "tui"]


def test_the_console_script_is_the_tui_entry() -> None:
    import tomllib

    import tui.entry

    scripts = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"mnist-tui": "tui.entry:entry_point"}
    assert callable(tui.entry.entry_point)


def test_sigint_after_training_started_exits_130_and_resumes(tiny_data, tmp_path, capsys) -> None:
    """A real process on a real pipe: records only on stdout, SIGINT -> checkpoint, end record, exit 130."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [*command(), "--no-ui", "--json", "--data-dir", str(tiny_data), "--run-dir", str(run_dir),
         "--epochs", "500", "--log-interval", "1", *QUICK],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=subprocess_env(TERM="xterm-256color", COLORTERM="truecolor"))
    try:
        seen = []
        for line in proc.stdout:  # wait for proof that training runs, not for a guessed time
            seen.append(json.loads(line))
            if seen[-1]["type"] == "step":
                break
        assert seen and seen[0]["type"] == "config" and seen[-1]["type"] == "step", seen
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    no_traceback(err)
    assert "\x1b" not in rest and "\r" not in rest  # a colour-capable TERM, but stdout is a pipe
    end = records(rest)[-1]
    assert end["type"] == "end" and end["status"] == "interrupted"
    assert "SIGINT" in end["reason"] and f"--resume {run_dir}" in end["reason"]
    assert end["epoch"] < 500 and (run_dir / CHECKPOINT_FILE).is_file()

    target = end["epoch"] + 1
    assert main(["--resume", str(run_dir), "--no-ui", "--json", "--epochs", str(target)]) == 0
    assert records(capsys.readouterr().out)[-1]["status"] == "finished"
    log = list(iter_records(run_dir / METRICS_FILE))
    assert [r["epoch"] for r in log if r["type"] == "epoch"] == list(range(1, target + 1))
    assert [r["status"] for r in log if r["type"] == "end"] == ["interrupted", "finished"]
