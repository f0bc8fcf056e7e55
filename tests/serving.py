"""Start `mnist-tui --serve` in a subprocess for a test, and read what a tab's app draws.

Shared by tests/test_serve.py (websocket client) and tests/browser/ (real browser). Every wait
is on a condition (a line on stdout, text on the screen, the process's exit) with a bound.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 90
URL_PATTERN = re.compile(r"http://\S+/")
# CSI, OSC and two-byte escapes: what is left is the text the app drew, in drawing order
ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def serve_env() -> dict[str, str]:
    """This checkout first on the path (the apps run from a temporary cwd), no download, no colour quirks."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, MNIST_TUI_OFFLINE="1", PYTHONUNBUFFERED="1")


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui", "--serve", "--port", "0", *args]


@dataclass
class Served:
    proc: subprocess.Popen
    url: str
    first_line: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "ws"

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str, str]:
        """Signal the server as Ctrl-C would; returns (exit code, rest of stdout, stderr)."""
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"the server did not stop within {STOP_TIMEOUT_S} s of the signal: {err}")
        return self.proc.returncode, out, err


@contextmanager
def served(*args: str, cwd: Path) -> Iterator[Served]:
    """A server on a free loopback port; stopped (SIGINT) when the block ends, if the test did not."""
    proc = subprocess.Popen(serve_command(*args), cwd=cwd, env=serve_env(), text=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watchdog = threading.Timer(START_TIMEOUT_S, proc.kill)
    watchdog.start()
    try:
        first_line = proc.stdout.readline()
    finally:
        watchdog.cancel()
    match = URL_PATTERN.search(first_line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no URL printed: {first_line!r} {proc.communicate()[1]}")
    server = Served(proc, match.group(0), first_line)
    try:
        yield server
    finally:
        if proc.poll() is None:
            server.stop()


def screen_text(raw: bytes) -> str:
    return ANSI.sub("", raw.decode("utf-8", "replace"))


class ScreenStream:
    """The bytes a tab's app sent over the websocket, and waits for text in them."""

    def __init__(self, websocket) -> None:  # noqa: ANN001 - aiohttp.ClientWebSocketResponse
        self.websocket = websocket
        self.raw = b""

    async def until(self, *texts: str, since: int = 0, timeout: float = START_TIMEOUT_S) -> str:
        """Read until every text is on screen (in what arrived after byte `since`); the text so far."""
        import aiohttp

        deadline = time.monotonic() + timeout
        while not all(text in (seen := screen_text(self.raw[since:])) for text in texts):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{texts} not on screen within {timeout} s; last text: {seen[-2000:]!r}")
            try:
                message = await self.websocket.receive(timeout=left)
            except asyncio.TimeoutError:
                raise AssertionError(f"{texts} not on screen within {timeout} s; last text: {seen[-2000:]!r}") from None
            if message.type == aiohttp.WSMsgType.BINARY:
                self.raw += message.data
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                raise AssertionError(f"the app closed before {texts} appeared; last text: {seen[-2000:]!r}")
        return seen

    async def press(self, keys: str) -> int:
        """Send keys as a browser tab does; returns the byte offset to wait `since`."""
        mark = len(self.raw)
        await self.websocket.send_json(["stdin", keys])
        return mark
