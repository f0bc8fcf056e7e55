"""The compare view's leaderboard: a DataTable of ranked runs whose cursor picks the run in detail.

Cells come from core.export.leaderboard_rows, so the table on screen, the Markdown file and
the headless printout cannot disagree. Each run's name is drawn in its chart colour, after
its chart marker: the table doubles as the charts' legend, with or without colour. Rows are
updated in place (never cleared), so the cursor, and with it the selected run, survives every
re-ranking. When the table is wider than the widget (80 columns), whole columns are left out,
least important first (COLUMN_PRIORITY), rather than cutting the table at the right edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rich.text import Text
from textual.coordinate import Coordinate
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable

from core.export import LEADERBOARD_COLUMNS, leaderboard_rows
from core.leaderboard import Standing

# plotext colour names -> the Rich colours that look the same
RICH_COLORS = {"orange": "dark_orange"}
STATUS_STYLES = {"finished": "green", "failed": "bold red", "running": "bold cyan", "waiting": "dim",
                 "interrupted": "yellow", "stopped": "yellow", "unfinished": "yellow"}
# which columns stay when the table does not fit: the first ones always, the last ones first to go
COLUMN_PRIORITY = ("#", "run", "best test acc", "epochs", "status", "samples/s", "time", "device", "lr",
                   "final test acc", "at epoch")
CELL_PADDING = 2  # DataTable's padding around each cell (one column each side)


def rich_color(color: str) -> str:
    return RICH_COLORS.get(color, color)


def visible_columns(widths: dict[str, int], room: int) -> list[str]:
    """The columns to show in `room` cells: by priority while they fit, then in table order."""
    chosen: list[str] = []
    used = 0
    for column in COLUMN_PRIORITY:
        need = widths[column] + CELL_PADDING
        if used + need > room and len(chosen) >= 2:
            continue
        chosen.append(column)
        used += need
    return [c for c in LEADERBOARD_COLUMNS if c in chosen]


class Leaderboard(DataTable):
    """Ranked runs; moving the cursor posts Leaderboard.Selected with the run's name."""

    DEFAULT_CSS = """
    Leaderboard { height: auto; max-height: 12; }
    """

    @dataclass
    class Selected(Message):
        name: str
        by_user: bool = False

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.run_colors: dict[str, str] = {}
        self.run_markers: dict[str, str] = {}
        self.order: list[str] = []
        self.selected: str | None = None
        self.columns_shown: list[str] = []
        self._rows: list[list[str]] = []

    def on_mount(self) -> None:
        self._set_columns(list(LEADERBOARD_COLUMNS))

    def _set_columns(self, columns: list[str]) -> None:
        self.clear(columns=True)
        self.columns_shown = columns
        for column in columns:
            self.add_column(column, key=column)

    def _fit(self) -> None:
        """Drop (or bring back) whole columns so the table fits the widget's width."""
        room = self.scrollable_content_region.width or self.size.width
        if not room:
            return
        widths = {c: len(c) for c in LEADERBOARD_COLUMNS}
        for row in self._rows:
            for c, value in zip(LEADERBOARD_COLUMNS, row):
                widths[c] = max(widths[c], len(self._label(c, value, row[1])))
        wanted = visible_columns(widths, room - 1)
        if wanted != self.columns_shown:
            self._set_columns(wanted)
            self._draw()

    def on_resize(self, event: Resize) -> None:
        self._fit()

    def show(self, standings: Sequence[Standing]) -> None:
        """Re-rank and redraw every row in place; keep the cursor on the selected run."""
        self._rows = leaderboard_rows(standings)
        self.order = [row[1] for row in self._rows]
        self._fit()
        self._draw()

    def _draw(self) -> None:
        rows = self._rows
        while self.row_count < len(rows):
            self.add_row(*([""] * len(self.columns_shown)), key=str(self.row_count))
        indices = [LEADERBOARD_COLUMNS.index(c) for c in self.columns_shown]
        for r, row in enumerate(rows):
            for c, index in enumerate(indices):
                column = LEADERBOARD_COLUMNS[index]
                self.update_cell_at(Coordinate(r, c), self._cell(column, row[index], row[1]), update_width=True)
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

    def cells(self, name: str) -> dict[str, str]:
        """The run's row as the leaderboard computes it, every column (shown or not) by name."""
        row = self._rows[self.order.index(name)]
        return dict(zip(LEADERBOARD_COLUMNS, row))

    def _label(self, column: str, value: str, name: str) -> str:
        if column == "run" and name in self.run_markers:
            return f"{self.run_markers[name]} {value}"
        return value

    def _cell(self, column: str, value: str, name: str) -> Text:
        if column == "run":
            return Text(self._label(column, value, name),
                        style=f"bold {rich_color(self.run_colors.get(name, 'white'))}")
        if column == "status":
            return Text(value, style=STATUS_STYLES.get(value, ""))
        return Text(value, justify="left" if column == "device" else "right")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The user moved the cursor (moves made here select the run first, so they post nothing;
        a highlight the cursor has already left, e.g. from a column rebuild, is old news)."""
        event.stop()
        if event.cursor_row != self.cursor_row or not 0 <= event.cursor_row < len(self.order):
            return
        name = self.order[event.cursor_row]
        if name != self.selected:
            self.selected = name
            self.post_message(self.Selected(name, by_user=True))
