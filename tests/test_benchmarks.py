"""Smoke tests of the speed benchmarks on a tiny generated data set, so the scripts cannot rot.

They check that each script runs end to end and writes a well-formed results file, and the one
thing the throughput benchmark can prove exactly: on the CPU, the engine and the bare loop end
with identical weights, i.e. the engine's speed is not bought by doing less work. No timing is
asserted: speed claims live in benchmarks/results/.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_dataset

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ("accuracy.py", "app_overhead.py", "fast99.py", "mutation_report.py", "race_report.py", "run_start.py",
           "throughput.py", "time_to_accuracy.py")
PRESET_SCRIPTS = ("accuracy.py", "app_overhead.py", "throughput.py", "time_to_accuracy.py")  # others: --bogus


@pytest.fixture(scope="module")
def torchvision_data(tmp_path_factory) -> Path:
    """Tiny MNIST and Fashion-MNIST in torchvision's layout (the tutorial loop reads them with torchvision)."""
    root = tmp_path_factory.mktemp("bench-data")
    for folder in ("MNIST", "FashionMNIST"):
        (root / folder / "raw").mkdir(parents=True)
        write_dataset(root / folder / "raw", train=300, test=100)
    return root


def script(name: str):
    """A benchmark script loaded as a module, so its main(argv) runs in this process (torch is already
    loaded here; a subprocess per script paid a cold torch start each)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name[:-3]}", ROOT / "benchmarks" / name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def in_process(monkeypatch):
    """Run a script's main(argv) here; the torch thread count and the environment it sets are restored."""
    import torch

    monkeypatch.setenv("MNIST_TUI_OFFLINE", "1")
    threads = torch.get_num_threads()

    def run(name: str, *args: str):
        monkeypatch.setattr(sys, "argv", [name, *args])
        try:
            return script(name).main(list(args))
        finally:
            torch.set_num_threads(threads)

    return run


