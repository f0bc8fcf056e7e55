"""Entry from the command line into the app: `launch(...)` runs it and returns the exit code.

Kept free of torch and of the app's import until needed, so `mnist-tui --help` stays instant.
Exit codes follow the CLI: 0 normally (quitting during a run saves it as "interrupted", to
continue with --resume); 130 when SIGTERM/SIGHUP stopped a run; 2 without a terminal.

Around the app: a first run opens on the `fast` preset (99% in one epoch) unless a preset was
named, keeping the options given; a monochrome terminal (TERM=xterm-mono and the like) gets
NO_COLOR, so the app draws without colour and the digits in ASCII; and quitting during a run
leaves its end summary and the resume command in the shell, where they outlive the app.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence

from core.config import PRESETS, RunConfig
from core.program import EXIT_USAGE, PROG

DEFAULT_PRESET = "fast"


def first_config(config: RunConfig | None, given: Sequence[str] = (), preset: str | None = None) -> RunConfig | None:
    """The form's opening config: without --preset, the DEFAULT_PRESET with the options given on top."""
    if config is None or preset is not None:
        return config
    kept = {key: getattr(config, key) for key in given}
    return PRESETS[DEFAULT_PRESET].config.with_overrides(**kept)


def is_mono_terminal(env: dict[str, str] | None = None) -> bool:
    """TERM names a terminal without colour (xterm-mono, vt100-mono, ...), as terminfo does."""
    term = (env if env is not None else os.environ).get("TERM", "")
    return term.endswith("-mono") or term.endswith("-m")


def prefer_no_color() -> None:
    """Mono terminals get what NO_COLOR gives: no colour, ASCII digits (read by Textual at App start)."""
    if is_mono_terminal():
        os.environ.setdefault("NO_COLOR", "1")


def farewell(app: Any) -> list[str]:
    """The lines printed to the shell after quitting during a run: how it ended and how to go on."""
    from core.lines import end_line

    end = getattr(app, "last_end", None)
    last = getattr(app, "last_run", None)
    if not getattr(app, "quit_with_run", False) or end is None or last is None:
        return []
    lines = [f"{PROG}: {end_line(end)}"]
    if end.checkpoint and "--resume" not in lines[0]:
        lines.append(f"{PROG}: continue with: {PROG} --resume {shlex.quote(str(last.run_dir))}")
    return lines


def launch(config: RunConfig | None = None, run_dir: Path | None = None, data_dir: str | None = None,
           resume: bool = False, watch: Path | None = None, race=None, compare: list[Path] | None = None,
           given: Sequence[str] = (), preset: str | None = None, parallel: int | None = None) -> int:
    """`given`: the config options named on the command line (kept when a preset is chosen);
    `preset`: --preset, if given (else the form opens on DEFAULT_PRESET); `parallel`: a race's --parallel."""
    served = bool(os.environ.get("TEXTUAL_DRIVER"))  # a browser tab's app (--serve): its stdout is the websocket's
    if not served and not (sys.stdin.isatty() and sys.stdout.isatty()):
        sys.stderr.write(f"{PROG}: error: the app needs a terminal; use --no-ui to train without one\n")
        return EXIT_USAGE
    prefer_no_color()
    if race is not None or compare:  # --race (a core.race.RacePlan) or --compare: the compare view (tui/compare.py)
        from tui.compare import CompareApp

        compare_app = CompareApp(plan=race, race_dir=run_dir, data_dir=data_dir, compare_paths=compare or [],
                                 handle_signals=True, parallel=parallel, resume_race=resume and race is not None)
        compare_app.run()
        _print_resume_hint(compare_app)
        return compare_app.return_code or compare_app.finish_code()
    from tui.app import MnistApp

    if not resume and watch is None:
        config = first_config(config, given, preset)
    app = MnistApp(config, run_dir=run_dir, data_dir=data_dir, resume=resume, watch_dir=watch, handle_signals=True,
                   pinned=tuple(given))
    app.run()
    if served:
        return app.return_code or 0
    try:
        for line in farewell(app):
            print(line, flush=True)
    except OSError:  # the terminal went away (SIGHUP): the run directory still has it all
        pass
    _print_resume_hint(app)
    return app.return_code or 0


def _print_resume_hint(app) -> None:
    """A race stopped by quitting (q, Ctrl-C, SIGTERM): say how to finish it, once the terminal is back."""
    hint = getattr(app, "race_resume_hint", "")
    if hint:
        try:
            sys.stderr.write(f"{PROG}: race interrupted; finish it with {hint}\n")
        except OSError:  # the terminal went away (SIGHUP): the entrants' checkpoints are saved all the same
            pass
