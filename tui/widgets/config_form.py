"""The configuration panel: preset picker plus one compact row per setting.

The rows are generated from core's config schema (core.config.SETTINGS, those with in_form):
label, widget kind, choices, placeholder (a hint from the field's bounds, never a value that
could be taken for the field's content), parser, and which architecture and optimizer each applies to. Values are checked with core.config.validate, the same function the command line uses, so
the form and `--no-ui` reject exactly the same values with exactly the same words. A bad
value is marked in place (Textual's `-invalid` class via a Validator) and `read()` refuses
to produce a config while any field is bad; nothing here ever raises at the user.

The Preset picker tells the truth: once a field is edited away from what the preset (plus the
command line's options) filled in, it shows "custom" and the run is named custom; undoing the
edit brings the preset back. Choosing a preset keeps the options given on the command line
(`pinned`, e.g. --train-size). Below the fields the form says which data set a run would use
(looked up off the UI thread, so torch, which core.data imports, never delays the first frame),
and warns before the start when that is only the bundled sample.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static
from textual.worker import get_current_worker

from core.config import PRESETS, SETTINGS, ConfigError, RunConfig, Setting, validate

CUSTOM = "custom"
DATA_PREFIX = "Data: "


class FormError(Exception):
    """The form holds invalid values: `errors` maps widget id to core's message for it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(next(iter(errors.values()), "invalid settings"))
        self.errors = errors


@dataclass(frozen=True)
class Field:
    """One row of the form: a Setting of core's config schema and the widget that edits it."""

    setting: Setting

    @property
    def key(self) -> str:
        return self.setting.name

    @property
    def id(self) -> str:
        return self.setting.widget_id

    @property
    def label(self) -> str:
        return self.setting.label

    @property
    def kind(self) -> str:
        """"select", "input" or "toggle" (an off/on select: readable without colour)."""
        return {"choice": "select", "toggle": "toggle"}.get(self.setting.kind, "input")

    @property
    def choices(self) -> tuple[str, ...]:
        return self.setting.choices

    @property
    def placeholder(self) -> str:
        return hint(self.setting)

    def parse(self, text: str) -> Any:
        return self.setting.parse(text)  # the command line's parser: ConfigError in its words

    def show(self, value: Any) -> Any:
        if self.kind != "input":
            return value
        return "" if value is None else self.setting.show(value)  # empty shows the placeholder ("all")


def hint(setting: Setting) -> str:
    """What an empty input says: what the field wants (from its bounds), or what empty means
    ("all"); never a bare number, which reads as the field's value (Epochs showing 10 while
    the error says invalid epochs '')."""
    if setting.optional:
        return setting.empty
    if setting.kind == "sizes":
        return f"e.g. {setting.show(setting.default)}"
    bounds = setting.bounds
    wanted = "whole number" if setting.kind == "whole" else "number"
    if bounds is None or bounds.low is None:
        return f"required: {wanted}"
    low = f"{'>' if bounds.low_open else '≥'} {bounds.low:g}"
    if bounds.high is None or bounds.high >= 1e6:  # a guard far past sense, not a range to show
        return f"required: {low}"
    return f"required: {bounds.low:g} to {'<' if bounds.high_open else ''}{bounds.high:g}"


FIELDS: tuple[Field, ...] = tuple(Field(s) for s in SETTINGS if s.in_form)
FIELDS_BY_ID = {f.id: f for f in FIELDS}


class CoreCheck(Validator):
    """Validates one input by running core's validate() with just that field changed."""

    def __init__(self, form: "ConfigForm", field: Field) -> None:
        super().__init__()
        self.form = form
        self.field = field

    def validate(self, value: str) -> ValidationResult:
        error = self.form.check(self.field, value)
        return self.success() if error is None else self.failure(error)


