"""First frame: how long `mnist-tui` takes to show its first screen, against a hello-world Textual app.

Both run in a real terminal (a tmux pane at 100x30, the default size): the clock starts when
tmux is asked to start the command and stops when the pane first shows the app's footer (its key
line: the last thing Textual lays out, so the whole first screen is there). The hello-world app
is what Textual's own docs start from (Header, Static, Footer with one binding); it is the floor
for any Textual app on this machine. Rounds interleave the two (the order alternates), and the
figure is the median of the rounds' own ratios, with the range.

The target (issue 17) is mnist-tui <= 1.2x the hello-world app.

    python benchmarks/first_frame.py [--rounds 7] [--size 100x30] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (puts the repository root on sys.path; imports no torch)

TARGET = 1.2
POLL_S = 0.02
SOCKET = f"first-frame-{os.getpid()}"  # a tmux server of its own, kept up by an idle session between rounds
HELLO = '''from textual.app import App
from textual.widgets import Footer, Header, Static


class Hello(App):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self):
        yield Header()
        yield Static("Hello, world")
        yield Footer()


Hello().run()
'''
# The first screen's own widgets (the settings form, styled by the app's stylesheet) in a bare app: the
# floor for this screen in Textual, whatever the app around it does. Each Select is ~12 ms of compose,
# styling and layout on this machine, an Input ~4 ms.
FORM_ONLY = '''from pathlib import Path

from textual.app import App
from textual.widgets import Footer

from core.config import PRESETS
from tui.widgets.config_form import ConfigForm


class FormOnly(App):
    CSS_PATH = Path("{root}") / "tui" / "app.tcss"
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self):
        yield ConfigForm(PRESETS["fast"].config, id="config", classes="view view-setup")
        yield Footer()


FormOnly().run()
'''
# what each footer shows once the first screen is painted
MARKERS = {"hello-world": "Quit", "form-only": "Quit", "mnist-tui": "Quit"}


def pane(session: str) -> str:
    proc = subprocess.run(["tmux", "-L", SOCKET, "capture-pane", "-p", "-t", session], capture_output=True, text=True)
    return proc.stdout


def first_frame(session: str, command: str, marker: str, size: tuple[int, int], cwd: str, timeout: float) -> float:
    """Seconds from asking tmux to start `command` until the pane's bottom lines show `marker`."""
    width, height = size
    t0 = time.perf_counter()
    subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height),
                    "-c", cwd, command], check=True)
    try:
        while True:
            lines = pane(session).rstrip("\n").splitlines()
            if any(marker in line for line in lines[-2:]):
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                raise SystemExit(f"first_frame.py: error: no {marker!r} on the screen after {timeout:.0f} s:\n"
                                 + "\n".join(lines))
            time.sleep(POLL_S)  # the poll's resolution, the same for both apps
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True)


@contextlib.contextmanager
def keep_server() -> Iterator[None]:
    try:
        yield
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)


def terminal_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: expected WIDTHxHEIGHT")
    return int(width), int(height)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--size", type=terminal_size, default="100x30")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one first frame")
    parser.add_argument("--out", default=str(common.RESULTS_DIR / "first_frame.md"), help="'-' for stdout only")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if shutil.which("tmux") is None:
        parser.error("tmux is needed (it is the terminal the apps are measured in)")
    py = sys.executable
    env_prefix = f"env MNIST_TUI_OFFLINE=1 TERM=xterm-256color PYTHONPATH={common.ROOT}"
    load = common.LoadLog()
    times: dict[str, list[float]] = {name: [] for name in MARKERS}
    subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", "keeper", "sleep 86400"], check=True)
    with tempfile.TemporaryDirectory() as tmp, keep_server():
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        form_only = Path(tmp) / "form_only.py"
        form_only.write_text(FORM_ONLY.format(root=common.ROOT))
        commands = {"hello-world": f"{env_prefix} {py} {hello}", "form-only": f"{env_prefix} {py} {form_only}",
                    "mnist-tui": f"{env_prefix} {py} -m tui"}
        for i in range(args.rounds):
            load.read()
            order = list(MARKERS) if i % 2 == 0 else list(reversed(MARKERS))
            for name in order:
                session = f"first-frame-{os.getpid()}-{i}-{name}"
                times[name].append(first_frame(session, commands[name], MARKERS[name], args.size, tmp, args.timeout))
            print(f"round {i + 1}/{args.rounds}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()),
                  file=sys.stderr, flush=True)
    load.read()
    ratios = [m / h for m, h in zip(times["mnist-tui"], times["hello-world"])]
    ratio = statistics.median(ratios)
    floor = [f / h for f, h in zip(times["form-only"], times["hello-world"])]
    over_form = [m / f for m, f in zip(times["mnist-tui"], times["form-only"])]
    verdict = "yes" if ratio <= TARGET else "NO"
    facts = [f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"machine: {common.cpu_name()} ({os.cpu_count()} cores), Python {sys.version.split()[0]}",
             f"command: `python benchmarks/first_frame.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
             f"load while measuring: {load.summary()}",
             f"{args.rounds} rounds at {args.size[0]}x{args.size[1]} in tmux, order alternating; the clock runs "
             "from `tmux new-session` to the pane first showing the app's footer (polled every "
             f"{POLL_S * 1000:.0f} ms); mnist-tui as `python -m tui` with no options (the form)"]
    body = ["| app | first frame, s (median, range) |", "|---|---:|",
            *(f"| {name} | {statistics.median(t):.2f} ({min(t):.2f}-{max(t):.2f}) |" for name, t in times.items()),
            "",
            f"**mnist-tui / hello-world: {ratio:.2f}x** (median of the rounds' ratios, range "
            f"{min(ratios):.2f}-{max(ratios):.2f}; target ≤ {TARGET}x: {verdict})",
            "",
            f"The form alone in a bare app (form-only) is {statistics.median(floor):.2f}x the hello-world app "
            f"(range {min(floor):.2f}-{max(floor):.2f}): the floor for this first screen in Textual. mnist-tui is "
            f"{statistics.median(over_form):.2f}x the form alone (range {min(over_form):.2f}-{max(over_form):.2f}): "
            "what the app adds around its first screen (its imports, the tabs, status bar and hidden panels)."]
    common.publish(args.out, "First frame: mnist-tui against a hello-world Textual app", facts, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
