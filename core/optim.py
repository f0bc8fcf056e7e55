"""Optimizer and initialisation registries: each a table a new entry extends in one line."""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import nn

from core.config import RunConfig
from core.eager import eager_step

Params = Iterable[nn.Parameter]

OPTIMIZERS: dict[str, Callable[[Params, RunConfig], torch.optim.Optimizer]] = {
    "sgd": lambda p, c: torch.optim.SGD(p, lr=c.lr, weight_decay=c.weight_decay),
    "momentum": lambda p, c: torch.optim.SGD(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    # Nesterov's update with momentum 0 is plain SGD, which torch refuses to build with nesterov=True:
    # train exactly what config.json says (a momentum race may include 0) rather than a hidden 0.9.
    "nesterov": lambda p, c: torch.optim.SGD(p, lr=c.lr, momentum=c.momentum, nesterov=c.momentum > 0,
                                             weight_decay=c.weight_decay),
    "adagrad": lambda p, c: torch.optim.Adagrad(p, lr=c.lr, weight_decay=c.weight_decay),
    "rmsprop": lambda p, c: torch.optim.RMSprop(p, lr=c.lr, weight_decay=c.weight_decay),
    "adadelta": lambda p, c: torch.optim.Adadelta(p, lr=c.lr, weight_decay=c.weight_decay),
    "adam": lambda p, c: torch.optim.Adam(p, lr=c.lr, weight_decay=c.weight_decay),
    # No hidden defaults: AdamW trains with the weight decay config.json records (the fast preset sets 0.01).
    "adamw": lambda p, c: torch.optim.AdamW(p, lr=c.lr, weight_decay=c.weight_decay),
    "radam": lambda p, c: torch.optim.RAdam(p, lr=c.lr, weight_decay=c.weight_decay),
}


def _lecun_normal(weight: torch.Tensor) -> None:
    """LeCun normal: std 1/sqrt(fan_in), the init that keeps sigmoid/tanh units out of saturation."""
    fan_in = nn.init._calculate_fan_in_and_fan_out(weight)[0]
    nn.init.normal_(weight, 0.0, 1.0 / math.sqrt(fan_in))


INITS: dict[str, Callable[[torch.Tensor], None] | None] = {
    "default": None,  # PyTorch's own per-layer defaults
    "xavier-uniform": nn.init.xavier_uniform_,
    "xavier-normal": nn.init.xavier_normal_,
    "kaiming-uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "kaiming-normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "lecun": _lecun_normal,
}


def build_optimizer(model: nn.Module, config: RunConfig) -> torch.optim.Optimizer:
    """torch's optimizer for `config`, stepping without the compiler's import (core/eager.py)."""
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), config)
    eager_step(optimizer)
    return optimizer


def initialise(model: nn.Module, init: str) -> None:
    """Apply `init` to every Linear/Conv weight and zero their biases ("default" leaves PyTorch's)."""
    weight_init = INITS[init]
    if weight_init is None:
        return
    for layer in model.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            weight_init(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def build_scheduler(optimizer: torch.optim.Optimizer, config: RunConfig, total_steps: int):
    """None for a constant lr; one-cycle for the fast preset (warm-up then anneal, per step)."""
    if config.schedule == "onecycle":
        # One step more than the run takes: OneCycleLR extrapolates past its last step, and the lr it
        # computes after the run's final step (shown in the last records) would come out negative.
        # At least 5: with 4, its warm-up phase ends at step 0.25 * 4 - 1 = 0 and it divides by zero.
        # Momentum is cycled only as Adam's beta1 (1cycle's own rule; no config field sets beta1). torch would
        # otherwise overwrite SGD's and RMSprop's momentum with 0.85-0.95, whatever config.json records, and
        # refuse Adagrad and Adadelta outright.
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=max(total_steps + 1, 5),
                                                   pct_start=0.25, anneal_strategy="linear",
                                                   cycle_momentum="betas" in optimizer.defaults)
    return None
