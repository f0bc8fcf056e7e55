"""A run directory is a trust boundary (issue 16): one writer at a time, nothing written outside it,
and every reader takes any file. Each case here was a crash, a traceback or a write through a
symlink before; the logs are written by hand, so most of these tests never load torch.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import struct
import subprocess
import sys
import tracemalloc
import warnings
from pathlib import Path

import pytest

from core import runlog
from core.config import ConfigError, RunConfig, validate
from core.events import (ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, SamplesEvent, StepEvent, to_record)
from core.idx import IMAGES_MAGIC, LABELS_MAGIC, DataError, read_idx
from test_reliability_input import assert_one_line
from test_reliability_input import run_cli as cli

ROOT = Path(__file__).resolve().parent.parent
TINY = RunConfig(name="hostile", model="mlp", hidden=(16,), batch_size=100, epochs=2, device="cpu")
QUICK = ["--no-ui", "--model", "mlp", "--hidden", "16", "--batch-size", "100", "--epochs", "1", "--device", "cpu"]


def clean_events(epochs: int = 2, end: bool = True) -> list:
    """What a real 2-epoch run logs (shape and types), written without training."""
    events: list = [ConfigEvent(config=TINY.to_dict(), run_dir="r", device="cpu", data_source="MNIST from d",
                                bundled_data=False, train_size=600, test_size=200, steps_per_epoch=6,
                                total_steps=6 * epochs, classes=[str(d) for d in range(10)])]
    for epoch in range(1, epochs + 1):
        events.append(StepEvent(epoch=epoch, step=6 * epoch, seen=600, epoch_size=600, loss=0.5 / epoch, lr=0.01,
                                time=float(epoch), samples_per_s=1000.0, total_steps=6 * epochs))
        events.append(EpochEvent(epoch=epoch, step=6 * epoch, train_loss=0.5, train_acc=0.8, test_loss=0.4,
                                 test_acc=0.8 + epoch / 100, seconds=1.0, samples_per_s=1000.0, lr=0.01,
                                 time=float(epoch)))
        events.append(SamplesEvent(epoch=epoch, indices=[0], labels=[7], predictions=[7], confidences=[0.9],
                                   images=[SamplesEvent.encode_image(bytes(784))]))
        events.append(ConfusionEvent(epoch=epoch, matrix=[[20 if i == j else 0 for j in range(10)] for i in range(10)]))
    if end:
        events.append(EndEvent(status="finished", reason="trained", epoch=epochs + 1, step=6 * epochs, time=3.0,
                               best_test_acc=0.82, final_test_acc=0.82))
    return events


def line(record) -> str:
    return json.dumps(record, separators=(",", ":"))


EPOCH = to_record(clean_events()[2])
HOSTILE = {  # the cases, each a line of metrics.jsonl
    "test_acc text": line(EPOCH | {"test_acc": "abc"}),
    "test_acc null": line(EPOCH | {"test_acc": None}),
    "200,000 [": "[" * 200_000,
    "ragged confusion": line({"type": "confusion", "epoch": 1, "matrix": [[1, 2], [3]]}),
    "20x20 confusion": line({"type": "confusion", "epoch": 1, "matrix": [[0] * 20] * 20}),
    "bad end status": line(to_record(clean_events()[-1]) | {"status": "exploded"}),
    "bad end field": line(to_record(clean_events()[-1]) | {"best_test_acc": "x"}),
    "config zzz": line(to_record(clean_events()[0]) | {"config": "zzz"}),
    "config hidden abc": line(to_record(clean_events()[0]) | {"config": TINY.to_dict() | {"hidden": "abc"}}),
    "sample class 50": line(to_record(clean_events()[3]) | {"labels": [50]}),
    "sample image short": line(to_record(clean_events()[3]) | {"images": ["AAAA"]}),
    "not an object": "[1, 2, 3]",
    "bool as epoch": line(EPOCH | {"epoch": True}),
    "NaN loss": '{"type":"step","epoch":1,"step":1,"seen":1,"epoch_size":1,"loss":NaN,"lr":0.1,"time":0,'
                '"samples_per_s":1,"total_steps":1}',
}


def write_run(run_dir: Path, events: list, hostile: list[str] = (), config: object = None) -> Path:
    """config.json and metrics.jsonl as a writer leaves them; hostile lines go after the first epoch."""
    run_dir.mkdir(parents=True, exist_ok=True)
    document = {"config": TINY.to_dict(), "data_dir": None} if config is None else config
    (run_dir / runlog.CONFIG_FILE).write_text(document if isinstance(document, str) else json.dumps(document))
    lines = [line(to_record(e)) for e in events]
    lines[3:3] = list(hostile)
    (run_dir / runlog.METRICS_FILE).write_text("\n".join(lines) + "\n")
    return run_dir


# ---- every reader takes any file ----

def test_readers_skip_and_count_every_hostile_record(tmp_path):
    run_dir = write_run(tmp_path / "run", clean_events(), list(HOSTILE.values()))
    events, malformed = runlog.read_log(run_dir)
    assert events == clean_events() and malformed == len(HOSTILE)
    tail = runlog.MetricsTail(run_dir / runlog.METRICS_FILE)
    assert tail.poll() == clean_events() and tail.malformed == len(HOSTILE)
    assert runlog.skipped_note(tail.malformed) == f"{len(HOSTILE)} malformed records skipped"


def test_a_2000x2000_confusion_matrix_is_one_malformed_record():
    event, malformed = runlog._parse_line(line({"type": "confusion", "epoch": 1, "matrix": [[0] * 2000] * 2000}))
    assert event is None and malformed


def test_compare_export_of_hostile_logs_writes_the_good_records_and_says_how_many_were_skipped(tmp_path, capsys):
    a = write_run(tmp_path / "a", clean_events(), [HOSTILE["test_acc null"], HOSTILE["bad end status"]])
    b = write_run(tmp_path / "b", clean_events(), [])
    code, out, err = cli(["--compare", str(a), str(b), "--export", "csv", "--export-dir", str(tmp_path / "x")], capsys)
    assert code == 0, err
    assert err == f"{a}: 2 malformed records skipped\n"
    rows = (tmp_path / "x" / "epochs.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2  # header + two epochs per run, none lost, none invented


@pytest.mark.parametrize("document, words", [
    ("[]", "not a mnist-tui config"),
    ('{"config":"zzz"}', "not a mnist-tui config"),
    (json.dumps({"config": TINY.to_dict() | {"hidden": "abc"}}), "hidden"),
    (json.dumps({"config": TINY.to_dict() | {"hidden": 5}}), "hidden"),
    (json.dumps({"config": TINY.to_dict() | {"lr": "fast"}}), "learning rate"),
    ("[" * 100_000, "not valid JSON"),
], ids=["list", "config zzz", "hidden abc", "hidden 5", "lr text", "deep"])
def test_resume_of_a_hostile_config_is_one_line_exit_1(tmp_path, capsys, document, words):
    run_dir = write_run(tmp_path / "run", clean_events(), config=document)
    (run_dir / runlog.CHECKPOINT_FILE).write_bytes(b"not read: the config is refused first")
    before = sorted(p.name for p in run_dir.iterdir())
    code, _, err = cli(["--resume", str(run_dir), "--no-ui"], capsys)
    assert code == 1
    assert_one_line(err, runlog.CONFIG_FILE, words)
    assert sorted(p.name for p in run_dir.iterdir()) == before  # refused before anything was written


async def test_watch_of_a_hostile_log_shows_the_run_and_the_count(tmp_path):
    from tui.app import MnistApp

    run_dir = write_run(tmp_path / "run", clean_events(), list(HOSTILE.values()), config="[]")
    app = MnistApp(watch_dir=run_dir, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.run_status == "finished"
        assert app.acc_chart.point_count("test") == 2
        assert app.status.note == f"read-only · {len(HOSTILE)} malformed records skipped"
        app.poll_watch()  # the watch timer's next poll (nothing new): the count stays said
        await pilot.pause()
        assert app.status.note == f"read-only · {len(HOSTILE)} malformed records skipped"
        await pilot.press("q")


async def test_compare_of_a_hostile_log_shows_the_count(tmp_path):
    from textual.widgets import Static

    from tui.compare import CompareApp

    a = write_run(tmp_path / "a", clean_events(), list(HOSTILE.values()))
    b = write_run(tmp_path / "b", clean_events(), [])
    app = CompareApp(compare_paths=[a, b])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        status = str(app.screen.query_one("#compare-status", Static).render())
        assert f"{len(HOSTILE)} malformed records skipped" in status
        await pilot.press("q")


# ---- one writer per run directory ----

def test_the_lock_tells_a_live_writer_from_a_gone_one(tmp_path):
    run_dir = write_run(tmp_path / "run", clean_events(end=False))
    (run_dir / runlog.CHECKPOINT_FILE).write_bytes(b"x")
    assert runlog.writer_pid(run_dir) is None
    claim = runlog.claim_run_dir(run_dir, resume=True)
    assert runlog.writer_pid(run_dir) == os.getpid()
    with pytest.raises(runlog.RunDirError, match=f"in use by mnist-tui pid {os.getpid()};"):
        runlog.claim_run_dir(run_dir, resume=True)
    claim.release()
    assert runlog.writer_pid(run_dir) is None  # as after a kill -9: the lock goes with the process


async def test_watch_says_the_writer_is_gone_and_how_to_continue(tmp_path):
    from tui.app import MnistApp

    run_dir = write_run(tmp_path / "run", clean_events(end=False))
    (run_dir / runlog.CHECKPOINT_FILE).write_bytes(b"x")
    claim = runlog.claim_run_dir(run_dir, resume=True)  # a live writer
    app = MnistApp(watch_dir=run_dir, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.run_status == "running" and "gone" not in app.status.note
        claim.release()  # the writer dies without an end record
        app.poll_watch()
        assert app.status.note == f"writer gone; continue with mnist-tui --resume {run_dir}"
        assert app.run_status == "unfinished"
        assert app.status.eta_s is None
        await pilot.press("q")


async def test_compare_says_which_writer_is_gone(tmp_path):
    from textual.widgets import Static

    from tui.compare import CompareApp

    dead = write_run(tmp_path / "dead", clean_events(end=False))
    done = write_run(tmp_path / "done", clean_events())
    app = CompareApp(compare_paths=[dead, done])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        status = str(app.screen.query_one("#compare-status", Static).render())
        assert f"dead: writer gone; continue with mnist-tui --resume {dead}" in status
        assert "done: writer gone" not in status
        await pilot.press("q")


def test_resume_of_a_live_run_is_refused_before_torch_loads_naming_the_pid(tmp_path):
    run_dir = write_run(tmp_path / "run", clean_events(end=False))
    (run_dir / runlog.CHECKPOINT_FILE).write_bytes(b"x")
    claim = runlog.claim_run_dir(run_dir, resume=True)
    try:
        probe = ("import sys; from core.cli import main; code = main(['--resume', sys.argv[1], '--no-ui']); "
                 "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(code)")
        proc = subprocess.run([sys.executable, "-c", probe, str(run_dir)], cwd=ROOT, capture_output=True, text=True,
                              env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=60)
    finally:
        claim.release()
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == (f"mnist-tui: error: run directory {run_dir} is in use by mnist-tui pid {os.getpid()}; "
                           f"watch it with --watch {run_dir}\n")


def test_two_new_runs_into_one_run_dir_at_once_exactly_one_trains(tiny_data, tmp_path):
    run_dir = tmp_path / "same"
    argv = [sys.executable, "-m", "core.cli", *QUICK, "--data-dir", str(tiny_data), "--run-dir", str(run_dir)]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([*argv, "--lr", lr], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for lr in ("0.5", "0.01")]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, err in results if code == 1)
    assert loser.count("\n") == 1 and ("in use by mnist-tui pid" in loser or "already exists" in loser), loser
    records = list(runlog.iter_records(run_dir / runlog.METRICS_FILE))
    assert [r["type"] for r in records].count("config") == 1 and [r["type"] for r in records].count("end") == 1
    winner_lr = records[0]["config"]["lr"]
    assert json.loads((run_dir / runlog.CONFIG_FILE).read_text())["config"]["lr"] == winner_lr
    assert all(r["lr"] == winner_lr for r in records if r["type"] == "step")


# ---- nothing is written outside the run directory ----

def test_symlinked_write_probe_is_never_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    run_dir = write_run(tmp_path / "run", clean_events(end=False))
    (run_dir / runlog.CHECKPOINT_FILE).write_bytes(b"x")
    (run_dir / ".write-test").symlink_to(victim)
    runlog.claim_run_dir(run_dir, resume=True).release()
    assert victim.read_text() == "precious"


@pytest.mark.parametrize("name", [runlog.METRICS_FILE, runlog.CONFIG_FILE, runlog.LOCK_FILE, runlog.CHECKPOINT_FILE])
def test_a_run_file_that_is_a_symlink_is_refused_in_one_line(tmp_path, capsys, name):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    run_dir = write_run(tmp_path / "run", clean_events(end=False))
    if name != runlog.CHECKPOINT_FILE:
        (run_dir / runlog.CHECKPOINT_FILE).write_bytes(b"x")
    (run_dir / name).unlink(missing_ok=True)
    (run_dir / name).symlink_to(victim)
    code, _, err = cli(["--resume", str(run_dir), "--no-ui"], capsys)
    assert code == 1
    assert_one_line(err, f"{name} there is a symlink")
    with pytest.raises(runlog.RunDirError, match="symlink"):
        runlog.claim_run_dir(run_dir, resume=True)
    assert victim.read_text() == "precious"


def test_run_log_never_appends_through_a_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / runlog.METRICS_FILE).symlink_to(victim)
    with pytest.raises(runlog.RunDirError, match="symlink"):
        runlog.RunLog(tmp_path / "run")
    assert victim.read_text() == "precious"


def test_crash_log_goes_to_the_run_dir_else_the_state_dir_and_replaces_a_symlink(tmp_path, monkeypatch):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / runlog.ERROR_LOG).symlink_to(victim)
    assert runlog.write_error_log("trace", run_dir) == run_dir / runlog.ERROR_LOG
    assert victim.read_text() == "precious" and not (run_dir / runlog.ERROR_LOG).is_symlink()
    assert (run_dir / runlog.ERROR_LOG).read_text() == "trace"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert runlog.write_error_log("trace 2") == tmp_path / "state" / "mnist-tui" / runlog.ERROR_LOG
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert runlog.write_error_log("trace 3") == tmp_path / "home" / ".local" / "state" / "mnist-tui" / runlog.ERROR_LOG


# ---- torn last line, a first checkpoint that never completed ----

def test_torn_last_line_is_set_aside_before_a_resume_appends(tmp_path):
    run_dir = write_run(tmp_path / "run", clean_events(end=False))
    intact = (run_dir / runlog.METRICS_FILE).read_bytes()
    with open(run_dir / runlog.METRICS_FILE, "ab") as fh:
        fh.write(b'{"type":"epoch","epoch":3,"st')  # the disk filled mid-record
    (run_dir / runlog.CHECKPOINT_FILE).write_bytes(b"x")
    claim = runlog.claim_run_dir(run_dir, resume=True)
    claim.release()
    assert "moved to metrics.jsonl.torn" in claim.repaired
    assert (run_dir / runlog.METRICS_FILE).read_bytes() == intact
    assert (run_dir / runlog.TORN_FILE).read_bytes() == b'{"type":"epoch","epoch":3,"st\n'
    assert runlog.repair_torn_line(run_dir) is None  # a whole log is left alone


def test_resume_after_a_torn_line_lists_each_epoch_once(tiny_data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert cli([*QUICK, "--data-dir", str(tiny_data), "--run-dir", str(run_dir)], capsys)[0] == 0
    with open(run_dir / runlog.METRICS_FILE, "ab") as fh:
        fh.write(b'{"type":"epoch","epoch":1,"step":6,"train_lo')
    code, _, err = cli(["--resume", str(run_dir), "--no-ui", "--epochs", "2"], capsys)
    assert code == 0 and "repaired metrics.jsonl" in err, err
    code, _, err = cli(["--compare", str(run_dir), "--export", "csv", "--export-dir", str(tmp_path / "x")], capsys)
    assert code == 0 and err == "", err
    epochs = [row.split(",")[1] for row in (tmp_path / "x" / "epochs.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2"]


def test_a_first_checkpoint_that_never_completed_restarts_from_step_0(tiny_data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    config = replace_config(epochs=1)
    write_run(run_dir, clean_events()[:1], config={"config": config.to_dict(), "data_dir": str(tiny_data)})
    (run_dir / runlog.METRICS_FILE).write_text(line(to_record(clean_events()[0])) + "\n")
    (run_dir / f".{runlog.CHECKPOINT_FILE}.k9abc.tmp").write_bytes(b"half a checkpoint")  # kill -9 mid-write
    code, out, err = cli(["--resume", str(run_dir), "--no-ui", "--json"], capsys)
    assert code == 0, err
    first = json.loads(out.splitlines()[0])
    assert first["type"] == "config" and first["start_step"] == 0
    assert json.loads(out.splitlines()[-1])["status"] == "finished"
    assert runlog.load_checkpoint(run_dir / runlog.CHECKPOINT_FILE)["step"] == 6
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_a_log_with_training_but_no_checkpoint_is_not_restarted(tmp_path, capsys):
    run_dir = write_run(tmp_path / "run", clean_events(end=False))
    code, _, err = cli(["--resume", str(run_dir), "--no-ui"], capsys)
    assert code == 1
    assert_one_line(err, "no checkpoint.pt")


def test_a_new_run_may_reuse_a_directory_holding_only_leftovers(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / runlog.LOCK_FILE).write_text("123\n")
    (run_dir / f".{runlog.CONFIG_FILE}.x.tmp").write_text("{")
    claim = runlog.claim_run_dir(run_dir)
    claim.release(discard_dir=True)
    assert run_dir.is_dir() and not (run_dir / f".{runlog.CONFIG_FILE}.x.tmp").exists()


def replace_config(**changes) -> RunConfig:
    from dataclasses import replace

    return replace(TINY, **changes)


# ---- IDX ----

def test_idx_with_a_zero_count_is_refused(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(struct.pack(">II", LABELS_MAGIC, 0))
    with pytest.raises(DataError, match="holds no labels"):
        read_idx(path, LABELS_MAGIC)


def test_gzip_bomb_behind_a_valid_header_costs_nothing(tmp_path):
    """64 MB of zeros behind a header declaring 5 images: decompression stops after 3,921 bytes."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.GzipFile(path, "wb", compresslevel=1) as fh:
        fh.write(struct.pack(">IIII", IMAGES_MAGIC, 5, 28, 28))
        block = bytes(1 << 20)
        for _ in range(64):
            fh.write(block)
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="padded"):
            read_idx(path, IMAGES_MAGIC)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"{peak:,} bytes allocated for a file that declares 3,920"


