"""core/eager.py: torch's optimizers step without importing the compiler, and step exactly as torch's own step does."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from torch import nn

from core import eager
from core.config import RunConfig
from core.optim import OPTIMIZERS, build_optimizer, build_scheduler


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler, steps: int = 6) -> None:
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(5, 6, generator=generator)
        y = torch.randint(0, 3, (5,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_eager_step_moves_the_weights_exactly_as_torchs_own_step(name: str) -> None:
    config = RunConfig(optimizer=name, lr=0.05, momentum=0.9, weight_decay=0.01, schedule="onecycle")
    stock_model = _model()
    eager_model = copy.deepcopy(stock_model)
    stock = OPTIMIZERS[name](stock_model.parameters(), config)  # torch's step, untouched
    ours = build_optimizer(eager_model, config)
    assert ours.step.__func__ is not type(ours).step, "build_optimizer left torch's compiler-importing step in place"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()": the scheduler must see our steps
        _train(stock_model, stock, build_scheduler(stock, config, 6))
        _train(eager_model, ours, build_scheduler(ours, config, 6))
    for a, b in zip(stock_model.state_dict().values(), eager_model.state_dict().values()):
        assert torch.equal(a, b)
    assert str(stock.state_dict()) == str(ours.state_dict())


def test_torch_still_wraps_its_optimizers_the_way_eager_recognises() -> None:
    assert eager.prefill_disable_caches() >= 4  # add_param_group, zero_grad, state_dict, load_state_dict
    for cls in {type(OPTIMIZERS[name](_model().parameters(), RunConfig(optimizer=name, momentum=0.9)))
                for name in OPTIMIZERS}:
        assert eager._update_beneath_use_grad(cls.step) is not None, f"{cls.__name__}.step is wrapped differently now"


def test_a_differentiable_optimizer_keeps_torchs_step() -> None:
    optimizer = torch.optim.SGD(_model().parameters(), lr=0.1, differentiable=True)
    eager.eager_step(optimizer)
    assert "step" not in vars(optimizer)


def test_training_checkpointing_and_resuming_with_every_optimizer_never_imports_the_compiler() -> None:
    script = textwrap.dedent("""
        import sys
        import torch
        from torch import nn
        from core.config import RunConfig
        from core.optim import OPTIMIZERS, build_optimizer, build_scheduler
        for name in OPTIMIZERS:
            config = RunConfig(optimizer=name, lr=0.01, momentum=0.9, schedule="onecycle")
            model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2))
            optimizer = build_optimizer(model, config)
            scheduler = build_scheduler(optimizer, config, 4)
            for _ in range(2):
                optimizer.zero_grad(set_to_none=True)
                model(torch.randn(3, 1, 4, 4)).sum().backward()
                optimizer.step()
                scheduler.step()
            optimizer.load_state_dict(optimizer.state_dict())
            scheduler.load_state_dict(scheduler.state_dict())
            with torch.inference_mode():
                model.eval()(torch.randn(3, 1, 4, 4))
        print("torch._dynamo" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", "something on the training path imported torch._dynamo again"
