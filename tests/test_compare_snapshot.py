"""Snapshot (pytest-textual-snapshot) of the comparison screen at 120x40.

The race directory is synthetic: a real race.json from core.race and hand-made events (no
training), so the picture is the same on every machine. The events are ones a real run could
write (checked below): each epoch's confusion matrix holds exactly its test accuracy over the
test set, the sample digits' mistakes are in it, and the clock never goes back across an evaluation. After an intended change:
`pytest tests/test_compare_snapshot.py --snapshot-update`, then look at the SVG before committing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core.config import RunConfig
from core.events import ConfigEvent, ConfusionEvent, EndEvent, EpochEvent, SamplesEvent, StepEvent, to_record
from core.race import plan_race, write_race_file
from tui.compare import CompareApp

STEPS, EPOCHS, BATCH, TRAIN, TEST, EVAL_S = 40, 3, 100, 4000, 1000, 0.4
# per entrant: how fast its loss falls, where its accuracy tops out, its speed
ENTRANTS = {"sgd": (30.0, 0.955, 5200.0), "adam": (12.0, 0.975, 4800.0), "adadelta": (18.0, 0.968, 4500.0)}


def digit(label: int) -> bytes:
    """A block whose position encodes the label: deterministic and cheap."""
    pixels = bytearray(28 * 28)
    top, left = 4 + (label // 5) * 10, 2 + (label % 5) * 5
    for r in range(top, top + 8):
        for c in range(left, left + 4):
            pixels[r * 28 + c] = 230
    return bytes(pixels)


def entrant_events(config: RunConfig, run_dir: str, speed: float, ceiling: float, rate: float) -> list:
    total = STEPS * EPOCHS
    events: list = [ConfigEvent(config=config.to_dict(), run_dir=run_dir, device="cpu",
                                data_source="MNIST from /data/MNIST/raw", bundled_data=False, train_size=TRAIN,
                                test_size=TEST, steps_per_epoch=STEPS, total_steps=total,
                                classes=[str(d) for d in range(10)], parameters=101770)]
    seconds = TRAIN / rate
    for epoch in range(1, EPOCHS + 1):
        for i in range(1, STEPS + 1):
            step = (epoch - 1) * STEPS + i
            loss = 0.1 + 2.2 * math.exp(-step / speed) + 0.03 * math.sin(step * 1.3)
            clock = (epoch - 1) * (seconds + EVAL_S) + i * seconds / STEPS  # evaluations take EVAL_S each
            events.append(StepEvent(epoch=epoch, step=step, seen=i * BATCH, epoch_size=TRAIN, loss=loss,
                                    lr=config.lr, time=round(clock, 3), samples_per_s=rate,
                                    total_steps=total))
        acc = round(ceiling - 0.03 / epoch, 3)  # a whole number of the TEST test images
        events.append(EpochEvent(epoch=epoch, step=epoch * STEPS, train_loss=0.8 / epoch, train_acc=acc - 0.01,
                                 test_loss=0.5 / epoch, test_acc=acc, seconds=round(seconds, 3), samples_per_s=rate,
                                 lr=config.lr, time=round(epoch * (seconds + EVAL_S), 3)))
        labels = list(range(10))
        wrong = {3: 5} if config.optimizer == "sgd" else {}
        events.append(SamplesEvent(epoch=epoch, indices=labels, labels=labels,
                                   predictions=[wrong.get(k, k) for k in labels], confidences=[0.9] * 10,
                                   images=[SamplesEvent.encode_image(digit(k)) for k in labels]))
        events.append(ConfusionEvent(epoch=epoch, matrix=confusion(acc, wrong)))
    events.append(EndEvent(status="finished", reason=f"trained {EPOCHS} epochs", epoch=EPOCHS + 1, step=total,
                           time=round(EPOCHS * (seconds + EVAL_S), 3), best_test_acc=acc, final_test_acc=acc))
    return events


def confusion(acc: float, sample_mistakes: dict[int, int]) -> list[list[int]]:
    """TEST // 10 images per class, round(acc * TEST) of them right; the sample digits' mistakes are in it."""
    per_class, wrong = TEST // 10, TEST - round(acc * TEST)
    matrix = [[0] * 10 for _ in range(10)]
    for t in range(10):
        missed = wrong // 10 + (t < wrong % 10)
        matrix[t][t] = per_class - missed
        matrix[t][sample_mistakes.get(t, (t + 1) % 10)] += missed
    return matrix


