"""The main screen's widgets and its size-dependent layout.

Three layouts, chosen from the terminal size on every resize:
- compact (below 110x30, e.g. 80x24): one view at a time, picked with the tabs or keys 1-5;
- medium: the configuration column stays on the left, the other views share the right;
- full (160x45 and up): everything at once.
The choice is a class on the screen (-compact / -medium / -full) plus one -view-NAME class;
app.tcss does the rest, so switching never remounts a widget.

The first frame holds the tabs, the form, the status bar and the footer; the run panels
(tui/panels.py) are imported and mounted by `mount_panels` once that frame is on the terminal.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Tab, Tabs

from core.config import RunConfig
from tui.widgets.config_form import ConfigForm
from tui.widgets.status import StatusBar

VIEWS = ("setup", "charts", "digits", "matrix", "log")
VIEW_TITLES = {"setup": "Setup", "charts": "Charts", "digits": "Digits", "matrix": "Matrix", "log": "Log"}
MEDIUM_MIN = (110, 30)
FULL_MIN = (160, 45)


def layout_for(width: int, height: int) -> str:
    if width >= FULL_MIN[0] and height >= FULL_MIN[1]:
        return "full"
    if width >= MEDIUM_MIN[0] and height >= MEDIUM_MIN[1]:
        return "medium"
    return "compact"


class MainScreen(Screen):
    """Composes every panel once; the app fills them from events."""

    AUTO_FOCUS = ""  # nothing focused at launch: letter keys work, and Tab goes to the form's first field

    def __init__(self, config: RunConfig, *, pinned: tuple[str, ...] = (), data_dir: str | None = None) -> None:
        super().__init__()
        self.config = config
        self.pinned = pinned
        self.data_dir = data_dir
        self.layout_mode = "compact"
        self.view = "setup"
        self.panels_mounted = False

    def compose(self) -> ComposeResult:
        # The layout's classes go on before the widgets mount, so the first frame is styled once
        # (set on mount, each class change restyled the whole screen: most of the start-up's CPU).
        width, height = self.app.size
        if width:
            self.layout_mode = layout_for(width, height)
            if self.layout_mode != "compact" and self.view == "setup":
                self.view = "charts"
        self.add_class(f"-{self.layout_mode}", f"-view-{self.view}")
        yield Tabs(*(Tab(f"{i} {VIEW_TITLES[v]}", id=f"tab-{v}") for i, v in enumerate(VIEWS, 1)),
                   id="view-tabs")
        with Horizontal(id="body"):
            yield ConfigForm(self.config, pinned=self.pinned, data_dir=self.data_dir, id="config",
                             classes="view view-setup")
        yield StatusBar(id="status")
        yield Footer(id="footer")

    def on_mount(self) -> None:
        # out of the focus chain: Tab from launch goes to the first field, not the tab bar
        # (keys 1-5 and the mouse switch views)
        self.query_one(Tabs).can_focus = False
        self.query_one("#config").border_title = "configuration"
        self.set_view(self.view)
        self.set_layout(layout_for(*self.size) if self.size.width else "compact")

    async def mount_panels(self) -> None:
        """Import and mount the run panels (once, after the first frame: see tui/panels.py)."""
        if self.panels_mounted:
            return
        from tui.panels import RunPanels

        await self.query_one("#body").mount(RunPanels(id="main"))
        self.panels_mounted = True

    def on_resize(self, event: Resize) -> None:
        self.set_layout(layout_for(event.size.width, event.size.height))

    def set_layout(self, mode: str) -> None:
        self.layout_mode = mode
        for name in ("compact", "medium", "full"):
            self.set_class(name == mode, f"-{name}")
        tabs = self.query_one(Tabs)
        if mode == "compact":
            tabs.show("tab-setup")
        else:
            tabs.hide("tab-setup")
            if self.view == "setup":
                self.set_view("charts")

    def set_view(self, view: str) -> None:
        if view == "setup" and self.layout_mode != "compact":
            self.query_one(ConfigForm).focus()
            return
        self.view = view
        for name in VIEWS:
            self.set_class(name == view, f"-view-{name}")
        tabs = self.query_one(Tabs)
        if tabs.active != f"tab-{view}":
            tabs.active = f"tab-{view}"

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab is not None and event.tab.id:
            view = event.tab.id.removeprefix("tab-")
            if view != self.view:
                self.set_view(view)
