"""A grid of sample test digits drawn as text, each captioned with predicted and true class.

Wrong predictions are marked twice: red, and with '✗' plus the true class in brackets, so the
grid reads the same on a terminal without colour. The grid flows to the widget's width, so
the same widget serves 80 columns and 200.

It uses Textual's line API: a Rich renderable would be rendered again to measure its height
at every screen layout, on the UI thread, while the training thread waits for the GIL. The
height is arithmetic, and the digit rows (the same test images every epoch) are drawn once
and kept; an epoch redraws only the header and the captions.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Sequence

from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from core.config import RunConfig
from core.events import SamplesEvent
from core.render import render_ascii, render_halfblock

DIGIT_SIZE = 14  # pixels across after downsampling: 14 columns by 7 rows of half-blocks
BLOCK_LINES = DIGIT_SIZE // 2 + 1  # one row of digits (two pixel rows a line) and its caption line
CELL_WIDTH = DIGIT_SIZE + 3  # digit, then room for a caption like '✗ 3 (7)' and a gap
PLACEHOLDER = "Sample test digits appear after the first epoch."
# class names too long for a caption beside another one, said shorter (not cut: 'T-shi', 'Ankle')
SHORT_NAMES = {"T-shirt/top": "T-shirt", "Ankle boot": "Boot"}


def short_name(name: str) -> str:
    return SHORT_NAMES.get(name, name)


def cell_width(classes: Sequence[str]) -> int:
    """A digit's column: wide enough for the longest wrong caption, '✗ Pullover (Sneaker)'."""
    longest = max((len(short_name(c)) for c in classes), default=1)
    return max(CELL_WIDTH, len("✗  ()") + 2 * longest + 1)


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


def per_row(width: int, cell: int = CELL_WIDTH) -> int:
    return max(1, (width + 2) // cell)


def header_line(event: SamplesEvent) -> Text:
    right = sum(p == t for p, t in zip(event.predictions, event.labels))
    return Text(f"epoch {event.epoch}: {right}/{len(event.images)} right   ✓ right · ✗ predicted (true)", style="bold")


def digit_row_lines(images: Sequence[str], ascii_art: bool, cell: int = CELL_WIDTH) -> list[Text]:
    """The text rows of digits drawn side by side (without captions)."""
    digits = [digit_lines(image, ascii_art) for image in images]
    lines = []
    for row in range(len(digits[0])):
        line = Text()
        for d in digits:
            line.append_text(d[row])
            line.append(" " * (cell - DIGIT_SIZE))
        lines.append(line)
    return lines


def caption_line(event: SamplesEvent, chunk: range, classes: Sequence[str]) -> Text:
    cell = cell_width(classes)
    line = Text()
    for i in chunk:
        label = caption(event.predictions[i], event.labels[i], classes)
        label.truncate(cell - 1, pad=True)
        line.append_text(label)
        line.append(" ")
    return line


def grid_height(image_count: int, width: int, cell: int = CELL_WIDTH) -> int:
    """The grid's line count, without drawing anything (layout asks for it often)."""
    return 1 + -(-image_count // per_row(width, cell)) * BLOCK_LINES


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
        self._digit_strips: tuple[tuple, list[list[Strip]]] | None = None
        self._height: int | None = None
        self._layout_when_shown = False
        self.expected = RunConfig().sample_count  # digits the placeholder keeps room for

    def on_show(self) -> None:
        """Its view is back on screen: apply what changed while it was hidden."""
        if self._layout_when_shown:
            self._layout_when_shown = False
            self.refresh(layout=True)

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

    def reset(self, expected: int | None = None) -> None:
        """Back to the placeholder, which keeps the room `expected` digits will take, so the
        first epoch's grid is a repaint rather than a layout of the whole screen."""
        self.event = None
        if expected is not None:
            self.expected = expected
        self._changed()

    def toggle_ascii(self) -> None:
        self.ascii = not self.ascii
        self._changed()

    def _changed(self) -> None:
        width = self.size.width
        old_height, self._strips = self._height, None
        if not width:
            # not on screen (another view of the compact layout): a layout of the whole screen
            # now would be for nothing. Lay out and repaint when shown (showing its panel alone
            # would neither measure it again nor drop its old lines).
            self._height = None
            self._layout_when_shown = True
            return
        if old_height is None or self._content_height(width) != old_height:
            self.refresh(layout=True)
        elif self.event is not None and self._digit_strips is not None and self._digit_strips[0] == self._digit_key(width):
            # the same digits: repaint the header and the captions, not hundreds of half-blocks
            self.refresh(*(Region(0, y, width, 1) for y in self._text_rows(width)))
        else:
            self.refresh()

    def text(self, width: int = 80) -> str:
        """The grid as plain text (what a monochrome terminal shows, bar the half-block shades)."""
        return "\n".join(strip.text for strip in self._lines(width))

    @property
    def cell(self) -> int:
        return cell_width(self.classes_names)

    def _content_height(self, width: int) -> int:
        width = max(width, self.cell)
        count = self.expected if self.event is None else len(self.event.images)
        self._height = grid_height(count, width, self.cell) if count else 1
        return self._height

    def _digit_key(self, width: int) -> tuple:
        width = max(width, self.cell)
        return (tuple(self.event.images) if self.event else (), width, self.ascii, self.cell)

    def _text_rows(self, width: int) -> list[int]:
        """Line numbers of the header and of each row's captions."""
        count = len(self.event.images) if self.event else 0
        rows = -(-count // per_row(max(width, self.cell), self.cell))
        return [0] + [BLOCK_LINES * (r + 1) for r in range(rows)]

    def _strip(self, text: Text, width: int) -> Strip:
        text.truncate(width)
        text.end = ""
        return Strip(list(text.render(self.app.console)), text.cell_len).apply_style(self.rich_style)

    def _lines(self, width: int) -> list[Strip]:
        """The grid's strips for `width`. The digit rows are the same test images every epoch, so
        their strips are kept across epochs (the costly part: hundreds of styled half-blocks a
        line); only the header and the captions are drawn again."""
        width = max(width, self.cell)
        if self._strips is not None and self._strips[0] == width:
            return self._strips[1]
        event = self.event
        if event is None:
            strips = [self._strip(Text(PLACEHOLDER), width)]
        else:
            n = per_row(width, self.cell)
            key = self._digit_key(width)
            if self._digit_strips is None or self._digit_strips[0] != key:
                rows = [[self._strip(t, width) for t in digit_row_lines(event.images[start:start + n], self.ascii, self.cell)]
                        for start in range(0, len(event.images), n)]
                self._digit_strips = (key, rows)
            strips = [self._strip(header_line(event), width)]
            for r, start in enumerate(range(0, len(event.images), n)):
                strips += self._digit_strips[1][r]
                chunk = range(start, min(start + n, len(event.images)))
                strips.append(self._strip(caption_line(event, chunk, self.classes_names), width))
        self._strips = (width, strips)
        return strips

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self._content_height(width)

    def render_line(self, y: int) -> Strip:
        lines = self._lines(self.size.width)
        if y >= len(lines):
            return Strip.blank(self.size.width, self.rich_style)
        return lines[y].extend_cell_length(self.size.width, self.rich_style)

