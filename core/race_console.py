"""Headless races and exports: what `--race ... --no-ui` and `--compare ... --export csv` do.

Kept out of cli.py so the command line stays a thin dispatcher; the wording of each entrant's
progress is the console printer's, and the leaderboard is the same table the app shows.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import IO, Sequence

from rich.console import Console
from rich.table import Table

from core.config import ConfigError
from core.events import ConfigEvent, Event, StepEvent, to_record
from core.export import LEADERBOARD_COLUMNS, export, leaderboard_markdown, leaderboard_rows
from core.leaderboard import LEADERBOARD_FILE, Standing, read_standing
from core.lines import format_event
from core.options import config_from_args, given_config_options
from core.program import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG, stop_on_signals
from core.race import KEEP, Entrant, Race, RacePlan, RaceResult, Slot, resolve_runs


def leaderboard_table(standings: Sequence[Standing], title: str | None = None) -> Table:
    """The leaderboard as a Rich table (the terminal's version of leaderboard.md)."""
    table = Table(title=title, title_justify="left")
    for column in LEADERBOARD_COLUMNS:
        table.add_column(column, justify="left" if column in ("run", "status") else "right")
    for row in leaderboard_rows(standings):
        table.add_row(*row)
    return table


def print_leaderboard(standings: Sequence[Standing], stream: IO[str], title: str) -> None:
    """A Rich table on a terminal; the Markdown table when piped, so the output pastes into a report."""
    if stream.isatty():
        Console(file=stream, soft_wrap=False).print(leaderboard_table(standings, title))
    else:
        stream.write(f"{title}\n\n{leaderboard_markdown(standings)}")
    stream.flush()


def _exit_code(result: RaceResult) -> int:
    if result.interrupted:
        return EXIT_INTERRUPTED
    if result.failed:
        first = result.failed[0]
        end = result.ends[first]
        sys.stderr.write(f"{PROG}: error: {len(result.failed)} of {len(result.ends)} race entrants failed; "
                         f"{first}: {end.reason if end else ''}\n")
        usage = all(isinstance(result.errors.get(n), ConfigError) for n in result.failed)
        return EXIT_USAGE if usage else EXIT_FAILED
    return EXIT_OK


class EntrantPrinter:
    """Headless output of entrants training at once: one plain line per config, epoch, state and end,
    each prefixed with the entrant's name (live progress bars of several runs would overwrite
    each other). Lines of different entrants never interleave mid-line."""

    def __init__(self, name: str, stream: IO[str], lock: threading.Lock) -> None:
        self.prefix = f"[{name}] "
        self.stream = stream
        self.lock = lock
        self.test_size: int | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepEvent):
            return
        if isinstance(event, ConfigEvent):
            self.test_size = event.test_size
        line = format_event(event, self.test_size)
        if line:
            with self.lock:
                self.stream.write(self.prefix + line + "\n")
                self.stream.flush()


def resume_command(race_dir: Path, only: Sequence[int] | None = None) -> str:
    """The command that finishes this race (or, with --entrant, this entrant)."""
    entrant = f" --entrant {only[0]}" if only and len(only) == 1 else ""
    return f"{PROG} --resume {race_dir}{entrant} --no-ui"


