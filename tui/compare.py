"""The compare view: several runs overlaid, a live leaderboard, and one selected run in detail.

One screen serves three ways in:
- a race started from the app's form (the Race button / key c), `mnist-tui --race ...` or
  `mnist-tui --resume RACE_DIR`: a thread worker runs core.race.Race, which trains each entrant
  in its own engine process (up to --parallel at once); each entrant's events reach the screen
  through one inbox (tui/bridge.py), tagged with the entrant's name;
- `mnist-tui --compare RUN_DIR...` (run or race directories, finished or live): read-only,
  each run tailed with core.runlog.MetricsTail, like --watch.
Either way each run's events fold into its own run model (core/runmodel.py, the same model as
the main screen's), and the screen is a view of those models, drawn on its one redraw clock
(tui/redraw.py): new points are appended to the charts, the leaderboard ranks the models, the
selected run's digits and matrix are shown from its model.

Only the keys that apply are shown and accepted: the main app's keys (start, resume, race...)
never act behind a race (MnistApp.check_action defers to this screen). Below 110x30 (e.g.
80x24) the screen shows one view at a time, like the main screen: the leaderboard, the charts,
the digits or the matrix, picked with the tabs or keys 1-4. Each run has a colour and a marker
of its own, and the legend is a line of its own under the charts, so the overlay reads without
colour and never hides a curve.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Static, Tab, Tabs

from core import runlog
from core.config import ConfigError
from core.events import Event
from core.export import export, leaderboard_markdown
from core.leaderboard import LEADERBOARD_FILE, RUNNING
from core.program import PROG
from core.race import KEEP, Race, RacePlan, RunRef, entrant_action, resolve_runs
from core.runmodel import RunModel
from tui.bridge import URGENT, Inbox
from tui.hangup import HangupExit
from tui.main_screen import layout_for
from tui.messages import EventsWaiting
from tui.redraw import PANEL_EVERY_S, Cadence, RedrawClock
from tui.screens import HelpScreen
from tui.widgets.charts import PALETTE
from tui.widgets.confusion import ConfusionMatrix
from tui.widgets.leaderboard import Leaderboard, rich_color
from tui.widgets.overlay_charts import OverlayAccuracyChart, OverlayLossChart
from tui.widgets.samples import SampleGrid

# one marker per run, so the overlaid curves differ without colour (NO_COLOR, a mono terminal)
MARKERS = ("•", "+", "x", "o", "*", "#", "@", "%")
VIEWS = ("board", "charts", "digits", "matrix")
VIEW_TITLES = {"board": "Leaderboard", "charts": "Charts", "digits": "Digits", "matrix": "Matrix"}
# keys of the leaderboard and the tabs (widgets' own), listed on the compare help screen
COMPARE_KEYS = (
    ("up / down", "leaderboard: pick the run shown in the digits and matrix panels"),
    ("left / right", "on the view tabs (80x24): previous / next view"),
    ("tab / shift+tab", "move between the leaderboard and the other panels"),
    ("pgup / pgdn", "scroll the focused panel"),
)



@dataclass
class EntrantStarted(Message):
    index: int
    name: str
    device: str = ""


@dataclass
class RaceFinished(Message):
    """The race worker returned; `error` is set when the race could not start (data, usage)."""

    error: str = ""
    usage_error: bool = False


class CompareScreen(Screen):
    """Overlaid loss/accuracy charts, the leaderboard, and the selected run's digits and matrix."""

    DEFAULT_CSS = """
    CompareScreen #compare-tabs { display: none; }
    CompareScreen #compare-charts { height: 1fr; min-height: 8; }
    CompareScreen #compare-legend { height: auto; padding: 0 1; }
    CompareScreen #compare-board { height: auto; max-height: 12; }
    CompareScreen #compare-detail { height: 1fr; min-height: 8; }
    CompareScreen #compare-samples { width: 1fr; }
    CompareScreen #compare-confusion { width: 62; }
    CompareScreen #compare-status { height: 1; padding: 0 1; background: $panel; }
    CompareScreen.-compact #compare-tabs { display: block; }
    CompareScreen.-compact .cview { display: none; }
    CompareScreen.-compact #compare-charts { layout: vertical; }
    CompareScreen.-compact.-cview-board #compare-board { display: block; height: 1fr; max-height: 100%; }
    CompareScreen.-compact.-cview-charts #compare-charts { display: block; }
    CompareScreen.-compact.-cview-charts #compare-legend { display: block; }
    CompareScreen.-compact.-cview-digits #compare-detail { display: block; }
    CompareScreen.-compact.-cview-digits #compare-samples { display: block; }
    CompareScreen.-compact.-cview-matrix #compare-detail { display: block; }
    CompareScreen.-compact.-cview-matrix #compare-confusion { display: block; width: 1fr; }
    """

    BINDINGS = [
        Binding("n", "skip", "End entrant", tooltip="end the selected running entrant (checkpointed); the race goes on"),
        Binding("x", "stop_race", "Stop race", tooltip="end the running entrants and the race (resumable with r)"),
        Binding("r", "resume_race", "Resume race",
                tooltip="finish the race: stopped entrants continue from their checkpoints, waiting ones start"),
        Binding("e", "export", "Export", tooltip="write each run's epochs as CSV and the leaderboard as Markdown"),
        Binding("a", "ascii_digits", "Digits as ASCII / half-blocks", show=False),
        Binding("1", "view('board')", "Leaderboard view", show=False),
        Binding("2", "view('charts')", "Charts view", show=False),
        Binding("3", "view('digits')", "Digits view", show=False),
        Binding("4", "view('matrix')", "Matrix view", show=False),
        Binding("escape", "back", "Back", tooltip="back to the configuration (when the race is over)"),
        Binding("question_mark,f1", "help", "Help", tooltip="this list of keys"),
        Binding("q", "quit_compare", "Quit", tooltip="quit; running entrants are saved, to finish with --resume RACE_DIR"),
        Binding("ctrl+c", "quit_compare", "Quit", show=False),
    ]

    def __init__(self, *, plan: RacePlan | None = None, race_dir: Path | None = None, data_dir: str | None = None,
                 runs: Sequence[RunRef] = (), compare_paths: Sequence[Path] = (), can_go_back: bool = False,
                 parallel: int | None = None, resume: bool = False) -> None:
        super().__init__()
        self.plan = plan
        self.race_dir = Path(race_dir) if race_dir else None
        self.data_dir = data_dir
        self.compare_paths = list(compare_paths)
        self.can_go_back = can_go_back
        self.parallel = parallel
        self.resume_on_start = resume
        self.live = plan is not None
        if plan is not None:
            assert self.race_dir is not None
            runs = [RunRef(e.name, self.race_dir / e.name, str(self.race_dir)) for e in plan.entrants]
        self.runs = list(runs)
        self.standings: dict[str, RunModel] = {r.name: RunModel(r.name, r.run_dir) for r in self.runs}
        self.run_colors = {r.name: PALETTE[i % len(PALETTE)] for i, r in enumerate(self.runs)}
        self.run_markers = {r.name: MARKERS[i % len(MARKERS)] for i, r in enumerate(self.runs)}
        self.race: Race | None = None
        self.race_running = False
        self.race_error = ""
        self.interrupted = False
        self.current: str | None = None
        self.current_index = -1
        self.layout_mode = ""  # set from the size on mount: "compact" (one view at a time) or "full"
        self.view = "board"
        self._follow_leader = True  # the cursor sits on the leader until the user moves it
        self._quitting = False
        self._tails: dict[str, runlog.MetricsTail] = {}
        self._watch_notes: list[str] = []  # read-only mode: gone writers, skipped records
        self._inbox: Inbox[tuple[str, Event]] = Inbox(self.post_message)
        self._clock = RedrawClock(self, self._beat)
        self._cadence = Cadence()
        self._drawn: dict[str, tuple[int, int, int, int]] = {}  # name -> (model id, generation, losses, epochs)
        self._detail: tuple = ()  # (name, samples, confusion) the detail panels show
        self._changed = True
        self._pending: set[str] = set()  # charts holding points not drawn yet (the cadence held them back)

    # ---- widgets ----
    def compose(self) -> ComposeResult:
        yield Tabs(*(Tab(f"{i} {VIEW_TITLES[v]}", id=f"ctab-{v}") for i, v in enumerate(VIEWS, 1)), id="compare-tabs")
        with Vertical(id="compare-body"):
            with Horizontal(id="compare-charts", classes="cview"):
                yield OverlayLossChart(id="compare-loss", classes="panel")
                yield OverlayAccuracyChart(id="compare-acc", classes="panel")
            yield Static(self._legend(), id="compare-legend", classes="cview")
            yield Leaderboard(id="compare-board", classes="panel cview")
            with Horizontal(id="compare-detail", classes="cview"):
                with VerticalScroll(id="compare-samples", classes="panel cview"):
                    yield SampleGrid(id="compare-digits")
                with VerticalScroll(id="compare-confusion", classes="panel cview"):
                    yield ConfusionMatrix(id="compare-matrix")
        yield Static("", id="compare-status")
        yield Footer()

    def _legend(self) -> Text:
        """Marker and name of each run in its colour: outside the plots, so no curve is hidden."""
        legend = Text()
        for name in self.run_colors:
            if legend:
                legend.append("   ")
            legend.append(f"{self.run_markers[name]} {name}", style=f"bold {rich_color(self.run_colors[name])}")
        return legend

    @property
    def leaderboard(self) -> Leaderboard:
        return self.query_one(Leaderboard)

    @property
    def loss_chart(self) -> OverlayLossChart:
        return self.query_one(OverlayLossChart)

    @property
    def acc_chart(self) -> OverlayAccuracyChart:
        return self.query_one(OverlayAccuracyChart)

    def on_mount(self) -> None:
        self.query_one("#compare-loss").border_title = "training loss per epoch"
        self.query_one("#compare-acc").border_title = "test accuracy % per epoch"
        board = self.leaderboard
        board.border_title = (f"leaderboard: {self.plan.field} race" if self.plan else "leaderboard")
        board.run_colors = dict(self.run_colors)
        board.run_markers = dict(self.run_markers)
        for name, color in self.run_colors.items():  # one colour and one marker per run, in the order given
            self.loss_chart.add(name, [], [], color=color, marker=self.run_markers[name])
            self.acc_chart.add(name, [], [], color=color, marker=self.run_markers[name])
        board.show(list(self.standings.values()))
        if self.runs:
            board.select(board.order[0])  # the cursor starts on the leader
        board.focus()
        self.set_view(self.view)
        self.set_layout(layout_for(*self.size) if self.size.width else "compact")
        self._clock.start()
        if self.live:
            if self.resume_on_start:
                self._load_history()
            self._start_race(resume=self.resume_on_start)
        else:
            self._tails = {r.name: runlog.MetricsTail(r.run_dir / runlog.METRICS_FILE) for r in self.runs}
            self.poll()
        self._update_status()

    # ---- layout: one view at a time below 110x30, like the main screen ----
    def on_resize(self, event: Resize) -> None:
        self.set_layout(layout_for(event.size.width, event.size.height))

    def set_layout(self, mode: str) -> None:
        new = "compact" if mode == "compact" else "full"
        if new != self.layout_mode:
            self.layout_mode = new
            self.set_class(new == "compact", "-compact")
            self.refresh_bindings()  # keys 1-4 apply only to the one-view layout

    def set_view(self, view: str) -> None:
        self.view = view
        for name in VIEWS:
            self.set_class(name == view, f"-cview-{name}")
        tabs = self.query_one(Tabs)
        if tabs.active != f"ctab-{view}":
            tabs.active = f"ctab-{view}"

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        if event.tab is not None and event.tab.id:
            view = event.tab.id.removeprefix("ctab-")
            if view != self.view:
                self.set_view(view)

    def action_view(self, view: str) -> None:
        self.set_view(view)

    def action_ascii_digits(self) -> None:
        self.query_one(SampleGrid).toggle_ascii()

    def action_help(self) -> None:
        """The keys that apply now (read from BINDINGS, so the list cannot drift), then the widgets' keys."""
        rows = [(b.key, b.tooltip or b.description) for b in self.BINDINGS
                if not b.action.startswith(("help", "view")) and self.check_action(b.action, ()) is not False]
        if self.layout_mode == "compact":
            rows.append(("1 2 3 4", "show the leaderboard, the charts, the digits or the matrix"))
        self.app.push_screen(HelpScreen(rows, extra=COMPARE_KEYS, title="compare view keys"))

    # ---- events in: folded into the run models ----
    def apply(self, name: str, events: Sequence[Event]) -> None:
        """Fold a run's events into its model; the next beat of the clock draws them."""
        model = self.standings.get(name)
        if model is None or not events:
            return
        model.fold(list(events))
        self._changed = True

    def poll(self) -> None:
        """Read-only mode: whatever each run's writer appended since the last poll, folded and drawn."""
        notes = []
        for name, tail in self._tails.items():
            events = tail.poll()
            if tail.restarted:
                self.standings[name] = RunModel(name, self.standings[name].run_dir)
                self._changed = True
            self.apply(name, events)
            model = self.standings[name]
            model.malformed = tail.malformed
            if model.status == RUNNING and model.run_dir is not None and runlog.writer_pid(model.run_dir) is None:
                notes.append(f"{name}: writer gone; continue with {PROG} --resume {runlog.short_path(model.run_dir)}")
        skipped = sum(s.malformed for s in self.standings.values())
        if skipped:
            notes.append(runlog.skipped_note(skipped))
        if notes != self._watch_notes:
            self._watch_notes = notes
            self._changed = True
        self.draw()

    def _beat(self) -> None:
        if self._tails:
            self.poll()
            return
        for name, event in self._inbox.drain():
            self.apply(name, [event])
        self.draw()

    @on(EventsWaiting)
    def _events_waiting(self) -> None:
        self._clock.now()

    # ---- the models onto the screen ----
    def draw(self, force: bool = False) -> None:
        """Bring the charts, the leaderboard, the detail and the status line up to date with the models."""
        if not self._changed and not force:
            return
        self._changed = False
        training = any(m.state in ("running", "evaluating") for m in self.standings.values())
        heavy = force or not training
        for name, model in self.standings.items():
            new_losses, new_epochs = self._draw_series(name, model)
            if new_losses:
                self._pending.add("loss")
            if new_epochs:
                self._pending.add("acc")
        # a chart whose points the cadence held back is drawn on a later beat, and at the latest at the end
        if "loss" in self._pending and self._cadence.due("loss", PANEL_EVERY_S, heavy or self.loss_chart.drawn == 0):
            self.loss_chart.redraw()
            self._pending.discard("loss")
        if "acc" in self._pending and self._cadence.due("acc", PANEL_EVERY_S, heavy or self.acc_chart.drawn == 0):
            self.acc_chart.redraw()
            self._pending.discard("acc")
        self.leaderboard.show(list(self.standings.values()))
        self._follow()
        selected = self.leaderboard.selected
        if selected is not None:
            self._draw_detail(selected, heavy)
        self._update_status()

    def _draw_series(self, name: str, model: RunModel) -> tuple[bool, bool]:
        """Append the model's new points to its series; all of them again if the model was rewound or replaced."""
        key, generation, n_losses, n_epochs = self._drawn.get(name, (0, -1, 0, 0))
        if key != id(model) or generation != model.generation:
            self.loss_chart.replace(name, [], [])
            self.acc_chart.replace(name, [], [])
            n_losses = n_epochs = 0
        new = model.losses[n_losses:], model.epochs[n_epochs:]
        if new[0]:
            self.loss_chart.add(name, [p[1] for p in new[0]], [p[2] for p in new[0]])
        for e in new[1]:
            self.acc_chart.add_run_epoch(name, e.epoch, e.test_acc)
        self._drawn[name] = (id(model), model.generation, len(model.losses), len(model.epochs))
        rewound = key != id(model) or generation != model.generation
        return bool(new[0]) or rewound, bool(new[1]) or rewound

    def _draw_detail(self, name: str, heavy: bool) -> None:
        """The selected run's digits and matrix: at once for a newly selected run or a finished race,
        else at most every PANEL_EVERY_S while it trains."""
        model = self.standings.get(name)
        if model is None or (name, model.samples, model.confusion) == self._detail:
            return
        newly_selected = not self._detail or self._detail[0] != name
        if heavy or newly_selected or self._cadence.due("panels", PANEL_EVERY_S):
            self._show_detail(name)

    @on(EntrantStarted)
    def _on_entrant_started(self, message: EntrantStarted) -> None:
        self.current, self.current_index = message.name, message.index
        self._update_status()

    def _follow(self) -> None:
        """Keep the cursor on the leader until the user picks a run."""
        board = self.leaderboard
        if self._follow_leader and board.order and board.selected != board.order[0]:
            board.select(board.order[0])

    @on(Leaderboard.Selected)
    def _on_selected(self, message: Leaderboard.Selected) -> None:
        if message.by_user:
            self._follow_leader = False
        self._show_detail(message.name)

    def _load_history(self) -> None:
        """A race being finished: what each entrant did before, read back from its log."""
        for ref in self.runs:
            try:
                events = runlog.read_events(ref.run_dir)
            except (runlog.RunDirError, OSError):
                continue
            self.apply(ref.name, events)
            standing = self.standings[ref.name]
            if standing.status == RUNNING:
                standing.status = "unfinished"
        self.leaderboard.show(list(self.standings.values()))

    def _show_detail(self, name: str) -> None:
        standing = self.standings.get(name)
        if standing is None:
            return
        self._detail = (name, standing.samples, standing.confusion)
        samples, matrix = self.query_one(SampleGrid), self.query_one(ConfusionMatrix)
        self.query_one("#compare-samples").border_title = f"{name}: sample test digits"
        self.query_one("#compare-confusion").border_title = f"{name}: confusion matrix"
        if standing.samples is not None:
            samples.show_samples(standing.samples, standing.classes)
        else:
            samples.reset()
        if standing.confusion is not None:
            matrix.show_matrix(standing.confusion.epoch, standing.confusion.matrix, standing.classes)
        else:
            matrix.reset()

    def _update_status(self) -> None:
        done = sum(1 for s in self.standings.values() if s.finished)
        total = len(self.standings)
        if self.live:
            assert self.plan is not None
            if self.race_error:
                head = f"✗ race could not start: {self.race_error}"
            elif self.race_running and self.race is not None and len(self.race.running) > 1:
                head = f"▶ {self.plan.field} race · {len(self.race.running)} training at once · {done}/{total} ended"
            elif self.race_running and self.current:
                s = self.standings[self.current]
                rate = f" · {s.last_rate:,.0f} samples/s" if s.last_rate else ""
                head = (f"▶ {self.plan.field} race · entrant {self.current_index + 1}/{total} {self.current} · "
                        f"epoch {max(s.epoch_reached, 1)}/{s.planned_epochs or '?'}{rate}")
            elif self.race_running:
                head = f"▶ {self.plan.field} race · loading data"
            elif self.interrupted:
                head = f"■ {self.plan.field} race stopped · {done}/{total} ended · r finishes it"
            else:
                head = f"■ {self.plan.field} race over · {done}/{total} entrants ended"
            where = f" · {self.race_dir}"
        else:
            live = sum(1 for s in self.standings.values() if s.status == RUNNING)
            head = f"◉ comparing {total} runs (read-only) · {done} ended · {live} live"
            where = "".join(f" · {note}" for note in self._watch_notes)
        self.query_one("#compare-status", Static).update(head + where)

    # ---- the live race ----
    def _start_race(self, resume: bool = False) -> None:
        assert self.plan is not None and self.race_dir is not None
        self.race = Race(self.plan, self.race_dir, data_dir=self.data_dir, sinks_for=self._sinks_for,
                         on_entrant=lambda i, e, slot: self.post_message(EntrantStarted(i, e.name, slot.label)),
                         parallel=self.parallel, resume=resume)
        self.race_running = True
        self.interrupted = False
        self.refresh_bindings()
        self._run_race(self.race)

    def _sinks_for(self, entrant) -> list:
        """Each entrant's events go into the screen's inbox (worker thread side), tagged with its name."""
        def sink(event: Event, name: str = entrant.name) -> None:
            self._inbox.put((name, event), urgent=isinstance(event, URGENT))

        return [sink]

    @work(thread=True, exclusive=True, group="race", exit_on_error=False)
    def _run_race(self, race: Race) -> None:
        from core.idx import DataError

        try:
            bundles = race.load_data()
            race.run(bundles)
        except (DataError, ConfigError, runlog.RunDirError, OSError) as exc:
            self.post_message(RaceFinished(error=str(exc), usage_error=isinstance(exc, ConfigError)))
            return
        except Exception as exc:  # noqa: BLE001 - a bug must not take the terminal down with it
            self.post_message(RaceFinished(error=f"internal error: {type(exc).__name__}: {exc}"))
            return
        self.post_message(RaceFinished())

    @on(RaceFinished)
    def _on_race_finished(self, message: RaceFinished) -> None:
        for name, event in self._inbox.drain():  # the last entrant's last events, before the race is called over
            self.apply(name, [event])
        self.draw(force=True)
        self.race_running = False
        self.race_error = message.error
        self.interrupted = not message.error and self.resumable()  # read from disk once, as the race ends
        if message.error:
            self.notify(message.error, title="The race could not start", severity="error", timeout=30)
            if isinstance(self.app, CompareApp):
                self.app.failure_code = 2 if message.usage_error else 1
        elif self.race_dir is not None:
            try:
                (self.race_dir / LEADERBOARD_FILE).write_text(leaderboard_markdown(list(self.standings.values())))
            except OSError as exc:
                self.notify(f"cannot write {self.race_dir / LEADERBOARD_FILE}: {exc}", severity="error")
            failed = [s.name for s in self.standings.values() if s.status == "failed"]
            if self.interrupted:
                self.notify(f"finish it with r, or later with {PROG} --resume {self.race_dir}", title="Race stopped",
                            timeout=15)
            elif failed:
                self.notify(f"{', '.join(failed)} failed: {self.standings[failed[0]].reason}", title="Race over",
                            severity="warning", timeout=15)
            else:
                self.notify(f"leaderboard saved in {self.race_dir / LEADERBOARD_FILE}", title="Race over")
        self.current = None
        self._update_status()
        self.refresh_bindings()
        if self._quitting:
            self.app.exit(return_code=_exit_code(self.app))

    # ---- keys ----
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only what applies now is shown and accepted."""
        if action in ("skip", "stop_race"):
            return self.race_running and self.race is not None and not self.race.stop_requested
        if action == "resume_race":
            return self.live and not self.race_running and not self.race_error and self.interrupted
        if action == "back":
            return self.can_go_back and not self.race_running
        if action == "view":
            return self.layout_mode == "compact"
        return True

    def resumable(self) -> bool:
        """Whether --resume would train anything: an entrant stopped, interrupted or never started.
        Reads every entrant's log: asked once when a race ends, never from check_action."""
        return self.live and any(entrant_action(ref.run_dir)[0] != KEEP for ref in self.runs)

    def action_skip(self) -> None:
        if self.race is not None and self.race_running:
            selected = self.leaderboard.selected
            self.race.skip("skipped from the app", name=selected if selected in self.race.running else None)

    def action_stop_race(self) -> None:
        if self.race is not None and self.race_running:
            self.race.stop("stopped", "race stopped from the app")
            self.refresh_bindings()

    def action_resume_race(self) -> None:
        if self.live and not self.race_running and self.interrupted:
            self._start_race(resume=True)
            self._update_status()

    def action_export(self) -> None:
        from core.race_console import default_export_dir  # the CLI's rule: a race exports into RACE_DIR/export

        target = default_export_dir([str(self.race_dir)] if self.race_dir else [str(p) for p in self.compare_paths])
        try:
            written = export(list(self.standings.values()), target)
        except runlog.RunDirError as exc:
            self.notify(str(exc), title="Export failed", severity="error")
            return
        self.notify(f"{len(written) - 2} CSV files, epochs.csv and leaderboard.md in {target}", title="Exported")

    def action_back(self) -> None:
        if self.can_go_back and not self.race_running:
            self.dismiss()

    def action_quit_compare(self) -> None:
        """Quit; a running race first ends its entrant as interrupted (checkpointed, resumable)."""
        if self.race is not None and self.race_running:
            if self._quitting:
                return
            self._quitting = True
            self.app.race_resume_hint = f"{PROG} --resume {self.race_dir}"  # printed once the terminal is back
            self.race.stop("interrupted", f"quit from the app; finish the race with {PROG} --resume {self.race_dir}")
            self.query_one("#compare-status", Static).update("■ saving the running entrant's checkpoint, then quitting")
            return
        self.app.exit(return_code=_exit_code(self.app))

    def on_unmount(self) -> None:
        """Never leave a training thread behind a closed screen."""
        if self.race is not None and self.race_running:
            self.race.stop("interrupted", "the app closed")


