"""The `mnist-tui` program: core's command line, with the app plugged in for the modes that show it.

The entry lives here, above both layers, so the dispatch points downward: core parses and runs
everything headless (--no-ui, --list-presets, --export), and only a mode that opens a screen
imports the app (tui/launch.py), keeping `mnist-tui --help` and headless runs free of Textual.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence


def start_app(**options: Any) -> int:
    from tui.launch import launch

    return launch(**options)


def serve_in_browser(args: Any, argv: Sequence[str]) -> int:
    """--serve: the app for browser tabs (tui/serve.py); aiohttp is imported only then."""
    from tui.serve import serve

    return serve(args, argv)


def main(argv: Sequence[str] | None = None) -> int:
    from core.cli import main as cli_main

    return cli_main(argv, start_app=start_app, serve=serve_in_browser)


def entry_point() -> None:
    """[project.scripts] mnist-tui."""
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
