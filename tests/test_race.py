"""Races: parsing and planning (no torch work), then real races on the tiny generated data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import ConfigError, RunConfig
from core.events import EpochEvent, StepEvent
from core.leaderboard import read_standing
from core.race import (MAX_ENTRANTS, RACE_FILE, RACE_LR, Race, RunRef, Slot, claim_race_file, entrant_action,
                       plan_from_race_file, plan_slots, parse_race, plan_race, read_race_file,
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
                on_entrant=lambda i, e, slot: started.append((i, e.name)))
    result = race.run()
    assert started == [(0, "optimizer-sgd"), (1, "optimizer-adam"), (2, "optimizer-adadelta")]
    assert race.slots == [Slot("cpu")]  # parallel=1: one after another, each the run --no-ui would give
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


def race_stopped_in_seed_2(tiny_data, tmp_path) -> tuple:
    """A sequential race over seeds 1-3 that seed-2's first epoch stops (interrupted): not yet run."""
    plan = plan_race(BASE.with_overrides(epochs=2), "seed=1,2,3")
    race: Race

    def stop_after_first_epoch(event) -> None:
        if isinstance(event, EpochEvent):
            race.stop("interrupted", "test stop")

    race = Race(plan, tmp_path / "race", data_dir=str(tiny_data),
                sinks_for=lambda e: [stop_after_first_epoch] if e.name == "seed-2" else [])
    return plan, race


def test_stopping_a_race_ends_the_current_entrant_and_skips_the_rest(tiny_data, tmp_path):
    plan, race = race_stopped_in_seed_2(tiny_data, tmp_path)
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


# ---- entrants in parallel: one engine process each ----

def test_slots_share_the_cores_or_take_one_gpu_each(monkeypatch):
    monkeypatch.delenv("MNIST_TUI_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert plan_slots(4, "cpu", cores=2) == [Slot("cpu ×1", {"MNIST_TUI_THREADS": "1"})] * 2
    assert plan_slots(4, "cpu", cores=16) == [Slot("cpu ×4", {"MNIST_TUI_THREADS": "4"})] * 4
    assert plan_slots(4, "cpu", 1, cores=16) == [Slot("cpu")]  # sequential: each entrant as --no-ui trains it
    assert plan_slots(2, "cpu", 8, cores=16) == [Slot("cpu ×8", {"MNIST_TUI_THREADS": "8"})] * 2
    assert [s.label for s in plan_slots(3, "cuda", gpus=["0", "1"])] == ["cuda:0", "cuda:1"]
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in plan_slots(8, "cuda", 3, gpus=["4", "7"])] == ["4", "7", "4"]
    assert plan_slots(2, "cuda", gpus=["4", "7"])[1].env["MNIST_TUI_DEVICE_LABEL"] == "cuda:7"
    monkeypatch.setenv("MNIST_TUI_THREADS", "3")  # the user's thread count wins
    assert plan_slots(4, "cpu", 2, cores=2) == [Slot("cpu")] * 2
    with pytest.raises(ConfigError, match="invalid --parallel 0"):
        plan_slots(2, "cpu", 0)


def test_an_entrant_is_the_same_alone_in_a_sequential_race_and_in_a_parallel_one(tiny_data, tmp_path, monkeypatch):
    """Same seed, same numbers, however the race is scheduled: each entrant has its own process,
    its own RNG and (with the thread count fixed) the same float rounding."""
    from core.engine import Trainer

    monkeypatch.setenv("MNIST_TUI_THREADS", "1")
    plan = plan_race(BASE.with_overrides(dropout=0.3, epochs=2), "init=xavier,kaiming,lecun")
    runs = {}
    for parallel in (1, 3):
        race = Race(plan, tmp_path / f"p{parallel}", data_dir=str(tiny_data), parallel=parallel)
        result = race.run()
        assert len(race.slots) == parallel and not result.failed
        runs[parallel] = {e.name: [(r["type"], r.get("loss"), r.get("test_acc"), r.get("test_loss"))
                                   for r in iter_records(tmp_path / f"p{parallel}" / e.name / "metrics.jsonl")
                                   if r["type"] in ("step", "epoch")] for e in plan.entrants}
    alone = []
    Trainer(plan.entrants[1].config, tmp_path / "alone", [alone.append], data_dir=str(tiny_data)).run()
    alone_records = [(e.type, getattr(e, "loss", None), getattr(e, "test_acc", None), getattr(e, "test_loss", None))
                     for e in alone if isinstance(e, (StepEvent, EpochEvent))]
    assert runs[1] == runs[3]
    assert runs[3]["init-kaiming-uniform"] == alone_records
    assert len({tuple(v) for v in runs[3].values()}) == 3  # and the entrants did differ


def test_an_entrant_alone_trains_in_this_process_with_the_numbers_it_has_in_a_race(tiny_data, tmp_path, monkeypatch):
    """--entrant K (engine "auto"): the process is that entrant's, as a --no-ui run's is, so it trains
    here, with no second torch import and fork (1.5 s of every entrant's start on this 2-core VM), and
    with the same numbers, thread count included, as in a race of training processes."""
    from core import engine_process

    for name in ("MNIST_TUI_THREADS", "OMP_NUM_THREADS"):  # unset here, and as they were after the test
        monkeypatch.setenv(name, "")  # (the entrant alone sets its slot's thread count in this process)
        monkeypatch.delenv(name)
    plan = plan_race(BASE.with_overrides(dropout=0.3), "seed=1,2")

    def steps(race_dir: Path) -> list[tuple]:
        return [(r["type"], r.get("loss"), r.get("test_acc")) for r in iter_records(race_dir / "seed-2" / "metrics.jsonl")
                if r["type"] in ("step", "epoch")]

    Race(plan, tmp_path / "race", data_dir=str(tiny_data), parallel=2, engine="auto").run()  # two at once: processes
    speed = json.loads((tmp_path / "race" / "seed-2" / "config.json").read_text())["speed"]

    def no_process(*args, **kwargs):
        raise AssertionError("an entrant training alone was given a process of its own")

    monkeypatch.setattr(engine_process, "EngineProcess", no_process)
    result = Race(plan, tmp_path / "alone", data_dir=str(tiny_data), parallel=2, only=[1], engine="auto").run()
    assert result.ends["seed-2"].status == "finished"
    assert steps(tmp_path / "alone") == steps(tmp_path / "race")
    assert json.loads((tmp_path / "alone" / "seed-2" / "config.json").read_text())["speed"] == speed