def run_race_headless(plan: RacePlan, race_dir: Path, data_dir: str | None, json_mode: bool,
                      stream: IO[str] | None = None, *, parallel: int | None = None,
                      only: Sequence[int] | None = None, resume: bool = False) -> int:
    """Train the entrants (all, or `only`), each with its own printer, then print and save the leaderboard."""
    from core.console import ConsolePrinter

    out = stream or sys.stdout
    standings = {e.name: Standing(e.name, race_dir / e.name) for e in plan.entrants}
    total = len(plan.entrants)
    lock = threading.Lock()
    race: Race

    def sinks_for(entrant: Entrant):
        standing = standings[entrant.name]
        if json_mode:
            def emit(event: Event) -> None:
                with lock:
                    out.write(json.dumps({"entrant": entrant.name, **to_record(event)}, separators=(",", ":")) + "\n")
                    out.flush()
            return [standing.update, emit]
        if len(race.slots) > 1:
            return [standing.update, EntrantPrinter(entrant.name, out, lock)]
        return [standing.update, ConsolePrinter(out)]

    def on_entrant(index: int, entrant: Entrant, slot: Slot | None = None) -> None:
        if not json_mode:
            with lock:
                where = f" on {slot.label}" if slot is not None and len(race.slots) > 1 else ""
                out.write(f"\nRace {plan.field} {index + 1}/{total}: {entrant.name} ({entrant.lr_note}){where}\n")
                out.flush()

    race = Race(plan, race_dir, data_dir=data_dir, sinks_for=sinks_for, on_entrant=on_entrant,
                parallel=parallel, only=only, resume=resume, engine="auto")
    if only is not None or resume:
        race.check_entrants()  # an entrant training elsewhere, or already run: refused before loading data
    bundles = race.load_data()  # DataError / ConfigError propagate to main(): one line, exit 1 / 2
    if not json_mode:
        count = len(only) if only is not None else total
        how = ("alone (the others may train elsewhere)" if only is not None else "one after another"
               if len(race.slots) == 1 else f"{len(race.slots)} at once ({', '.join(sorted({s.label for s in race.slots}))})")
        which = f"entrant {', '.join(str(k) for k in only)} of {total}" if only is not None else f"{count} entrants"
        verb = "Finishing the race" if resume else "Race"
        out.write(f"{verb} over {plan.field}: {which}, {plan.base.epochs} epochs each, seed {plan.base.seed}, "
                  f"{how}, in {race_dir}\n")

    def stop(reason: str) -> None:
        race.stop("interrupted", f"{reason}; finish the race with {resume_command(race_dir, only)}")

    with stop_on_signals(lambda: race.stop_requested, stop, f"the last checkpoints in {race_dir} are kept"):
        result = race.run(bundles)
    if resume:
        for name, (action, why) in race.actions.items():
            if action == KEEP and not json_mode:
                out.write(f"{name}: {why}, kept as it is\n")
    if only is not None or resume:  # other entrants may be training elsewhere: read every one from disk
        board = [read_standing(e.name, race_dir / e.name) for e in plan.entrants]
    else:
        board = list(standings.values())
    write_leaderboard(race_dir, board)
    if json_mode:
        out.write(json.dumps({"type": "leaderboard", "race_dir": str(race_dir),
                              "columns": list(LEADERBOARD_COLUMNS), "rows": leaderboard_rows(board)}) + "\n")
        out.flush()
    else:
        out.write("\n")
        print_leaderboard(board, out, f"Leaderboard: {plan.field} race ({race_dir / LEADERBOARD_FILE})")
    if result.interrupted:
        sys.stderr.write(f"{PROG}: race interrupted; finish it with {resume_command(race_dir, only)}\n")
    return _exit_code(result)


def write_leaderboard(race_dir: Path, board: Sequence[Standing]) -> None:
    """leaderboard.md, replaced whole: entrants of one race finishing on different machines may write it at once."""
    from core import runlog

    text = leaderboard_markdown(board).encode()
    runlog.atomic_write_bytes(race_dir / LEADERBOARD_FILE, lambda fh: fh.write(text))


def default_export_dir(paths: Sequence[str]) -> Path:
    """One race directory exports into itself; anything else into a new exports/<time>-compare."""
    from core import runlog
    from core.race import is_race_dir

    if len(paths) == 1 and is_race_dir(Path(paths[0])):
        return Path(paths[0]) / "export"
    return runlog.default_run_dir("compare", Path("exports"))


def export_runs(paths: Sequence[str], out_dir: str | None, fmt: str, stream: IO[str] | None = None) -> int:
    """`--compare RUN_DIR... --export csv`: read each run, write the files, list them."""
    out = stream or sys.stdout
    refs = resolve_runs(paths)
    from core.runlog import short_path, skipped_note

    standings = [read_standing(ref.name, ref.run_dir) for ref in refs]
    for s in standings:
        if s.malformed:
            sys.stderr.write(f"{short_path(s.run_dir)}: {skipped_note(s.malformed)}\n")
    target = Path(out_dir) if out_dir else default_export_dir(paths)
    for path in export(standings, target, fmt):
        out.write(f"wrote {short_path(path, 400)}\n")
    out.flush()
    return EXIT_OK


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _race_options(args, plan: RacePlan) -> list[int] | None:
    """--entrant K checked against the plan: the list of entrants to train (None: all)."""
    if args.entrant is None:
        return None
    if not args.no_ui:
        raise ConfigError("--entrant trains one entrant headless, for a batch scheduler; add --no-ui "
                          "(watch the race with --compare RACE_DIR)")
    if not 0 <= args.entrant < len(plan.entrants):
        raise ConfigError(f"invalid --entrant {args.entrant}: this race has entrants 0 to {len(plan.entrants) - 1}")
    if args.export:
        raise ConfigError("--export with --entrant: export once every entrant has ended, with --compare RACE_DIR --export csv")
    return [args.entrant]