class ConfigForm(Widget):
    """Preset picker, the settings, Start/Resume buttons and a one-line message."""

    locked: reactive[bool] = reactive(False)
    """True while a run is active (or in --watch): every control is disabled."""

    def __init__(self, config: RunConfig, *, pinned: tuple[str, ...] = (), data_dir: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        """`pinned`: RunConfig fields given on the command line, which choosing a preset keeps;
        `data_dir`: --data-dir, for the data-set lookup."""
        super().__init__(id=id, classes=classes)
        self.base = config
        self.pinned = tuple(pinned)
        self.data_dir = data_dir
        self._applied_preset = config.name if config.name in PRESETS else CUSTOM
        self._origin_preset = self._applied_preset  # the preset the fields were filled from
        self._data_wanted = False  # no lookup (it imports torch) before the app's first frame

    # ---- composition ----
    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form-scroll", can_focus=False):  # its fields take focus (and scroll it into view)
            with Grid(id="form-grid"):
                yield Label("Preset", classes="form-label")
                yield Select([(CUSTOM, CUSTOM)] + [(name, name) for name in PRESETS], value=self._applied_preset,
                             allow_blank=False, compact=True, id="preset")
                for field in FIELDS:
                    # born in their final state: a class or `disabled` changed after mounting restyles the
                    # widget again, and the form is most of the first frame's widgets
                    unused = not field.setting.applies(self.base.model, self.base.optimizer)
                    yield Label(field.label, classes="form-label -unused" if unused else "form-label",
                                id=f"label-{field.id}")
                    widget = self._make(field, getattr(self.base, field.key))
                    widget.disabled = unused
                    yield widget
            with Horizontal(id="form-buttons"):
                yield Button("Start", id="start", variant="success", compact=True)
                resume = Button("Resume run", id="resume-run", compact=True)
                resume.display = False  # offer_resume shows it when there is a run to continue
                yield resume
                yield Button("Compare…", id="race", compact=True)
            yield Static("", id="form-data")  # filled by look_for_data (not in --watch)
            yield Static("", id="form-message")

    def _make(self, field: Field, value: Any) -> Widget:
        widget: Widget
        if field.kind == "select":
            widget = Select([(c, c) for c in field.choices], value=value, allow_blank=False, compact=True, id=field.id)
        elif field.kind == "toggle":
            widget = Select([("off", False), ("on", True)], value=bool(value), allow_blank=False, compact=True,
                            id=field.id)
        else:
            widget = Input(field.show(value), placeholder=field.placeholder, compact=True, id=field.id,
                           validators=[CoreCheck(self, field)], valid_empty=field.setting.optional)
        widget.tooltip = f"{field.setting.help} ({field.setting.flag})"  # the words of --help, declared once
        return widget


    # ---- reading and writing ----
    def check(self, field: Field, text: str) -> str | None:
        """core's message for `text` in `field`, or None when it is valid."""
        try:
            validate(replace(self.base, **{field.key: field.parse(text)}))
        except ConfigError as exc:
            return str(exc)
        except (TypeError, ValueError) as exc:  # a value of the wrong type where validate compares
            return f"invalid {field.label.lower()} {text!r}: {exc}"
        return None

    def errors(self) -> dict[str, str]:
        """Every invalid input, by widget id (checked now, not from the last keystroke)."""
        found = {}
        for field in FIELDS:
            if field.kind == "input":
                error = self.check(field, self.query_one(f"#{field.id}", Input).value)
                if error is not None:
                    found[field.id] = error
        return found

    def read(self) -> RunConfig:
        """The config the form describes; raises FormError (and marks the fields) if it is invalid."""
        errors = self.errors()
        for field in FIELDS:
            if field.kind == "input":
                self.query_one(f"#{field.id}", Input).set_class(field.id in errors, "-invalid")
        if errors:
            self.show_message(next(iter(errors.values())), error=True)
            raise FormError(errors)
        values = {}
        for field in FIELDS:
            widget = self.query_one(f"#{field.id}")
            if field.kind == "input":
                assert isinstance(widget, Input)
                values[field.key] = field.parse(widget.value)
            else:
                values[field.key] = widget.value  # type: ignore[attr-defined]
        values["name"] = self._run_name()
        try:
            return validate(replace(self.base, **values))
        except ConfigError as exc:  # a combination no single field check catches
            self.show_message(str(exc), error=True)
            raise FormError({"": str(exc)}) from None

    def fill(self, config: RunConfig) -> None:
        """Put `config` into every field (used by the preset picker, --resume and --watch)."""
        self.base = config
        for field in FIELDS:
            widget = self.query_one(f"#{field.id}")
            value = field.show(getattr(config, field.key))
            if field.kind == "select" and value not in field.choices:
                continue  # a config from a newer version may name a choice we do not offer
            widget.value = value  # type: ignore[attr-defined]
            if isinstance(widget, Input):
                widget.remove_class("-invalid")
        preset = config.name if config.name in PRESETS else CUSTOM
        self._applied_preset = self._origin_preset = preset
        self.query_one("#preset", Select).value = preset
        self._sync_enabled()

    def offer_resume(self, available: bool) -> None:
        """Show the Resume button only when there is a run with a checkpoint to continue."""
        self.query_one("#resume-run", Button).display = available

    def show_message(self, text: str, error: bool = False) -> None:
        message = self.query_one("#form-message", Static)
        message.update(text)
        message.set_class(error, "-error")

    # ---- reactions ----
    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        if event.value == self._applied_preset:
            return  # the initial value (or our own fill), not a choice by the user
        if event.value == CUSTOM:
            self._applied_preset = self._origin_preset = CUSTOM
            return
        chosen = PRESETS[str(event.value)].config
        kept = {key: getattr(self.base, key) for key in self.pinned if key != "name"}
        self.fill(replace(chosen, **kept))
        note = f" (kept from the command line: {', '.join(k.replace('_', '-') for k in kept)})" if kept else ""
        self.show_message(PRESETS[str(event.value)].description + note)

    @on(Select.Changed, "#model, #optimizer")
    def _structure_changed(self) -> None:
        self._sync_enabled()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "dataset" and self._data_wanted:  # not the Changed every Select posts on mount
            self.look_for_data()
        if event.select.id != "preset":
            self._sync_preset_label()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        if event.validation_result is not None and not event.validation_result.is_valid:
            self.show_message(event.validation_result.failure_descriptions[0], error=True)
        elif self.query_one("#form-message", Static).has_class("-error") and not self.errors():
            self.show_message("")
        self._sync_preset_label()

    # ---- the preset label follows the fields ----
    def _current_values(self) -> dict[str, Any] | None:
        """The fields as config values, or None while any of them does not parse."""
        values = {}
        for field in FIELDS:
            widget = self.query_one(f"#{field.id}")
            if field.kind != "input":
                values[field.key] = widget.value  # type: ignore[attr-defined]
                continue
            try:
                values[field.key] = field.parse(widget.value)  # type: ignore[attr-defined]
            except (ConfigError, ValueError):
                return None
        return values

    def is_edited(self) -> bool:
        """True once a field differs from what the preset (and the command line) filled in."""
        values = self._current_values()
        if values is None:
            return True
        for field in FIELDS:
            filled = field.show(getattr(self.base, field.key))  # as the field showed it (floats via :g)
            if field.kind == "input":
                filled = field.parse(filled)
            if values[field.key] != filled:
                return True
        return False

    def _run_name(self) -> str:
        if self._applied_preset != CUSTOM:
            return self._applied_preset
        return self.base.name if self.base.name not in PRESETS else CUSTOM  # --name NAME stays

    def _sync_preset_label(self) -> None:
        if self.locked or self._origin_preset == CUSTOM or not self.is_mounted:
            return
        shown = CUSTOM if self.is_edited() else self._origin_preset
        if shown != self._applied_preset:
            self._applied_preset = shown  # first: the Changed message this posts is then not a user's choice
            self.query_one("#preset", Select).value = shown
            if shown == CUSTOM and not self.query_one("#form-message", Static).has_class("-error"):
                self.show_message(f"edited from {self._origin_preset}: the run will be named {self._run_name()}")

    # ---- which data a run would use ----
    def look_for_data(self) -> None:
        """Called once the first frame is up (the app's on_ready) and on each data-set choice."""
        self._data_wanted = True
        if not str(self.query_one("#form-data", Static).render()):
            self.query_one("#form-data", Static).update(f"{DATA_PREFIX}looking…")
        self._find_data(str(self.query_one("#dataset", Select).value), self.data_dir)

    @work(thread=True, exclusive=True, group="form-data", exit_on_error=False)
    def _find_data(self, dataset: str, data_dir: str | None) -> None:
        """core.data's own lookup (no download, no torch; it may hash the label files, hence a thread)."""
        try:
            from core import data

            location = data.locate(dataset, data_dir, allow_download=False)
            text, bundled = location.source, location.bundled
        except Exception as exc:  # noqa: BLE001 - a missing or bad data dir is shown, not raised
            text, bundled = f"{exc}", None
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_data, text, bundled)

    def show_data(self, source: str, bundled: bool | None) -> None:
        """bundled: True for the bundled sample (a warning before the start), None for an error."""
        line = self.query_one("#form-data", Static)
        if bundled:
            title = source.split(" (")[0]
            line.update(f"⚠ {DATA_PREFIX}{title}, not the full set: pass --data-dir DIR or set MNIST_TUI_DATA"
                        + ("" if os.environ.get("MNIST_TUI_OFFLINE") else " (a run first tries to download it)"))
        else:
            line.update(f"{DATA_PREFIX}{source}")
        line.set_class(bool(bundled), "-bundled")
        line.set_class(bundled is None, "-error")

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.screen.focus_next()

    def watch_locked(self) -> None:
        self._sync_enabled()

    def _sync_enabled(self) -> None:
        """Disable everything while locked; otherwise only options the architecture lacks."""
        if not self.is_mounted:
            return
        model = self.query_one("#model", Select).value
        optimizer = self.query_one("#optimizer", Select).value
        self.query_one("#preset", Select).disabled = self.locked
        for field in FIELDS:
            unused = not field.setting.applies(str(model), str(optimizer))
            self.query_one(f"#{field.id}").disabled = self.locked or unused
            self.query_one(f"#label-{field.id}").set_class(unused, "-unused")
        self.query_one("#form-buttons").display = not self.locked
