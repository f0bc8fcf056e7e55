"""The first ten minutes in the app (issue 15): focus, hints, the preset label, the status bar at
80 columns, the numbers and the machine at a glance, the data set shown before the start, the
default preset, the word on the way out, class names at 80 columns and monochrome terminals.

Widgets are mounted alone in a tiny App where that suffices; waits are for conditions, never sleeps.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input, Select

from core.config import PRESETS, RunConfig
from core.events import EndEvent, EpochEvent, StateEvent, StepEvent
from core.lifecycle import Trigger
from core.machine import MachineStats
from tui import launch
from tui.app import MnistApp
from tui.widgets.charts import AccuracyChart, LossChart
from tui.widgets.config_form import FIELDS, ConfigForm
from tui.widgets.confusion import render_matrix
from tui.widgets.run_log import RunLog
from tui.widgets.samples import caption, cell_width
from tui.widgets.status import Phrase, ProcessTreeSampler, StatusBar, fit

from test_app import wait_for  # tests/ is on sys.path (pytest inserts the test files' folder)
from test_app_widgets import One, screen_text
from test_machine import FakeNVML

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def step(i: int, loss: float = 0.5, t: float = 1.0) -> StepEvent:
    return StepEvent(epoch=1, step=i, seen=i * 64, epoch_size=6400, loss=loss, lr=0.01, time=t,
                     samples_per_s=6400.0, total_steps=100)


def epoch(n: int, test_acc: float, t: float) -> EpochEvent:
    return EpochEvent(epoch=n, step=n * 100, train_loss=0.3, train_acc=0.9, test_loss=0.2, test_acc=test_acc,
                      seconds=1.0, samples_per_s=6400.0, lr=0.01, time=t)


# ---- 1. focus ----
async def test_tab_from_launch_goes_to_the_first_field_and_focus_is_plainly_marked():
    app = MnistApp(RunConfig(), cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.focused is None  # letter keys work at once
        await pilot.press("tab")
        assert app.focused is app.form.query_one("#preset")
        await pilot.press("tab")
        focused, other = app.form.query_one("#dataset"), app.form.query_one("#model")
        assert app.focused is focused
        await pilot.pause()
        shown, plain = focused.query_one("SelectCurrent").rich_style, other.query_one("SelectCurrent").rich_style
        assert shown.bgcolor != plain.bgcolor  # a clear colour change...
        assert shown.underline and shown.bold  # ...and a mark that survives a terminal without colour
        app.form.query_one("#lr").focus()
        await pilot.pause()
        assert app.form.query_one("#lr", Input).rich_style.underline
        app.form.query_one("#start").focus()
        await pilot.pause()
        assert app.form.query_one("#start").rich_style.reverse


# ---- 2. placeholders ----
def test_no_placeholder_reads_as_a_value():
    form = ConfigForm(RunConfig())  # check() needs no screen
    for field in FIELDS:
        if field.kind != "input" or not field.placeholder:
            continue
        if field.setting.optional:  # the word for empty ("all"), which is what an empty field means
            assert field.parse(field.placeholder) is None and not field.placeholder[0].isdigit(), field
        else:
            assert form.check(field, field.placeholder) is not None, field  # a hint, never a usable value


async def test_a_cleared_number_field_shows_a_hint_not_a_number():
    form = ConfigForm(RunConfig())
    async with One(form).run_test(size=(80, 30)) as pilot:
        epochs = form.query_one("#epochs", Input)
        epochs.value = ""
        await pilot.pause()
        shown = screen_text(epochs)
        assert "required" in shown and "10" not in shown
        assert "epochs" in str(form.query_one("#form-message").render())


# ---- 3. the preset label ----
async def test_preset_label_turns_custom_when_edited_and_back_when_undone():
    form = ConfigForm(PRESETS["cnn-adam"].config)
    async with One(form).run_test(size=(80, 30)) as pilot:
        preset = form.query_one("#preset", Select)
        form.query_one("#lr", Input).value = "0.02"
        await pilot.pause()
        assert preset.value == "custom"
        config = form.read()
        assert config.name == "custom" and config.lr == 0.02  # the run is not saved as ...-cnn-adam
        form.query_one("#lr", Input).value = "0.001"
        await pilot.pause()
        assert preset.value == "cnn-adam" and form.read() == PRESETS["cnn-adam"].config
        form.query_one("#dataset", Select).value = "fashion-mnist"
        await pilot.pause()
        assert preset.value == "custom" and form.read().name == "custom"


async def test_a_long_command_line_value_is_not_taken_for_an_edit():
    cli = replace(PRESETS["cnn-adam"].config, lr=0.0123456789)  # shown as 0.0123457
    form = ConfigForm(cli)
    async with One(form).run_test(size=(80, 30)) as pilot:
        form.query_one("#epochs", Input).value = "16"
        form.query_one("#epochs", Input).value = "15"
        await pilot.pause()
        assert form.query_one("#preset", Select).value == "cnn-adam"


async def test_choosing_a_preset_keeps_options_given_on_the_command_line():
    cli = replace(PRESETS["fast"].config, train_size=500)  # mnist-tui --train-size 500
    form = ConfigForm(cli, pinned=("train_size",))
    async with One(form).run_test(size=(80, 30)) as pilot:
        form.query_one("#preset", Select).value = "mlp-sigmoid"
        await pilot.pause()
        assert form.query_one("#train-size", Input).value == "500"
        assert form.query_one("#preset", Select).value == "mlp-sigmoid"  # kept options do not make it custom
        assert form.read() == replace(PRESETS["mlp-sigmoid"].config, train_size=500)
        assert "train-size" in str(form.query_one("#form-message").render())


# ---- 8. the first run ----
def test_the_app_opens_on_the_fast_preset_keeping_given_options():
    given = RunConfig(train_size=500, epochs=2)  # mnist-tui --train-size 500 --epochs 2
    config = launch.first_config(given, given=("train_size", "epochs"))
    assert config == replace(PRESETS["fast"].config, train_size=500, epochs=2)
    assert launch.first_config(RunConfig(), given=()) == PRESETS["fast"].config
    named = PRESETS["cnn-adam"].config
    assert launch.first_config(named, given=(), preset="cnn-adam") is named  # --preset wins


# ---- 7. the data set, before the start ----
async def test_form_shows_the_data_found_and_warns_about_the_bundled_sample_before_the_start(tiny_data, tmp_path,
                                                                                              monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)
    form = ConfigForm(RunConfig(), data_dir=str(tiny_data))
    async with One(form).run_test(size=(80, 30)) as pilot:
        line = form.query_one("#form-data")
        form.look_for_data()
        await wait_for(pilot, lambda: str(tiny_data) in str(line.render()), "the data line")
        assert "MNIST from" in str(line.render()) and not line.has_class("-bundled")
    form = ConfigForm(RunConfig())
    async with One(form).run_test(size=(80, 30)) as pilot:
        line = form.query_one("#form-data")
        form.look_for_data()
        await wait_for(pilot, lambda: line.has_class("-bundled"), "the bundled-sample warning")
        assert "bundled MNIST sample" in str(line.render()) and "--data-dir" in str(line.render())
        form.query_one("#dataset", Select).value = "fashion-mnist"
        await wait_for(pilot, lambda: "Fashion-MNIST" in str(line.render()), "the lookup for the new data set")


# ---- 4, 5, 6, 10. the status bar ----
def test_fit_drops_whole_phrases_and_never_cuts_one():
    phrases = [Phrase("loss 0.1234", 0), Phrase("test 98.21%", 0), Phrase("12,345 samples/s", 2),
               Phrase("MNIST from /a/very/long/data/path", 6), Phrase("run runs/20261129-fast", 0, path=True)]
    for width in range(20, 120):
        text = fit(phrases, width).plain
        assert len(text) <= width
        pieces = text.split(" · ")
        for piece in pieces:
            assert piece in {p.text for p in phrases} or "…" in piece, (width, text)
    assert "run runs/20261129-fast" in fit(phrases, 60).plain  # the run dir outlasts the data source


async def test_status_bar_at_80_columns_shows_numbers_run_dir_and_stays_three_lines_after_resizes():
    bar = StatusBar(sampler=lambda device: None)
    async with One(bar).run_test(size=(200, 10)) as pilot:
        bar.state, bar.epoch, bar.epochs, bar.step, bar.total_steps = "running", 2, 15, 1234, 9000
        bar.samples_per_s, bar.eta_s, bar.device = 12345.0, 75.0, "cpu"
        bar.data_source, bar.run_dir = "MNIST from /srv/data/MNIST/raw (cache)", "runs/20261129-101500-cnn-adam"
        bar.observe([step(1, loss=0.9, t=1.0), epoch(1, 0.97, 5.0), step(2, loss=0.1234, t=61.0),
                     epoch(2, 0.96, 70.0)])
        for width in (200, 80, 120, 80):
            await pilot.resize_terminal(width, 10)
            await pilot.pause()
            text = screen_text(bar)
            assert bar.size.height == 3, (width, text)
            lines = text.split("\n")
            assert "epoch 2/15" in lines[0] and "ETA 01:15" in lines[0]
            assert "loss 0.1234" in lines[1] and "test 96.00%" in lines[1] and "best 97.00% (epoch 1)" in lines[1]
            assert "01:10 elapsed" in lines[1]
            assert "run runs/20261129-101500-cnn-adam" in lines[2]
            assert not any(line.rstrip().endswith(("from", "·")) for line in lines)
        bar.state, bar.note = "stopping", "saving the checkpoint, then quitting"
        await pilot.pause()
        first = screen_text(bar).split("\n")[0]
        assert "saving the checkpoint, then quitting" in first and "epoch 2/15" in first  # the note is kept whole


async def test_status_bar_shows_the_machine_with_a_gpu_and_quietly_without_one():
    stats = MachineStats(cpu_percent=180.0, rss_bytes=3 * 2**30, gpu_name="NVIDIA H200",
                         gpu_memory_used=int(3.5 * 2**30), gpu_memory_total=140 * 2**30, gpu_utilization=87)
    seen: list[str] = []

    def fake(device: str) -> MachineStats:
        seen.append(device)
        return stats if device.startswith("cuda") else replace(stats, gpu_name=None, gpu_memory_used=None,
                                                                gpu_memory_total=None, gpu_utilization=None)

    bar = StatusBar(sampler=fake)
    async with One(bar).run_test(size=(120, 10)) as pilot:
        bar.state = "running"  # idle, the numbers would be the app's own: none are taken
        bar.device = "cuda"
        bar._sample_machine()
        await wait_for(pilot, lambda: bar.machine is stats, "the fake GPU sample")
        where = screen_text(bar).split("\n")[2]
        assert "H200" in where and "gpu 87%" in where and "vram 3.5/140 GiB" in where
        assert "cpu 180%" in where and "rss 3.0 GiB" in where
        bar.device = "cpu"
        bar._sample_machine()
        await wait_for(pilot, lambda: bar.machine is not stats and bar.machine is not None, "the CPU-only sample")
        where = screen_text(bar).split("\n")[2]
        assert "cpu 180%" in where and "gpu" not in where and "vram" not in where and "H200" not in where
    assert "cuda" in seen and "cpu" in seen


def test_machine_stats_of_the_real_process_tree_need_no_gpu():
    stats = ProcessTreeSampler()("cpu")
    assert stats.gpu_name is None and stats.rss_bytes and stats.rss_bytes > 0


def test_machine_stats_on_a_cuda_device_read_nvml_and_close_it_when_the_device_changes(monkeypatch):
    nvml = FakeNVML()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    sampler = ProcessTreeSampler()
    stats = sampler("cuda:0")
    assert stats.gpu_name == "NVIDIA H200" and stats.gpu_utilization == 45 and stats.gpu_memory_total == 140 * 2**30
    assert stats.rss_bytes and stats.rss_bytes > 0  # the process tree's part, alongside the GPU's
    assert sampler("cuda:0").gpu_name == "NVIDIA H200" and nvml.calls.count("init") == 1  # opened once
    assert sampler("cpu").gpu_name is None and "shutdown" in nvml.calls


async def test_app_status_shows_evaluating_until_the_epoch_ends():
    app = MnistApp(RunConfig(), cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.main.panels_mounted, "the run panels")  # mounted after the first frame
        app.lifecycle.fire(Trigger.START)
        app.lifecycle.fire(Trigger.RUN_BEGAN)
        app.apply_events([step(5), StateEvent("evaluating", 5, 1.0, message="evaluating epoch 1 on 200 test images")])
        await pilot.pause()
        assert app.status.state == "evaluating" and "evaluating" in screen_text(app.status)
        app.apply_events([epoch(1, 0.9, 2.0)])
        await pilot.pause()
        assert app.status.state == "running"
        assert "test 90.00%" in screen_text(app.status)


# ---- 5. numbers on the charts ----
async def test_chart_borders_show_last_loss_and_last_and_best_test_accuracy():
    class Charts(App):
        def compose(self) -> ComposeResult:
            yield LossChart(id="loss", classes="panel")
            yield AccuracyChart(id="acc", classes="panel")

    app = Charts()
    async with app.run_test(size=(100, 40)) as pilot:
        loss, acc = app.query_one(LossChart), app.query_one(AccuracyChart)
        loss.add("loss", [10, 20], [0.9, 0.25])
        loss.redraw()
        for n, value in ((1, 0.95), (2, 0.98), (3, 0.97)):
            acc.add_epoch("", n, 0.9, value)
        acc.redraw()
        await pilot.pause()
        assert loss.border_subtitle == "last 0.2500 · step 20"
        assert acc.border_subtitle == "test 97.00% · best 98.00% (ep 2)"
        loss.clear()
        assert not loss.border_subtitle


# ---- 4. the log at 80 columns ----
async def test_log_lines_fit_80_columns_and_reflow_after_a_resize():
    from core.lines import step_line

    log = RunLog()
    event = StepEvent(epoch=1, step=300, seen=19200, epoch_size=60000, loss=0.1234, lr=0.001, time=12,
                      samples_per_s=64000.0, total_steps=9000)
    async with One(log).run_test(size=(80, 20)) as pilot:
        for _ in range(3):
            log.add(12, step_line(event), short=step_line(event, rate=False))
        await pilot.pause()
        assert len(log.lines) == 3  # one screen line per step line, not two
        assert "samples/s" not in screen_text(log)
        await pilot.resize_terminal(160, 20)
        await pilot.pause()
        assert len(log.lines) == 3 and "64,000 samples/s" in screen_text(log)  # wide again: the whole line
        log.add(13, "x " * 70)  # a long line written wide...
        await pilot.pause()
        await pilot.resize_terminal(80, 20)
        await pilot.pause()
        assert len(log.lines) == 5  # ...wraps when narrow again (written anew for the new width)
        await pilot.resize_terminal(160, 20)
        await pilot.pause()
        assert len(log.lines) == 4  # and does not stay wrapped


# ---- 9. the word on the way out ----
async def test_quitting_during_a_run_leaves_the_summary_and_resume_command(tmp_path):
    """On a scripted run that keeps its run directory (tests/fake_engine.py); tests/test_app.py quits
    a real training process and checks its checkpoint."""
    import threading

    from fake_engine import ScriptedDiskEngine

    run_dir = tmp_path / "run"
    config = RunConfig(model="mlp", hidden=(32,), optimizer="adam", lr=0.003, batch_size=32, epochs=300,
                       log_interval=1)
    gate = threading.Semaphore(0)
    app = MnistApp(config, run_dir=run_dir, cursor_blink=False, engine_factory=ScriptedDiskEngine.factory(gate=gate))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s")
        gate.release()
        await wait_for(pilot, lambda: app.status.step > 0, "the first steps")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.lifecycle.active, "the checkpoint and the exit")
    lines = launch.farewell(app)
    assert lines and lines[0].startswith("mnist-tui: Run interrupted"), lines
    assert any(f"--resume {run_dir}" in line for line in lines), lines
    assert (run_dir / "checkpoint.pt").is_file()


def test_no_word_on_the_way_out_without_a_run():
    class Quiet:
        _quitting = False
        last_end = EndEvent(status="finished", reason="done", epoch=1, step=1, time=1.0)
        last_run = None

    assert launch.farewell(Quiet()) == []


# ---- 11. class names at 80 columns ----
def test_fashion_names_are_whole_or_sensibly_short_in_captions_and_the_matrix():
    assert caption(2, 7, FASHION).plain == "✗ Pullover (Sneaker)"
    assert caption(0, 9, FASHION).plain == "✗ T-shirt (Boot)"
    assert len(caption(2, 7, FASHION).plain) < cell_width(FASHION)
    assert cell_width([str(d) for d in range(10)]) == 17  # digits keep the old grid
    matrix = [[10 if i == j else 1 for j in range(10)] for i in range(10)]
    text = render_matrix(1, matrix, FASHION).plain
    assert "0 T-shirt" in text and "2 Pullover" in text and "9 Boot" in text
    assert max(len(line) for line in text.split("\n")) <= 76  # fits the 80-column matrix view
    digits = render_matrix(1, matrix, [str(d) for d in range(10)]).plain
    assert "0 0" not in digits  # plain digits need no legend


# ---- 12. monochrome terminals ----
@pytest.mark.parametrize("term, mono", [("xterm-mono", True), ("vt100-m", True), ("xterm-256color", False),
                                        ("xterm", False)])
def test_mono_terminals_are_recognised(term, mono):
    assert launch.is_mono_terminal({"TERM": term}) is mono


async def test_a_mono_terminal_gets_no_colour_and_ascii_digits(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-mono")
    monkeypatch.setenv("NO_COLOR", "")  # recorded first, so teardown restores the real state...
    monkeypatch.delenv("NO_COLOR")  # ...whatever prefer_no_color sets (an unset variable is not recorded)
    launch.prefer_no_color()
    assert os.environ.get("NO_COLOR") == "1"
    app = MnistApp(RunConfig(), cursor_blink=False)  # Textual reads NO_COLOR here
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color and app.samples.ascii
