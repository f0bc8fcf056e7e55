"""textual-serve's Server and AppService, configured for `mnist-tui --serve` (see tui/serve.py for why).

Imported only by the serving process: it pulls in aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import signal
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp.web_runner import GracefulExit
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from core.program import PROG
from tui.serve import APP_STOP_TIMEOUT_S, PAGE_TEMPLATE, is_loopback

log = logging.getLogger("textual-serve")


class ServedApp(AppService):
    """One tab's app process: started in its own session, stopped with SIGTERM (the app saves its run)."""

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        super().__init__(shlex.join(argv), **kwargs)
        self.argv = argv
        self._stopping: asyncio.Future[None] | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        # start_new_session: the terminal's Ctrl-C goes to the server only, which then stops each app in order
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._build_environment(width=width, height=height),
            start_new_session=True)
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def stop(self) -> None:
        """SIGTERM, then wait (bounded) until the app has saved its run and exited.

        textual-serve's own stop sends a "quit" message, which closes a Textual app at once: a
        run in progress would lose the epoch since its last checkpoint. A tab's handler and the
        server's shutdown may both call this; both wait for the one stop.
        """
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        process, task = self._process, self._task
        if process is None or task is None:
            return
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._drain_until_exit(process, task), APP_STOP_TIMEOUT_S)
        except asyncio.TimeoutError:
            sys.stderr.write(f"{PROG}: an app (pid {process.pid}) did not stop within {APP_STOP_TIMEOUT_S:.0f} s "
                             f"of SIGTERM; killed it\n")
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    @staticmethod
    async def _drain_until_exit(process: asyncio.subprocess.Process, task: asyncio.Task) -> None:
        """Wait for the reader task, then keep reading what the app writes (a closed tab no longer
        does) so that a full pipe never blocks the app while it saves."""
        with contextlib.suppress(Exception):
            await task
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(Exception):
                    while await stream.read(65536):
                        pass
        await process.wait()


class AppServer(Server):
    """textual-serve's Server on a socket bound by the caller, with an offline page and same-origin checks."""

    def __init__(self, argv: list[str], *, sock: socket.socket, url: str, loopback_only: bool) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(shlex.join(argv), host=host, port=port, title=PROG, public_url=url.rstrip("/"),
                         templates_path=Path(__file__).parent)
        self.argv = argv
        self.sock = sock
        self.url = url
        self.loopback_only = loopback_only
        self.apps: set[ServedApp] = set()
        self._stopping = False

    def initialize_logging(self) -> None:
        """Warnings and errors only, one plain line each: the terminal shows the URL, not a request log."""
        logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")

    async def on_startup(self, app: web.Application) -> None:
        sys.stdout.write(f"{PROG}: serving the app on {self.url} (each browser tab runs its own app); "
                         f"Ctrl-C stops the server and saves its runs\n")
        sys.stdout.flush()

    async def on_shutdown(self, app: web.Application) -> None:
        """Before the sockets close: every app saves its run and exits."""
        if self.apps:
            sys.stdout.write(f"{PROG}: stopping {len(self.apps)} app(s); runs are saved first\n")
            sys.stdout.flush()
            await asyncio.gather(*(served.stop() for served in list(self.apps)))

    def request_exit(self) -> None:
        if self._stopping:
            sys.stderr.write(f"{PROG}: still stopping: waiting for the apps to save their runs\n")
            return
        self._stopping = True
        raise GracefulExit()

    def run(self) -> None:
        """Serve until a signal; textual-serve's serve(), on our socket and with SIGHUP handled too."""
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(self._make_app(), sock=self.sock, handle_signals=False, loop=loop, print=None,
                    access_log=None)

    # ---- requests ----
    def _refused(self, request: web.Request) -> str | None:
        """Why this request may not reach an app, or None.

        A browser sends any site's websocket to 127.0.0.1 if asked, with that site's Origin; a
        DNS-rebound name reaches a loopback server with a foreign Host. Clients that are not
        browsers send no Origin and are not steered by web pages.
        """
        host_name = urlsplit(f"//{request.host}").hostname or ""
        if self.loopback_only and not is_loopback(host_name):
            return f"host {request.host!r} is not this machine's loopback address"
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            return f"origin {origin!r} is not this server"
        return None

    async def handle_index(self, request: web.Request) -> web.Response:
        if reason := self._refused(request):
            raise web.HTTPForbidden(text=f"{PROG}: {reason}")
        scheme = "wss" if request.secure else "ws"
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{scheme}://{request.host}/ws",
            "static_url": "/static/",
            "title": PROG,
        }
        return aiohttp_jinja2.render_template(PAGE_TEMPLATE, request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's handler, with ServedApp and the origin check."""
        if reason := self._refused(request):
            raise web.HTTPForbidden(text=f"{PROG}: {reason}")
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        served: ServedApp | None = None
        try:
            await websocket.prepare(request)
            served = ServedApp(self.argv, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                               close=websocket.close, download_manager=self.download_manager, debug=self.debug)
            self.apps.add(served)
            await served.start(width, height)
            await self._process_messages(websocket, served)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # noqa: BLE001 - one tab's failure must not stop the server
            log.exception(error)
        finally:
            if served is not None:
                await served.stop()
                self.apps.discard(served)
        return websocket
