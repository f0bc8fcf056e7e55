"""A grid of sample test digits drawn as text, each captioned with predicted and true class.

Wrong predictions are marked twice: red, and with '✗' plus the true class in brackets, so the
grid reads the same on a terminal without colour. The grid flows to the widget's width, so
the same widget serves 80 columns and 200.

It uses Textual's line API with strips cached per width: the sample images are the same
test digits every epoch (only the captions change), and a Rich renderable here would be
rendered again to measure its height at every screen layout, on the UI thread, while the
training thread waits for the GIL.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Sequence

from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from core.events import SamplesEvent
from core.render import render_ascii, render_halfblock

DIGIT_SIZE = 14  # pixels across after downsampling: 14 columns by 7 rows of half-blocks
CELL_WIDTH = DIGIT_SIZE + 3  # digit, then room for a caption like '✗ Shirt (Coat)' and a gap
NAME_CHARS = 5
PLACEHOLDER = "Sample test digits appear after the first epoch."


def short_name(name: str) -> str:
    return name[:NAME_CHARS]


def caption(prediction: int, label: int, classes: Sequence[str]) -> Text:
    """'✓ 7' when right; '✗ 3 (7)' (predicted, then true) in red when wrong."""
    if prediction == label:
        return Text(f"✓ {short_name(classes[prediction])}", style="green")
    return Text(f"✗ {short_name(classes[prediction])} ({short_name(classes[label])})", style="bold red")


@lru_cache(maxsize=256)
def digit_lines(image: str, ascii_art: bool) -> tuple[Text, ...]:
    """The rows of one digit (base64 pixels as in SamplesEvent), cached: the same digits recur."""
    pixels = base64.b64decode(image)
    if ascii_art:
        return tuple(Text(line) for line in render_ascii(pixels, DIGIT_SIZE))
    return tuple(render_halfblock(pixels, DIGIT_SIZE).split("\n"))


def grid_lines(event: SamplesEvent, classes: Sequence[str], width: int, ascii_art: bool) -> list[Text]:
    """Header, then rows of digits with their captions, as many per row as `width` allows."""
    right = sum(p == t for p, t in zip(event.predictions, event.labels))
    lines = [Text(f"epoch {event.epoch}: {right}/{len(event.images)} right   ✓ right · ✗ predicted (true)",
                  style="bold")]
    per_row = max(1, (width + 2) // CELL_WIDTH)
    for start in range(0, len(event.images), per_row):
        chunk = range(start, min(start + per_row, len(event.images)))
        digits = [digit_lines(event.images[i], ascii_art) for i in chunk]
        for row in range(len(digits[0])):
            line = Text()
            for d in digits:
                line.append_text(d[row])
                line.append(" " * (CELL_WIDTH - DIGIT_SIZE))
            lines.append(line)
        line = Text()
        for i in chunk:
            label = caption(event.predictions[i], event.labels[i], classes)
            label.truncate(CELL_WIDTH - 1, pad=True)
            line.append_text(label)
            line.append(" ")
        lines.append(line)
    return lines


class SampleGrid(Widget):
    """Shows the latest SamplesEvent; `ascii` switches to a ramp that needs no colour at all."""

    DEFAULT_CSS = """
    SampleGrid { height: auto; }
    """

    PLACEHOLDER = PLACEHOLDER

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.event: SamplesEvent | None = None
        self.classes_names: Sequence[str] = [str(d) for d in range(10)]
        self.ascii = False
        self._strips: tuple[int, list[Strip]] | None = None

    def on_mount(self) -> None:
        self.ascii = self.app.no_color  # half-blocks carry the picture in colour; without colour use the ramp

    @property
    def wrong(self) -> int:
        e = self.event
        return 0 if e is None else sum(p != t for p, t in zip(e.predictions, e.labels))

    def show_samples(self, event: SamplesEvent, classes: Sequence[str]) -> None:
        self.event = event
        self.classes_names = classes
        self._changed()

    def reset(self) -> None:
        self.event = None
        self._changed()

    def toggle_ascii(self) -> None:
        self.ascii = not self.ascii
        self._changed()

    def _changed(self) -> None:
        height = len(self._strips[1]) if self._strips else None
        self._strips = None
        # the same number of lines as before (the usual epoch-to-epoch case) needs no screen layout
        self.refresh(layout=height is None or not self.size.width or len(self._lines(self.size.width)) != height)

    def text(self, width: int = 80) -> str:
        """The grid as plain text (what a monochrome terminal shows, bar the half-block shades)."""
        return "\n".join(strip.text for strip in self._lines(width))

    def _lines(self, width: int) -> list[Strip]:
        width = max(width, CELL_WIDTH)
        if self._strips is None or self._strips[0] != width:
            console, base = self.app.console, self.rich_style
            texts = ([Text(PLACEHOLDER)] if self.event is None
                     else grid_lines(self.event, self.classes_names, width, self.ascii))
            strips = []
            for text in texts:
                text.truncate(width)
                text.end = ""
                strips.append(Strip(list(text.render(console)), text.cell_len).apply_style(base))
            self._strips = (width, strips)
        return self._strips[1]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))

    def render_line(self, y: int) -> Strip:
        lines = self._lines(self.size.width)
        if y >= len(lines):
            return Strip.blank(self.size.width, self.rich_style)
        return lines[y].extend_cell_length(self.size.width, self.rich_style)

