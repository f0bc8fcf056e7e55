"""Write benchmarks/results/mutation.md from the last `mutmut run` (the mutants/ directory).

mutmut (3.x) keeps each mutant's result as the exit code of its test run in mutants/<module>.meta;
this script counts them per module with mutmut's own meaning of each code and lists the mutants
that survived, so the score in the results file is exactly what the run found. `make mutate`
runs mutmut and then this.

    python benchmarks/mutation_report.py [--mutants mutants] [--command "..."] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("core/engine.py", "core/runlog.py", "core/idx.py", "core/export.py", "core/events.py")


def statuses(meta: Path) -> dict[str, str]:
    """Mutant name -> status ('killed', 'survived', 'not checked', ...) as mutmut names them."""
    from mutmut.stats import status_by_exit_code

    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in codes.items()}


def function_of(mutant: str) -> str:
    """'core.engine.xǁTrainerǁ_flush_interval__mutmut_3' -> 'Trainer._flush_interval'."""
    name = re.sub(r"__mutmut_\d+$", "", mutant).rsplit(".", 1)[-1]
    return name.replace("xǁ", "").replace("ǁ", ".").removeprefix("x_")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    parser.add_argument("--command", default="make mutate", help="the command that ran mutmut, for the record")
    parser.add_argument("--note", action="append", default=[], help="a line to add to the facts")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "mutation.md"), help="'-' for stdout")
    args = parser.parse_args(argv)
    rows, survivors, totals = [], [], Counter()
    for module in MODULES:
        meta = args.mutants / (module + ".meta")
        if not meta.exists():
            parser.error(f"{meta} not found: run mutmut first (make mutate)")
        found = statuses(meta)
        checked = {k: v for k, v in found.items() if v != "not checked"}
        count = Counter(checked.values())
        totals.update(count)
        totals["generated"] += len(found)
        scored = len(checked) - count["skipped"]
        score = f"{count['killed'] / scored:.1%}" if scored else "-"
        rows.append(f"| {module} | {len(found)} | {len(checked)} | {count['killed']} | {count['survived']} | "
                    f"{count['timeout']} | {count['no tests']} | {count['suspicious'] + count['segfault']} | {score} |")
        by_function = Counter(function_of(k) for k, v in checked.items() if v == "survived")
        survivors += [f"| {module} | {fn} | {n} |" for fn, n in sorted(by_function.items())]
    checked_total = sum(v for k, v in totals.items() if k != "generated")
    scored_total = checked_total - totals["skipped"]
    overall = f"{totals['killed'] / scored_total:.1%}" if scored_total else "-"
    facts = [f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
             f"command: `{args.command}`", *args.note,
             "a mutant is killed when a test selected for it fails; score = killed / checked (timeouts, "
             "'no tests' and survivors count against it)"]
    lines = ["# Mutation testing (mutmut) of the modules that guard data", ""]
    lines += [f"- {fact}" for fact in facts] + [""]
    lines += [f"**Score: {overall}** ({totals['killed']} of {scored_total} checked mutants killed; "
              f"{totals['generated']} generated)", ""]
    lines += ["| module | generated | checked | killed | survived | timeout | no tests | suspicious | score |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|", *rows, ""]
    lines += ["Surviving mutants per function (`mutmut results`, `mutmut show NAME` list and show them):", "",
              "| module | function | survivors |", "|---|---|---:|", *(survivors or ["| - | - | 0 |"])]
    text = "\n".join(lines) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
