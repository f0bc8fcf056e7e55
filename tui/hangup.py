"""Leaving when the terminal has gone away (SIGHUP: the SSH session dropped, tmux killed the pane).

The app first stops a running run and waits for its checkpoint, as on any quit; then Textual's
normal exit would restore the terminal. With the terminal gone that write fails (EIO), the
driver's writer thread dies of it, its queue fills, and the next write blocks forever: the
process then hangs on, holding its memory (and a GPU's) with nobody to see it. Measured in
tmux: `kill-session` during a run left the app asleep in Queue.put. So after a hang-up there is
nothing to restore, and the app leaves at once, once its work is saved.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys


class HangupExit:
    """Mixed into an App before App: `signal_received(sig)` from its handler, then exit() as usual."""

    hung_up = False

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGHUP call the app's `_on_signal(sig)` on its event loop (the app's one place for this;
        headless runs use core.program.stop_on_signals)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._on_signal, sig)  # type: ignore[attr-defined]

    def signal_received(self, sig: int) -> None:
        if sig == signal.SIGHUP:
            self.hung_up = True

    def exit(self, result=None, return_code: int = 0, message=None) -> None:  # noqa: ANN001 - App.exit's own
        if self.hung_up:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            os._exit(return_code)  # the run is saved and its log closed before any exit is called
        super().exit(result, return_code, message)  # type: ignore[misc]
