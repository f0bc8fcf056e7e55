"""Modal screens: the key help, the learning-rate prompt and the run-failed dialog."""

from __future__ import annotations

from typing import Sequence

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, Label, Static

from core.config import SETTING, ConfigError
from core.program import PROG

# Keys that belong to widgets rather than to the app's BINDINGS, listed on the help screen too.
FORM_KEYS = (
    ("tab / shift+tab", "next / previous field"),
    ("enter", "next field; on a button: press it"),
    ("up / down / enter", "open a choice list and pick"),
    ("escape", "leave the form so the single-letter keys work"),
    ("left / right", "on the view tabs: previous / next view"),
    ("pgup / pgdn", "scroll the focused panel"),
)


def key_label(keys: str) -> str:
    names = {"question_mark": "?", "space": "space", "ctrl+c": "ctrl+c", "ctrl+q": "ctrl+q"}
    return " / ".join(names.get(k.strip(), k.strip()) for k in keys.split(","))


class HelpScreen(ModalScreen[None]):
    """Every key of the app, read from its BINDINGS (so the list cannot drift), plus the form's keys."""

    BINDINGS = [Binding("escape,question_mark,f1,q", "dismiss", "Close")]

    def __init__(self, bindings: list[tuple[str, str]], extra: Sequence[tuple[str, str]] = FORM_KEYS,
                 title: str = f"{PROG} keys") -> None:
        super().__init__()
        self.bindings = bindings
        self.extra = extra  # keys of widgets (the form's, or the compare view's leaderboard and tabs)
        self.title_text = title

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("what it does")
        for keys, description in self.bindings:
            table.add_row(key_label(keys), description)
        table.add_row("", "")
        for keys, description in self.extra:
            table.add_row(keys, description)
        with Vertical(id="help-dialog", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(table, id="help-table")
            yield Label("up/down scroll · escape or ? closes this help", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()


class SettingCheck(Validator):
    """One field of core's config schema: its parser and bounds, in the command line's words."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setting = SETTING[name]

    def validate(self, value: str) -> ValidationResult:
        try:
            self.setting.read(value)
        except ConfigError as exc:
            return self.failure(str(exc))
        return self.success()


class LearningRateScreen(ModalScreen["float | None"]):
    """Asks for a new learning rate; dismisses with the float, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: float) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="lr-dialog", classes="dialog"):
            yield Label(f"New learning rate (now {self.current:g})", classes="dialog-title")
            yield Input(f"{self.current:g}", id="lr-input", validators=[SettingCheck("lr")], compact=True)
            yield Static("", id="lr-error")
            yield Label("enter applies from the next step · escape cancels", classes="dialog-hint")

    @on(Input.Changed, "#lr-input")
    def _changed(self, event: Input.Changed) -> None:
        result = event.validation_result
        self.query_one("#lr-error", Static).update(
            "" if result is None or result.is_valid else result.failure_descriptions[0])

    @on(Input.Submitted, "#lr-input")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.validation_result is not None and not event.validation_result.is_valid:
            return
        self.dismiss(SETTING["lr"].read(event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class MessageDialog(ModalScreen[None]):
    """A titled message with an OK button: how a failed run is reported (never a traceback)."""

    BINDINGS = [Binding("escape,enter,o", "dismiss", "OK")]

    def __init__(self, title: str, message: str, severity: str = "error") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.severity = severity

    def compose(self) -> ComposeResult:
        with Vertical(id="message-dialog", classes=f"dialog -{self.severity}"):
            yield Label(Text(self.title_text), classes="dialog-title")
            with VerticalScroll(id="message-scroll"):
                yield Static(Text(self.message), id="message-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="ok", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#ok", Button).focus()

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.dismiss(None)
