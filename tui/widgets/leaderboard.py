"""The compare view's leaderboard: a DataTable of ranked runs whose cursor picks the run in detail.

Cells come from core.export.leaderboard_rows, so the table on screen, the Markdown file and
the headless printout cannot disagree. Each run's name is drawn in its chart colour: the
table doubles as the charts' legend. Rows are updated in place (never cleared), so the
cursor, and with it the selected run, survives every re-ranking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rich.text import Text
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from core.export import LEADERBOARD_COLUMNS, leaderboard_rows
from core.leaderboard import Standing

# plotext colour names -> the Rich colours that look the same
RICH_COLORS = {"orange": "dark_orange"}
STATUS_STYLES = {"finished": "green", "failed": "bold red", "running": "bold cyan", "waiting": "dim",
                 "interrupted": "yellow", "stopped": "yellow", "unfinished": "yellow"}


def rich_color(color: str) -> str:
    return RICH_COLORS.get(color, color)


class Leaderboard(DataTable):
    """Ranked runs; moving the cursor posts Leaderboard.Selected with the run's name."""

    DEFAULT_CSS = """
    Leaderboard { height: auto; max-height: 12; }
    """

    @dataclass
    class Selected(Message):
        name: str

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.run_colors: dict[str, str] = {}
        self.order: list[str] = []
        self.selected: str | None = None

    def on_mount(self) -> None:
        for column in LEADERBOARD_COLUMNS:
            self.add_column(column, key=column)

    def show(self, standings: Sequence[Standing]) -> None:
        """Re-rank and redraw every row in place; keep the cursor on the selected run."""
        rows = leaderboard_rows(standings)
        while self.row_count < len(rows):
            self.add_row(*([""] * len(LEADERBOARD_COLUMNS)), key=str(self.row_count))
        self.order = [row[1] for row in rows]
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                self.update_cell_at(Coordinate(r, c), self._cell(LEADERBOARD_COLUMNS[c], value, row[1]),
                                    update_width=True)
        if self.selected in self.order:
            index = self.order.index(self.selected)
            if self.cursor_row != index:
                self.move_cursor(row=index)

    def select(self, name: str) -> None:
        """Put the cursor on `name` (a Selected message follows)."""
        self.selected = name
        if name in self.order:
            self.move_cursor(row=self.order.index(name))
        self.post_message(self.Selected(name))

    def _cell(self, column: str, value: str, name: str) -> Text:
        right = column not in ("run", "status")
        if column == "run":
            return Text(value, style=f"bold {rich_color(self.run_colors.get(name, 'white'))}")
        if column == "status":
            return Text(value, style=STATUS_STYLES.get(value, ""))
        return Text(value, justify="right" if right else "left")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self.order):
            name = self.order[event.cursor_row]
            if name != self.selected:
                self.selected = name
                self.post_message(self.Selected(name))