def dispatch(args, start_app) -> int | None:
    """Handle --race, --compare, --export and --resume RACE_DIR; None when none of them was given.

    `start_app` opens the app (core.cli passes on what tui.entry gave it; core never imports tui).
    """
    from core import runlog
    from core.race import create_race_dir, is_race_dir, plan_race

    resume_race = bool(args.resume) and is_race_dir(Path(args.resume))
    if not (args.race or args.compare or args.export or args.export_dir or resume_race
            or args.entrant is not None or args.parallel is not None):
        return None
    modes = [m for m in ("watch", "resume", "compare", "race") if getattr(args, m)]
    if len(modes) > 1:
        raise ConfigError(f"{_flag(modes[0])} and {_flag(modes[1])} cannot be combined")
    if args.json and not args.no_ui:
        raise ConfigError("--json prints records on stdout and needs --no-ui")
    if args.export_dir and not args.export:
        raise ConfigError("--export-dir needs --export csv")
    if args.parallel is not None and args.parallel < 1:
        raise ConfigError(f"invalid --parallel {args.parallel}: must be at least 1")
    if (args.entrant is not None or args.parallel is not None) and not (args.race or resume_race):
        flag = "--entrant" if args.entrant is not None else "--parallel"
        raise ConfigError(f"{flag} is for races: --race FIELD=V1,V2,... or --resume RACE_DIR")
    if args.compare:
        options = given_config_options(args) + (["preset"] if args.preset else []) + (["run_dir"] if args.run_dir else [])
        if options:
            raise ConfigError(f"--compare shows runs as they were trained; drop {_flag(options[0])}")
        if args.json:
            raise ConfigError("--compare has no --json output; use --export csv")
        if args.export:
            return export_runs(args.compare, args.export_dir, args.export)
        if args.no_ui:
            raise ConfigError("--compare opens the app; with --no-ui add --export csv to write the results")
        resolve_runs(args.compare)  # a bad path is one clear line now, not an empty screen later
        return start_app(compare=[Path(p) for p in args.compare], data_dir=args.data_dir)
    if resume_race:
        return _resume_race(args, start_app)
    if not args.race:
        raise ConfigError("--export needs runs: --compare RUN_DIR... --export csv, or --race ... --no-ui --export csv")
    config = config_from_args(args)
    plan = plan_race(config, args.race, args.lr)
    if plan.field in given_config_options(args):
        raise ConfigError(f"{_flag(plan.field)} conflicts with --race {args.race}: the race sets it per entrant")
    if args.export and not args.no_ui:
        raise ConfigError("--export with --race needs --no-ui (in the app, the compare screen exports with e)")
    only = _race_options(args, plan)
    if only is not None:
        if not args.run_dir:
            raise ConfigError("--entrant needs --run-dir RACE_DIR: the directory every entrant of the race shares")
        race_dir = Path(args.run_dir)
        if race_dir.exists() and not race_dir.is_dir():
            raise runlog.RunDirError(f"race directory {race_dir} is not a directory")
        return run_race_headless(plan, race_dir, args.data_dir, args.json, parallel=1, only=only)
    race_dir = Path(args.run_dir) if args.run_dir else create_race_dir(plan)
    if args.run_dir and race_dir.exists() and (not race_dir.is_dir() or any(race_dir.iterdir())):
        raise runlog.RunDirError(f"race directory {race_dir} already exists; choose another --run-dir")
    if not args.no_ui:
        return start_app(config=config, race=plan, run_dir=race_dir, data_dir=args.data_dir, resume=False,
                         parallel=args.parallel)
    code = run_race_headless(plan, race_dir, args.data_dir, args.json, parallel=args.parallel)
    if args.export and is_race_dir(race_dir):
        export_runs([str(race_dir)], args.export_dir, args.export, sys.stderr if args.json else None)
    return code


def _resume_race(args, start_app) -> int:
    """`--resume RACE_DIR`: finish the race as it was planned (race.json), in the app or headless."""
    from core.race import plan_from_race_file

    options = given_config_options(args) + (["preset"] if args.preset else []) + (["run_dir"] if args.run_dir else [])
    if options:
        raise ConfigError(f"--resume RACE_DIR finishes the race as it was planned; drop {_flag(options[0])}")
    if args.export:
        raise ConfigError("--export with --resume RACE_DIR: export when the race is over, with --compare RACE_DIR --export csv")
    race_dir = Path(args.resume)
    plan, saved_data_dir = plan_from_race_file(race_dir)
    data_dir = args.data_dir or saved_data_dir
    only = _race_options(args, plan)
    if not args.no_ui:
        return start_app(config=plan.base, race=plan, run_dir=race_dir, data_dir=data_dir, resume=True,
                         parallel=args.parallel)
    return run_race_headless(plan, race_dir, data_dir, args.json, parallel=1 if only else args.parallel, only=only,
                             resume=True)