def test_entrants_in_parallel_each_report_their_slot_and_stop_together(tiny_data, tmp_path):
    plan = plan_race(BASE.with_overrides(epochs=100_000), "seed=1,2,3")
    race: Race
    seen: dict[str, list] = {e.name: [] for e in plan.entrants}
    started = []

    def stop_when_both_train(name: str):
        def sink(event) -> None:
            seen[name].append(event)
            if isinstance(event, EpochEvent) and all(any(isinstance(x, EpochEvent) for x in seen[n])
                                                     for n in ("seed-1", "seed-2")):
                race.stop("interrupted", "test stop")
        return sink

    race = Race(plan, tmp_path / "race", data_dir=str(tiny_data), parallel=2,
                sinks_for=lambda e: [stop_when_both_train(e.name)],
                on_entrant=lambda i, e, slot: started.append((e.name, slot.label)))
    result = race.run()
    assert sorted(n for n, _ in started) == ["seed-1", "seed-2"]  # two at once; the third never started
    assert result.ends["seed-1"].status == result.ends["seed-2"].status == "interrupted"
    assert result.ends["seed-3"] is None and not (tmp_path / "race" / "seed-3").exists()
    configs = [e for n in ("seed-1", "seed-2") for e in seen[n] if e.type == "config"]
    assert {c.device for c in configs} == {"cpu"} and all(label.startswith("cpu") for _, label in started)


def test_an_entrant_on_a_gpu_slot_logs_the_gpu_it_was_given(monkeypatch):
    """CUDA_VISIBLE_DEVICES=3 makes that GPU torch's cuda:0; the log names it cuda:3 (no GPU needed to check)."""
    import torch

    from core.engine import Trainer

    trainer = Trainer(BASE, Path("unused"))
    trainer.device = torch.device("cuda")
    monkeypatch.setenv("MNIST_TUI_DEVICE_LABEL", "cuda:3")
    assert trainer.device_label == "cuda:3"
    trainer.device = torch.device("cpu")  # a label for another kind of device is ignored
    assert trainer.device_label == "cpu"


def test_resume_finishes_a_race_keeping_what_ended(tiny_data, tmp_path):
    """Interrupted entrants continue from their checkpoints, waiting ones start, finished ones stay."""
    plan, race = race_stopped_in_seed_2(tiny_data, tmp_path)
    race.run()
    finished_log = (tmp_path / "race" / "seed-1" / "metrics.jsonl").read_bytes()
    assert [entrant_action(tmp_path / "race" / n)[0] for n in ("seed-1", "seed-2", "seed-3")] == [
        "keep", "resume", "start"]

    loaded, _ = plan_from_race_file(tmp_path / "race")
    assert loaded.entrants == plan.entrants
    resumed = Race(loaded, tmp_path / "race", data_dir=str(tiny_data), parallel=2, resume=True)
    result = resumed.run()
    assert sorted(result.ends) == ["seed-2", "seed-3"]
    assert all(end.status == "finished" for end in result.ends.values())
    assert (tmp_path / "race" / "seed-1" / "metrics.jsonl").read_bytes() == finished_log
    # the resumed entrant ends exactly where one never interrupted would
    Race(plan, tmp_path / "straight", data_dir=str(tiny_data), only=[1]).run()
    def epochs(d):
        return [(r["test_acc"], r["test_loss"]) for r in iter_records(d / "seed-2" / "metrics.jsonl") if r["type"] == "epoch"]
    assert epochs(tmp_path / "race") == epochs(tmp_path / "straight")


def test_race_file_is_written_once_and_a_different_race_is_refused(tmp_path):
    plan = plan_race(BASE, "seed=1,2")
    claim_race_file(tmp_path / "race", plan, {"data_dir": "a"})
    first = (tmp_path / "race" / RACE_FILE).read_bytes()
    claim_race_file(tmp_path / "race", plan, {"data_dir": "b"})  # a second entrant of the same race
    assert (tmp_path / "race" / RACE_FILE).read_bytes() == first
    assert [p.name for p in (tmp_path / "race").iterdir()] == [RACE_FILE]  # no temporary file left behind
    with pytest.raises(ConfigError, match="holds a different race"):
        claim_race_file(tmp_path / "race", plan_race(BASE, "seed=1,3"), {})


def test_a_hostile_race_file_cannot_send_an_entrant_outside_the_race_dir(tmp_path):
    plan = plan_race(BASE, "seed=1,2")
    data = plan.to_dict()
    data["entrants"][1]["name"] = data["entrants"][1]["run_dir"] = "../elsewhere"
    (tmp_path / RACE_FILE).write_text(json.dumps(data))
    with pytest.raises(RunDirError, match="malformed entrant '../elsewhere'"):
        plan_from_race_file(tmp_path)
    data = plan.to_dict()
    data["entrants"][0]["config"]["lr"] = -1
    (tmp_path / RACE_FILE).write_text(json.dumps(data))
    with pytest.raises(RunDirError, match="is damaged: invalid"):
        plan_from_race_file(tmp_path)