class CompareApp(HangupExit, App[int]):
    """The compare view on its own: `mnist-tui --race ...` (live) and `mnist-tui --compare RUN_DIR...`."""

    CSS_PATH = "app.tcss"
    TITLE = f"{PROG} compare"
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, *, plan: RacePlan | None = None, race_dir: Path | None = None, data_dir: str | None = None,
                 compare_paths: Sequence[Path] = (), handle_signals: bool = False, parallel: int | None = None,
                 resume_race: bool = False) -> None:
        super().__init__()
        self.plan = plan
        self.parallel = parallel
        self.resume_race = resume_race
        self.race_resume_hint = ""
        self.race_dir = race_dir
        self.data_dir = data_dir
        self.compare_paths = list(compare_paths)
        self.handle_signals = handle_signals
        self.exit_code = 0
        self.failure_code = 0

    def get_default_screen(self) -> Screen:
        if self.plan is not None:
            from core.race import create_race_dir

            race_dir = self.race_dir or create_race_dir(self.plan)
            return CompareScreen(plan=self.plan, race_dir=race_dir, data_dir=self.data_dir, parallel=self.parallel,
                                 resume=self.resume_race)
        return CompareScreen(runs=resolve_runs(self.compare_paths), compare_paths=self.compare_paths)

    def on_ready(self) -> None:
        if self.handle_signals:
            self.install_signal_handlers()

    def _on_signal(self, sig: int = signal.SIGTERM) -> None:
        self.signal_received(sig)  # after a hang-up, exit() leaves without touching the terminal
        screen = self.screen
        if isinstance(screen, CompareScreen) and screen.race_running:
            self.exit_code = 130
            screen.action_quit_compare()
        else:
            self.exit(return_code=self.finish_code())

    @property
    def compare_screen(self) -> CompareScreen:
        screen = self.screen
        assert isinstance(screen, CompareScreen)
        return screen

    def finish_code(self) -> int:
        return self.exit_code or self.failure_code


def _exit_code(app: App) -> int:
    return app.finish_code() if isinstance(app, CompareApp) else 0
