"""Entry from the command line into the app: `launch(...)` runs it and returns the exit code.

Kept free of torch and of the app's import until needed, so `mnist-tui --help` stays instant.
Exit codes follow the CLI: 0 normally (quitting during a run saves it as "interrupted", to
continue with --resume); 130 when SIGTERM/SIGHUP stopped a run; 2 without a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.config import RunConfig


def launch(config: RunConfig | None = None, run_dir: Path | None = None, data_dir: str | None = None,
           resume: bool = False, watch: Path | None = None) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        sys.stderr.write("mnist-tui: error: the app needs a terminal; use --no-ui to train without one\n")
        return 2
    from tui.app import MnistApp

    app = MnistApp(config, run_dir=run_dir, data_dir=data_dir, resume=resume, watch_dir=watch, handle_signals=True)
    app.run()
    return app.return_code or 0
