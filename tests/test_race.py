"""Races: parsing and planning (no torch work), then real races on the tiny generated data."""

from __future__ import annotations

import json

import pytest

from core.config import ConfigError, RunConfig
from core.events import EpochEvent, StepEvent
from core.leaderboard import read_standing
from core.race import (MAX_ENTRANTS, RACE_FILE, RACE_LR, Race, RunRef, parse_race, plan_race, read_race_file,
                       resolve_runs)
from core.runlog import RunDirError, iter_records

BASE = RunConfig(name="t", model="mlp", hidden=(32,), batch_size=100, epochs=1, log_interval=1, sample_count=4)


# ---- parsing and planning ----

@pytest.mark.parametrize("spec, words", [
    ("optimizer", "use FIELD=VALUE"),
    ("optimiser=sgd,adam", "invalid --race field 'optimiser'"),
    ("dataset=mnist,fashion-mnist", "invalid --race field 'dataset'"),
    ("optimizer=adam", "at least two values"),
    ("optimizer=sgd,,adam", "an empty value"),
    ("lr=0.1,fast", "invalid learning rate 'fast': must be a number"),
    ("batch_size=64,1.5", "invalid batch size '1.5': must be a whole number"),
    ("batch_norm=on,maybe", "invalid batch norm 'maybe': must be on or off"),
    ("lr=0.1@0.2,0.3", "a race on lr needs no @"),
    ("optimizer=sgd@quick,adam", "the part after @ must be a learning rate"),
])
def test_parse_race_rejects_bad_specs_with_one_clear_line(spec, words):
    with pytest.raises(ConfigError) as info:
        plan_race(BASE, spec)
    message = str(info.value)
    assert words in message and "\n" not in message


def test_more_than_eight_entrants_is_refused():
    values = ",".join(str(s) for s in range(MAX_ENTRANTS + 1))
    with pytest.raises(ConfigError, match=r"9 values, a race takes at most 8 entrants"):
        plan_race(BASE, f"seed={values}")
    assert len(plan_race(BASE, "seed=" + ",".join(str(s) for s in range(MAX_ENTRANTS))).entrants) == MAX_ENTRANTS


def test_entrant_values_are_validated_like_a_single_run():
    with pytest.raises(ConfigError, match=r"invalid --race value 'adamm': invalid optimizer 'adamm': choose from"):
        plan_race(BASE, "optimizer=sgd,adamm")
    with pytest.raises(ConfigError, match=r"invalid --race value '1.5': invalid dropout 1.5: must be < 1"):
        plan_race(BASE, "dropout=0.2,1.5")


def test_aliases_resolve_and_duplicates_are_refused():
    plan = plan_race(BASE, "init=xavier,kaiming,lecun")
    assert [e.config.init for e in plan.entrants] == ["xavier-uniform", "kaiming-uniform", "lecun"]
    assert [e.name for e in plan.entrants] == ["init-xavier-uniform", "init-kaiming-uniform", "init-lecun"]
    with pytest.raises(ConfigError, match="'xavier-uniform' is the same entrant as 'xavier'"):
        plan_race(BASE, "init=xavier,xavier-uniform")


def test_optimizer_race_gives_each_optimizer_its_own_lr_unless_told():
    plan = plan_race(BASE, "optimizer=sgd,nag,adadelta,adam")
    assert [e.config.optimizer for e in plan.entrants] == ["sgd", "nesterov", "adadelta", "adam"]
    assert [e.config.lr for e in plan.entrants] == [RACE_LR["sgd"], RACE_LR["nesterov"], 1.0, 0.001]
    explicit = plan_race(BASE, "optimizer=sgd,adam", lr=0.05)
    assert [e.config.lr for e in explicit.entrants] == [0.05, 0.05]
    own = plan_race(BASE, "optimizer=adam@0.01,adam,radam", lr=0.05)
    assert [(e.name, e.config.lr) for e in own.entrants] == [
        ("optimizer-adam-lr0.01", 0.01), ("optimizer-adam", 0.05), ("optimizer-radam", 0.05)]


def test_other_races_keep_the_base_config_and_vary_one_field():
    plan = plan_race(BASE.with_overrides(lr=0.02), "hidden=64-32,16")
    assert [e.config.hidden for e in plan.entrants] == [(64, 32), (16,)]
    assert [e.name for e in plan.entrants] == ["hidden-64-32", "hidden-16"]
    for entrant in plan.entrants:
        assert entrant.config.lr == 0.02 and entrant.config.seed == BASE.seed
        assert entrant.config.with_overrides(hidden=BASE.hidden, name=BASE.name) == BASE.with_overrides(lr=0.02)
    assert [e.config.batch_norm for e in plan_race(BASE, "batch-norm=off,on").entrants] == [False, True]


# ---- running races on generated data ----

def test_optimizer_race_trains_each_entrant_from_the_same_start(tiny_data, tmp_path):
    plan = plan_race(BASE, "optimizer=sgd,adam,adadelta")
    events: dict[str, list] = {e.name: [] for e in plan.entrants}
    started = []
    race = Race(plan, tmp_path / "race", data_dir=str(tiny_data), sinks_for=lambda e: [events[e.name].append],
                on_entrant=lambda i, e: started.append((i, e.name)))
    result = race.run()
    assert started == [(0, "optimizer-sgd"), (1, "optimizer-adam"), (2, "optimizer-adadelta")]
    assert all(end.status == "finished" for end in result.ends.values()) and not result.failed

    race_file = read_race_file(tmp_path / "race")
    assert race_file["field"] == "optimizer"
    assert [e["run_dir"] for e in race_file["entrants"]] == ["optimizer-sgd", "optimizer-adam", "optimizer-adadelta"]
    for entrant in plan.entrants:
        run_dir = tmp_path / "race" / entrant.name
        records = list(iter_records(run_dir / "metrics.jsonl"))
        assert records[0]["config"]["optimizer"] == entrant.config.optimizer
        assert records[0]["config"]["lr"] == entrant.config.lr and records[-1]["status"] == "finished"

    # same seed: same initial weights and the same first batch, so the loss before the first
    # update is identical; after it the optimizers part ways.
    first = {name: [e for e in evs if isinstance(e, StepEvent)] for name, evs in events.items()}
    losses = {name: steps[0].loss for name, steps in first.items()}
    assert len(set(losses.values())) == 1
    assert len({steps[-1].loss for steps in first.values()}) == 3


