"""Charts for the compare view: one series per run, named, so plotext draws a legend.

The loss chart's x axis is epochs, not steps: entrants of a batch-size race take different
numbers of steps per epoch, and only epochs line them up. Each run keeps one colour and one
marker (given by the compare screen) across both charts and the leaderboard. plotext's legend
is drawn inside the plot, over the curves, so these charts leave it out: the compare screen
draws the legend on a line of its own, and the leaderboard repeats each run's marker.
"""

from __future__ import annotations

from tui.widgets.charts import AccuracyChart, SeriesChart, nice_ticks


class OverlayLossChart(SeriesChart):
    """Training loss of every run against epochs (fractional: 1.5 is half-way through epoch 2)."""

    INLINE_LEGEND = False

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(xlabel="epoch", empty="loss appears after the first steps", id=id, classes=classes)

    def _axes(self, plt) -> None:
        plt.yfrequency(4)
        xs = [x for s in self.series.values() for x in s.xs]
        if xs:
            ticks = nice_ticks(0, max(max(xs), 1), max(2, min(5, self.size.width // 10)))
            plt.xticks(ticks, [f"{t:g}" for t in ticks])


class OverlayAccuracyChart(AccuracyChart):
    """Test accuracy (%) of every run per epoch."""

    INLINE_LEGEND = False

    def add_run_epoch(self, run: str, epoch: int, test_acc: float) -> None:
        self.add(run, [epoch], [100 * test_acc])  # the run's series, created with its marker by the screen
