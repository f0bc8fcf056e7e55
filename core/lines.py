"""Human log lines for events: one wording shared by the headless printer and the app's log panel."""

from __future__ import annotations

from core.events import (ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, Event, SamplesEvent, StateEvent,
                         StepEvent)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def eta_seconds(event: StepEvent, batch_size: int) -> float | None:
    """Training time left at the current rate (evaluation time not included)."""
    if event.samples_per_s <= 0:
        return None
    return (event.total_steps - event.step) * batch_size / event.samples_per_s


def step_line(event: StepEvent, rate: bool = True) -> str:
    """pytorch/examples' wording, so people recognise it: 'Train Epoch: 3 [19200/60000 (32%)]  Loss: 0.1234'.

    rate=False leaves out the samples per second (the app's log at 80 columns: its status bar shows the rate)."""
    pct = 100.0 * event.seen / max(event.epoch_size, 1)
    width = len(str(event.epoch_size))
    line = (f"Train Epoch: {event.epoch} [{event.seen:>{width}}/{event.epoch_size} ({pct:3.0f}%)]  "
            f"Loss: {event.loss:.4f}  lr {event.lr:.3g}")
    return f"{line}  {event.samples_per_s:,.0f} samples/s" if rate else line


def epoch_line(event: EpochEvent, test_size: int | None = None) -> str:
    correct = f"{round(event.test_acc * test_size)}/{test_size} " if test_size else ""
    return (f"Epoch {event.epoch}: train loss {event.train_loss:.4f} acc {event.train_acc:.2%} | "
            f"test loss {event.test_loss:.4f} acc {correct}({event.test_acc:.2%}) | "
            f"{event.seconds:.1f}s {event.samples_per_s:,.0f} samples/s")


def config_line(event: ConfigEvent) -> str:
    c = event.config
    verb = f"Resuming at epoch {event.start_epoch} step {event.start_step}:" if event.resumed else "Training"
    data = "the bundled sample" if event.bundled_data else event.data_source
    return (f"{verb} {c['name']}: {c['model']} on {data} ({event.train_size} train / {event.test_size} test) | {c['optimizer']} lr {c['lr']:g} batch "
            f"{c['batch_size']} | {c['epochs']} epochs | {event.parameters:,} parameters | {event.device} | "
            f"run dir {event.run_dir}")


def end_line(event: EndEvent) -> str:
    acc = f" | best test acc {event.best_test_acc:.2%}" if event.best_test_acc is not None else ""
    where = f" | checkpoint {event.checkpoint}" if event.checkpoint else ""
    return f"Run {event.status}: {event.reason} ({format_duration(event.time)}){acc}{where}"


def format_event(event: Event, test_size: int | None = None) -> str | None:
    """The log line for an event, or None for events that are drawn rather than logged."""
    if isinstance(event, StepEvent):
        return step_line(event)
    if isinstance(event, EpochEvent):
        return epoch_line(event, test_size)
    if isinstance(event, ConfigEvent):
        return config_line(event)
    if isinstance(event, EndEvent):
        return end_line(event)
    if isinstance(event, StateEvent):
        return event.message or event.state
    if isinstance(event, (SamplesEvent, ConfusionEvent)):
        return None
    return None
