"""The mnist-tui Textual app: configure, start, watch and steer a run; or watch one read-only.

Threading: a Textual thread worker (`_train`) runs each training run: by default it drives a
Trainer in a child process (core/engine_process.py), so training never waits for the UI's
GIL, and passes the child's events on. They reach the UI only through EventBridge, which
posts messages (tui/messages.py); handlers here, on the UI thread, update the widgets.
Controls go the other way through RunControl, whose calls the Trainer reads between steps.
torch is imported by a worker after the first frame, so the app paints at once. `--watch` feeds the same handlers from core.runlog.MetricsTail.
"""

from __future__ import annotations

import signal
import time
import traceback
from pathlib import Path
from typing import Any, Iterable

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Input
from textual.worker import get_current_worker

from core import runlog
from core.config import ConfigError, RunConfig, config_from_json, resume_changes, validate
from core.program import PROG
from core.events import (ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, Event, SamplesEvent, StateEvent,
                         StepEvent)
from core.lines import config_line, end_line, epoch_line, eta_seconds, step_line
from tui.bridge import EventBridge
from tui.control import RunControl
from tui.hangup import HangupExit
from tui.main_screen import MainScreen
from tui.messages import EngineReady, EventBatch, RunFinished
from tui.screens import HelpScreen, LearningRateScreen, MessageDialog
from tui.widgets.charts import AccuracyChart, LossChart
from tui.widgets.config_form import ConfigForm, FormError
from tui.widgets.confusion import ConfusionMatrix
from tui.widgets.run_log import RunLog
from tui.widgets.samples import SampleGrid
from tui.widgets.status import StatusBar

ENGINES = ("process", "thread")
# the main screen's own keys (all but quit): none of them may act while a race or comparison is shown
MAIN_SCREEN_ACTIONS = ("start", "resume_run", "pause", "unpause", "change_lr", "stop", "race", "view",
                       "ascii_digits", "leave_form", "help")
ACTIVE_STATES = ("starting", "running", "evaluating", "paused", "stopping")
RUN_CONTROLS = ("start", "resume_run", "pause", "unpause", "change_lr", "stop")
WATCH_POLL_S = 0.5
PANEL_MIN_S = 5.0  # digits and confusion matrix: at most one redraw every 5 s while training
STALE_AFTER_S = 30.0


