"""Loss and accuracy charts on textual-plotext, each able to hold several named series.

A chart keeps its data as plain lists and draws at render time for its current size, so a
resize never distorts it. Long series are bucketed to about two points per column before
plotting: more points than the chart has cells only cost time on the UI thread. Several
series per chart leave room for a compare view (one series per run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from rich.console import RenderableType
from textual_plotext import PlotextPlot

PALETTE = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "white")


@dataclass
class Series:
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    color: str = "cyan"
    marker: str = "braille"


def bucket(xs: Sequence[float], ys: Sequence[float], max_points: int) -> tuple[list[float], list[float]]:
    """Average consecutive points into at most `max_points` buckets (keeps the shape, drops noise)."""
    n = len(xs)
    if n <= max_points or max_points < 2:
        return list(xs), list(ys)
    out_x, out_y = [], []
    for b in range(max_points):
        lo, hi = b * n // max_points, (b + 1) * n // max_points
        if hi > lo:
            out_x.append(xs[hi - 1])
            out_y.append(sum(ys[lo:hi]) / (hi - lo))
    return out_x, out_y


def nice_ticks(lo: float, hi: float, count: int = 4, integer: bool = True) -> list[float]:
    """About `count` round tick values (steps of 1, 2, 2.5 or 5 x 10^k) covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1, round(step))
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def tick_label(value: float) -> str:
    """Short integer labels: 950, 9500, 95k, 1.2M."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e5:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


class SeriesChart(PlotextPlot):
    """A PlotextPlot of named (x, y) series with fixed labels; call `refresh()` after changes."""

    DEFAULT_CSS = """
    SeriesChart { width: 1fr; height: 1fr; min-height: 6; }
    """
    INLINE_LEGEND = True  # plotext's legend, drawn over the plot; the compare view draws its own outside

    def __init__(self, *, xlabel: str, ylabel: str = "", empty: str = "waiting for data",
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.empty = empty
        self.series: dict[str, Series] = {}
        self.drawn = 0  # figures drawn with data (the redraw clock draws a chart's first one at once)

    def add(self, name: str, xs: Sequence[float], ys: Sequence[float], *, marker: str = "braille",
            color: str | None = None) -> None:
        """Append points to series `name` (created on first use with the next palette colour)."""
        series = self.series.get(name)
        if series is None:
            series = self.series[name] = Series(color=color or PALETTE[len(self.series) % len(PALETTE)], marker=marker)
        series.xs.extend(xs)
        series.ys.extend(ys)

    def replace(self, name: str, xs: Sequence[float], ys: Sequence[float]) -> None:
        """Series `name` holds exactly these points now (a run that was rewound or read again)."""
        series = self.series.get(name)
        if series is None:
            self.add(name, xs, ys)
        else:
            series.xs, series.ys = list(xs), list(ys)

    def clear(self) -> None:
        self.series.clear()
        self.border_subtitle = ""  # refreshes

    def point_count(self, name: str) -> int:
        series = self.series.get(name)
        return len(series.xs) if series else 0

    def redraw(self) -> None:
        """Draw the figure again, with the latest numbers on the border: the screen's redraw clock
        (tui/redraw.py) decides when, as a figure costs 20-30 ms of the UI thread."""
        self.border_subtitle = self.summary()
        self.refresh()

    def summary(self) -> str:
        """The latest numbers, shown on the border with each live redraw (a title set refreshes the
        whole chart, so it changes only when the figure does)."""
        return ""

    def render(self) -> RenderableType:
        if self._draw():
            self.drawn += 1
        return super().render()

    def _draw(self) -> bool:
        """Set up the plotext figure for the current size; False when there is nothing to plot."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        width = max(self.size.width, 10)
        plt.xlabel(self.xlabel)
        if self.ylabel:
            plt.ylabel(self.ylabel)
        drawn = False
        for name, series in self.series.items():
            if not series.xs:
                continue
            xs, ys = bucket(series.xs, series.ys, width * 2)
            label = name if len(self.series) > 1 and self.INLINE_LEGEND else None
            plt.plot(xs, ys, marker=series.marker, color=series.color, label=label)
            drawn = True
        if not drawn:
            plt.title(self.empty)
        self._axes(plt)
        return drawn

    def _axes(self, plt) -> None:
        """Hook for subclasses to set limits and ticks that keep the axes readable."""


class LossChart(SeriesChart):
    """Training loss per step (each point is the mean over one log interval)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(xlabel="step", empty="loss appears after the first steps", id=id, classes=classes)

    def summary(self) -> str:
        if len(self.series) != 1:
            return ""
        series = next(iter(self.series.values()))
        return f"last {series.ys[-1]:.4f} · step {series.xs[-1]:,.0f}" if series.ys else ""

    def _axes(self, plt) -> None:
        plt.yfrequency(4)
        xs = [x for s in self.series.values() for x in s.xs]
        if xs:
            ticks = nice_ticks(min(xs), max(xs), max(2, min(5, self.size.width // 10)))
            plt.xticks(ticks, [tick_label(t) for t in ticks])


class AccuracyChart(SeriesChart):
    """Train and test accuracy per epoch, in percent."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(xlabel="epoch", empty="accuracy appears after epoch 1", id=id, classes=classes)

    def add_epoch(self, run: str, epoch: int, train_acc: float, test_acc: float) -> None:
        prefix = f"{run} " if run else ""
        # different markers as well as colours, so the two lines differ on a monochrome terminal
        self.add(f"{prefix}train", [epoch], [100 * train_acc], marker="braille", color="orange")
        self.add(f"{prefix}test", [epoch], [100 * test_acc], marker="hd", color="green")

    def summary(self) -> str:
        """One run's last and best test accuracy (the compare view's charts name several runs)."""
        test = self.series.get("test")
        if test is None or not test.ys or len(self.series) != 2:
            return ""
        best = max(range(len(test.ys)), key=lambda i: (test.ys[i], -i))
        return f"test {test.ys[-1]:.2f}% · best {test.ys[best]:.2f}% (ep {test.xs[best]:.0f})"

    def _axes(self, plt) -> None:
        epochs = sorted({x for s in self.series.values() for x in s.xs})
        values = [y for s in self.series.values() for y in s.ys]
        if values:
            low = min(values)
            plt.ylim(max(0.0, min(low - 1.0, 99.0)), 100.0)
        plt.yfrequency(4)
        if epochs:
            room = max(1, self.size.width // 8)
            stride = max(1, -(-len(epochs) // room))
            ticks = [int(e) for e in epochs[::stride]]
            plt.xticks(ticks, [str(t) for t in ticks])
