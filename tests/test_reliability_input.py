"""Bad input through the real entry point: one clear line on stderr, the documented exit code
(1 run failed, 2 bad usage or invalid value), no traceback, and no half-made run directory.

Data errors are checked end to end here; tests/test_idx.py and tests/test_data.py cover the
readers' wording in detail.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import struct
from pathlib import Path

import pytest

from conftest import write_dataset
from core import cli
from core.config import RunConfig, validate

QUICK = ["--model", "linear", "--batch-size", "100", "--epochs", "1", "--device", "cpu"]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(err: str, *fragments: str) -> None:
    assert err.count("\n") == 1 and err.startswith("mnist-tui: error: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.fixture
def data_copy(tiny_data, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_data, tmp_path / "data"))


def train(data_dir: Path, run_dir: Path, capsys, *extra: str) -> tuple[int, str]:
    code, _, err = run_cli(["--no-ui", "--data-dir", str(data_dir), "--run-dir", str(run_dir), *QUICK, *extra], capsys)
    return code, err


TRAIN_IMAGES = "train-images-idx3-ubyte"
DAMAGE = {
    "missing": (lambda p: p.unlink(), "no MNIST files in"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:-100]), "truncated"),
    "header only": (lambda p: p.write_bytes(p.read_bytes()[:10]), TRAIN_IMAGES),
    "empty": (lambda p: p.write_bytes(b""), "only 0 bytes"),
    "wrong magic": (lambda p: p.write_bytes(struct.pack(">I", 0x0801) + p.read_bytes()[4:]), "magic number"),
    "labels as images": (lambda p: shutil.copy(p.with_name("train-labels-idx1-ubyte"), p), "magic number"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_idx_file_fails_with_one_line_naming_it(data_copy, tmp_path, capsys, damage):
    action, words = DAMAGE[damage]
    action(data_copy / TRAIN_IMAGES)
    code, err = train(data_copy, tmp_path / "run", capsys)
    assert code == 1
    assert_one_line(err, words)
    if damage != "missing":
        assert str(data_copy / TRAIN_IMAGES) in err
    assert not (tmp_path / "run").exists(), "a run that never started leaves no directory behind"


def test_damaged_gzip_fails_with_one_line(tmp_path, capsys):
    data = write_dataset(tmp_path / "gz", train=200, test=100, gz=True)
    path = data / f"{TRAIN_IMAGES}.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    code, err = train(data, tmp_path / "run", capsys)
    assert code == 1
    assert_one_line(err, str(path))


def test_labels_that_do_not_match_the_images_fail(data_copy, tmp_path, capsys):
    labels = data_copy / "train-labels-idx1-ubyte"
    raw = labels.read_bytes()
    labels.write_bytes(struct.pack(">II", 0x0801, 599) + raw[8:-1])
    code, err = train(data_copy, tmp_path / "run", capsys)
    assert code == 1
    assert_one_line(err, "599 labels for 600 images")


@pytest.mark.parametrize("what", ["no such dir", "empty dir", "other data set only"])
def test_data_dir_without_the_data_set_fails_rather_than_falling_back(tmp_path, capsys, tiny_data, what):
    data = tmp_path / "data"
    if what == "empty dir":
        data.mkdir()
    elif what == "other data set only":
        shutil.copytree(tiny_data, data / "FashionMNIST" / "raw")
    code, err = train(data, tmp_path / "run", capsys)
    assert code == 1
    assert_one_line(err, str(data))
    assert "bundled" not in err


@pytest.mark.parametrize("where", ["under a file", "under /proc", "is a file"])
def test_unwritable_run_dir_fails_with_one_line(tiny_data, tmp_path, capsys, where):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    run_dir = {"under a file": blocker / "run", "under /proc": Path("/proc/mnist-tui-run"),
               "is a file": blocker}[where]
    code, err = train(tiny_data, run_dir, capsys)
    assert code == 1
    assert_one_line(err, str(run_dir))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_run_dir_parent_fails_with_one_line(tiny_data, tmp_path, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        code, err = train(tiny_data, parent / "run", capsys)
    finally:
        parent.chmod(0o700)
    assert code == 1
    assert_one_line(err, "not writable")


INVALID = {
    "negative lr": (["--lr", "-0.1"], "learning rate"),
    "zero lr": (["--lr", "0"], "learning rate"),
    "nan lr": (["--lr", "nan"], "learning rate"),
    "inf lr": (["--lr", "inf"], "learning rate"),
    "text lr": (["--lr", "fast"], "'fast'"),
    "zero batch": (["--batch-size", "0"], "batch size"),
    "negative batch": (["--batch-size", "-5"], "batch size"),
    "fractional batch": (["--batch-size", "1.5"], "'1.5'"),
    "unknown optimizer": (["--optimizer", "adamax"], "optimizer"),
    "unknown init": (["--init", "orthogonal"], "init"),
    "unknown model": (["--model", "resnet"], "resnet"),
    "unknown preset": (["--preset", "vgg"], "vgg"),
    "zero epochs": (["--epochs", "0"], "epochs"),
    "momentum 1": (["--momentum", "1"], "momentum"),
    "dropout 1": (["--dropout", "1"], "dropout"),
    "bad hidden": (["--hidden", "512,x"], "hidden"),
    "negative seed": (["--seed", "-1"], "seed"),
    "zero train size": (["--train-size", "0"], "train size"),
    "negative log interval": (["--log-interval", "-1"], "log interval"),
    "name with slash": (["--name", "a/b"], "name"),
    "unknown option": (["--learning-rate", "0.1"], "--learning-rate"),
    "batch larger than the data": (["--batch-size", "601"], "batch size 601"),
    "train size larger than the data": (["--train-size", "601"], "train size 601"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_value_gives_one_line_and_exit_2(tiny_data, tmp_path, capsys, case):
    args, words = INVALID[case]
    code, err = train(tiny_data, tmp_path / "run", capsys, *args)
    assert code == 2
    assert_one_line(err, words)
    assert not (tmp_path / "run").exists()


def test_json_without_no_ui_is_a_usage_error(capsys):
    code, out, err = run_cli(["--json", "--epochs", "1"], capsys)
    assert code == 2 and out == ""
    assert_one_line(err, "--no-ui")


def test_default_run_dir_that_cannot_be_created_fails_with_one_line(tiny_data, tmp_path, capsys, monkeypatch):
    (tmp_path / "runs").write_text("a file where the runs/ folder should be")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["--no-ui", "--data-dir", str(tiny_data), *QUICK], capsys)
    assert code == 1
    assert_one_line(err, "cannot create run directory runs/")


def test_resume_usage_errors(tmp_path, capsys):
    code, _, err = run_cli(["--resume", str(tmp_path / "nowhere"), "--no-ui"], capsys)
    assert code == 1
    assert_one_line(err, "not a run directory")
    code, _, err = run_cli(["--resume", str(tmp_path), "--no-ui", "--lr", "0.5"], capsys)
    assert code == 2
    assert_one_line(err, "--lr")


# ---- fuzz: random option combinations through parsing and validation ----

POOL: dict[str, list[str]] = {
    "--preset": ["linear-sgd", "mlp-sigmoid", "cnn-adam", "mlp-bn-adam", "fashion-mlp", "nope", ""],
    "--dataset": ["mnist", "fashion-mnist", "cifar", ""],
    "--model": ["linear", "mlp", "cnn", "fast-cnn", "MLP"],
    "--hidden": ["512,256", "64", "1", "0", "-3", "a,b", ",", "10 20", "99999999999999999999"],
    "--activation": ["relu", "sigmoid", "tanh", "gelu", "swish"],
    "--dropout": ["0", "0.5", "0.999", "1", "-0.1", "nan", "x"],
    "--optimizer": ["sgd", "momentum", "nesterov", "nag", "adam", "adamw", "radam", "rmsp", "lbfgs", ""],
    "--init": ["default", "xavier", "he", "lecun", "kaiming-normal", "zeros", ""],
    "--lr": ["0.1", "1e-3", "1e6", "0", "-1", "nan", "inf", "-inf", "1e400", "1e-400", "0x10", "one"],
    "--momentum": ["0", "0.9", "0.99", "1", "1.5", "-0.5", "nan"],
    "--weight-decay": ["0", "1e-4", "-1", "inf"],
    "--schedule": ["constant", "onecycle", "cosine"],
    "--normalize": ["standard", "unit", "none"],
    "--batch-size": ["1", "64", "600", "0", "-1", "1.5", "1e3", "2" * 30],
    "--epochs": ["1", "3", "0", "-2", "ten", "99999999999"],
    "--seed": ["0", "1", "777", "-1", str(2**63), str(2**63 - 1), "0.5"],
    "--device": ["auto", "cpu", "cuda", "mps", "tpu"],
    "--train-size": ["1", "100", "0", "-10", "1e9"],
    "--log-interval": ["0", "1", "50", "-1", "x"],
    "--name": ["run", "a b", "a/b", "ümlaut", "..", "x" * 300],
}
FLAGS = ["--batch-norm", "--no-batch-norm", "--json"]


def random_argv(rng: random.Random) -> list[str]:
    argv = ["--no-ui"]
    for option in rng.sample(sorted(POOL), rng.randint(0, 8)):
        argv += [option, rng.choice(POOL[option])]
    argv += [flag for flag in FLAGS if rng.random() < 0.2]
    if rng.random() < 0.05:
        argv.append(rng.choice(["--bogus", "--lr", "--epochs=", "-x"]))  # malformed tails
    return argv


def test_fuzz_random_option_combinations(tmp_path, capsys, monkeypatch):
    """300 random command lines: each either reaches training with a config that validates to
    itself and reflects every option given, or stops with exit 2 and one clear line."""
    monkeypatch.chdir(tmp_path)
    started: list[RunConfig] = []
    monkeypatch.setattr(cli, "run_headless", lambda config, *rest, **kw: started.append(config) or 0)
    rng = random.Random(20261123)
    outcomes = {0: 0, 2: 0}
    for _ in range(300):
        argv = random_argv(rng)
        before = len(started)
        code, _, err = run_cli(argv, capsys)
        assert code in outcomes, (argv, code, err)
        outcomes[code] += 1
        if code == 2:
            assert_one_line(err)
            continue
        assert err == "" and len(started) == before + 1, (argv, err)
        config = started[-1]
        assert validate(config) == config, argv
        for option in ("--lr", "--batch-size", "--epochs", "--seed"):
            if option in argv:
                value = argv[argv.index(option) + 1]
                field = option[2:].replace("-", "_")
                assert getattr(config, field) == (float(value) if option == "--lr" else int(value)), argv
    assert outcomes[0] >= 20 and outcomes[2] >= 100, outcomes  # the fuzz exercises both sides


FIELD_VALUES = [None, True, False, 0, 1, -1, 2**70, 0.5, -0.5, float("nan"), float("inf"), "", "x", "mlp", "adam",
                (), (0,), (64,), ("64",), [32, 16], {}, b"\x00", object()]


def test_fuzz_validate_never_raises_anything_but_config_error():
    """The app's form hands validate() whatever a user typed; it must answer with ConfigError."""
    from dataclasses import fields, replace

    from core.config import ConfigError

    rng = random.Random(7)
    names = [f.name for f in fields(RunConfig)]
    accepted = 0
    for _ in range(2000):
        changes = {name: rng.choice(FIELD_VALUES) for name in rng.sample(names, rng.randint(1, 3))}
        config = replace(RunConfig(), **changes)
        try:
            result = validate(config)
        except ConfigError as exc:
            assert "\n" not in str(exc) and str(exc), changes
            continue
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(f"validate({changes!r}) raised {type(exc).__name__}: {exc}") from None
        accepted += 1
        assert validate(result) == result
    assert accepted > 0
