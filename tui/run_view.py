"""The main screen as a view of one run model (core/runmodel.py).

`MainRunView.draw(model)` brings the status bar, the loss and accuracy charts, the digits, the
confusion matrix and the log up to date with the model, drawing only what changed since the
last call: new loss points and epochs are appended, new log lines written, the digits and the
matrix shown when the model holds new ones. Which panels draw on a given beat is the redraw
clock's business (tui/redraw.py); a live run, a replay before a resume and `--watch` all go
through here, so they look the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.runmodel import RunModel
from tui.redraw import LOG_EVERY_S, PANEL_EVERY_S, Cadence

if TYPE_CHECKING:  # the panels' modules load after the first frame (tui/panels.py)
    from tui.widgets.charts import AccuracyChart, LossChart
    from tui.widgets.confusion import ConfusionMatrix
    from tui.widgets.run_log import RunLog
    from tui.widgets.samples import SampleGrid
    from tui.widgets.status import StatusBar

LOG_STYLES = {"epoch": "bold", "state": "italic", "note": "bold yellow", "finished": "bold green",
              "failed": "bold red", "stopped": "bold", "interrupted": "bold"}
URGENT_LOG = frozenset({"config", "note", "state", "finished", "failed", "stopped", "interrupted"})
TRAINING = ("running", "evaluating")


class MainRunView:
    """What the main screen has drawn of a model, and how to draw the rest."""

    def __init__(self, *, status: StatusBar, loss: LossChart, acc: AccuracyChart, samples: SampleGrid,
                 confusion: ConfusionMatrix, log: RunLog, cadence: Cadence | None = None) -> None:
        self.status, self.loss, self.acc = status, loss, acc
        self.samples, self.confusion, self.log = samples, confusion, log
        self.cadence = cadence or Cadence()
        self.model: RunModel | None = None
        self._generation = -1
        self._losses = self._epochs = self._log_total = 0
        self._samples = self._confusion = None
        self._pending: set[str] = set()  # charts holding points not drawn yet (the cadence held them back)

    def reset(self, model: RunModel, expected_samples: int | None = None) -> None:
        """Show a new run from scratch (the panels empty until its records arrive)."""
        self.model = model
        self.cadence.forget()
        self._generation = model.generation
        self._losses = self._epochs = self._log_total = 0
        self._samples = self._confusion = None
        self._pending = set()
        self.loss.clear()
        self.acc.clear()
        self.samples.reset(expected=expected_samples)
        self.confusion.reset()
        self.log.reset()

    def draw(self, *, force: bool = False) -> None:
        """Bring the widgets up to date with the model; `force`: every panel now (the end of a run)."""
        model = self.model
        if model is None:
            return
        self._draw_status(model)
        training = model.state in TRAINING
        self._draw_log(model, force)
        heavy = force or not training
        if model.generation != self._generation:
            self._redraw_series(model)
        new_losses, new_epochs = len(model.losses) - self._losses, len(model.epochs) - self._epochs
        if new_losses > 0:
            points = model.losses[self._losses:]
            self.loss.add("loss", [p[0] for p in points], [p[2] for p in points])
            self._losses = len(model.losses)
            self._pending.add("loss")
        if new_epochs > 0:
            for e in model.epochs[self._epochs:]:
                self.acc.add_epoch("", e.epoch, e.train_acc, e.test_acc)
            self._epochs = len(model.epochs)
            self._pending.add("acc")
        # a chart whose points the cadence held back is drawn on a later beat, and at the latest at the end
        if "loss" in self._pending and self.cadence.due("loss", PANEL_EVERY_S, heavy or self.loss.drawn == 0):
            self.loss.redraw()
            self._pending.discard("loss")
        if "acc" in self._pending and self.cadence.due("acc", PANEL_EVERY_S, heavy or self.acc.drawn == 0):
            self.acc.redraw()
            self._pending.discard("acc")
        panels = (model.samples is not self._samples) or (model.confusion is not self._confusion)
        if panels and self.cadence.due("panels", PANEL_EVERY_S, heavy):
            if model.samples is not None and model.samples is not self._samples:
                self.samples.show_samples(model.samples, model.classes)
            if model.confusion is not None and model.confusion is not self._confusion:
                self.confusion.show_matrix(model.confusion.epoch, model.confusion.matrix, model.classes)
            self._samples, self._confusion = model.samples, model.confusion

    def _redraw_series(self, model: RunModel) -> None:
        """The model dropped records (a resumed run rewound to its checkpoint): draw its series again."""
        self._generation = model.generation
        self.loss.clear()
        self.acc.clear()
        self._losses = self._epochs = 0

    def _draw_status(self, model: RunModel) -> None:
        status, event = self.status, model.config_event
        if event is not None:
            status.device, status.data_source, status.bundled = event.device, event.data_source, event.bundled_data
            status.run_dir = event.run_dir
            status.epochs = int(model.config.get("epochs", 0) or 0)
        status.epoch, status.step, status.total_steps = model.epoch, model.step, model.total_steps
        status.samples_per_s = model.samples_per_s_now
        status.eta_s = model.eta_s
        best = model.best  # the numbers at a glance, from the one model (live, replayed or watched)
        status.last_loss = model.last_step.loss if model.last_step is not None else None
        status.last_test_acc = model.final_test_acc
        status.best_test_acc, status.best_epoch = (best.test_acc, best.epoch) if best is not None else (None, 0)
        status.elapsed_s = model.clock if model.config_event is not None else None

    def _draw_log(self, model: RunModel, force: bool) -> None:
        if model.log_total == self._log_total:
            return
        lines = model.log_since(self._log_total)
        urgent = force or any(line.kind in URGENT_LOG for line in lines)
        if not self.cadence.due("log", LOG_EVERY_S, urgent):
            return
        self._log_total = model.log_total
        for line in lines:
            self.log.add(line.time, line.text, LOG_STYLES.get(line.kind, ""), urgent=False, short=line.short)
        self.log.flush()
