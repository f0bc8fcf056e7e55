"""Installing as a tool: the wheel carries the bundled sample, so an installed mnist-tui trains offline.

Builds the wheel from a copy of the sources (the checkout is left as it is), installs it with
--no-deps into a fresh venv that borrows this environment's torch through a .pth line (nothing is
downloaded: it runs offline), and trains one epoch from an empty HOME, in a folder away from the
checkout, so only the installed package can be found. The slowest test (about 25 s here: torch's
import dominates); `-m "not packaging"` leaves it out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 240

pytestmark = pytest.mark.packaging


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, **kwargs)
    assert result.returncode == 0, f"{args[:4]} failed: {result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("core", "tui", "assets"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(out), str(src)])
    (built,) = out.glob("mnist_tui-*.whl")
    return built


def test_the_wheel_carries_the_bundled_sample(wheel):
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for dataset in ("mnist", "fashion-mnist"):
        for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                     "t10k-labels-idx1-ubyte"):
            assert f"core/assets/{dataset}/{stem}.gz" in names
        assert f"core/assets/{dataset}/LICENSE" in names  # the data's licence travels with it
    assert "tui/app.tcss" in names


def test_installed_wheel_trains_one_epoch_offline_on_the_sample(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    # torch, textual... from this environment, after the venv's own site-packages (so the wheel's core wins)
    Path(site, "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)])

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MNIST_TUI_DATA", "VIRTUAL_ENV")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), MNIST_TUI_OFFLINE="1", OMP_NUM_THREADS="1")
    run_dir = home / "run"
    result = run([str(venv / "bin" / "mnist-tui"), "--no-ui", "--json", "--preset", "linear-sgd", "--epochs", "1",
                  "--run-dir", str(run_dir)], cwd=home, env=env)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    config, end = records[0], records[-1]
    assert config["bundled_data"] and config["train_size"] == 5000
    assert f"({Path(site) / 'core' / 'assets' / 'mnist'})" in config["data_source"]  # the installed copy
    assert end["status"] == "finished" and end["final_test_acc"] > 0.8
    assert "Note: using the bundled MNIST sample" in result.stderr
