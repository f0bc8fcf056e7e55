"""`mnist-tui --serve`: the real server in a subprocess, spoken to over its websocket with aiohttp's
client (what a browser tab does, minus the browser: tests/browser/ has that one).

Each wait is on a condition (the URL line, text on the app's screen, the server's exit) with a
bound; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import html.parser
import socket
import subprocess
import sys

import aiohttp
import pytest

from tui.entry import main
from core.runlog import CHECKPOINT_FILE, METRICS_FILE, iter_records, load_checkpoint
from serving import ScreenStream, serve_command, serve_env, served

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and sessions")

FIRST_SCREEN = ("configuration", "Start")
F1 = "\x1bOP"  # help, whatever has focus


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


class AssetLinks(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [value for name, value in attrs if name in ("src", "href") and value]


async def test_a_tab_gets_the_app_its_keys_work_and_stopping_the_server_saves_its_run(tmp_path, tiny_data):
    """One app process for the whole story (each costs seconds): the offline page, the first screen,
    a key, a run started with s, then Ctrl-C on the server: the tab's app gets SIGTERM, saves its
    checkpoint and end record, and exits before the server does."""
    run_dir = tmp_path / "run"
    args = ("--data-dir", str(tiny_data), "--run-dir", str(run_dir), "--model", "mlp", "--hidden", "32",
            "--batch-size", "32", "--epochs", "200", "--log-interval", "1", "--device", "cpu")
    with served(*args, cwd=tmp_path) as server:
        assert server.url.startswith("http://127.0.0.1:"), server.first_line  # loopback by default
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url) as response:
                assert response.status == 200
                page = await response.text()
            links = AssetLinks()
            links.feed(page)
            assert links.links and all(link.startswith("/static/") for link in links.links), links.links
            assert "http" not in page, "a link off this server"
            for link in links.links:  # the offline page's assets really are here
                async with session.get(server.url.rstrip("/") + link) as response:
                    assert response.status == 200, link
            async with session.ws_connect(server.ws_url + "?width=100&height=30") as websocket:
                screen = ScreenStream(websocket)
                await screen.until(*FIRST_SCREEN)
                mark = await screen.press(F1)
                await screen.until("mnist-tui keys", since=mark)
                mark = await screen.press(F1)  # closes the help: the form is drawn again
                await screen.until("configuration", since=mark)
                mark = await screen.press("s")
                await screen.until("running", "epoch", since=mark)  # the status bar of a run under way
                code, out, err = await asyncio.to_thread(server.stop)  # the client answers the close meanwhile
    assert code == 0, err
    assert "Traceback" not in err
    assert "stopping 1 app" in out
    records = list(iter_records(run_dir / METRICS_FILE))
    assert records[-1]["type"] == "end" and records[-1]["status"] == "interrupted", records[-1]
    assert any(r["type"] == "step" for r in records)
    load_checkpoint(run_dir / CHECKPOINT_FILE)  # loadable, so --resume can continue it


async def test_websockets_from_other_sites_and_foreign_host_names_are_refused(tmp_path):
    with served(cwd=tmp_path) as server:
        async with aiohttp.ClientSession() as session:
            for headers in ({"Origin": "http://evil.example"}, {"Host": "evil.example"}):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(server.ws_url, headers=headers)
                assert refused.value.status == 403
            async with session.get(server.url, headers={"Host": "rebound.example:80"}) as response:
                assert response.status == 403


def test_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = serve_command()[:-1] + [str(port)]
        done = subprocess.run(command, cwd=tmp_path, env=serve_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == f"mnist-tui: error: port {port} on 127.0.0.1 is in use; pick another with --port\n"


@pytest.mark.parametrize("argv, message", [
    (["--serve", "--port", "65536"], "port 65536 is out of range"),
    (["--serve", "--port", "http"], "invalid whole number"),
    (["--serve", "--no-ui"], "cannot be combined with --no-ui"),
    (["--serve", "--json"], "cannot be combined with --json"),
    (["--port", "8080"], "add --serve"),
    (["--serve", "--lr", "-1"], "learning rate"),
])
def test_serve_usage_errors_are_one_line_and_exit_2(argv, message, capsys):
    code, out, err = run_main(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and message in err and err.startswith("mnist-tui: error:"), err


def test_core_alone_cannot_serve(capsys):
    """`python -m core.cli` is core without the app: --serve is a usage error there, not an import of tui."""
    from core.cli import main as core_main

    assert core_main(["--serve"]) == 2
    assert "run mnist-tui --serve" in capsys.readouterr().err


def test_listening_beyond_loopback_says_who_can_reach_it(monkeypatch, capsys):
    """Only the explicit --host prints the warning; the socket here is loopback so the test exposes nothing."""
    import tui.serve
    import tui.serve_app

    served_urls = []
    monkeypatch.setattr(tui.serve, "bind", lambda host, port: socket.create_server(("127.0.0.1", 0)))
    monkeypatch.setattr(tui.serve_app.AppServer, "run", lambda self: served_urls.append(self.url) or self.sock.close())
    code, _, err = run_main(["--serve", "--host", "0.0.0.0"], capsys)
    assert code == 0
    assert err.count("\n") == 1 and "whoever can reach this port can start runs and write run directories" in err
    code, _, err = run_main(["--serve"], capsys)
    assert code == 0 and err == ""


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("[::1]", True), ("127.3.2.1", True), ("0.0.0.0", False),
                                            ("::", False), ("192.168.1.5", False), ("gpu-box", False)])
def test_is_loopback(host, loopback):
    from tui.serve import is_loopback

    assert is_loopback(host) is loopback
