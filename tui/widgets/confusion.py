"""The test-set confusion matrix after each evaluation: rows are true classes, columns predicted.

Counts are printed, not only coloured: the diagonal is bold (and green), errors are red with
heavier ones bold, zeros are a dim dot, so the matrix reads on any terminal.
"""

from __future__ import annotations

from typing import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

LABEL_CHARS = 4


class ConfusionMatrix(Static):
    """Shows the latest matrix; `matrix[true][predicted]`."""

    DEFAULT_CSS = """
    ConfusionMatrix { height: auto; width: auto; }
    """

    PLACEHOLDER = "The confusion matrix appears after the first evaluation."

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(self.PLACEHOLDER, id=id, classes=classes)
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
        self.update(self.PLACEHOLDER)

    def show_matrix(self, epoch: int, matrix: list[list[int]], classes: Sequence[str]) -> None:
        self.matrix, self.epoch = matrix, epoch
        self.update(render_matrix(epoch, matrix, classes))


def render_matrix(epoch: int, matrix: list[list[int]], classes: Sequence[str]) -> RenderableType:
    names = [c[:LABEL_CHARS] for c in classes]
    width = max(4, len(str(max((max(r) for r in matrix), default=0))))
    table = Table(box=None, padding=(0, 0, 0, 1), show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("", justify="left", no_wrap=True)  # true class; the title names the axes
    for name in names:
        table.add_column(name, justify="right", min_width=width, no_wrap=True)
    for t, row in enumerate(matrix):
        total = max(sum(row), 1)
        cells = []
        for p, count in enumerate(row):
            if p == t:
                cells.append(Text(str(count), style="bold green"))
            elif count == 0:
                cells.append(Text("·", style="dim"))
            else:
                cells.append(Text(str(count), style="bold red" if count / total >= 0.02 else "red"))
        table.add_row(Text(names[t], style="bold"), *cells)
    total = sum(map(sum, matrix))
    correct = sum(row[i] for i, row in enumerate(matrix))
    title = Text(f"epoch {epoch}: {correct}/{total} right ({correct / max(total, 1):.2%})\n"
                 f"rows: true class · columns: predicted", style="bold")
    return Group(title, table)