# ---- small ones ----

def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(tmp_path):
    from core.export import epochs_csv
    from core.leaderboard import Standing

    standing = Standing("=1+2+cmd|x")
    for event in clean_events():
        standing.update(event)
    rows = epochs_csv([standing], with_run=True).splitlines()
    assert rows[1].startswith("'=1+2+cmd|x,1,")
    for name in ("+1", "-1", "@SUM(A1)"):
        assert epochs_csv([Standing(name, epochs=standing.epochs)], with_run=True).splitlines()[1][0] == "'"


@pytest.mark.parametrize("name", ["a\nb", "tab\there", "bell\a", "a/b", ".."])
def test_names_must_be_printable_without_separators(name):
    with pytest.raises(ConfigError, match="invalid name"):
        validate(RunConfig(name=name))


def test_long_values_are_shortened_in_errors(capsys):
    code, _, err = cli(["--no-ui", "--seed", "9" * 4400], capsys)
    assert code == 2 and len(err) < 200 and "4,400 characters" in err


def test_refused_checkpoint_message_is_whole_and_no_warning_escapes(tmp_path):
    path = tmp_path / runlog.CHECKPOINT_FILE
    path.write_bytes(pickle.dumps({"model": object(), "format": 1}, protocol=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a library warning here would reach the user's stderr
        with pytest.raises(runlog.CheckpointError) as err:
            runlog.load_checkpoint(path)
    message = str(err.value)
    assert message.endswith("(it holds objects other than tensors and numbers, which are never loaded)"), message
    assert "\n" not in message and "weights_only" not in message


# ---- every path problem is one line naming the path ----

def test_a_300_character_run_dir_component_is_one_line(tiny_data, tmp_path, capsys):
    long = tmp_path / ("x" * 300)
    code, _, err = cli([*QUICK, "--data-dir", str(tiny_data), "--run-dir", str(long / "run")], capsys)
    assert code == 1
    assert_one_line(err, "File name too long", str(tmp_path)[:20])
    code, _, err = cli(["--watch", str(long)], capsys)
    assert code == 1
    assert_one_line(err, "File name too long")


def test_data_dir_of_an_unknown_user_is_a_usage_error(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli([*QUICK, "--data-dir", "~nosuchuser-r16/x"], capsys)
    assert code == 2
    assert_one_line(err, "'~nosuchuser-r16/x'", "no user")
    assert not (tmp_path / "runs").exists()


def test_a_long_data_dir_is_blamed_on_the_data_dir_not_the_run_dir(tmp_path, capsys):
    code, _, err = cli([*QUICK, "--data-dir", str(tmp_path / ("d" * 300)), "--run-dir", str(tmp_path / "run")], capsys)
    assert code == 1
    assert_one_line(err, "cannot read", "File name too long")
    assert "cannot write" not in err and not (tmp_path / "run").exists()


def test_export_of_a_run_in_a_non_utf8_directory(tmp_path, capsys):
    name = os.fsdecode(b"run-\xff")
    write_run(tmp_path / name, clean_events())
    code, out, err = cli(["--compare", str(tmp_path / name), "--export", "csv", "--export-dir", str(tmp_path / "x")],
                         capsys)
    assert code == 0, err
    out.encode("utf-8")  # printable on any UTF-8 terminal
    assert (tmp_path / "x" / "epochs.csv").read_text(encoding="utf-8").splitlines()[1].startswith("run-\ufffd,1,")
