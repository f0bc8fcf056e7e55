"""The main screen's run panels: loss and accuracy charts, sample digits, confusion matrix, log.

They live in their own module because the first screen does not show them (at 80x24 and 100x30
it is the settings form alone), so the main screen imports and mounts them only once the first
frame is on the terminal: plotext, RichLog and the digit renderers cost the first frame about a
fifth of its time otherwise (benchmarks/results/first_frame.md). Empty until a run has records.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll

from tui.widgets.charts import AccuracyChart, LossChart
from tui.widgets.confusion import ConfusionMatrix
from tui.widgets.run_log import RunLog
from tui.widgets.samples import SampleGrid

TITLES = {"#loss-chart": "loss per step", "#acc-chart": "accuracy % per epoch",
          "#samples-panel": "sample test digits", "#confusion-panel": "confusion matrix", "#log": "log"}


class RunPanels(Vertical):
    """The right-hand (or, at small sizes, tabbed) column of a run's panels."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="charts", classes="view view-charts"):
            yield LossChart(id="loss-chart", classes="panel")
            yield AccuracyChart(id="acc-chart", classes="panel")
        with Horizontal(id="evaluation"):
            with VerticalScroll(id="samples-panel", classes="panel view view-digits"):
                yield SampleGrid(id="samples")
            with VerticalScroll(id="confusion-panel", classes="panel view view-matrix"):
                yield ConfusionMatrix(id="confusion")
        yield RunLog(id="log", classes="panel view view-log")

    def on_mount(self) -> None:
        for selector, title in TITLES.items():
            self.query_one(selector).border_title = title
