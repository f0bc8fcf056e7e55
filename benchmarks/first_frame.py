"""First frame: how long `mnist-tui` takes to show its first screen, against a hello-world Textual app.

Both run in a real terminal (a tmux pane at 100x30, the default size): the clock starts when
tmux is asked to start the command. Two times are taken from the same launch: when the pane
first shows the app's content (the form's first row; the hello-world app's text), and
when it shows the footer's keys, which Textual fills in a frame or more later: the whole first
screen, the figure the target is about. The hello-world app is what Textual's own docs start from
(Header, Static, Footer with one binding); it is the floor for any Textual app on this machine.
Rounds interleave the apps (the order alternates), and the figure is the median of the rounds'
own ratios, with the range. One untimed launch of each comes first, so every timed one starts as
a user's second launch does: Python's bytecode of the app cached (an editable install writes it on
the first run, a wheel install at install time) and the files in the page cache.

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
# floor for this screen in Textual, whatever the app around it does: nine Selects (six widgets each: the
# value, the arrows, a hidden option list) and eight Inputs, composed, styled and laid out.
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
# what each app's first content is, and what its footer shows once the whole first screen is painted
CONTENT = {"hello-world": "Hello, world", "form-only": "Preset", "mnist-tui": "Preset"}  # the form's first row
FOOTER = "Quit"


def pane(session: str) -> str:
    proc = subprocess.run(["tmux", "-L", SOCKET, "capture-pane", "-p", "-t", session], capture_output=True, text=True)
    return proc.stdout


def first_frame(session: str, command: str, content: str, size: tuple[int, int], cwd: str,
                timeout: float) -> tuple[float, float]:
    """Seconds from asking tmux to start `command` until the pane shows `content`, and until its
    bottom lines show the footer's keys."""
    width, height = size
    t0 = time.perf_counter()
    subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height),
                    "-c", cwd, command], check=True)
    shown: float | None = None
    try:
        while True:
            text = pane(session)
            now = time.perf_counter() - t0
            if shown is None and content in text:
                shown = now
            if any(FOOTER in line for line in text.rstrip("\n").splitlines()[-2:]):
                return (shown if shown is not None else now), now
            if now > timeout:
                raise SystemExit(f"first_frame.py: error: no {FOOTER!r} on the screen after {timeout:.0f} s:\n" + text)
            time.sleep(POLL_S)  # the poll's resolution, the same for every app
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
    parser.add_argument("--before", metavar="REV", help="also time mnist-tui at this git revision, side by side")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one first frame")
    parser.add_argument("--out", default=str(common.RESULTS_DIR / "first_frame.md"), help="'-' for stdout only")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if shutil.which("tmux") is None:
        parser.error("tmux is needed (it is the terminal the apps are measured in)")
    py = sys.executable
    # bytecode is written (and then read), as on a user's machine: PYTHONDONTWRITEBYTECODE is left out
    env_prefix = "env -u PYTHONDONTWRITEBYTECODE MNIST_TUI_OFFLINE=1 TERM=xterm-256color"
    load = common.LoadLog()
    subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", "keeper", "sleep 86400"], check=True)
    with tempfile.TemporaryDirectory() as tmp, keep_server():
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        form_only = Path(tmp) / "form_only.py"
        form_only.write_text(FORM_ONLY.format(root=common.ROOT))
        commands = {"hello-world": f"{env_prefix} {py} {hello}",
                    "form-only": f"{env_prefix} PYTHONPATH={common.ROOT} {py} {form_only}",
                    "mnist-tui": f"{env_prefix} PYTHONPATH={common.ROOT} {py} -m tui"}
        content = dict(CONTENT)
        labels = {name: name for name in commands}
        if args.before:
            before = Path(tmp) / "before"
            before.mkdir()
            sha = common.export_rev(args.before, before)
            commands["mnist-tui before"] = f"{env_prefix} PYTHONPATH={before} {py} -m tui"
            content["mnist-tui before"] = CONTENT["mnist-tui"]
            labels["mnist-tui before"] = f"mnist-tui before ({args.before}@{sha})"
        labels["mnist-tui"] = f"mnist-tui ({common.head_label()})"
        for name in commands:  # untimed: bytecode written, files cached, as for a user's second launch
            first_frame(f"warm-{os.getpid()}-{name.replace(' ', '-')}", commands[name], content[name], args.size, tmp,
                        args.timeout)
        shown: dict[str, list[float]] = {name: [] for name in commands}
        whole: dict[str, list[float]] = {name: [] for name in commands}
        for i in range(args.rounds):
            load.read()
            order = list(commands) if i % 2 == 0 else list(reversed(commands))
            for name in order:
                session = f"first-frame-{os.getpid()}-{i}-{name.replace(' ', '-')}"
                first, complete = first_frame(session, commands[name], content[name], args.size, tmp, args.timeout)
                shown[name].append(first)
                whole[name].append(complete)
            print(f"round {i + 1}/{args.rounds}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in whole.items()),
                  file=sys.stderr, flush=True)
    load.read()

    def ratios(times: dict[str, list[float]], name: str, to: str = "hello-world") -> list[float]:
        return [a / b for a, b in zip(times[name], times[to])]

    def spread(values: list[float], digits: int = 2) -> str:
        return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"

    ratio = statistics.median(ratios(whole, "mnist-tui"))
    verdict = "yes" if ratio <= TARGET else "NO"
    facts = [f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"machine: {common.cpu_name()} ({os.cpu_count()} cores), Python {sys.version.split()[0]}",
             f"command: `python benchmarks/first_frame.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
             f"load while measuring: {load.summary()}",
             f"{args.rounds} rounds at {args.size[0]}x{args.size[1]} in tmux after one untimed launch of each, order "
             "alternating; the clock runs from `tmux new-session` to the pane first showing the app's content "
             "(the form's first row; hello-world's text) and to its footer's keys (the whole first screen), polled every "
             f"{POLL_S * 1000:.0f} ms; mnist-tui as `python -m tui` with no options (the form)"]
    body = ["| app | content shown, s | whole first screen, s | whole screen / hello-world |", "|---|---:|---:|---:|",
            *(f"| {labels[name]} | {spread(shown[name])} | {spread(whole[name])} | {spread(ratios(whole, name))}x |"
              for name in commands),
            "",
            f"**mnist-tui / hello-world: {ratio:.2f}x** for the whole first screen (median of the rounds' ratios; "
            f"target ≤ {TARGET}x: {verdict})",
            "",
            f"The form alone in a bare app (form-only) is {spread(ratios(whole, 'form-only'))}x the hello-world "
            "app: the floor for this first screen in Textual (nine Selects and eight Inputs). mnist-tui is "
            f"{spread(ratios(whole, 'mnist-tui', 'form-only'))}x the form alone: what the app adds around it (its "
            "imports, the tabs and the status bar; the run panels mount after the first screen)."]
    if args.before:
        body += ["", f"mnist-tui now / before: {spread(ratios(whole, 'mnist-tui', 'mnist-tui before'))}x for the "
                     "whole first screen, side by side in the same rounds."]
    common.publish(args.out, "First frame: mnist-tui against a hello-world Textual app", facts, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