def test_every_script_checks_its_options_before_loading_torch(tmp_path) -> None:
    """One fresh interpreter runs each script with a bad option: exit 2, one usage line, and neither
    torch nor the app imported (a typo costs nothing; the smoke tests below run in-process)."""
    code = (
        "import json, runpy, sys\n"
        "out = {}\n"
        f"PRESET_SCRIPTS = {PRESET_SCRIPTS!r}\n"
        f"for name in {SCRIPTS!r}:\n"
        "    sys.argv = [name, '--presets', 'nope', '--out', 'x.md'] if name in PRESET_SCRIPTS else [name, '--bogus']\n"
        "    try:\n"
        f"        runpy.run_path({str(ROOT / 'benchmarks')!r} + '/' + name, run_name='__main__')\n"
        "    except SystemExit as exc:\n"
        "        out[name] = [exc.code, 'torch' in sys.modules, 'textual' in sys.modules]\n"
        "print(json.dumps(out))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, MNIST_TUI_OFFLINE="1"))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert json.loads(proc.stdout) == {name: [2, False, False] for name in SCRIPTS}
    assert proc.stderr.count("nope") == 4 and proc.stderr.count("unrecognized arguments: --bogus") == 3


def table_rows(text: str) -> dict[str, list[str]]:
    """Markdown table rows keyed by their first cell (header and separator left out)."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| preset"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def test_throughput_script_measures_all_three_loops(torchvision_data, tmp_path, in_process) -> None:
    out = tmp_path / "throughput.md"
    in_process("throughput.py", "--data-dir", str(torchvision_data), "--presets", "mlp-bn-adam,fast",
               "--rounds", "2", "--seconds", "0.02", "--out", str(out))
    text = out.read_text()
    assert "- date: " in text and "- machine: " in text and "- load while measuring: " in text
    rows = table_rows(text)
    assert set(rows) == {"mlp-bn-adam", "fast"}
    for name, cells in rows.items():
        tutorial, bare, engine = (float(c.replace(",", "")) for c in cells[4:7])
        assert tutorial > 0 and bare > 0 and engine > 0
        assert re.match(r"\*\*\d+\.\d+x\*\*", cells[7]) and re.match(r"\*\*\d+\.\d+\*\*", cells[8])
        # Same seed, same batches, same layout: the engine did exactly the bare loop's work.
        assert float(cells[11]) == 0.0, (name, cells[11])
    assert "channels_last" in rows["fast"][3]


def test_time_to_accuracy_script_reports_epochs_and_repeatability(torchvision_data, tmp_path, in_process) -> None:
    out = tmp_path / "tta.md"
    in_process("time_to_accuracy.py", "--data-dir", str(torchvision_data), "--presets", "linear-sgd,fast@0.5",
               "--repeats", "2", "--epochs", "2", "--out", str(out))
    rows = table_rows(out.read_text())
    assert set(rows) == {"linear-sgd", "fast"}
    assert rows["fast"][3] == "0.500"  # the @target override
    for cells in rows.values():
        assert cells[4] in ("1", "2")  # the tiny digits are learnable: reached within the 2-epoch cap
        assert cells[8] == "yes"  # same seed, same accuracy in both repeats


def test_time_to_accuracy_rejects_an_unknown_preset(torchvision_data, tmp_path, in_process, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        in_process("time_to_accuracy.py", "--data-dir", str(torchvision_data), "--presets", "nope",
                   "--out", str(tmp_path / "x.md"))
    assert exc.value.code == 2 and "unknown preset 'nope'" in capsys.readouterr().err


def test_accuracy_script_records_every_preset_against_its_target(torchvision_data, tmp_path, in_process) -> None:
    out = tmp_path / "accuracy.md"
    in_process("accuracy.py", "--data-dir", str(torchvision_data), "--presets", "linear-sgd,fashion-mlp",
               "--epochs", "1", "--out", str(out))
    text = out.read_text()
    assert "- date: " in text and "- machine: " in text
    rows = table_rows(text)
    assert set(rows) == {"linear-sgd", "fashion-mlp"}
    assert rows["fashion-mlp"][1] == "fashion-mnist" and rows["linear-sgd"][2] == "1"
    for cells in rows.values():
        assert 0.0 <= float(cells[3].split()[0]) <= 1.0 and re.match(r"≥ 0\.\d+ (yes|NO)", cells[4])


def test_race_report_script_writes_the_leaderboard_of_a_race(torchvision_data, tmp_path, in_process, capsys) -> None:
    from core.cli import main as cli

    race_dir = tmp_path / "race"
    assert cli(["--no-ui", "--race", "optimizer=sgd,adam", "--model", "linear", "--epochs", "1", "--data-dir",
                str(torchvision_data), "--run-dir", str(race_dir)]) == 0, capsys.readouterr().err
    out = tmp_path / "race.md"
    assert in_process("race_report.py", str(race_dir), "--command", "mnist-tui --race optimizer=sgd,adam",
                      "--wall-s", "3", "--started", "2026-11-23T12:00:00", "--note", "a smoke test",
                      "--out", str(out)) in (0, None)
    text = out.read_text()
    assert "# Race: optimizer on the" in text and "- a smoke test" in text and "- machine: " in text
    assert "optimizer-sgd" in text and "optimizer-adam" in text and "epoch 1" in text


def test_app_overhead_script_pairs_headless_and_app_runs(torchvision_data, tmp_path, in_process) -> None:
    out = tmp_path / "app.md"
    assert in_process("app_overhead.py", "--data-dir", str(torchvision_data), "--presets", "linear-sgd",
                      "--epochs", "2", "--rounds", "2", "--size", "80x24", "--out", str(out)) in (0, None)
    text = out.read_text()
    assert "- date: " in text and "- machine: " in text and "- load while measuring: " in text
    summary, per_round = text.split("Per round")
    rows = table_rows(summary)
    assert set(rows) == {"linear-sgd"}
    cells = rows["linear-sgd"]
    assert cells[1] == "80x24" and cells[2] == "300 x 2"
    assert float(cells[3].replace(",", "")) > 0 and float(cells[4].replace(",", "")) > 0
    assert re.match(r"\*\*[+-]\d+\.\d%\*\* \(≤ 5% (yes|NO)\)", cells[5])
    assert re.match(r"[+-]\d+\.\d% to [+-]\d+\.\d%$", cells[6])  # the median's interval
    assert re.match(r"\d+\.\d%", cells[9])  # the UI thread's share was measured
    assert table_rows(per_round)["linear-sgd"][2].count(" / ") == 2  # both rounds listed, headless / app


@pytest.mark.parametrize("args, message", [
    (["--size", "80by24"], "invalid size '80by24'"),
    (["--presets", "nope"], "unknown preset 'nope'"),
    (["--rounds", "0"], "--rounds, --epochs and --test-size must be at least 1"),
    (["--test-size", "0"], "--rounds, --epochs and --test-size must be at least 1"),
])
def test_app_overhead_rejects_bad_options_in_one_line(torchvision_data, tmp_path, args, message, in_process,
                                                      capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        in_process("app_overhead.py", "--data-dir", str(torchvision_data), *args, "--out", str(tmp_path / "x.md"))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and err.count("error:") == 1


def test_app_overhead_interval_of_the_median_is_order_statistics_with_binomial_coverage() -> None:
    median_interval, median_rank = script("app_overhead.py").median_interval, script("app_overhead.py").median_rank

    assert median_rank(15) == (4, 1 - 2 * 576 / 2 ** 15)  # P(Binomial(15, 1/2) <= 3) = 576/32768 < 2.5%
    assert median_rank(9) == (2, 1 - 2 * 10 / 2 ** 9)
    assert median_rank(3) == (1, 0.75)  # too few rounds: only min..max, and it says how little that covers
    assert median_interval([9, 1, 8, 2, 7, 3, 6, 4, 5, 15, 14, 13, 12, 11, 10]) == (4, 12)
    assert median_interval([0.97]) == (0.97, 0.97)


def test_race_parallel_script_times_both_schedules_and_checks_the_leaderboards(torchvision_data, tmp_path,
                                                                               in_process) -> None:
    out = tmp_path / "race-parallel.md"
    code = in_process("race_parallel.py", "--preset", "fashion-mlp", "--race", "seed=1,2", "--epochs", "1",
                      "--train-size", "200", "--data-dir", str(torchvision_data / "FashionMNIST" / "raw"),
                      "--out", str(out))
    assert code == 0
    text = out.read_text()
    assert "identical" in text and "**yes**" in text  # the parallel race is the same race, bit for bit
    rows = table_rows(text)
    assert rows["sequential"][1] == "1" and rows["--parallel 2"][1] == "2"
    assert rows["--parallel 2"][-1].endswith("x") and "seed-1" in rows and "seed-2" in rows


# pytorch/examples mnist/main.py's last line, printed only when it finds its data where it looks: ../data
FAKE_PEER = """
import os, sys
if not os.path.isdir(os.path.join("..", "data", "MNIST", "raw")):
    sys.exit("no ../data/MNIST/raw")
print("Test set: Average loss: 0.5000, Accuracy: 81/100 (81%)")
"""


def test_fast99_times_the_whole_command_per_seed_beside_the_peer(torchvision_data, tmp_path, in_process) -> None:
    """One seed of the real `mnist-tui --no-ui --preset fast` in a fresh process, and a stand-in peer run
    the way the real one is: from a scratch directory whose ../data is the data set."""
    peer = tmp_path / "main.py"
    peer.write_text(FAKE_PEER)
    out = tmp_path / "fast99.md"
    in_process("fast99.py", "--data-dir", str(torchvision_data), "--seeds", "4", "--peer", str(peer),
               "--out", str(out))
    text = out.read_text()
    assert "- date: " in text and "- machine: " in text and "- load while measuring: " in text
    rows = table_rows(text)
    run = rows["seed 4"]
    accuracy, recheck = float(run[1].rstrip("%")), float(run[2].rstrip("%"))
    wall, cpu, own_clock = float(run[3]), float(run[4]), float(run[5])
    assert 0 <= accuracy <= 100 and 0 <= recheck <= 100
    assert 0 < own_clock < wall and cpu > 0  # the whole command outlasts the run itself
    floor = rows['floor: `python -c "import core, torch"` (interleaved)']
    assert 0 < float(floor[5].split()[0]) < wall
    peer_row = rows["pytorch/examples `mnist/main.py --epochs 1`"]
    assert peer_row[3] == "81.00%" and peer_row[4] == "81.00%"
    assert "not measured: no GPU" in rows["`mnist-tui --no-ui --preset fast --device cuda`"][2]
    assert re.search(r'engine settings \(config.json "speed"\): \S', text)  # as the run's config.json recorded it
