"""`mnist-tui --serve`: the same app in a browser tab, served by textual-serve.

textual-serve starts one app process per browser tab and carries its screen and keys over a
websocket. This module only configures it for this program:

- each tab's app is this program run again with the same options plus `--no-serve`, so every
  mode (the app, --watch, --compare, --race, --resume) is served exactly as the terminal runs it;
- the apps run in their own session, so a Ctrl-C in the server's terminal reaches the server
  only; the server then sends each app SIGTERM, which the app already treats as "save the run,
  then quit" (textual-serve's own stop message would close the app without waiting for the
  checkpoint), and waits for every app to exit;
- the page is served with no asset from the internet (textual-serve's page links Google Fonts;
  ours uses the Roboto Mono files textual-serve ships) and with URLs relative to the address the
  browser used, so `ssh -L 9000:localhost:8000` works with any local port;
- the server listens on loopback unless told otherwise, and refuses websockets opened by other
  web sites (a page on the internet may otherwise script `new WebSocket("ws://127.0.0.1:8000/ws")`)
  and requests for other host names (DNS rebinding).

aiohttp and textual-serve are imported only when serving, so the apps it starts stay quick.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
from typing import Sequence

from core.cli import UsageError
from core.options import config_from_args
from core.program import EXIT_FAILED, EXIT_OK, PROG

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
APP_STOP_TIMEOUT_S = 60.0  # an app saves its checkpoint in well under a second; this bounds a hung one
CHILD_FLAG = "--no-serve"  # appended to a tab's command line: that process is the app itself
PAGE_TEMPLATE = "serve_page.html"
LOOPBACK_NAMES = ("localhost",)
_WIDE_OPEN_WARNING = ("{prog}: warning: listening on {where}: whoever can reach this port can start runs and write "
                      "run directories on this machine (safer: keep the default loopback address and use ssh -L)")


def is_loopback(host: str) -> bool:
    """True for a name or address that only this machine can reach."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def check_serve_args(args: argparse.Namespace) -> None:
    """Usage errors of --serve, before anything listens."""
    if not args.serve:
        raise UsageError("--host and --port choose where --serve listens; add --serve")
    for flag, given in (("--no-ui", args.no_ui), ("--json", args.json), ("--list-presets", args.list_presets),
                        ("--export", args.export)):
        if given:
            raise UsageError(f"--serve serves the app to a browser and cannot be combined with {flag}")
    if not (args.watch or args.compare or args.resume):
        config_from_args(args)  # a bad --lr is one line now, not an error in every browser tab


def child_command(argv: Sequence[str]) -> list[str]:
    """The command line of one tab's app: this program, the same options, run as the app."""
    return [sys.executable, "-m", "tui", *argv, CHILD_FLAG]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or UsageError (unknown host) / OSError (port in use, no such address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    return socket.create_server((address[0], port), family=family, backlog=128)


def serve(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the web server until Ctrl-C / SIGTERM / SIGHUP; every app it started is stopped and saved first."""
    check_serve_args(args)
    host = DEFAULT_HOST if args.host is None else args.host
    port = DEFAULT_PORT if args.port is None else args.port
    try:
        sock = bind(host, port)
    except OSError as exc:
        reason = ("is in use; pick another with --port" if exc.errno == errno.EADDRINUSE
                  else f"cannot be opened: {exc.strerror or exc}")
        sys.stderr.write(f"{PROG}: error: port {port} on {host} {reason}\n")
        return EXIT_FAILED
    bound_port = sock.getsockname()[1]
    if not is_loopback(host):
        sys.stderr.write(_WIDE_OPEN_WARNING.format(prog=PROG, where=f"{_url_host(host)}:{bound_port}") + "\n")
    shown_host = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    url = f"http://{_url_host(shown_host)}:{bound_port}/"
    from tui.serve_app import AppServer

    server = AppServer(child_command(argv), sock=sock, url=url, loopback_only=is_loopback(host))
    server.run()
    return EXIT_OK