def test_race_entrant_is_the_same_run_as_training_it_alone(tiny_data, tmp_path):
    """Reproducible and fair: an entrant, sharing loaded data, equals its config trained on its own."""
    from core.engine import Trainer

    plan = plan_race(BASE.with_overrides(dropout=0.3), "init=xavier,kaiming")
    Race(plan, tmp_path / "race", data_dir=str(tiny_data)).run()
    alone = []
    Trainer(plan.entrants[1].config, tmp_path / "alone", [alone.append], data_dir=str(tiny_data)).run()
    raced = [r for r in iter_records(tmp_path / "race" / "init-kaiming-uniform" / "metrics.jsonl")
             if r["type"] == "step"]
    assert [r["loss"] for r in raced] == [e.loss for e in alone if isinstance(e, StepEvent)]
    raced_epoch = next(r for r in iter_records(tmp_path / "race" / "init-kaiming-uniform" / "metrics.jsonl")
                       if r["type"] == "epoch")
    alone_epoch = next(e for e in alone if isinstance(e, EpochEvent))
    assert (raced_epoch["test_acc"], raced_epoch["test_loss"]) == (alone_epoch.test_acc, alone_epoch.test_loss)


def test_stopping_a_race_ends_the_current_entrant_and_skips_the_rest(tiny_data, tmp_path):
    plan = plan_race(BASE.with_overrides(epochs=2), "seed=1,2,3")
    race: Race

    def stop_after_first_epoch(event) -> None:
        if isinstance(event, EpochEvent):
            race.stop("interrupted", "test stop")

    race = Race(plan, tmp_path / "race", data_dir=str(tiny_data),
                sinks_for=lambda e: [stop_after_first_epoch] if e.name == "seed-2" else [])
    result = race.run()
    assert result.ends["seed-1"].status == "finished"
    assert result.ends["seed-2"].status == "interrupted" and result.ends["seed-2"].epoch == 2
    assert result.ends["seed-3"] is None and result.interrupted
    assert not (tmp_path / "race" / "seed-3").exists()
    assert read_standing("seed-3", tmp_path / "race" / "seed-3").status == "waiting"


def test_skip_ends_only_the_running_entrant(tiny_data, tmp_path):
    plan = plan_race(BASE.with_overrides(epochs=2), "seed=1,2")
    race: Race

    def skip_first(event) -> None:
        if isinstance(event, EpochEvent) and race.current_index == 0:
            race.skip()

    race = Race(plan, tmp_path / "race", data_dir=str(tiny_data), sinks_for=lambda e: [skip_first])
    result = race.run()
    assert result.ends["seed-1"].status == "stopped" and result.ends["seed-1"].reason == "skipped by the user"
    assert result.ends["seed-2"].status == "finished" and not result.interrupted


def test_a_diverging_entrant_fails_alone_and_the_race_goes_on(tiny_data, tmp_path):
    plan = plan_race(BASE, "lr=1e6,0.01")
    result = Race(plan, tmp_path / "race", data_dir=str(tiny_data)).run()
    assert result.failed == ["lr-1e+06"]
    assert "non-finite loss" in result.ends["lr-1e+06"].reason
    assert result.ends["lr-0.01"].status == "finished"


def test_batch_size_larger_than_the_data_is_refused_before_anything_is_written(tiny_data, tmp_path):
    plan = plan_race(BASE, "batch_size=100,5000")
    with pytest.raises(ConfigError, match="invalid batch size 5000 for entrant batch-size-5000"):
        Race(plan, tmp_path / "race", data_dir=str(tiny_data)).load_data()


# ---- finding runs for --compare ----

def test_resolve_runs_expands_race_dirs_and_keeps_run_dirs(tmp_path):
    race = tmp_path / "race"
    race.mkdir()
    (race / RACE_FILE).write_text(json.dumps({"entrants": [{"name": "optimizer-sgd", "run_dir": "optimizer-sgd"},
                                                          {"name": "optimizer-adam", "run_dir": "optimizer-adam"}]}))
    other = tmp_path / "other" / "optimizer-sgd"
    other.mkdir(parents=True)
    (other / "metrics.jsonl").write_text("")
    refs = resolve_runs([race, other])
    assert refs == [RunRef("race/optimizer-sgd", race / "optimizer-sgd", str(race)),
                    RunRef("optimizer-adam", race / "optimizer-adam", str(race)),
                    RunRef("other/optimizer-sgd", other)]
    with pytest.raises(RunDirError, match="neither a run directory"):
        resolve_runs([tmp_path])
    with pytest.raises(RunDirError, match="does not exist"):
        resolve_runs([tmp_path / "nope"])
    with pytest.raises(RunDirError, match="given twice"):
        resolve_runs([other, other])
    (race / RACE_FILE).write_text("{not json")
    with pytest.raises(RunDirError, match="cannot read"):
        resolve_runs([race])
