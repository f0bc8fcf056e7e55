"""A grid of sample test digits drawn as text, each captioned with predicted and true class.

Wrong predictions are marked twice: red, and with '✗' plus the true class in brackets, so the
grid reads the same on a terminal without colour. Rich's Columns flows the cells to the
widget's width, so the same widget serves 80 columns and 200.
"""

from __future__ import annotations

from typing import Sequence

from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.text import Text
from textual.widgets import Static

from core.events import SamplesEvent
from core.render import render_ascii, render_halfblock

DIGIT_SIZE = 14  # pixels across after downsampling: 14 columns by 7 rows of half-blocks
NAME_CHARS = 5


def short_name(name: str) -> str:
    return name[:NAME_CHARS]


def caption(prediction: int, label: int, classes: Sequence[str]) -> Text:
    """'✓ 7' when right; '✗ 3 (7)' (predicted, then true) in red when wrong."""
    if prediction == label:
        return Text(f"✓ {short_name(classes[prediction])}", style="green")
    return Text(f"✗ {short_name(classes[prediction])} ({short_name(classes[label])})", style="bold red")


class SampleGrid(Static):
    """Shows the latest SamplesEvent; `ascii` switches to a ramp that needs no colour at all."""

    DEFAULT_CSS = """
    SampleGrid { height: auto; }
    """

    PLACEHOLDER = "Sample test digits appear after the first epoch."

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(self.PLACEHOLDER, id=id, classes=classes)
        self.event: SamplesEvent | None = None
        self.classes_names: Sequence[str] = [str(d) for d in range(10)]
        self.ascii = False

    @property
    def wrong(self) -> int:
        e = self.event
        return 0 if e is None else sum(p != t for p, t in zip(e.predictions, e.labels))

    def on_mount(self) -> None:
        self.ascii = self.app.no_color  # half-blocks carry the picture in colour; without colour use the ramp

    def show_samples(self, event: SamplesEvent, classes: Sequence[str]) -> None:
        self.event = event
        self.classes_names = classes
        self.update(self._grid())

    def reset(self) -> None:
        self.event = None
        self.update(self.PLACEHOLDER)

    def toggle_ascii(self) -> None:
        self.ascii = not self.ascii
        if self.event is not None:
            self.update(self._grid())

    def _grid(self) -> RenderableType:
        event = self.event
        assert event is not None
        cells = []
        for i in range(len(event.images)):
            pixels = event.image_bytes(i)
            digit: RenderableType = (Text("\n".join(render_ascii(pixels, DIGIT_SIZE))) if self.ascii
                                     else render_halfblock(pixels, DIGIT_SIZE))
            cells.append(Group(digit, caption(event.predictions[i], event.labels[i], self.classes_names)))
        right = len(event.images) - self.wrong
        header = Text(f"epoch {event.epoch}: {right}/{len(event.images)} right   "
                      f"✓ right · ✗ predicted (true)", style="bold")
        return Group(header, Columns(cells, padding=(0, 2), width=DIGIT_SIZE + 1))
