"""The `mnist-tui` command line: argparse, headless runs, and the documented exit codes.

The program starts in tui/entry.py, which hands this module a way to open the app; core never
imports the app itself (layers point one way: tui -> core).

Exit codes: 0 finished; 1 the run failed (data, disk, non-finite loss); 2 bad usage or an
invalid value; 130 stopped by Ctrl-C / SIGTERM / SIGHUP after saving a checkpoint; 141 the output
was closed (`| head`), also after saving a checkpoint. Every error is one
line on stderr; a traceback is a bug, so unexpected errors are caught here and written to the
run directory's error.log instead of the screen.

torch is imported only once a run really starts, so `--help`, `--list-presets` and the
app's first frame stay instant.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

from core.config import (PRESETS, RESUMABLE, SETTING, ConfigError, RunConfig, config_from_json, refused_on_resume,
                         shorten, validate)
from core.options import add_run_options, config_from_args, given_config_options
from core.program import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT_CLOSED, EXIT_USAGE, PROG,
                          stop_on_signals, stop_reason)

StartApp = Callable[..., int]
"""Opens the app (tui.entry passes tui.launch.launch) and returns its exit code."""
Serve = Callable[[argparse.Namespace, Sequence[str]], int]
"""--serve: serves the app to browser tabs (tui.entry passes tui.serve.serve), given the command line."""


class UsageError(Exception):
    """Bad command-line usage; message is printed as one line, exit 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but errors are one line (plus a hint) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {PROG} --help)")


def _port(text: str) -> int:
    """--port: 0 (any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid whole number {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range (0-65535; 0 picks a free one)")
    return port


def one_line(message: str, limit: int = 400) -> str:
    """An error as the one line the user gets: control characters a value brought in (a newline in
    an argument, an escape sequence in a file name) shown escaped, and at most `limit` characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    return text if len(text) <= limit else f"{text[:limit - 60]}...{text[-57:]}"


def data_dir_path(text: str | None) -> str | None:
    """--data-dir with ~ expanded here, so an unknown user is a usage error naming the path rather
    than a RuntimeError from deep in the data loader."""
    if text is None:
        return None
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):
        user = expanded[1:].split(os.sep, 1)[0]
        raise UsageError(f"--data-dir {shorten(text, 80)}: no user {shorten(user)} on this machine")
    return expanded


