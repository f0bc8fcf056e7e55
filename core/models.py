"""Architecture registry: one line per model, each a builder taking the RunConfig.

All models return logits; the loss is cross-entropy, which is the tutorials' log_softmax +
NLL loss fused into one numerically safer op.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from core.config import RunConfig

ACTIVATION_LAYERS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
}


def linear(config: RunConfig) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def mlp(config: RunConfig) -> nn.Module:
    """Linear -> [BatchNorm] -> activation -> [Dropout] per hidden layer, as in the mlp-bn tutorial."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = 28 * 28
    for size in config.hidden:
        layers.append(nn.Linear(width, size))
        if config.batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(ACTIVATION_LAYERS[config.activation]())
        if config.dropout > 0:
            layers.append(nn.Dropout(config.dropout))
        width = size
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def cnn(config: RunConfig) -> nn.Module:
    """The cnn-adam tutorial's network: two conv3x3+ReLU+maxpool blocks and one fc layer."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 64, 10),
    )


def fast_cnn(config: RunConfig) -> nn.Module:
    """The "fast" preset's network, sized for 99% on a 2-core CPU in the least wall time.

    Three conv3x3 blocks of 16/32/64 channels (29k parameters). The first convolution has
    stride 2, so it computes a quarter of the 28x28 outputs and nothing pools its full-size
    output: max-pooling and its backward over 16x28x28 maps had cost more than all the
    convolutions together (torch.profiler of a bf16 training step on this CPU, while tuning;
    not a committed benchmark). The result of the network as it is, 5 seeds of the whole
    command, is benchmarks/results/fast99-cpu.md.
    The other two blocks pool straight after their convolution, so batch norm and ReLU touch a
    quarter of the pixels: on the CPU those memory-bound ops cost as much as the convolutions.
    Batch norm is what lets one-cycle run at a high learning rate, which is what makes a single
    epoch enough.
    """
    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True)]

    first = [nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True)]
    return nn.Sequential(*first, *block(16, 32), *block(32, 64), nn.Flatten(), nn.Linear(3 * 3 * 64, 10))


MODELS: dict[str, Callable[[RunConfig], nn.Module]] = {
    "linear": linear,
    "mlp": mlp,
    "cnn": cnn,
    "fast-cnn": fast_cnn,
}


def build_model(config: RunConfig) -> nn.Module:
    return MODELS[config.model](config)


def describe(model: nn.Module) -> str:
    """A one-line architecture summary for log lines and the status bar."""
    parts = []
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            parts.append(f"fc{layer.in_features}->{layer.out_features}")
        elif isinstance(layer, nn.Conv2d):
            parts.append(f"conv{layer.kernel_size[0]}x{layer.kernel_size[1]}:{layer.out_channels}")
    return " ".join(parts)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