class MnistApp(HangupExit, App[int]):
    """One app for both modes: a live run it owns, or (`watch_dir`) a read-only view of a run directory."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    TITLE = PROG
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("s", "start", "Start", tooltip="start a new run with the settings in the form"),
        Binding("r", "resume_run", "Resume run", tooltip="continue the last run from its checkpoint"),
        Binding("p,space", "pause", "Pause", tooltip="pause the run after the current step"),
        Binding("p,space", "unpause", "Continue", tooltip="continue a paused run"),
        Binding("l", "change_lr", "LR", tooltip="change the learning rate of the running run"),
        Binding("x", "stop", "Stop", tooltip="stop the run after this step and save a checkpoint"),
        Binding("c", "race", "Compare", tooltip="race one setting (optimizer, init, ...): one run per value, "
                                                "overlaid with a live leaderboard"),
        Binding("1", "view('setup')", "Setup view", show=False),
        Binding("2", "view('charts')", "Charts view", show=False),
        Binding("3", "view('digits')", "Digits view", show=False),
        Binding("4", "view('matrix')", "Confusion matrix view", show=False),
        Binding("5", "view('log')", "Log view", show=False),
        Binding("a", "ascii_digits", "Digits as ASCII / half-blocks", show=False),
        Binding("escape", "leave_form", "Leave the form (then letter keys work)", show=False),
        Binding("question_mark,f1", "help", "Help", tooltip="this list of keys"),
        Binding("q", "quit", "Quit", tooltip="quit (a running run is stopped and its checkpoint saved first)"),
        Binding("ctrl+c", "quit", "Quit", tooltip="quit, like q", show=False),
    ]

    run_status: reactive[str] = reactive("idle", init=False)
    race_resume_hint = ""  # set by the compare view when quitting stops a race: how to finish it
    pause_requested: reactive[bool] = reactive(False, init=False)

    def __init__(self, config: RunConfig | None = None, *, run_dir: Path | None = None, data_dir: str | None = None,
                 resume: bool = False, watch_dir: Path | None = None, data: Any = None,
                 handle_signals: bool = False, cursor_blink: bool = True, engine: str = "process",
                 pinned: tuple[str, ...] = ()) -> None:
        super().__init__()
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
        # "process": the Trainer in a child process (core/engine_process.py: no GIL shared with the UI);
        # "thread": in the worker thread itself (tests that patch the engine in this process use it)
        self.engine = engine
        self.initial_config = config or RunConfig()
        self.cli_run_dir = Path(run_dir) if run_dir else None
        self.data_dir = data_dir
        self.resume_on_start = resume
        self.watch_dir = Path(watch_dir) if watch_dir else None
        self.data = data  # a preloaded core.data.DataBundle (benchmarks); None: the engine finds the data
        self.handle_signals = handle_signals
        self.cursor_blink = cursor_blink
        self.main = MainScreen(self.initial_config, pinned=pinned, data_dir=data_dir)  # pinned: given on the command line
        self.control: RunControl | None = None
        self.last_run: RunControl | None = None
        self.last_end: EndEvent | None = None
        self.engine_error = ""
        self.torch_version = ""
        self._cli_run_dir_used = False
        self._quitting = False
        self._exit_code = 0
        self._stop_signal: int | None = None  # SIGTERM/SIGHUP that asked the app to leave, for the end record
        self._replaying = False
        self._clock = 0.0
        self._lr: float | None = None
        self._batch_size = self.initial_config.batch_size
        self._test_size: int | None = None
        self._class_names: list[str] = [str(d) for d in range(10)]
        self._tail: runlog.MetricsTail | None = None
        self._pending_panels: dict[type, Event] = {}
        self._panels_shown_at = float("-inf")
        self._panel_timer = None
        self._bindings_shown: tuple | None = None
        self._last_record_at = time.monotonic()

    # ---- widgets ----
    def get_default_screen(self) -> Screen:
        return self.main

    @property
    def form(self) -> ConfigForm:
        return self.main.query_one(ConfigForm)

    @property
    def loss_chart(self) -> LossChart:
        return self.main.query_one(LossChart)

    @property
    def acc_chart(self) -> AccuracyChart:
        return self.main.query_one(AccuracyChart)

    @property
    def samples(self) -> SampleGrid:
        return self.main.query_one(SampleGrid)

    @property
    def confusion(self) -> ConfusionMatrix:
        return self.main.query_one(ConfusionMatrix)

    @property
    def run_log(self) -> RunLog:
        return self.main.query_one(RunLog)

    @property
    def status(self) -> StatusBar:
        return self.main.query_one(StatusBar)

    # ---- start-up ----
    def on_ready(self) -> None:
        """Runs once the first frame is on screen: only now pay for importing torch, off the UI thread."""
        if not self.cursor_blink:
            for widget in self.main.query(Input):
                widget.cursor_blink = False
        if self.handle_signals:
            self.install_signal_handlers()
        if self.watch_dir is not None:
            self._start_watch()
            return
        self.form.show_message("Tab moves between fields · s or the Start button starts · ? lists every key")
        self._import_engine()
        self.form.look_for_data()
        if self.resume_on_start and self.cli_run_dir is not None:
            self._cli_run_dir_used = True
            self._resume(RunControl(validate(self.initial_config), self.cli_run_dir, resume=True))

    @work(thread=True, group="import", exit_on_error=False)
    def _import_engine(self) -> None:
        try:
            import torch

            import core.engine  # noqa: F401  (the import is the work)

            from core import engine_process

            if self.engine == "process" and engine_process.available():
                engine_process.warm_up()  # the forkserver imports torch once, so each run starts at once
        except Exception as exc:  # noqa: BLE001 - any import failure is reported, not raised
            self.post_message(EngineReady(error=f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(EngineReady(torch_version=torch.__version__))

    @on(EngineReady)
    def _engine_ready(self, message: EngineReady) -> None:
        self.torch_version = message.torch_version
        if message.error:
            self.engine_error = message.error
            self.push_screen(MessageDialog("torch could not be loaded",
                                           f"{message.error}\n\nTraining needs PyTorch; --watch still works."))

    def watch_run_status(self, status: str) -> None:
        if self.main.is_mounted:
            self.status.state = status
        self._sync_bindings()

    def watch_pause_requested(self) -> None:
        self._sync_bindings()

    def _sync_bindings(self) -> None:
        """Refresh the footer only when the set of usable controls changed.

        A footer refresh rebuilds its keys (a restyle: the dearest frame the app draws), and the
        state goes starting -> running -> ... without changing which keys apply.
        """
        shown = tuple(self.check_action(action, ()) for action in RUN_CONTROLS + ("race",))
        if shown != self._bindings_shown:
            self._bindings_shown = shown
            self.refresh_bindings()

    # ---- bindings ----
    def _behind_compare(self) -> bool:
        from tui.compare import CompareScreen

        return any(isinstance(screen, CompareScreen) for screen in self.screen_stack)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide controls that do not apply now, so the footer shows only what a key would do."""
        if action in MAIN_SCREEN_ACTIONS and self._behind_compare():
            return False  # a race or comparison is on screen: only its own keys apply (nothing starts behind it)
        if action == "race":
            return self.watch_dir is None and self.control is None
        if action not in RUN_CONTROLS:
            return True
        if self.watch_dir is not None:
            return False
        active = self.control is not None
        status = self.run_status
        if action == "start":
            return not active
        if action == "resume_run":
            return not active and self.last_run is not None
        if action == "pause":
            return active and not self.pause_requested and status in ("starting", "running", "evaluating")
        if action == "unpause":
            return active and self.pause_requested and status != "stopping"
        if action == "change_lr":
            return active and status in ("starting", "running", "evaluating", "paused")
        if action == "stop":
            return active and status != "stopping"
        return True

    def action_start(self) -> None:
        if self.control is not None:
            return
        try:
            config = self.form.read()
        except FormError as exc:
            self.notify(str(exc), title="Cannot start", severity="error")
            self.main.set_view("setup")
            return
        try:
            run_dir = self._next_run_dir(config)
        except runlog.RunDirError as exc:
            self.notify(str(exc), title="Cannot start", severity="error")
            return
        self._launch(RunControl(config, run_dir), history=[])

    def action_resume_run(self) -> None:
        last = self.last_run
        if self.control is not None or last is None:
            return
        if not (last.run_dir / runlog.CHECKPOINT_FILE).is_file():
            self.notify(f"{last.run_dir} has no checkpoint to resume from", title="Cannot resume", severity="error")
            return
        try:
            wanted = self.form.read()
        except FormError as exc:
            self.notify(str(exc), title="Cannot resume", severity="error")
            return
        config = resume_changes(last.config, wanted)  # only the schema's resumable fields (epochs, device)
        if self.last_end is not None and self.last_end.status == "finished" and config.epochs <= last.config.epochs:
            self.notify(f"This run already trained its {last.config.epochs} epochs: raise Epochs in the form "
                        "to continue it, or press s for a new run.", title="Nothing to resume", severity="warning")
            return
        self._resume(RunControl(config, last.run_dir, resume=True))

    def action_pause(self) -> None:
        if self.control is not None:
            self.control.pause()
            self.pause_requested = True
            self.status.note = "pausing after this step"

    def action_unpause(self) -> None:
        if self.control is not None:
            self.control.resume_training()
            self.pause_requested = False
            self.status.note = ""

    def action_stop(self) -> None:
        if self.control is not None:
            self.control.stop("stopped", "stopped from the app")
            self.pause_requested = False
            self.run_status = "stopping"
            self.status.note = "finishing the step and saving a checkpoint"

    def action_change_lr(self) -> None:
        if self.control is None:
            return
        current = self._lr if self._lr is not None else self.control.config.lr

        def apply(lr: float | None) -> None:
            if lr is not None and self.control is not None:
                self.control.set_lr(lr)
                when = "when the run continues" if self.pause_requested else "from the next step"
                self.notify(f"learning rate {lr:g} {when}", title="Learning rate")

        self.push_screen(LearningRateScreen(current), apply)

    def action_view(self, name: str) -> None:
        if name == "setup" and self.main.layout_mode != "compact":
            self._focus_form()
            return
        self.main.set_view(name)

    def action_ascii_digits(self) -> None:
        self.samples.toggle_ascii()

    def action_leave_form(self) -> None:
        self.main.set_focus(None)  # then letter keys and 1-5 work

    def action_help(self) -> None:
        rows = []
        for binding in self.BINDINGS + App.BINDINGS:
            if isinstance(binding, Binding) and binding.action != "help_quit":
                rows.append((binding.key, binding.tooltip or binding.description or binding.action))
        self.push_screen(HelpScreen(rows))

    async def action_quit(self) -> None:
        """Quit; a running run is stopped first and its checkpoint saved (the worker's last act)."""
        if self.control is None:
            self.exit(return_code=self._exit_code)
            return
        if self._quitting:
            self.notify("Still saving the checkpoint; the app closes as soon as it is written.")
            return
        self._quitting = True
        why = {signal.SIGHUP: "the terminal hung up (SIGHUP)", signal.SIGTERM: "stopped by SIGTERM"}.get(
            self._stop_signal, "quit from the app")
        self.control.stop("interrupted", f"{why}; continue with mnist-tui --resume {self.control.run_dir}")
        self.pause_requested = False
        self.run_status = "stopping"
        self.status.note = "saving the checkpoint, then quitting"

    def _on_signal(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM / SIGHUP (e.g. the SSH session went away): save like a quit, exit 130 if a run was stopped."""
        self.signal_received(sig)
        self._stop_signal = sig
        if self.control is not None:
            self._exit_code = 130
        self.call_later(self.action_quit)

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#resume-run")
    def _resume_pressed(self) -> None:
        self.action_resume_run()

    @on(Button.Pressed, "#race")
    def _race_pressed(self) -> None:
        self.action_race()

    def action_race(self) -> None:
        """Race the form's settings over one field, in the compare view (tui/race_dialog.py, tui/compare.py)."""
        from tui.race_dialog import start_race_from_app

        start_race_from_app(self)

    def _focus_form(self) -> None:
        for widget in self.form.query("Select, Input, Button"):
            if widget.focusable:
                widget.focus()
                return

    # ---- running ----
    def _next_run_dir(self, config: RunConfig) -> Path:
        """--run-dir for the first run; after that a fresh directory beside it, claimed with mkdir so
        a headless run or another app started in the same second never shares it."""
        if self.cli_run_dir is not None and not self._cli_run_dir_used:
            self._cli_run_dir_used = True
            return self.cli_run_dir
        base = self.cli_run_dir.parent if self.cli_run_dir is not None else Path("runs")
        return runlog.create_new_run_dir(config.name, base)

    def _resume(self, control: RunControl) -> None:
        try:
            history = runlog.read_events(control.run_dir)
        except (runlog.RunDirError, OSError):
            history = []
        self._launch(control, history)

    def _launch(self, control: RunControl, history: list[Event]) -> None:
        self.reset_panels(expected_samples=control.config.sample_count)
        if history:
            self._replaying = True
            try:
                self.apply_events(history)
            finally:
                self._replaying = False
        self.control = control
        self.pause_requested = False
        self.run_status = "starting"
        self.status.run_dir = str(control.run_dir)
        self.status.note = "loading data" if self.torch_version else "loading torch and data"
        self.form.locked = True
        self.form.show_message(f"{'resuming' if control.resume else 'training'} {control.config.name} "
                               f"in {control.run_dir}")
        if self.main.layout_mode == "compact" and self.main.view == "setup":
            self.main.set_view("charts")
        self._sync_bindings()
        # start the worker once the locked form and the new footer are drawn: that restyle is the
        # costliest frame of a run, and done now it does not compete with the first training steps
        self.call_after_refresh(self._train, control)

    @work(thread=True, exclusive=True, group="train", exit_on_error=False)
    def _train(self, control: RunControl) -> None:
        """The worker: build the Trainer here (torch stays off the UI thread), run it, report back."""
        worker = get_current_worker()
        try:
            from core import engine_process

            if self.engine == "process" and engine_process.available(self.data):
                Trainer = engine_process.EngineProcess  # noqa: N806 - the same interface, in a child process
            else:
                from core.engine import Trainer
        except Exception as exc:  # noqa: BLE001
            self.post_message(RunFinished(None, error=f"cannot load the engine: {type(exc).__name__}: {exc}"))
            return
        if worker.is_cancelled:
            self.post_message(RunFinished(None, error="cancelled before the run started"))
            return
        bridge = EventBridge(self.post_message)
        try:
            trainer = Trainer(control.config, control.run_dir, [bridge], data_dir=self.data_dir, data=self.data,
                              resume=control.resume)
            control.attach(trainer)
            end = trainer.run()
        except ConfigError as exc:
            self.post_message(RunFinished(None, error=str(exc), usage_error=True))
            return
        except Exception as exc:  # noqa: BLE001 - a bug must not take the app (and the terminal) down
            where = _write_error_log(getattr(exc, "details", ""), control.run_dir)
            self.post_message(RunFinished(None, error=f"internal error: {type(exc).__name__}: {exc}{where}"))
            return
        bridge.flush()
        self.post_message(RunFinished(end, usage_error=isinstance(getattr(trainer, "error", None), ConfigError)))

    @on(EventBatch)
    def _on_events(self, message: EventBatch) -> None:
        self.apply_events(message.events)

    @on(RunFinished)
    def _on_run_finished(self, message: RunFinished) -> None:
        self.last_run, self.control = self.control, None
        self._show_panels()
        self.pause_requested = False
        self.form.locked = False
        self.status.eta_s = None
        self.status.note = ""
        if message.end is None:
            self.run_status = "failed"
            self.run_log.add(self._clock, f"Run failed: {message.error}", "bold red")
            if not self._quitting:
                self.push_screen(MessageDialog("The run could not start", message.error))
        if self.last_run is not None:
            resumable = (self.last_run.run_dir / runlog.CHECKPOINT_FILE).is_file()
            self.form.offer_resume(resumable)
            self.form.show_message(f"last run: {self.run_status} ({self.last_run.run_dir}) · s starts a new run"
                                   + (" · r resumes it" if resumable else ""))
        self._sync_bindings()
        if self._quitting:
            self.exit(return_code=self._exit_code)

    def on_unmount(self) -> None:
        """Last line of defence: never leave a training thread running behind a closed app."""
        if self.control is not None:
            self.control.stop("interrupted", "the app closed")

    # ---- events -> widgets (shared by live runs, resume history and --watch) ----
    def reset_panels(self, expected_samples: int | None = None) -> None:
        self._pending_panels.clear()
        self._show_panels()  # stops a pending timer
        self.loss_chart.clear()
        self.acc_chart.clear()
        self.samples.reset(expected=expected_samples)
        self.confusion.reset()
        self.run_log.reset()
        status = self.status
        status.step = status.total_steps = status.epoch = status.epochs = 0
        status.samples_per_s, status.eta_s = 0.0, None
        status.device = status.data_source = ""
        status.bundled = False
        status.clear_numbers()
        self._clock = 0.0
        self._lr = None

    def apply_events(self, events: Iterable[Event]) -> None:
        """Update every panel from a batch of events; charts redraw once per batch, not per event."""
        events = list(events)
        self.status.observe(events)
        steps: list[StepEvent] = []
        charts_dirty = False
        for event in events:
            if isinstance(event, StepEvent):
                steps.append(event)
                continue
            if steps:
                self._apply_steps(steps)
                steps = []
            charts_dirty |= isinstance(event, EpochEvent)
            self._apply_one(event)
        if steps:
            self._apply_steps(steps)
        if charts_dirty:
            self.acc_chart.request_redraw()

    def _apply_steps(self, steps: list[StepEvent]) -> None:
        self.loss_chart.add("loss", [s.step for s in steps], [s.loss for s in steps])
        self.loss_chart.request_redraw()
        for s in steps:
            self.run_log.add(s.time, step_line(s), urgent=False, short=step_line(s, rate=False))
        last = steps[-1]
        self._clock, self._lr = last.time, last.lr
        status = self.status
        status.epoch, status.step, status.total_steps = last.epoch, last.step, last.total_steps
        status.samples_per_s = last.samples_per_s
        status.eta_s = eta_seconds(last, self._batch_size)
        if self.run_status in ("starting", "evaluating"):
            self.run_status = "running"

    def _apply_one(self, event: Event) -> None:
        log = self.run_log
        if isinstance(event, ConfigEvent):
            self._on_config(event)
        elif isinstance(event, EpochEvent):
            self._clock = event.time
            self.acc_chart.add_epoch("", event.epoch, event.train_acc, event.test_acc)
            if self.run_status == "evaluating" and not self._replaying:
                self.run_status = "running"
            log.add(event.time, epoch_line(event, self._test_size), "bold", urgent=False)
        elif isinstance(event, (SamplesEvent, ConfusionEvent)):
            self._offer_panel(event)
        elif isinstance(event, StateEvent):
            self._show_panels()
            self._clock = event.time
            log.add(event.time, event.message or event.state, "italic")
            if event.lr is not None:
                self._lr = event.lr
            if not self._replaying and self.run_status != "stopping":
                if event.state == "paused":
                    self.run_status, self.status.note = "paused", ""
                elif event.state == "resumed":
                    self.run_status, self.status.note = "running", ""
                elif event.state == "evaluating" and self.run_status in ("starting", "running"):
                    self.run_status = "evaluating"
        elif isinstance(event, EndEvent):
            self._on_end(event)

    def _on_config(self, event: ConfigEvent) -> None:
        config = event.config
        self._class_names = list(event.classes)
        self._test_size = event.test_size
        self._batch_size = int(config.get("batch_size", self._batch_size))
        status = self.status
        status.device, status.data_source, status.bundled = event.device, event.data_source, event.bundled_data
        status.run_dir = event.run_dir
        status.epochs = int(config.get("epochs", 0))
        status.total_steps = event.total_steps
        status.step, status.epoch = event.start_step, event.start_epoch
        if self.watch_dir is not None:
            try:
                self.form.fill(config_from_json(config, partial=True))
            except ConfigError:
                pass
        self.run_log.add(self._clock, config_line(event))
        if event.bundled_data:
            self.run_log.add(self._clock, f"Note: using the {event.data_source}", "bold yellow")
        if not self._replaying:
            self.run_status = "running"
            self.status.note = "read-only" if self.watch_dir is not None else ""

    def _offer_panel(self, event: SamplesEvent | ConfusionEvent) -> None:
        """Show a live run's digits and matrix at most every PANEL_MIN_S, always the latest.

        A fast model finishes an epoch every half second; redrawing both panels each time would
        cost more CPU than the whole rest of the app (a new grid of captions and a matrix, 20-40
        ms of the UI thread at 180x50), CPU that training wants when it uses every core. Replays
        and --watch show at once.
        """
        self._pending_panels[type(event)] = event
        if self.control is None or self._replaying:
            self._show_panels()
            return
        wait = PANEL_MIN_S - (time.monotonic() - self._panels_shown_at)
        if wait <= 0:
            self._show_panels()
        elif self._panel_timer is None:
            self._panel_timer = self.set_timer(wait, self._show_panels)

    def _show_panels(self) -> None:
        if self._panel_timer is not None:
            self._panel_timer.stop()
            self._panel_timer = None
        pending, self._pending_panels = self._pending_panels, {}
        for event in pending.values():
            if isinstance(event, SamplesEvent):
                self.samples.show_samples(event, self._class_names)
            elif isinstance(event, ConfusionEvent):
                self.confusion.show_matrix(event.epoch, event.matrix, self._class_names)
        if pending:
            self._panels_shown_at = time.monotonic()

    def _on_end(self, event: EndEvent) -> None:
        self._show_panels()
        self._clock = event.time
        style = "bold green" if event.status == "finished" else "bold red" if event.status == "failed" else "bold"
        self.run_log.add(event.time, end_line(event), style)
        if self._replaying:
            return
        self.last_end = event
        self.run_status = event.status
        self.status.eta_s = None
        if self.watch_dir is not None:
            self.status.note = "read-only"
        elif event.status == "failed" and not self._quitting:
            self.push_screen(MessageDialog("The run failed", event.reason))

    # ---- --watch ----
    def _start_watch(self) -> None:
        assert self.watch_dir is not None
        try:
            self.form.fill(runlog.load_config(self.watch_dir))
        except (runlog.RunDirError, ConfigError):
            pass  # the config record in metrics.jsonl fills the form instead
        self.form.locked = True
        self.form.show_message(f"read-only view of {self.watch_dir}")
        self.run_status = "waiting"
        self.status.run_dir = str(self.watch_dir)
        self.status.note = "read-only"
        self.status.show_machine = False
        self._tail = runlog.MetricsTail(self.watch_dir / runlog.METRICS_FILE)
        self.main.set_view("charts")
        self.poll_watch()
        self.set_interval(WATCH_POLL_S, self.poll_watch)

    def poll_watch(self) -> None:
        """Read whatever the writer appended since the last poll (a half-written line waits for its end)."""
        tail = self._tail
        if tail is None:
            return
        events = tail.poll()
        if tail.restarted:
            self.reset_panels()
        if tail.missing:
            self.status.note = f"read-only · waiting for {runlog.METRICS_FILE}"
            return
        now = time.monotonic()
        if events:
            self._last_record_at = now
            self.apply_events(events)
        skipped = runlog.skipped_note(tail.malformed)
        if self.run_status in ("running", "paused") and runlog.writer_pid(self.watch_dir) is None:
            # the lock is free and no end record came: the writer was killed (kill -9, power cut);
            # "unfinished", as the leaderboard calls such a run, until a resumed writer's records arrive
            self.run_status = "unfinished"
            self.status.eta_s = None
            self.status.note = f"writer gone; continue with mnist-tui --resume {runlog.short_path(self.watch_dir)}"
        elif self.run_status in ("running", "paused") and now - self._last_record_at > STALE_AFTER_S:
            self.status.note = f"read-only · no new records for {now - self._last_record_at:.0f}s"
        elif events or tail.restarted:
            self.status.note = f"read-only · {skipped}" if skipped else "read-only"


def _write_error_log(details: str = "", run_dir: Path | None = None) -> str:
    """The traceback for a bug report (core.runlog.write_error_log: the run directory, else the user's
    state directory); `details`: the training process's own, when it crashed there."""
    log = runlog.write_error_log(traceback.format_exc() + (f"\nIn the training process:\n{details}" if details else ""),
                                 run_dir)
    return f" (details in {log})" if log else ""
