"""Starting a race from the app: a dialog that turns the form's settings into a RacePlan.

The dialog asks for the field to race, its values and how many entrants train at once,
checks them with core.race.plan_race (the same words as `--race` on the command line), and
the app then opens the compare view on a live race. It proposes short races (two or three
values: every optimizer at once is hours on a CPU) and remembers the last race asked for in
this app, values and all. Only `start_race_from_app` touches the main app, through its public
parts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from core.config import SETTING, ConfigError, RunConfig
from core.race import MAX_ENTRANTS, RACE_FIELDS, RacePlan, create_race_dir, plan_race
from core.runlog import RunDirError

# Short races to start from (each entrant is a whole training run: every optimizer at once is hours
# on a CPU): the schema's suggestions, cut to their first three values.
SUGGESTIONS = {name: ",".join(SETTING[name].race_values.split(",")[:3]) for name in RACE_FIELDS}
OWN_LR, FORM_LR = "own", "form"


@dataclass(frozen=True)
class RaceRequest:
    """What the dialog hands back: the plan, and how many entrants at once (None: the default)."""

    plan: RacePlan
    parallel: int | None = None


@dataclass(frozen=True)
class LastRace:
    """The dialog's fields as the user last submitted them."""

    field: str
    values: str
    lr: str = OWN_LR
    parallel: str = ""


def parse_parallel(text: str) -> int | None:
    """'' or 'auto' -> None (the default); else a whole number >= 1, in core's words otherwise."""
    text = text.strip().lower()
    if text in ("", "auto"):
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"invalid entrants at once {text!r}: a whole number from 1, or empty for the default")
    return int(text)


class RaceDialog(ModalScreen["RaceRequest | None"]):
    """Field + values (+ the lr rule for optimizer races) + entrants at once; dismisses with a
    RaceRequest or None. `last` refills it with the previous race."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    RaceDialog #race-dialog { width: 84; max-width: 100%; }
    RaceDialog #race-grid { grid-size: 2; grid-columns: 14 1fr; grid-rows: 1; grid-gutter: 1 1; height: auto; }
    RaceDialog #race-error { color: $error; height: auto; }
    """

    def __init__(self, base: RunConfig, field: str = "optimizer", last: LastRace | None = None) -> None:
        super().__init__()
        self.base = base
        self.last = last
        self.field = last.field if last is not None else field
        self.submitted: LastRace | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="race-dialog", classes="dialog"):
            yield Label("Race: one run per value, same model, data order and seed", classes="dialog-title")
            with Grid(id="race-grid"):
                yield Label("Race over")
                yield Select([(f, f) for f in RACE_FIELDS], value=self.field, allow_blank=False, compact=True,
                             id="race-field")
                yield Label("Values")
                yield Input(self.last.values if self.last else SUGGESTIONS.get(self.field, ""), compact=True,
                            id="race-values")
                yield Label("Learning rate", id="race-lr-label")
                yield Select([("each optimizer's own (sgd 0.1, adam 0.001, ...)", OWN_LR),
                              (f"the form's, {self.base.lr:g}, for all", FORM_LR)],
                             value=self.last.lr if self.last else OWN_LR, allow_blank=False, compact=True, id="race-lr")
                yield Label("At once")
                yield Input(self.last.parallel if self.last else "", compact=True, id="race-parallel",
                            placeholder=f"auto: one per GPU, else one per CPU core ({os.cpu_count() or 1} here)")
            yield Static("", id="race-error")
            yield Label(f"comma-separated, 2 to {MAX_ENTRANTS} values; VALUE@LR gives one entrant its own lr · "
                        f"enter starts · escape cancels", classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start race", id="race-start", variant="success", compact=True)

    def on_mount(self) -> None:
        self._sync_lr()
        self.query_one("#race-values", Input).focus()

    def _sync_lr(self) -> None:
        is_optimizer = self.query_one("#race-field", Select).value == "optimizer"
        self.query_one("#race-lr").display = is_optimizer
        self.query_one("#race-lr-label").display = is_optimizer

    @on(Select.Changed, "#race-field")
    def _field_changed(self, event: Select.Changed) -> None:
        if event.value != self.field:
            self.field = str(event.value)
            self.query_one("#race-values", Input).value = SUGGESTIONS.get(self.field, "")
            self.query_one("#race-error", Static).update("")
        self._sync_lr()

    def plan(self) -> RacePlan:
        """The plan the dialog describes; raises ConfigError with core's words."""
        field = str(self.query_one("#race-field", Select).value)
        values = self.query_one("#race-values", Input).value
        lr = self.base.lr if field == "optimizer" and self.query_one("#race-lr", Select).value == FORM_LR else None
        return plan_race(self.base, f"{field}={values}", lr)

    @on(Input.Submitted, "#race-values")
    @on(Input.Submitted, "#race-parallel")
    @on(Button.Pressed, "#race-start")
    def _submit(self) -> None:
        parallel_text = self.query_one("#race-parallel", Input).value
        try:
            plan = self.plan()
            parallel = parse_parallel(parallel_text)
        except ConfigError as exc:
            self.query_one("#race-error", Static).update(str(exc))
            return
        self.submitted = LastRace(plan.field, self.query_one("#race-values", Input).value,
                                  str(self.query_one("#race-lr", Select).value), parallel_text.strip())
        self.dismiss(RaceRequest(plan, parallel))

    def action_cancel(self) -> None:
        self.dismiss(None)


def start_race_from_app(app) -> None:
    """The form's settings as the base of a race: ask for the race, then open the compare view on it.

    `app` is the main MnistApp; only its form, its run state and its data/run-dir settings are used.
    """
    from tui.compare import CompareScreen
    from tui.widgets.config_form import FormError

    if app.watch_dir is not None or not app.lifecycle.allows("race"):
        app.notify("A race needs the app to itself: wait for the run to end (or stop it with x).",
                   title="Cannot race now", severity="warning")
        return
    try:
        base = app.form.read()
    except FormError as exc:
        app.notify(str(exc), title="Cannot race", severity="error")
        return
    runs_base = app.cli_run_dir.parent if app.cli_run_dir is not None else Path("runs")

    dialog = RaceDialog(base, last=getattr(app, "last_race", None))

    def chosen(request: RaceRequest | None) -> None:
        if request is None:
            return
        app.last_race = dialog.submitted  # the next race dialog of this app starts from this one
        try:
            race_dir = create_race_dir(request.plan, runs_base)
        except RunDirError as exc:
            app.notify(str(exc), title="Cannot race", severity="error")
            return
        app.push_screen(CompareScreen(plan=request.plan, race_dir=race_dir, data_dir=app.data_dir, can_go_back=True,
                                      parallel=request.parallel))

    app.push_screen(dialog, chosen)
