"""Entry from the CLI into the app (placeholder until the app lands)."""

from __future__ import annotations

import sys


def launch(**kwargs) -> int:
    sys.stderr.write("mnist-tui: the interactive app is not built yet; use --no-ui\n")
    return 2
