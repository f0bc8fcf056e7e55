"""Property-based tests (hypothesis): generated metrics.jsonl lines, config.json documents, IDX files
and command lines go into every reader and into validate(); each answer is an event, a valid config,
a tensor, or one line of error; never a traceback.

Examples per property: EXAMPLES (50) in `make test`; `HYPOTHESIS_PROFILE=deep` runs 2,000 each.
Figures in benchmarks/results/reliability.md.
"""

from __future__ import annotations

import contextlib

import json
import os
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core import runlog
from core.config import PRESETS, ConfigError, RunConfig, config_from_json, validate
from core.events import from_record, parse_record, to_record
from core.idx import IMAGES_MAGIC, LABELS_MAGIC, DataError, read_idx
from test_reliability_hostile import TINY, clean_events, line

EXAMPLES = 50
settings.register_profile("ci", max_examples=EXAMPLES, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("deep", max_examples=2000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner, max_size=6),
    max_leaves=30)
RECORDS = [to_record(e) for e in clean_events()]


@st.composite
def mutated_records(draw) -> dict:
    """A real record with one field replaced, removed or added: the damage a reader meets most."""
    record = dict(draw(st.sampled_from(RECORDS)))
    key = draw(st.sampled_from(sorted(record)) | st.text(max_size=8))
    action = draw(st.sampled_from(["replace", "remove", "nest"]))
    if action == "remove":
        record.pop(key, None)
    elif action == "nest" and isinstance(record.get(key), (list, dict)):
        record[key] = draw(st.lists(json_values, max_size=12))
    else:
        record[key] = draw(json_values)
    return record


log_lines = (mutated_records().map(lambda r: json.dumps(r)) | json_values.map(json.dumps)
             | st.text(max_size=60) | st.sampled_from(["[" * 5000, "{" * 5000, '{"type":"step"', ""]))


@given(st.lists(log_lines, max_size=8))
def test_any_metrics_lines_give_valid_events_or_a_count(lines):
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        text = "\n".join(l.replace("\n", " ") for l in lines) + "\n"
        (run_dir / runlog.METRICS_FILE).write_text(text, encoding="utf-8", errors="surrogatepass")
        events, malformed = runlog.read_log(run_dir)
        tail = runlog.MetricsTail(run_dir / runlog.METRICS_FILE)
        assert tail.poll() == events and tail.malformed == malformed
    assert len(events) + malformed <= len(lines)
    for event in events:  # whatever got through is an event the views can use, and round-trips
        assert from_record(json.loads(json.dumps(to_record(event)))) == event


@given(mutated_records())
def test_parse_record_either_builds_an_event_or_says_malformed(record):
    try:
        event = parse_record(record)
    except ValueError as exc:  # MalformedRecord
        assert "\n" not in str(exc)
        return
    if event is not None:
        assert from_record(to_record(event)) == event


config_documents = (
    json_values
    | st.builds(lambda c: {"config": c}, json_values)
    | st.builds(lambda k, v: {"config": TINY.to_dict() | {k: v}, "data_dir": None},
                st.sampled_from(sorted(TINY.to_dict())), json_values)
    | st.builds(lambda d: {"config": TINY.to_dict(), "data_dir": d}, json_values))


@given(config_documents)
def test_any_config_json_is_a_valid_config_or_one_line(document):
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        (run_dir / runlog.CONFIG_FILE).write_text(json.dumps(document))
        try:
            saved = runlog.read_config(run_dir)
        except runlog.RunDirError as exc:
            assert "\n" not in str(exc) and runlog.CONFIG_FILE in str(exc)
            return
    config = config_from_json(saved["config"])
    assert validate(config) == config and isinstance(saved.get("data_dir"), (str, type(None)))


@given(st.dictionaries(st.sampled_from(sorted(TINY.to_dict())), json_values, max_size=5),
       st.sampled_from(sorted(PRESETS)))
def test_validate_takes_any_field_values(changes, preset):
    data = PRESETS[preset].config.to_dict() | changes
    try:
        config = config_from_json(data)
    except ConfigError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 300
        return
    assert isinstance(config, RunConfig) and validate(config) == config


@given(st.sampled_from([IMAGES_MAGIC, LABELS_MAGIC, 0x0803, 0x0801 + 0x100, 0xFFFFFFFF, 0]),
       st.lists(st.integers(min_value=0, max_value=2**32 - 1) | st.integers(min_value=0, max_value=40), max_size=4),
       st.binary(max_size=3000), st.booleans(), st.sampled_from([IMAGES_MAGIC, LABELS_MAGIC]))
def test_any_idx_header_is_a_tensor_or_one_line(magic, dims, body, gz, expected):
    import gzip

    payload = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + body
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("x-idx.gz" if gz else "x-idx")
        path.write_bytes(gzip.compress(payload) if gz else payload)
        try:
            tensor = read_idx(path, expected)
        except DataError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            return
    assert tensor.numel() == len(payload) - 4 - 4 * (expected & 0xFF) and tensor.numel() > 0


OPTIONS = ["--no-ui", "--json", "--watch", "--resume", "--compare", "--export", "--race", "--preset", "--model",
           "--hidden", "--lr", "--epochs", "--seed", "--name", "--data-dir", "--run-dir", "--export-dir", "--batch-size",
           "--list-presets", "--dataset", "--optimizer", "--device", "--dropout", "--train-size"]
WORDS = st.sampled_from(["csv", "mlp", "cnn", "0", "-1", "1e400", "nan", "a\nb", "=1+2", "..", "/", "~nobody-r16/x",
                         "x" * 300, "9" * 4400, "runs", "linear-sgd", "optimizer=sgd,adam", "lr=0.1", "\udcff", ""])


@given(argv=st.lists(st.sampled_from(OPTIONS) | WORDS | st.text(max_size=12), max_size=7))
@example(argv=["--watch", "not-yet"])  # a run that does not exist yet: waited for, which once hung this test
def test_any_command_line_is_handled_or_one_line(argv, tmp_path, monkeypatch, capsys):
    """Parsing and dispatch of any argv; the runs themselves, the app and `--watch`'s wait for a run that
    does not exist yet (as `tail -F` does: it would wait here for ever) are replaced by stubs."""
    import core.cli as cli
    import core.race_console as race_console

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "run_headless", lambda *a, **k: 0)
    real_wait = cli.wait_for_watch_target

    class Waiting(Exception):
        pass

    def checked_not_waited(path):  # every check of the real one, then on as if the run had appeared
        def sleep(_seconds: float) -> None:
            raise Waiting
        with contextlib.suppress(Waiting):
            real_wait(path, sleep=sleep)

    monkeypatch.setattr(cli, "wait_for_watch_target", checked_not_waited)
    monkeypatch.setattr(race_console, "run_race_headless", lambda *a, **k: 0)
    capsys.readouterr()
    code = cli.main(argv, start_app=lambda **k: 0)
    out, err = capsys.readouterr()
    assert code in (0, 1, 2)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code:
        assert err.count("\n") == 1 and err.startswith("mnist-tui: error: "), (argv, err)
        assert len(err) < 1200, (argv, err)


def test_each_property_runs_the_documented_number_of_examples():
    """The figure README and benchmarks/results/reliability.md quote."""
    if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci":
        assert settings.default.max_examples == EXAMPLES
    else:
        pytest.skip("a deeper profile was asked for")
