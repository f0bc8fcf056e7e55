"""Entry from the command line into the app: `launch(...)` runs it and returns the exit code.

Kept free of torch and of the app's import until needed, so `mnist-tui --help` stays instant.
Exit codes follow the CLI: 0 normally (quitting during a run saves it as "interrupted", to
continue with --resume); 130 when SIGTERM/SIGHUP stopped a run; 2 without a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.config import RunConfig
from core.program import EXIT_USAGE, PROG


def launch(config: RunConfig | None = None, run_dir: Path | None = None, data_dir: str | None = None,
           resume: bool = False, watch: Path | None = None, race=None, compare: list[Path] | None = None) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        sys.stderr.write(f"{PROG}: error: the app needs a terminal; use --no-ui to train without one\n")
        return EXIT_USAGE
    if race is not None or compare:  # --race (a core.race.RacePlan) or --compare: the compare view (tui/compare.py)
        from tui.compare import CompareApp

        compare_app = CompareApp(plan=race, race_dir=run_dir, data_dir=data_dir, compare_paths=compare or [],
                                 handle_signals=True)
        compare_app.run()
        return compare_app.return_code or compare_app.finish_code()
    from tui.app import MnistApp

    app = MnistApp(config, run_dir=run_dir, data_dir=data_dir, resume=resume, watch_dir=watch, handle_signals=True)
    app.run()
    return app.return_code or 0
