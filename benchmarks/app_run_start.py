"""Run start in the app (benchmarks/run_start.py times the headless command): from pressing s to the first step record, first and second run of a session.

What a user waits for: the app is open, they press s, and the first step should appear. The
first run of a session pays for the engine's process start (the forkserver importing torch,
started right after the first frame); the second should start at once. Target: the second
run's first step within 1 s.

Each session is a fresh Python process with the app open under Textual's headless driver (the
same app a terminal shows), in a scratch directory. It presses s as soon as the first frame is
up, waits for the first step, stops the run (x), waits until the app may start again, presses s
again. Two times per run:
- record: pressing s -> the first step record in the run's metrics.jsonl (the engine's side);
- screen: pressing s -> the status bar showing a step (what the user sees).

Two versions side by side, sessions alternating between them, so machine load hits both alike:
by default `before` is `main` exported with `git archive` into a scratch directory, and `after`
this checkout. Both train the same config on the same data (the full MNIST in --data-dir).

    python benchmarks/app_run_start.py [--before REV] [--rounds 3] [--data-dir DIR] [--out FILE|-]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (puts the repository root on sys.path)

ROOT = common.ROOT
TIMEOUT_S = 600

# One session, run with a checkout first on sys.path; uses only what every version of the app has
# (MnistApp's constructor, its status bar, check_action, the s and x keys).
SESSION = r'''
import asyncio, json, sys, time
from pathlib import Path
from textual import events
from core.config import RunConfig
from tui.app import MnistApp

data_dir = sys.argv[1]
config = RunConfig(model="mlp", hidden=(100,), optimizer="adam", lr=0.001, batch_size=64, epochs=1, log_interval=10)


def press(app, key):
    """The key as a terminal sends it, without Pilot.press's wait for the app to go idle."""
    event = events.Key(key, key)
    event.set_sender(app)
    app._driver.send_message(event)


def first_step_record(runs, known):
    for run in runs.glob("*"):
        if run not in known:
            try:
                if b'"type":"step"' in (run / "metrics.jsonl").read_bytes():
                    return run
            except OSError:
                pass
    return None


async def main():
    runs = Path("runs")
    app = MnistApp(config, run_dir=runs / "first", data_dir=data_dir, cursor_blink=False)
    result = []
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for _ in range(2):
            known = set(runs.glob("*")) if runs.exists() else set()
            t0 = time.perf_counter()
            press(app, "s")
            record = screen = None
            shown_before = app.status.step  # the last run's, until the app takes the key and resets the bar
            reset = shown_before == 0
            while record is None or screen is None:
                now = time.perf_counter() - t0
                if now > 300:
                    raise SystemExit("no first step in 300 s")
                if record is None and runs.exists() and first_step_record(runs, known) is not None:
                    record = now
                reset = reset or app.status.step == 0
                if screen is None and reset and app.status.step > 0:
                    screen = now
                await asyncio.sleep(0.005)
            result.append({"record": record, "screen": screen})
            press(app, "x")
            while not app.check_action("start", ()):
                await asyncio.sleep(0.01)
    print(json.dumps(result))

asyncio.run(main())
'''


def session(checkout: Path, data_dir: str, scratch: Path) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run([sys.executable, "-c", SESSION, data_dir], cwd=scratch, env=env, capture_output=True,
                         text=True, timeout=TIMEOUT_S)
    if out.returncode != 0:
        raise SystemExit(f"session in {checkout.name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="main", help="git revision to compare with (default: main)")
    parser.add_argument("--rounds", type=int, default=3, help="sessions per version (default 3)")
    parser.add_argument("--data-dir", default=str(common.DEFAULT_DATA_DIR))
    parser.add_argument("--out", default=str(common.RESULTS_DIR / "app_run_start.md"), help="results file, - for none")
    args = parser.parse_args()

    load = common.LoadLog()
    times: dict[str, list[list[dict]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        before_dir = Path(tmp) / "before"
        before_dir.mkdir()
        before_sha = common.export_rev(args.before, before_dir)
        versions = {"before": before_dir, "after": ROOT}
        for r in range(args.rounds):
            order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
            for name in order:
                scratch = Path(tmp) / f"{name}-{r}"
                scratch.mkdir()
                load.read()
                runs = session(versions[name], str(Path(args.data_dir).resolve()), scratch)  # sessions run in a scratch dir
                load.read()
                print(f"round {r + 1} {name}: " + ", ".join(f"run {i + 1} record {t['record']:.2f} s screen "
                                                            f"{t['screen']:.2f} s" for i, t in enumerate(runs)),
                      file=sys.stderr, flush=True)
                times[name].append(runs)

    labels = {"before": f"before ({args.before}@{before_sha})", "after": f"after ({common.head_label()})"}
    rows = []
    for name in ("before", "after"):
        for run in (0, 1):
            record = [s[run]["record"] for s in times[name]]
            screen = [s[run]["screen"] for s in times[name]]
            which = "first run of the session" if run == 0 else "second run"
            rows.append(f"| {labels[name]} | {which} | **{statistics.median(record):.2f}** "
                        f"| {min(record):.2f}-{max(record):.2f} | {statistics.median(screen):.2f} "
                        f"| {min(screen):.2f}-{max(screen):.2f} |")
    second = statistics.median(s[1]["record"] for s in times["after"])
    import torch

    facts = common.standard_facts(torch.device("cpu"), common.command_line("app_run_start.py")) + [
        f"load while measuring: {load.summary()} (a machine shared with other jobs: compare the rows with each "
        "other, not with another file)",
        f"{args.rounds} sessions per version, alternating; a session is a fresh process with the app open under "
        "Textual's headless driver at 100x30, s pressed as soon as the first frame is up, the run stopped (x) "
        "after its first step, s pressed again as soon as the app allows",
        "config: mlp (100 hidden), adam, batch 64, full MNIST from --data-dir; 'record': s -> the first step "
        "record in metrics.jsonl; 'screen': s -> the status bar showing a step",
        f"target: the second run's first step within 1 s: {'met' if second <= 1.0 else 'NOT met'} "
        f"(median {second:.2f} s)",
    ]
    body = ["| version | run | s -> first step record, median (s) | range | s -> step on screen, median (s) "
            "| range |", "|---|---|---:|---:|---:|---:|", *rows, "",
            "Per session (record / screen seconds, run 1 · run 2), in the order they ran:", "",
            *[f"- {labels[name]}: " + " | ".join(" · ".join(f"{t['record']:.2f}/{t['screen']:.2f}" for t in s)
                                                   for s in times[name]) for name in ("before", "after")]]
    title = "Run start: pressing s to the first step, first and second run of an app session"
    common.publish(args.out, title, facts, body, shown=["", title, *rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
