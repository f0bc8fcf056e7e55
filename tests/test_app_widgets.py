"""Unit tests of the app's pieces: the event inbox, and each widget
mounted alone in a tiny App (the pattern of darrenburns/posting's tests)."""

from __future__ import annotations

from dataclasses import replace

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from core.config import PRESETS, RunConfig
from core.events import ConfigEvent, EpochEvent, SamplesEvent, StateEvent, StepEvent
from tui.bridge import EventInbox
from tui.messages import EventsWaiting
from tui.widgets.charts import AccuracyChart, LossChart, bucket, nice_ticks
from tui.widgets.config_form import ConfigForm, FormError
from tui.widgets.confusion import ConfusionMatrix, render_matrix
from tui.widgets.samples import SampleGrid, caption, grid_height
from tui.widgets.status import StatusBar


def step(i: int, epoch_size: int = 6400, batch: int = 64) -> StepEvent:
    seen = min(i * batch, epoch_size)
    return StepEvent(epoch=1, step=i, seen=seen, epoch_size=epoch_size, loss=1.0 / i, lr=0.01, time=i / 1000,
                     samples_per_s=64000.0, total_steps=100)


# ---- inbox (worker thread -> UI thread) ----
def test_inbox_keeps_every_event_in_order_and_wakes_the_clock_only_for_urgent_ones():
    posted = []
    inbox = EventInbox(posted.append)
    sent = []
    for i in range(1, 1001):  # 1000 steps and 10 epochs: none of them wakes the UI; the clock's beat drains them
        sent.append(step(i, epoch_size=10**9))
        if i % 100 == 0:
            sent.append(EpochEvent(epoch=i // 100, step=i, train_loss=0.5, train_acc=0.8, test_loss=0.4,
                                   test_acc=0.85, seconds=0.1, samples_per_s=6400.0, lr=0.1, time=i / 1000))
    for event in sent:
        inbox(event)
    assert len(posted) == 1  # the first step only: the first sign of training is shown at once
    assert inbox.drain() == sent and inbox.drain() == []
    state = StateEvent("paused", 2, 0.5, message="paused")
    inbox(step(1001, epoch_size=10**9))
    inbox(state)  # a pause changes what the user may do: the clock beats at once
    assert len(posted) == 2 and all(isinstance(m, EventsWaiting) for m in posted) and inbox.wakes == 2
    assert [type(e).__name__ for e in inbox.drain()] == ["StepEvent", "StateEvent"]


def test_wake_messages_replace_each_other():
    assert EventsWaiting().can_replace(EventsWaiting())


