"""The precision setting: bfloat16 autocast is what config.json says, where it says, and nowhere else.

A bfloat16 run puts its training forward and its evaluation under bf16 autocast (weights stay
float32), a device without native bf16 trains that same config exactly as float32 and says so,
and the tutorial presets keep float32 so they reproduce their results.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from torch import nn

from core import engine, perf, runlog
from core.cli import main
from core.config import PRESETS, RunConfig
from core.engine import Trainer
from core.models import build_model
from core.runlog import CHECKPOINT_FILE, load_checkpoint

TINY_CNN = RunConfig(name="bf16", model="fast-cnn", optimizer="adamw", lr=0.01, weight_decay=0.01,
                     schedule="onecycle", batch_size=32, epochs=1, seed=3, device="cpu", train_size=128,
                     sample_count=4)


def test_only_the_fast_preset_trains_in_bfloat16() -> None:
    assert {name: p.config.precision for name, p in PRESETS.items()} == {
        name: ("bfloat16" if name == "fast" else "float32") for name in PRESETS}
    assert RunConfig().precision == "float32"


@pytest.mark.skipif(not perf.native_bf16(torch.device("cpu")), reason="this CPU has no native bfloat16")
def test_bfloat16_runs_the_training_forward_and_the_evaluation_in_bf16(tmp_path, tiny_data, monkeypatch) -> None:
    seen: dict[bool, set[torch.dtype]] = {True: set(), False: set()}  # model.training -> conv output dtypes

    def recording_model(config: RunConfig) -> nn.Module:
        model = build_model(config)
        conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        conv.register_forward_hook(lambda m, inputs, out: seen[m.training].add(out.dtype))
        return model

    monkeypatch.setattr(engine, "build_model", recording_model)
    trainer = Trainer(replace(TINY_CNN, precision="bfloat16"), tmp_path / "run", data_dir=str(tiny_data))
    end = trainer.run()
    assert end.status == "finished", end.reason
    assert seen == {True: {torch.bfloat16}, False: {torch.bfloat16}}
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT_FILE)
    assert {t.dtype for t in state["model"].values() if t.is_floating_point()} == {torch.float32}
    saved = json.loads((tmp_path / "run" / runlog.CONFIG_FILE).read_text())
    assert saved["config"]["precision"] == "bfloat16" and "bf16 autocast" in saved["speed"]


def test_without_native_bf16_a_bfloat16_run_trains_exactly_as_float32(tmp_path, tiny_data, monkeypatch) -> None:
    monkeypatch.setattr(perf, "native_bf16", lambda device: False)  # a CPU without AVX512-BF16/AMX
    runs = {}
    for precision in ("float32", "bfloat16"):
        trainer = Trainer(replace(TINY_CNN, precision=precision), tmp_path / precision, data_dir=str(tiny_data))
        end = trainer.run()
        assert end.status == "finished", end.reason
        runs[precision] = load_checkpoint(tmp_path / precision / CHECKPOINT_FILE)["model"]
    for name, weights in runs["float32"].items():
        assert torch.equal(weights, runs["bfloat16"][name]), name
    saved = json.loads((tmp_path / "bfloat16" / runlog.CONFIG_FILE).read_text())
    assert saved["config"]["precision"] == "bfloat16"  # what was asked for, and the speed line says what ran
    assert "float32 (bfloat16 asked for; no native bf16 on cpu)" in saved["speed"]


def test_a_bfloat16_run_of_a_conv_model_takes_one_thread_on_a_small_cpu(monkeypatch) -> None:
    monkeypatch.delenv(perf.THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    model = build_model(TINY_CNN)
    bf16 = replace(TINY_CNN, precision="bfloat16")
    assert perf.cpu_threads(bf16, model, cores=2) == 1
    assert perf.cpu_threads(TINY_CNN, model, cores=2) is None  # float32 conv runs keep torch's default
    assert perf.cpu_threads(bf16, model, cores=8) is None
    monkeypatch.setenv(perf.THREADS_ENV, "2")
    assert perf.cpu_threads(bf16, model, cores=2) == 2  # the user's explicit count wins


def test_an_unknown_precision_is_a_one_line_usage_error(tiny_data, tmp_path, capsys) -> None:
    code = main(["--no-ui", "--precision", "fp16", "--model", "linear", "--epochs", "1", "--train-size", "64",
                 "--data-dir", str(tiny_data), "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "precision" in err and "bfloat16" in err
    assert not (tmp_path / "r").exists()


def test_an_avx512_cpu_without_bf16_units_is_not_native(monkeypatch) -> None:
    """oneDNN runs bf16 on any AVX-512 CPU by converting in software: that is no reason to round in bf16."""
    monkeypatch.setattr(perf.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert not perf.native_bf16(torch.device("cpu"))
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert perf.native_bf16(torch.device("cpu"))
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False, raising=False)
    assert not perf.native_bf16(torch.device("cpu"))  # no bf16 kernels at all