def _whole_number(text: str) -> int:
    """--parallel and --entrant: a whole number (their ranges depend on the race, checked there)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid whole number {text[:40]!r}") from None


def build_parser() -> argparse.ArgumentParser:
    preset_names = ", ".join(PRESETS)
    parser = OneLineParser(
        prog=PROG,
        description="Train and watch MNIST / Fashion-MNIST models in the terminal. With no options it opens the "
                    "interactive app; --no-ui trains headless with the same engine.",
        epilog=f"Examples:\n  {PROG}                                  open the app\n"
               f"  {PROG} --no-ui --preset cnn-adam        train the CNN tutorial headless\n"
               f"  {PROG} --no-ui --preset linear-sgd --epochs 3 --json > run.jsonl\n"
               f"  {PROG} --watch runs/20261123-101500-cnn-adam   watch a run another process writes\n"
               f"  {PROG} --resume runs/20261123-101500-cnn-adam --no-ui   continue an interrupted run\n"
               f"  {PROG} --no-ui --preset mlp-bn-adam --race optimizer=sgd,momentum,adam,radam   race optimizers\n"
               f"  {PROG} --no-ui --race seed=1,2,3 --run-dir runs/r --entrant 0   one entrant (SLURM arrays)\n"
               f"  {PROG} --resume runs/r --no-ui   finish an interrupted race\n"
               f"  {PROG} --compare runs/20261123-110000-race-mlp-bn-adam-optimizer --export csv   CSV + Markdown\n"
               f"  {PROG} --serve --preset cnn-adam          the app in a browser tab: open http://127.0.0.1:8000/\n\n"
               "Exit codes: 0 finished, 1 run failed, 2 bad usage, 130 interrupted, 141 output closed "
               "(checkpoint saved).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_argument_group("modes")
    mode.add_argument("--no-ui", action="store_true", help="train headless: progress on the terminal, plain lines when piped")
    mode.add_argument("--watch", metavar="RUN_DIR",
                      help="open a live, read-only view of a run (or race) directory; waits for it to appear")
    mode.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint; "
                                                          "given a race directory, finish the race")
    mode.add_argument("--list-presets", action="store_true", help="list the presets with their settings and expected accuracy")
    mode.add_argument("--json", action="store_true", help="with --no-ui: print the metrics.jsonl records on stdout")
    mode.add_argument("--race", metavar="FIELD=V1,V2,...",
                      help="train the same model, data order and seed once per value of one setting (2-8 values), "
                           "e.g. optimizer=sgd,momentum,adam,radam or init=xavier,kaiming,lecun; VALUE@LR sets an "
                           "entrant's lr")
    mode.add_argument("--parallel", type=_whole_number, metavar="N",
                      help="with --race or --resume RACE_DIR: train up to N entrants at once, each in its own process "
                           "(default: one per GPU; on a CPU one per core, the cores shared out)")
    mode.add_argument("--entrant", type=_whole_number, metavar="K",
                      help="with --race ... --no-ui --run-dir RACE_DIR: train only entrant K (0-based) of the race "
                           "into RACE_DIR, e.g. --entrant $SLURM_ARRAY_TASK_ID; the others may train elsewhere")
    mode.add_argument("--compare", nargs="+", metavar="RUN_DIR",
                      help="open finished or live runs (or a race directory) side by side, read-only")
    mode.add_argument("--export", choices=("csv",),
                      help="with --compare, or --race --no-ui: write per-epoch CSVs and the leaderboard as Markdown")
    mode.add_argument("--serve", action=argparse.BooleanOptionalAction, default=None,
                      help="serve the app (or --watch / --compare / --race views) to web browsers instead of this "
                           "terminal; each tab runs its own app; Ctrl-C stops them all, saving their runs")
    mode.add_argument("--host", metavar="HOST", help="with --serve: address to listen on (default 127.0.0.1, this "
                                                       "machine only; see the README for ssh -L)")
    mode.add_argument("--port", type=_port, metavar="PORT", help="with --serve: port (default 8000; 0 picks a free one)")

    run = parser.add_argument_group("what to train (explicit options override the preset)")
    run.add_argument("--preset", choices=list(PRESETS), metavar="NAME", help=f"start from a tutorial preset: {preset_names}")
    add_run_options(run)  # one option per field of the config schema (core/config.py SETTINGS)

    where = parser.add_argument_group("where")
    where.add_argument("--data-dir", metavar="DIR", help="directory with the IDX files (raw or .gz, flat or torchvision layout)")
    where.add_argument("--run-dir", metavar="DIR", help="run directory to create (default runs/<time>-<name>)")
    where.add_argument("--export-dir", metavar="DIR",
                       help="where --export writes (default: RACE_DIR/export, or exports/<time>-compare)")
    return parser


def refuse_a_file(path: Path, flag: str) -> None:
    """A run directory given as a file (its checkpoint, its log) is one clear line, not a raw [Errno 20]."""
    from core import runlog

    if path.exists() and not path.is_dir():
        raise runlog.RunDirError(f"{path} is a file, not a run directory: {flag} takes the folder a run writes, "
                                 f"e.g. runs/<time>-<name>")


def resume_config(args: argparse.Namespace) -> tuple[RunConfig, Path, str | None]:
    """The config of the run in args.resume, with the few options a resume may change."""
    from core import runlog

    run_dir = Path(args.resume)
    not_allowed = refused_on_resume(given_config_options(args)) + (["preset"] if args.preset else [])
    if not_allowed:
        may_change = " and ".join(SETTING[name].flag for name in RESUMABLE)
        raise UsageError(f"--resume continues a run as it was configured; only {may_change} may change "
                         f"(got --{not_allowed[0].replace('_', '-')})")
    if args.run_dir:
        raise UsageError("--resume writes into the run directory it continues; drop --run-dir")
    refuse_a_file(run_dir, "--resume")
    runlog.check_resumable(run_dir)  # in use, missing, symlinked: refused before anything loads
    saved = runlog.read_config(run_dir)  # validated against the config schema: one line if it is not
    config = config_from_json(saved["config"])
    config = validate(config.with_overrides(**{name: getattr(args, name) for name in RESUMABLE}))
    return config, run_dir, args.data_dir or saved.get("data_dir")


def list_presets() -> int:
    """A table on a terminal; piped, one plain line per preset, greppable like the rest of the headless output."""
    if not sys.stdout.isatty():
        for name, preset in PRESETS.items():
            sys.stdout.write(f"{name} | {preset.config.dataset} | {preset.description} | result: "
                             f"{preset.tutorial_result} | target test acc >= {preset.expected_test_acc:.3f}\n")
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Three columns, the tutorial's words under the settings: at 80 columns the long words (such as
    # "3x(conv3x3+maxpool+BatchNorm+ReLU)") still fit, so nothing wraps mid-number.
    table = Table(title=f"{PROG} presets (each reproduces a PyTorch tutorial)", title_justify="left")
    table.add_column("preset", no_wrap=True)
    table.add_column("settings · the tutorial's result", ratio=1, overflow="fold")
    table.add_column("target", no_wrap=True, justify="right")
    for name, preset in PRESETS.items():
        settings = Text(preset.description)
        settings.append(f"\nresult: {preset.tutorial_result}", style="dim")
        table.add_row(Text(f"{name}\n{preset.config.dataset}"), settings, f"≥ {preset.expected_test_acc:.3f}")
    Console(soft_wrap=False).print(table)
    return EXIT_OK


_claimed_run_dir: Path | None = None  # where main() writes the crash log, once a run directory is ours


def run_headless(config: RunConfig, run_dir: Path, data_dir: str | None, json_mode: bool, resume: bool) -> int:
    """Claim the run directory (its lock, before torch is even imported: a second writer hears
    within a second), then train with the console printer."""
    from core import runlog

    global _claimed_run_dir
    claim = runlog.claim_run_dir(run_dir, resume=resume)
    _claimed_run_dir = run_dir
    if claim.repaired:
        sys.stderr.write(f"{PROG}: {claim.repaired}\n")

    from core.console import ConsolePrinter, silence_stdout
    from core.engine import DeviceError, Trainer

    def on_output_closed() -> None:  # `| head` read what it wanted: an interrupt, not a failure
        silence_stdout()
        # EIO: the terminal hung up; its SIGHUP may come a moment after this write failed, and says the same
        why = stop_reason(signal.SIGHUP) if printer.hung_up else "output closed"
        trainer.stop("interrupted", f"{why}; resume with {PROG} --resume {run_dir} --no-ui")

    printer = ConsolePrinter(json_mode=json_mode, on_output_closed=on_output_closed)
    trainer = Trainer(config, run_dir, [printer], data_dir=data_dir, resume=resume, claim=claim)

    def stop(reason: str) -> None:
        trainer.stop("interrupted", f"{reason}; resume with {PROG} --resume {run_dir} --no-ui")

    signalled: list[int] = []  # the signals received (stop_on_signals' list, once inside it)

    def second_signal() -> bool:  # the first SIGHUP after a terminal's EIO is that hang-up, not the user insisting
        return trainer.stop_requested and not (printer.hung_up and len(signalled) <= 1)

    with stop_on_signals(second_signal, stop, f"the last checkpoint in {run_dir} is kept") as signalled:
        end = trainer.run()
    if printer.output_closed and not printer.hung_up and end.status != "failed" and not signalled:
        return EXIT_OUTPUT_CLOSED  # a closed pipe; a terminal that hung up (EIO or SIGHUP) is an interrupt: 130
    if end.status == "finished" or end.status == "stopped":
        return EXIT_OK
    if end.status == "interrupted":
        return EXIT_INTERRUPTED
    sys.stderr.write(f"{PROG}: error: {end.reason}\n")
    return EXIT_USAGE if isinstance(trainer.error, (ConfigError, DeviceError)) else EXIT_FAILED


WATCH_POLL_S = 0.5


def wait_for_watch_target(path: Path, sleep: Callable[[float], None] | None = None) -> None:
    """`--watch` started before the run (or race) it names: wait for it to appear, as `tail -F` does.

    Says so once on stderr (Ctrl-C stops waiting, exit 130). A file, or a folder of runs such as
    runs/, is a mistake waiting cannot fix, so those are one-line errors at once.
    """
    from core import runlog
    from core.race import RACE_FILE

    sleep = sleep or time.sleep
    said = False
    while not any((path / name).exists() for name in (runlog.METRICS_FILE, runlog.CONFIG_FILE, RACE_FILE)):
        refuse_a_file(path, "--watch")
        if path.is_dir() and (runs := sorted(p.name for p in path.iterdir() if (p / runlog.METRICS_FILE).exists())):
            raise runlog.RunDirError(f"{path} holds runs, it is not one: watch one of them, e.g. {path / runs[-1]}")
        if not said:
            sys.stderr.write(f"{PROG}: waiting for {path} to appear (no {runlog.METRICS_FILE} yet); Ctrl-C to stop\n")
            sys.stderr.flush()
            said = True
        sleep(WATCH_POLL_S)


def no_app(**_options: Any) -> int:
    """The StartApp of a core-only entry (`python -m core.cli`): the app lives in tui, above core."""
    raise UsageError("the app is not available from python -m core.cli; run mnist-tui, or add --no-ui")


def no_serve(_args: argparse.Namespace, _argv: Sequence[str]) -> int:
    """The Serve of a core-only entry: serving the app to a browser lives in tui (tui/serve.py)."""
    raise UsageError("--serve is not available from python -m core.cli; run mnist-tui --serve")


def dispatch(args: argparse.Namespace, start_app: StartApp = no_app, serve: Serve = no_serve,
             argv: Sequence[str] | None = None) -> int:
    from core import runlog

    if args.serve or (args.serve is None and (args.host is not None or args.port is not None)):
        return serve(args, sys.argv[1:] if argv is None else argv)  # --no-serve: a tab's app that --serve started
    args.data_dir = data_dir_path(args.data_dir)
    if args.list_presets:
        return list_presets()
    race_dir_resumed = bool(args.resume) and (Path(args.resume) / "race.json").is_file()
    if (args.race or args.compare or args.export or args.export_dir or race_dir_resumed
            or args.entrant is not None or args.parallel is not None):
        from core.race_console import dispatch as dispatch_race_compare  # races, --compare, --export, --resume RACE_DIR

        return dispatch_race_compare(args, start_app)
    if args.watch:
        from core.race import is_race_dir

        watch_dir = Path(args.watch)
        try:
            os.stat(watch_dir)
        except FileNotFoundError:
            pass  # waited for below, as tail -F does
        except OSError as exc:  # too long, a loop, no permission: waiting cannot fix it
            raise runlog.RunDirError(f"cannot watch {runlog.short_path(watch_dir)}: {exc.strerror or exc}") from None
        wait_for_watch_target(watch_dir)
        if is_race_dir(watch_dir):  # a race: its entrants side by side, as --compare RACE_DIR shows them
            return start_app(compare=[watch_dir], data_dir=args.data_dir)
        return start_app(watch=watch_dir)
    if args.json and not args.no_ui:
        raise UsageError("--json prints records on stdout and needs --no-ui")
    if args.resume:
        config, run_dir, data_dir = resume_config(args)
        if args.no_ui:
            return run_headless(config, run_dir, data_dir, args.json, resume=True)
        return start_app(config=config, run_dir=run_dir, data_dir=data_dir, resume=True)
    config = config_from_args(args)
    if not args.no_ui:
        return start_app(config=config, run_dir=Path(args.run_dir) if args.run_dir else None,
                         data_dir=args.data_dir, resume=False, given=given_config_options(args), preset=args.preset)
    run_dir = Path(args.run_dir) if args.run_dir else runlog.create_new_run_dir(config.name)
    return run_headless(config, run_dir, args.data_dir, args.json, resume=False)


def main(argv: Sequence[str] | None = None, start_app: StartApp = no_app, serve: Serve = no_serve) -> int:
    """Parse, dispatch, and turn every error into one line and an exit code. `start_app` opens the app
    for the modes that need it (tui.entry passes it; core cannot import the app)."""
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help: argparse printed it; return the code so main() always returns
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        return dispatch(args, start_app, serve, argv)
    except (UsageError, ConfigError) as exc:
        sys.stderr.write(f"{PROG}: error: {one_line(str(exc))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `--list-presets | head -1`: the reader has what it wanted
        from core.console import silence_stdout

        silence_stdout()
        return EXIT_OUTPUT_CLOSED
    except OSError as exc:  # a path the system refused (too long, a loop, no permission): name it
        if exc.filename is None:
            return _internal_error(exc)
        from core.runlog import short_path

        sys.stderr.write(f"{PROG}: error: {short_path(exc.filename)}: {exc.strerror or exc}\n")
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        from core import runlog
        from core.idx import DataError

        if isinstance(exc, (DataError, runlog.RunDirError, runlog.CheckpointError)):
            sys.stderr.write(f"{PROG}: error: {one_line(str(exc))}\n")
            return EXIT_FAILED
        return _internal_error(exc)


def _internal_error(exc: BaseException) -> int:
    """A bug: one line on stderr, the traceback in the crash log (core.runlog.write_error_log)."""
    from core import runlog

    log = runlog.write_error_log(traceback.format_exc(), _claimed_run_dir)
    where = f" (details in {runlog.short_path(log)})" if log else ""
    message = str(exc).splitlines()[0][:200] if str(exc).strip() else ""
    sys.stderr.write(f"{PROG}: internal error: {type(exc).__name__}: {message}{where}\n")
    return EXIT_FAILED


if __name__ == "__main__":  # headless modes only; the program's entry is tui/entry.py
    sys.exit(main())
