"""The test-set confusion matrix after each evaluation: rows are true classes, columns predicted.

Counts are printed, not only coloured: the diagonal is bold (and green), errors are red with
heavier ones bold, zeros are a dim dot, so the matrix reads on any terminal.
"""

from __future__ import annotations

from typing import Sequence

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
        same_shape = self.matrix is not None and len(self.matrix) == len(matrix)
        self.matrix, self.epoch = matrix, epoch
        # a new epoch's matrix has the same size as the last one: no screen layout needed
        self.update(render_matrix(epoch, matrix, classes), layout=not same_shape)


def render_matrix(epoch: int, matrix: list[list[int]], classes: Sequence[str]) -> Text:
    """One Text with fixed-width columns (a Table would be re-measured at every screen layout)."""
    names = [c[:LABEL_CHARS] for c in classes]
    cell = max(4, len(str(max((max(r) for r in matrix), default=0)))) + 1
    label = max(len(n) for n in names) if names else 1
    total = sum(map(sum, matrix))
    correct = sum(row[i] for i, row in enumerate(matrix))
    text = Text(f"epoch {epoch}: {correct}/{total} right ({correct / max(total, 1):.2%})\n"
                f"rows: true class · columns: predicted\n", style="bold")
    text.append(" " * label + "".join(n.rjust(cell) for n in names) + "\n", style="bold")
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