# ---- widgets, each mounted alone ----
class One(App):
    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def digit(value: int) -> str:
    pixels = bytes((255 if (r // 4 + c // 4 + value) % 3 == 0 else 0) for r in range(28) for c in range(28))
    return SamplesEvent.encode_image(pixels)


def samples_event() -> SamplesEvent:
    return SamplesEvent(epoch=3, indices=[0, 1, 2], labels=[7, 2, 1], predictions=[7, 3, 1],
                        confidences=[0.9, 0.6, 0.99], images=[digit(0), digit(1), digit(2)])


def test_caption_marks_wrong_predictions_with_a_symbol_and_the_true_class():
    classes = [str(d) for d in range(10)]
    assert caption(7, 7, classes).plain == "✓ 7"
    wrong = caption(3, 8, classes)
    assert wrong.plain == "✗ 3 (8)" and "red" in str(wrong.style)
    fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert caption(6, 4, fashion).plain == "✗ Shirt (Coat)"


def screen_text(widget) -> str:
    """What the screen shows of `widget`, through Textual's own line cache."""
    return "\n".join(strip.text for strip in widget.render_lines(widget.region.reset_offset))


async def test_sample_grid_shows_each_digit_with_its_caption():
    grid = SampleGrid()
    async with One(grid).run_test(size=(80, 24)) as pilot:
        grid.show_samples(samples_event(), [str(d) for d in range(10)])
        await pilot.pause()
        text = screen_text(grid)
        assert "epoch 3: 2/3 right" in text
        assert "✓ 7" in text and "✗ 3 (2)" in text and "✓ 1" in text
        assert "▀" in text
        assert grid.wrong == 1
        grid.toggle_ascii()
        await pilot.pause()
        text = screen_text(grid)
        assert "▀" not in text and "@" in text  # the ASCII ramp needs no colour at all


async def test_sample_grid_height_is_known_without_drawing_and_a_new_epoch_redraws_only_captions():
    grid = SampleGrid()
    async with One(grid).run_test(size=(80, 24)) as pilot:
        classes = [str(d) for d in range(10)]
        many = SamplesEvent(epoch=1, indices=list(range(7)), labels=[1] * 7, predictions=[1] * 6 + [2],
                            confidences=[0.9] * 7, images=[digit(k % 3) for k in range(7)])
        grid.show_samples(many, classes)
        await pilot.pause()
        for width in (17, 40, 80, 200):  # one digit a row up to all seven on one row
            grid._strips = None
            assert grid._content_height(width) == len(grid._lines(width)), width
        first = grid._lines(grid.size.width)
        grid.show_samples(replace(many, epoch=2, predictions=[1] * 7), classes)
        await pilot.pause()
        second = grid._lines(grid.size.width)
        assert len(second) == len(first)
        assert second[1] is first[1]  # the digit rows were kept
        text = grid.text(grid.size.width)
        assert "epoch 2: 7/7 right" in text and text.count("✗") == 1  # the legend's, no caption's


async def test_a_hidden_sample_grid_lays_itself_out_only_when_shown():
    """In the 80x24 layout the digits are another view; a new epoch's grid must not lay out the
    whole screen while nobody can see it, and must be the one shown when its view comes back."""
    grid = SampleGrid()
    panel = VerticalScroll(grid)  # as in the app: the view's panel is hidden, not the grid
    async with One(panel).run_test(size=(80, 24)) as pilot:
        panel.display = False
        await pilot.pause()
        layouts = []
        repaint = grid.refresh
        grid.refresh = lambda *regions, **kwargs: (layouts.append(kwargs.get("layout", False)), repaint(*regions, **kwargs))[1]
        many = SamplesEvent(epoch=1, indices=list(range(7)), labels=[1] * 7, predictions=[1] * 7,
                            confidences=[0.9] * 7, images=[digit(k % 3) for k in range(7)])
        grid.show_samples(many, [str(d) for d in range(10)])
        assert True not in layouts
        panel.display = True
        await pilot.pause()
        assert grid.size.height == grid_height(7, grid.size.width) > 1
        assert "epoch 1: 7/7 right" in screen_text(grid)
        panel.display = False  # hidden again: the next epoch must not leave the old grid on show
        await pilot.pause()
        layouts.clear()
        grid.show_samples(replace(many, epoch=2, predictions=[1] * 6 + [2]), [str(d) for d in range(10)])
        assert True not in layouts
        await pilot.pause()
        panel.display = True
        await pilot.pause()
        assert "epoch 2: 6/7 right" in screen_text(grid)


def test_confusion_matrix_prints_counts_and_the_accuracy():
    matrix = [[0] * 10 for _ in range(10)]
    for k in range(10):
        matrix[k][k] = 90
    matrix[4][9] = 10
    from rich.console import Console

    console = Console(width=80, record=True, color_system=None)
    console.print(render_matrix(2, matrix, [str(d) for d in range(10)]))
    text = console.export_text()
    assert "epoch 2: 900/910 right (98.90%)" in text
    row4 = next(line for line in text.splitlines() if line.startswith("4 "))
    assert row4.split()[1:] == ["·", "·", "·", "·", "90", "·", "·", "·", "·", "10"]


async def test_confusion_widget_keeps_totals():
    widget = ConfusionMatrix()
    async with One(widget).run_test(size=(80, 24)) as pilot:
        widget.show_matrix(1, [[5, 1], [2, 7]], ["a", "b"])
        await pilot.pause()
        assert widget.total == 15 and widget.correct == 12
        widget.reset()
        assert widget.matrix is None


def test_bucket_keeps_short_series_and_averages_long_ones():
    assert bucket([1, 2, 3], [3, 2, 1], 10) == ([1, 2, 3], [3, 2, 1])
    xs, ys = bucket(list(range(1000)), [float(i % 2) for i in range(1000)], 100)
    assert len(xs) == 100 and xs[-1] == 999
    assert all(abs(y - 0.5) < 1e-9 for y in ys)


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(19, 114) == [25, 50, 75, 100]
    assert nice_ticks(1, 9380) == [2500, 5000, 7500]
    assert all(isinstance(t, int) for t in nice_ticks(0, 7))


async def test_charts_draw_series_with_readable_axes():
    loss, acc = LossChart(), AccuracyChart()

    class Two(App):
        def compose(self) -> ComposeResult:
            yield loss
            yield acc

    async with Two().run_test(size=(80, 30)) as pilot:
        loss.add("loss", list(range(1, 2001)), [2.3 / (1 + i / 100) for i in range(2000)])
        for epoch in (1, 2, 3):
            acc.add_epoch("", epoch, 0.8 + epoch / 100, 0.85 + epoch / 100)
        loss.refresh()
        acc.refresh()
        await pilot.pause()
        loss_text = "\n".join(line.text for line in loss.render_lines(loss.region.reset_offset))
        acc_text = "\n".join(line.text for line in acc.render_lines(acc.region.reset_offset))
        assert "step" in loss_text and "1000" in loss_text and "2000" in loss_text
        assert "1.0000" not in loss_text  # integer step ticks, not floats
        assert "epoch" in acc_text and "train" in acc_text and "test" in acc_text
        assert acc.point_count("test") == 3


async def test_status_bar_shows_progress_rate_device_and_the_bundled_notice():
    bar = StatusBar()
    async with One(bar).run_test(size=(100, 10)) as pilot:
        bar.state, bar.epoch, bar.epochs, bar.step, bar.total_steps = "running", 2, 3, 50, 100
        bar.samples_per_s, bar.eta_s, bar.device, bar.data_source = 12345.0, 75.0, "cpu", "MNIST from /data"
        await pilot.pause()
        text = "\n".join(line.text for line in bar.render_lines(bar.region.reset_offset))
        assert "running" in text and "epoch 2/3" in text and "step 50/100" in text and "50%" in text
        assert "ETA 01:15" in text and "12,345 samples/s" in text and "cpu" in text and "MNIST from /data" in text
        assert "█" in text and "░" in text
        assert "bundled" not in text
        bar.bundled = True
        await pilot.pause()
        text = "\n".join(line.text for line in bar.render_lines(bar.region.reset_offset))
        assert "⚠ bundled sample data" in text


async def test_form_keeps_command_line_overrides_and_fills_presets_on_demand():
    cli = replace(PRESETS["cnn-adam"].config, lr=0.01)  # --preset cnn-adam --lr 0.01
    form = ConfigForm(cli)
    async with One(form).run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        assert form.query_one("#lr").value == "0.01"
        assert form.query_one("#preset").value == "cnn-adam"
        assert form.query_one("#hidden").disabled  # MLP options do not apply to the CNN
        assert form.read() == cli
        form.query_one("#preset").value = "mlp-sigmoid"
        await pilot.pause()
        assert form.query_one("#activation").value == "sigmoid"
        assert form.query_one("#lr").value == "0.01"
        assert form.query_one("#batch-size").value == "32"
        assert not form.query_one("#hidden").disabled
        assert form.read() == PRESETS["mlp-sigmoid"].config


async def test_form_read_refuses_bad_values_with_cores_message():
    form = ConfigForm(RunConfig())
    async with One(form).run_test(size=(80, 30)) as pilot:
        form.query_one("#hidden").value = "512,x"
        form.query_one("#dropout").value = "1.5"
        await pilot.pause()
        try:
            form.read()
        except FormError as exc:
            assert set(exc.errors) == {"hidden", "dropout"}
            assert "invalid dropout 1.5: must be < 1" == exc.errors["dropout"]
        else:
            raise AssertionError("read() accepted invalid values")
        assert form.query_one("#hidden").has_class("-invalid")


def test_config_event_round_trip_fields_used_by_the_app():
    # the app reads these ConfigEvent fields; a rename in core must fail here, not on screen
    names = set(ConfigEvent.__dataclass_fields__)
    assert {"config", "device", "data_source", "bundled_data", "test_size", "total_steps", "classes",
            "start_epoch", "start_step", "resumed", "run_dir"} <= names
    assert {"train_acc", "test_acc", "epoch", "time"} <= set(EpochEvent.__dataclass_fields__)
