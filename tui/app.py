"""The mnist-tui Textual app: configure, start, watch and steer a run; or watch one read-only.

Three pieces, each in one place:
- how a run is driven: an Engine (core/engine_process.py: a Trainer in a child process, so
  training never waits for the UI's GIL), created on the UI thread when the user starts a run;
  a thread worker (`_train`) starts it and passes its events into an inbox (tui/bridge.py);
  the worker's end reaches the app as Textual's Worker.StateChanged;
- what the user may do: the run lifecycle (core/lifecycle.py), one state machine from which
  check_action, the footer and the status word are derived;
- what the screen shows: the run model (core/runmodel.py) folded from the events, drawn by
  MainRunView (tui/run_view.py) on the one redraw clock (tui/redraw.py). A live run, the replay
  before a resume and `--watch` (core.runlog.MetricsTail) all go through the model.
torch is never imported by the app process itself: the engine's forkserver imports it (started
after the first screen), so the app paints at once; the run panels (tui/panels.py), which the first
screen does not show, are imported and mounted after it too.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, cast

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Button, Input
from textual.worker import Worker, WorkerState

from core import runlog
from core.config import ConfigError, RunConfig, config_from_json, resume_changes, validate
from core.events import ConfigEvent, EndEvent, Event, StateEvent, StepEvent
from core.lifecycle import ACTIONS, Lifecycle, Phase, Trigger
from core.program import PROG
from core.runmodel import RunModel
from tui.bridge import EventInbox
from tui.hangup import HangupExit
from tui.main_screen import MainScreen
from tui.messages import EngineReady, EventsWaiting
from tui.redraw import RedrawClock
from tui.run_view import MainRunView
from tui.screens import HelpScreen, LearningRateScreen, MessageDialog
from tui.widgets.config_form import ConfigForm, FormError
from tui.widgets.status import StatusBar

if TYPE_CHECKING:  # the run panels' modules load after the first frame (MainScreen.mount_panels)
    from tui.widgets.charts import AccuracyChart, LossChart
    from tui.widgets.confusion import ConfusionMatrix
    from tui.widgets.run_log import RunLog
    from tui.widgets.samples import SampleGrid

# the main screen's own keys (all but quit): none of them may act while a race or comparison is shown
MAIN_SCREEN_ACTIONS = ("start", "resume_run", "pause", "unpause", "change_lr", "stop", "race", "view",
                       "ascii_digits", "leave_form", "help")
STALE_AFTER_S = 30.0
START_UP_AT_LATEST_S = 0.5  # after the first frame: the start-up's second trigger (see on_ready)


@dataclass(frozen=True)
class RunSpec:
    """Which run the app drives: its settings, its directory, and whether it continues a checkpoint."""

    config: RunConfig
    run_dir: Path
    resume: bool = False


EngineFactory = Callable[[RunSpec, "str | None", Any], Any]  # (spec, data_dir, data) -> an Engine


def process_engine(spec: RunSpec, data_dir: str | None, data: Any) -> Any:
    """The app's engine: the run's Trainer in a child process (core/engine_process.py)."""
    from core.engine_process import EngineProcess

    return EngineProcess(spec.config, spec.run_dir, data_dir=data_dir, data=data, resume=spec.resume)


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

    race_resume_hint = ""  # set by the compare view when quitting stops a race: how to finish it

    def __init__(self, config: RunConfig | None = None, *, run_dir: Path | None = None, data_dir: str | None = None,
                 resume: bool = False, watch_dir: Path | None = None, data: Any = None,
                 handle_signals: bool = False, cursor_blink: bool = True,
                 engine_factory: EngineFactory = process_engine, pinned: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.engine_factory = engine_factory  # tests pass a fake (tests/fake_engine.py); users get process_engine
        self.initial_config = config or RunConfig()
        self.cli_run_dir = Path(run_dir) if run_dir else None
        self.data_dir = data_dir
        self.resume_on_start = resume
        self.watch_dir = Path(watch_dir) if watch_dir else None
        self.data = data  # a preloaded core.data.DataBundle (benchmarks); None: the engine finds the data
        self.handle_signals = handle_signals
        self.cursor_blink = cursor_blink
        self.main = MainScreen(self.initial_config, pinned=pinned, data_dir=data_dir)  # pinned: given on the command line
        self.lifecycle = Lifecycle()
        self.model = RunModel("run")
        self.run_spec: RunSpec | None = None  # the current run, or the last one
        self.run_engine: Any = None  # the current run's Engine, while the lifecycle is active
        self.engine_error = ""
        self.torch_version = ""
        self._inbox: EventInbox | None = None
        self._view: MainRunView | None = None
        self._clock = RedrawClock(self, self._beat)
        self._cli_run_dir_used = False
        self._exit_code = 0
        self.quit_with_run = False  # q (or a signal) stopped a run: the shell gets a word on the way out
        self._stop_signal: int | None = None  # SIGTERM/SIGHUP that asked the app to leave, for the end record
        self._tail: runlog.MetricsTail | None = None
        self._watch_note = "read-only"
        self._writer_gone = False  # --watch: the run's lock is free and it never ended
        self._bindings_shown: tuple | None = None
        self._last_record_at = time.monotonic()
        self._early_actions: list[str] = []  # keys that need the run panels, pressed before they were mounted
        self._started_up = False  # the start-up after the first screen has begun (_after_first_screen)

    @property
    def run_status(self) -> str:
        """The word the status bar shows: the lifecycle's for a run the app drives, the log's for --watch."""
        if self.lifecycle.phase in (Phase.WATCHING, Phase.IDLE) and self.watch_dir is not None:
            if self._writer_gone and self.model.state in ("running", "paused", "evaluating"):
                return "unfinished"
            return self.model.state
        if self.lifecycle.phase is Phase.RUNNING and self.model.state == "evaluating":
            return "evaluating"
        return self.lifecycle.status_word

    @property
    def last_end(self) -> EndEvent | None:
        """How the current or last run ended (its end record), from the run model."""
        return self.model.end

    @property
    def last_run(self) -> RunSpec | None:
        return self.run_spec

    def apply_events(self, events: list[Event]) -> None:
        """Fold a live run's events into the model and draw now (what the redraw clock's beat does)."""
        self._fold_live(list(events))
        self.view.draw()
        self._show_state()

    @property
    def view(self) -> MainRunView:
        if self._view is None:
            self._view = MainRunView(status=self.status, loss=self.loss_chart, acc=self.acc_chart,
                                     samples=self.samples, confusion=self.confusion, log=self.run_log)
        return self._view

    # ---- widgets ----
    def get_default_screen(self) -> Screen:
        return self.main

    @property
    def form(self) -> ConfigForm:
        return self.main.query_one(ConfigForm)

    @property
    def loss_chart(self) -> LossChart:
        return cast("LossChart", self.main.query_one("#loss-chart"))

    @property
    def acc_chart(self) -> AccuracyChart:
        return cast("AccuracyChart", self.main.query_one("#acc-chart"))

    @property
    def samples(self) -> SampleGrid:
        return cast("SampleGrid", self.main.query_one("#samples"))

    @property
    def confusion(self) -> ConfusionMatrix:
        return cast("ConfusionMatrix", self.main.query_one("#confusion"))

    @property
    def run_log(self) -> RunLog:
        return cast("RunLog", self.main.query_one("#log"))

    @property
    def status(self) -> StatusBar:
        return self.main.query_one(StatusBar)

    # ---- start-up ----
    def on_ready(self) -> None:
        """Runs once the first frame is on screen. Textual's footer fills in its keys a frame later, and
        the rest of the start-up waits for that frame too, so the whole first screen is drawn first.

        Those callbacks are kept by the screen that is current when each is queued, and dropped if it
        closes before the next frame (a help screen opened by a key typed ahead and closed again), so
        a timer makes sure; the start-up runs once, whichever comes first."""
        self.call_after_refresh(self.call_after_refresh, self._after_first_screen)
        self.set_timer(START_UP_AT_LATEST_S, self._after_first_screen)

    async def _after_first_screen(self) -> None:
        """Mount the run panels, then start the engine's forkserver (torch) off the UI thread. Keys that
        need the panels and were pressed before them are done last, in order (none is lost)."""
        if self._started_up:
            return
        self._started_up = True
        await self.main.mount_panels()
        if not self.cursor_blink:
            for widget in self.main.query(Input):
                widget.cursor_blink = False
        if self.handle_signals:
            self.install_signal_handlers()
        self._view = self.view  # bound to the widgets now, while they are all there
        self._view.model = self.model
        self._clock.start()
        if self.watch_dir is not None:
            self._start_watch()
        else:
            self.form.show_message("Tab moves between fields · s or the Start button starts · ? lists every key")
            self._import_engine()
            self.form.look_for_data()
            if self.resume_on_start and self.cli_run_dir is not None:
                self._cli_run_dir_used = True
                self._resume(RunSpec(validate(self.initial_config), self.cli_run_dir, resume=True))
        for action in self._early_actions:
            await self.run_action(action)
        self._early_actions.clear()

    @work(thread=True, group="import", exit_on_error=False)
    def _import_engine(self) -> None:
        """Start the engine's forkserver, which imports torch and the engine once for the session.

        The app process itself never imports torch: training happens in the engine's process, and
        a second import here would take a core from the forkserver's import on a small machine."""
        try:
            if importlib.util.find_spec("torch") is None:
                raise ImportError("No module named 'torch'")
            from importlib import metadata  # 20 ms of imports (email, zipfile): after the first frame

            version = metadata.version("torch")
            if self.engine_factory is process_engine:
                from core import engine_process

                engine_process.warm_up()
        except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
            self.post_message(EngineReady(error=f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(EngineReady(torch_version=version))

    @on(EngineReady)
    def _engine_ready(self, message: EngineReady) -> None:
        self.torch_version = message.torch_version
        if message.error:
            self.engine_error = message.error
            self.push_screen(MessageDialog("torch could not be loaded",
                                           f"{message.error}\n\nTraining needs PyTorch; --watch still works."))

    def _show_state(self) -> None:
        """The status word, the note and the footer, from the lifecycle (and the model, for --watch)."""
        if self._view is None:
            return
        status = self.view.status  # the view's own reference: the DOM may be going away while the app closes
        status.state = self.run_status
        if self.watch_dir is not None:
            status.note = self._watch_note
            if status.state == "unfinished":
                status.eta_s = None  # nobody is training it
        elif self.lifecycle.phase is Phase.STARTING and self.model.config_event is None:
            status.note = "loading data" if self.torch_version else "loading torch and data"
        else:
            status.note = self.lifecycle.note
        self._sync_bindings()

    def _sync_bindings(self) -> None:
        """Refresh the footer only when the set of usable controls changed.

        A footer refresh rebuilds its keys (a restyle: the dearest frame the app draws), and the
        state goes starting -> running -> ... without changing which keys apply.
        """
        shown = tuple(self.check_action(action, ()) for action in ACTIONS)
        if shown != self._bindings_shown:
            self._bindings_shown = shown
            self.refresh_bindings()

    # ---- bindings ----
    def _behind_compare(self) -> bool:
        # No compare screen exists before tui.compare is imported, and importing it here (plotext, the
        # race code) made the footer of the first screen wait for it: the footer asks check_action.
        compare = sys.modules.get("tui.compare")
        return compare is not None and any(isinstance(screen, compare.CompareScreen) for screen in self.screen_stack)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide controls that do not apply now, so the footer shows only what a key would do: the lifecycle decides."""
        if action in MAIN_SCREEN_ACTIONS and self._behind_compare():
            return False  # a race or comparison is on screen: only its own keys apply (nothing starts behind it)
        allowed = self.lifecycle.allows(action)
        return True if allowed is None else allowed

    def _before_panels(self, action: str) -> bool:
        """True (and the action kept for _after_first_screen) while the run panels are not mounted yet:
        a key typed ahead of the first frame reaches the app before they are, and must not be lost."""
        if self.main.panels_mounted:
            return False
        self._early_actions.append(action)
        return True

    def action_start(self) -> None:
        if not self.lifecycle.allows("start") or self._before_panels("start"):
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
        self._launch(RunSpec(config, run_dir), history=[])

    def action_resume_run(self) -> None:
        last = self.run_spec
        if not self.lifecycle.allows("resume_run") or last is None or self._before_panels("resume_run"):
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
        if self.lifecycle.end_status == "finished" and config.epochs <= last.config.epochs:
            self.notify(f"This run already trained its {last.config.epochs} epochs: raise Epochs in the form "
                        "to continue it, or press s for a new run.", title="Nothing to resume", severity="warning")
            return
        self._resume(RunSpec(config, last.run_dir, resume=True))

    def action_pause(self) -> None:
        if self.lifecycle.fire(Trigger.PAUSE):
            self.run_engine.pause()
            self._show_state()

    def action_unpause(self) -> None:
        if self.lifecycle.fire(Trigger.UNPAUSE):
            self.run_engine.resume()
            self._show_state()

    def action_stop(self) -> None:
        if self.lifecycle.fire(Trigger.STOP):
            self.run_engine.stop("stopped", "stopped from the app")
            self._show_state()

    def action_change_lr(self) -> None:
        if not self.lifecycle.allows("change_lr") or self.run_spec is None:
            return
        current = self.model.current_lr if self.model.current_lr is not None else self.run_spec.config.lr

        def apply(lr: float | None) -> None:
            if lr is not None and self.lifecycle.allows("change_lr"):
                self.run_engine.set_lr(lr)
                paused = self.lifecycle.phase in (Phase.PAUSING, Phase.PAUSED)
                self.notify(f"learning rate {lr:g} {'when the run continues' if paused else 'from the next step'}",
                            title="Learning rate")

        self.push_screen(LearningRateScreen(current), apply)

    def action_view(self, name: str) -> None:
        if name == "setup" and self.main.layout_mode != "compact":
            self._focus_form()
            return
        self.main.set_view(name)

    def action_ascii_digits(self) -> None:
        if not self._before_panels("ascii_digits"):
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
        """Quit; a running run is stopped first and its checkpoint saved (then the engine's end exits)."""
        if not self.lifecycle.active:
            self.exit(return_code=self._exit_code)
            return
        if self.lifecycle.quitting:
            self.notify("Still saving the checkpoint; the app closes as soon as it is written.")
            return
        self.lifecycle.fire(Trigger.QUIT)
        self.quit_with_run = True
        assert self.run_spec is not None
        why = {signal.SIGHUP: "the terminal hung up (SIGHUP)", signal.SIGTERM: "stopped by SIGTERM"}.get(
            self._stop_signal, "quit from the app")
        self.run_engine.stop("interrupted", f"{why}; continue with mnist-tui --resume {self.run_spec.run_dir}")
        self._show_state()

    def _on_signal(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM / SIGHUP (e.g. the SSH session went away): save like a quit, exit 130 if a run was stopped."""
        self.signal_received(sig)
        self._stop_signal = sig
        if self.lifecycle.active:
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

    def _resume(self, spec: RunSpec) -> None:
        try:
            history = runlog.read_events(spec.run_dir)
        except (runlog.RunDirError, OSError):
            history = []
        self._launch(spec, history)

    def _launch(self, spec: RunSpec, history: list[Event]) -> None:
        """Show the run (its history first, when resuming), create its engine here, start it in a worker."""
        try:
            engine = self.engine_factory(spec, self.data_dir, self.data)
        except Exception as exc:  # noqa: BLE001 - a bug must not take the app (and the terminal) down
            self.push_screen(MessageDialog("The run could not start", f"{type(exc).__name__}: {exc}"))
            return
        self.model = RunModel(spec.run_dir.name, spec.run_dir).fold(history)
        self.view.reset(self.model, expected_samples=spec.config.sample_count)
        self.view.draw(force=True)
        self.view.status.run_dir = str(spec.run_dir)
        self.run_spec, self.run_engine = spec, engine
        self._inbox = EventInbox(self.post_message)
        self.lifecycle.fire(Trigger.START)
        self.form.locked = True
        self.form.show_message(f"{'resuming' if spec.resume else 'training'} {spec.config.name} in {spec.run_dir}")
        if self.main.layout_mode == "compact" and self.main.view == "setup":
            self.main.set_view("charts")
        self._show_state()
        # start the worker once the locked form and the new footer are drawn: that restyle is the
        # costliest frame of a run, and done now it does not compete with the first training steps
        self.call_after_refresh(self._train, engine, self._inbox)

    @work(thread=True, exclusive=True, group="train", exit_on_error=False)
    def _train(self, engine: Any, inbox: EventInbox) -> EndEvent | None:
        """The worker: start the engine (forking from the forkserver stays off the UI thread) and pass
        its events into the inbox. Its return or its exception reaches the app as Worker.StateChanged."""
        engine.start()
        for event in engine.events():
            inbox(event)
        return engine.end

    @on(EventsWaiting)
    def _events_waiting(self) -> None:
        self._clock.now()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "train" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                            WorkerState.CANCELLED):
            self._engine_done(event.worker)

    def _beat(self) -> None:
        """The redraw clock's beat: new events into the model, the model onto the screen."""
        if self._tail is not None:
            self.poll_watch()
            return
        if self._inbox is not None:
            self._fold_live(self._inbox.drain())
        if self._view is not None:
            self._view.draw()
        self._show_state()

    def _fold_live(self, events: list[Event]) -> None:
        """Fold a live run's events into the model; those that move the lifecycle move it."""
        for event in events:
            self.model.update(event)
            if isinstance(event, (ConfigEvent, StepEvent)):
                self.lifecycle.fire(Trigger.RUN_BEGAN)
            elif isinstance(event, StateEvent) and event.state in ("paused", "resumed"):
                self.lifecycle.fire(Trigger.PAUSED if event.state == "paused" else Trigger.RESUMED)
            elif isinstance(event, EndEvent):
                self.lifecycle.fire(Trigger.END, event.status)
                if event.status == "failed" and not self.lifecycle.quitting:
                    self.push_screen(MessageDialog("The run failed", event.reason))

    def _engine_done(self, worker: Worker) -> None:
        """The engine returned (or failed to run): the run directory is closed and a new run may start."""
        if self._inbox is not None:
            self._fold_live(self._inbox.drain())
        quitting = self.lifecycle.quitting
        error, usage = "", False
        if worker.state is WorkerState.SUCCESS and worker.result is None:
            error = "the engine returned no end record"
        elif worker.state is WorkerState.ERROR:
            exc = worker.error
            usage = isinstance(exc, ConfigError)
            if usage:
                error = str(exc)
            else:
                where = _write_error_log(exc, getattr(exc, "details", ""),
                                         self.run_spec.run_dir if self.run_spec is not None else None)
                error = f"internal error: {type(exc).__name__}: {exc}{where}"
        elif worker.state is WorkerState.CANCELLED:
            error = "cancelled before the run started"
        self.lifecycle.fire(Trigger.ENGINE_DONE, "failed" if error else "")
        self.run_engine = None
        self.view.draw(force=True)
        self.form.locked = False
        if error:
            self.view.log.add(self.model.clock, f"Run failed: {error}", "bold red")
            if not quitting:
                self.push_screen(MessageDialog("The run could not start", error))
        spec = self.run_spec
        if spec is not None:
            resumable = (spec.run_dir / runlog.CHECKPOINT_FILE).is_file()
            self.form.offer_resume(resumable)
            self.form.show_message(f"last run: {self.run_status} ({spec.run_dir}) · s starts a new run"
                                   + (" · r resumes it" if resumable else ""))
        self._show_state()
        if quitting:
            self.exit(return_code=self._exit_code)

    def on_unmount(self) -> None:
        """Last line of defence: never leave a training process running behind a closed app."""
        if self.lifecycle.active and self.run_engine is not None:
            self.run_engine.stop("interrupted", "the app closed")

    # ---- --watch ----
    def _start_watch(self) -> None:
        assert self.watch_dir is not None
        try:
            self.form.fill(runlog.load_config(self.watch_dir))
        except (runlog.RunDirError, ConfigError):
            pass  # the config record in metrics.jsonl fills the form instead
        self.lifecycle.fire(Trigger.WATCH)
        self.form.locked = True
        self.form.show_message(f"read-only view of {self.watch_dir}")
        self.model = RunModel(self.watch_dir.name, self.watch_dir)
        self.view.reset(self.model)
        self.view.status.run_dir = str(self.watch_dir)
        self.view.status.show_machine = False  # this machine's numbers are not the watched run's
        self._tail = runlog.MetricsTail(self.watch_dir / runlog.METRICS_FILE)
        self.main.set_view("charts")
        self.poll_watch()

    def poll_watch(self) -> None:
        """Read whatever the writer appended since the last poll (a half-written line waits for its end)."""
        tail = self._tail
        if tail is None:
            return
        events = tail.poll()
        if tail.restarted:
            self.model = RunModel(self.model.name, self.model.run_dir)
            self.view.reset(self.model)
        now = time.monotonic()
        self.model.malformed = tail.malformed  # the reader's count: shown, never silent
        skipped = runlog.skipped_note(tail.malformed)
        if events:
            self._writer_gone = False
        if tail.missing:
            self._watch_note = f"read-only · waiting for {runlog.METRICS_FILE}"
        elif (self.model.state in ("running", "paused", "evaluating") and not events
              and runlog.writer_pid(self.watch_dir) is None):
            # the lock is free and no end record came: the writer was killed (kill -9, power cut);
            # "unfinished", as the leaderboard calls such a run, until a resumed writer's records arrive
            self._writer_gone = True
            self._watch_note = f"writer gone; continue with {PROG} --resume {runlog.short_path(self.watch_dir)}"
        elif events:
            self._last_record_at = now
            self._watch_note = f"read-only · {skipped}" if skipped else "read-only"
            had_config = self.model.config_event is not None
            self.model.fold(events)
            if not had_config and self.model.config_event is not None:
                try:
                    self.form.fill(config_from_json(self.model.config, partial=True))
                except ConfigError:
                    pass
        elif self.model.state in ("running", "paused", "evaluating") and now - self._last_record_at > STALE_AFTER_S:
            self._watch_note = f"read-only · no new records for {now - self._last_record_at:.0f}s"
        else:
            self._watch_note = f"read-only · {skipped}" if skipped else "read-only"  # the count stays said
        self.view.draw()
        self._show_state()


def _write_error_log(exc: BaseException, details: str = "", run_dir: Path | None = None) -> str:
    """The traceback for a bug report (core.runlog.write_error_log: the run directory, else the user's
    state directory); `details`: the training process's own, when it crashed there."""
    text = "".join(traceback.format_exception(exc)) + (f"\nIn the training process:\n{details}" if details else "")
    log = runlog.write_error_log(text, run_dir)
    return f" (details in {log})" if log else ""
