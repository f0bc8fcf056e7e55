"""The test-set confusion matrix after each evaluation: rows are true classes, columns predicted.

Counts are printed, not only coloured: the diagonal is bold (and green), errors are red with
heavier ones bold, zeros are a dim dot, so the matrix reads on any terminal.
"""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.widgets import Static

from tui.widgets.samples import short_name


class ConfusionMatrix(Static):
    """Shows the latest matrix; `matrix[true][predicted]`."""

    DEFAULT_CSS = """
    ConfusionMatrix { height: auto; width: auto; }
    """

    PLACEHOLDER = "the matrix fills in after the first evaluation"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        empty = placeholder()
        super().__init__(empty, id=id, classes=classes)
        self._text_size = text_size(empty)
        self.matrix: list[list[int]] | None = None
        self.epoch = 0

    @property
    def total(self) -> int:
        return sum(map(sum, self.matrix or []))

    @property
    def correct(self) -> int:
        return sum(row[i] for i, row in enumerate(self.matrix or []))

    def reset(self) -> None:
        self.matrix, self.epoch = None, 0
        text = placeholder()
        size = text_size(text)
        self.update(text, layout=size != self._text_size)
        self._text_size = size

    def show_matrix(self, epoch: int, matrix: list[list[int]], classes: Sequence[str]) -> None:
        self.matrix, self.epoch = matrix, epoch
        text = render_matrix(epoch, matrix, classes)
        # the same size as the last matrix (or the placeholder): a repaint, no screen layout
        size = text_size(text)
        self.update(text, layout=size != self._text_size)
        self._text_size = size


def placeholder() -> Text:
    """An empty 10x10 matrix: the panel has its final size before the first evaluation."""
    return render_matrix(0, [[0] * 10 for _ in range(10)], [str(d) for d in range(10)],
                         title=ConfusionMatrix.PLACEHOLDER)


def text_size(text: Text) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), max(line.cell_len for line in lines)


def _cell(matrix: list[list[int]]) -> int:
    return max(4, len(str(max((max(r) for r in matrix), default=0)))) + 1


def render_matrix(epoch: int, matrix: list[list[int]], classes: Sequence[str], title: str = "") -> Text:
    """One Text with fixed-width columns (a Table would be re-measured at every screen layout).

    Class names longer than a column (Fashion-MNIST's) head the rows, numbered, and the columns
    carry only the numbers: a legend in the matrix itself, where 80 columns keep every name whole."""
    cell = _cell(matrix)
    if any(len(c) >= cell for c in classes):
        names = [f"{i} {short_name(c)}" for i, c in enumerate(classes)]
        columns = [str(i) for i in range(len(classes))]
    else:
        names = columns = list(classes)
    label = max(len(n) for n in names) if names else 1
    total = sum(map(sum, matrix))
    correct = sum(row[i] for i, row in enumerate(matrix))
    title = title or f"epoch {epoch}: {correct}/{total} right ({correct / max(total, 1):.2%})"
    text = Text(f"{title}\nrows: true class · columns: predicted\n", style="bold")
    text.append(" " * label + "".join(n.rjust(cell) for n in columns) + "\n", style="bold")
    for t, row in enumerate(matrix):
        row_total = max(sum(row), 1)
        text.append(names[t].ljust(label), style="bold")
        for p, count in enumerate(row):
            if p == t:
                text.append(str(count).rjust(cell), style="bold green")
            elif count == 0:
                text.append("·".rjust(cell), style="dim")
            else:
                text.append(str(count).rjust(cell), style="bold red" if count / row_total >= 0.02 else "red")
        if t < len(matrix) - 1:
            text.append("\n")
    return text