def test_the_synthetic_race_is_one_a_run_could_write():
    for optimizer, (speed, ceiling, rate) in ENTRANTS.items():
        config = RunConfig(optimizer=optimizer, batch_size=BATCH, epochs=EPOCHS)
        events = entrant_events(config, "run", speed, ceiling, rate)
        epochs = {e.epoch: e for e in events if isinstance(e, EpochEvent)}
        for e in events:
            if isinstance(e, ConfusionEvent):
                assert sum(map(sum, e.matrix)) == TEST
                assert sum(e.matrix[k][k] for k in range(10)) == round(epochs[e.epoch].test_acc * TEST)
            if isinstance(e, SamplesEvent):
                matrix = next(c.matrix for c in events if isinstance(c, ConfusionEvent) and c.epoch == e.epoch)
                assert all(matrix[t][p] > 0 for t, p in zip(e.labels, e.predictions))
        clocks = [e.time for e in events if isinstance(e, (StepEvent, EpochEvent, EndEvent))]
        assert clocks == sorted(clocks)
        end = events[-1]
        assert end.best_test_acc == max(e.test_acc for e in epochs.values())
        assert end.final_test_acc == epochs[EPOCHS].test_acc


def synthetic_race(race_dir: Path) -> None:
    base = RunConfig(name="demo", hidden=(128,), batch_size=BATCH, epochs=EPOCHS)
    plan = plan_race(base, "optimizer=" + ",".join(ENTRANTS))
    race_dir.mkdir(parents=True)
    write_race_file(race_dir, plan, {"created": "2026-11-23T12:00:00+0000"})
    for entrant in plan.entrants:
        speed, ceiling, rate = ENTRANTS[entrant.config.optimizer]
        run_dir = race_dir / entrant.name
        run_dir.mkdir()
        events = entrant_events(entrant.config, str(run_dir), speed, ceiling, rate)
        (run_dir / "metrics.jsonl").write_text("".join(json.dumps(to_record(e)) + "\n" for e in events))


@pytest.fixture
def demo_race(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # relative paths keep the tmp dir's name out of the picture
    synthetic_race(Path("race-demo"))
    return Path("race-demo")


def test_compare_screen_120x40(snap_compare, demo_race):
    assert snap_compare(CompareApp(compare_paths=[demo_race]), terminal_size=(120, 40))


def cut_mid_race(race_dir: Path) -> None:
    """The same race caught mid-way: adam done, sgd in its second epoch, adadelta not started."""
    import shutil

    log = race_dir / "optimizer-sgd" / "metrics.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    second_epoch = [i for i, line in enumerate(lines) if '"type": "epoch"' in line][1]
    log.write_text("".join(lines[:second_epoch - STEPS // 2]))
    shutil.rmtree(race_dir / "optimizer-adadelta")


def test_compare_screen_80x24_mid_race(snap_compare, demo_race):
    cut_mid_race(demo_race)
    assert snap_compare(CompareApp(compare_paths=[demo_race]), terminal_size=(80, 24))


def test_compare_screen_80x24_after_the_race_charts(snap_compare, demo_race):
    assert snap_compare(CompareApp(compare_paths=[demo_race]), terminal_size=(80, 24), press=["2"])


def test_compare_screen_80x24_after_the_race_digits(snap_compare, demo_race):
    assert snap_compare(CompareApp(compare_paths=[demo_race]), terminal_size=(80, 24), press=["3"])
