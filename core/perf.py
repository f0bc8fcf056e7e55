"""Speed settings the engine applies around a run: CPU threads and the conv memory layout.

Each rule here is a measurement (benchmarks/results/throughput-*.md, time-to-accuracy-*.md),
made on the 2-core development machine that four other engineers' tests kept busy:

- OpenMP's default "active" wait makes idle pool threads spin; when another process holds the
  other core, every parallel op waits a scheduler slice for the descheduled thread. Two torch
  threads then ran 2-4x *slower* than one (fast-cnn: 86 s vs 23 s for an epoch). With
  OMP_WAIT_POLICY=PASSIVE they sleep instead, and two threads beat one again under load (17 s)
  and lose nothing measurable on conv models when the machine is quiet. core/__init__.py sets it
  (the OpenMP runtime reads it once, when torch is first imported); a user's own value wins.
- Linear models and MLPs do too little work per op to gain from a second thread on a small CPU
  (each op is a few microseconds; waking a thread costs about as much), so on machines with at
  most SMALL_CPU_CORES cores they train on one thread. So do bfloat16 runs of any model there:
  with AMX a convolution is as short as those ops, and the fast preset's whole command took
  7.5 s (median of 5 seeds) on one thread against 8.6 s on two, 7.7 CPU-seconds against 9.7
  (interleaved, quiet machine; 8.6 against 17.1 s with other work on the machine:
  benchmarks/results/fast99-cpu.md and its git history). The
  thread count changes float rounding, so it is a fixed rule of the model, its precision and
  the machine, never of the load: a seed reproduces.
- channels_last (NHWC) lets oneDNN run the convolutions without layout reorders: the fast-cnn
  epoch took 18 CPU-seconds instead of 29 on this CPU, cnn-adam's steps ran 1.2-1.35x faster.
- bfloat16 autocast is a setting of the run (RunConfig.precision, recorded in config.json),
  not a rule here, since it changes the numbers a run produces. On this CPU (AMX and
  AVX512-BF16) it cut the fast preset's whole command from 11.2 to 7.5 s (medians of 5 seeds,
  one thread both, 99.16% mean accuracy both: benchmarks/results/fast99-cpu.md). A device
  without native bf16 (native_bf16: where bf16 would be converted in software, or refused)
  trains that run in float32, and the "speed" line of config.json says so.

Options not measured here (no GPU on the development machine) are opt-in, named in
$MNIST_TUI_SPEED as a comma list, so they can be measured on a GPU box and turned on by
default only where they win: "compile" (torch.compile of the training forward) and
"channels_last" (on CUDA too), or "no-channels_last". Whatever a run used is recorded in its
config.json ("speed").
"""

from __future__ import annotations

import contextlib
import os
import platform

import torch
from torch import nn

from core.config import ConfigError, RunConfig

SMALL_CPU_CORES = 2
WAIT_POLICY_ENV = ("OMP_WAIT_POLICY", "PASSIVE")
THREADS_ENV = "MNIST_TUI_THREADS"  # a user's explicit intra-op thread count, for any model
OPTIONS_ENV = "MNIST_TUI_SPEED"  # opt-in options: compile, channels_last, no-channels_last
OPTIONS = ("compile", "channels_last", "no-channels_last")


def requested_options() -> set[str]:
    """The options named in $MNIST_TUI_SPEED; an unknown name is an error, not silently ignored."""
    names = {n.strip() for n in os.environ.get(OPTIONS_ENV, "").split(",") if n.strip()}
    unknown = names - set(OPTIONS)
    if unknown:
        raise ConfigError(f"unknown {OPTIONS_ENV} option(s) {', '.join(sorted(unknown))}: choose from {', '.join(OPTIONS)}")
    return names


def has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def cpu_threads(config: RunConfig, model: nn.Module, cores: int | None = None) -> int | None:
    """The intra-op thread count a CPU run should use, or None to leave torch's setting alone."""
    explicit = os.environ.get(THREADS_ENV, "").strip()
    if explicit.isdigit() and int(explicit) > 0:
        return int(explicit)
    if os.environ.get("OMP_NUM_THREADS"):
        return None  # the user chose; respect it
    cores = cores if cores is not None else (os.cpu_count() or 1)
    if cores <= SMALL_CPU_CORES and (not has_conv(model) or config.precision == "bfloat16"):
        return 1
    return None


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bfloat16 natively: CUDA GPUs from Ampere on; x86 CPUs with
    AVX512-BF16 or AMX. oneDNN also runs bf16 on plain AVX-512 CPUs, by conversion, which is no
    reason to round in bf16; other CPUs (ARM) count when oneDNN takes bf16 there. MPS: not assumed."""
    if device.type == "cpu":
        check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        if check is None or not check():
            return False
        x86 = getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None)
        if platform.machine().lower() in ("x86_64", "amd64", "i686", "x86"):
            return any(f is not None and f() for f in x86)
        return True
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return False


def use_channels_last(model: nn.Module, device: torch.device, options: set[str] = frozenset()) -> bool:
    if not has_conv(model) or "no-channels_last" in options:
        return False
    return device.type == "cpu" or "channels_last" in options


class Settings:
    """Applies the rules to one run and undoes the process-wide part (threads) afterwards."""

    def __init__(self, config: RunConfig, model: nn.Module, device: torch.device) -> None:
        options = requested_options()
        self.threads = cpu_threads(config, model) if device.type == "cpu" else None
        self.channels_last = use_channels_last(model, device, options)
        self.bf16_requested = config.precision == "bfloat16"
        self.bf16 = self.bf16_requested and native_bf16(device)
        self.compile = "compile" in options
        self.device = device
        self._threads_before: int | None = None
        self.threads_used = torch.get_num_threads() if device.type == "cpu" else None

    def apply_threads(self) -> None:
        if self.threads is not None and self.threads != torch.get_num_threads():
            self._threads_before = torch.get_num_threads()
            torch.set_num_threads(self.threads)
        self.threads_used = torch.get_num_threads() if self.threads_used is not None else None

    def restore_threads(self) -> None:
        if self._threads_before is not None:
            torch.set_num_threads(self._threads_before)
            self._threads_before = None

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Same weights and math; only the memory layout of conv weights (and so activations) changes."""
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def autocast(self) -> torch.autocast | None:
        """The context for the training forward and loss; None when the run trains in float32.
        bfloat16 keeps float32's range, so no loss scaling is needed."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else None

    def inference(self) -> contextlib.AbstractContextManager:
        """The context for evaluation: the run's precision (a fresh autocast, or nothing)."""
        return self.autocast() or contextlib.nullcontext()

    def forward(self, model: nn.Module):
        """The callable the training loop runs the model through: the model, or its compiled form.
        Compiling wraps rather than replaces, so state_dict keys (and checkpoints) stay the same."""
        return torch.compile(model) if self.compile else model

    def describe(self) -> str:
        """'2 CPU threads, channels_last': recorded in config.json, since threads change the rounding."""
        parts = [f"{self.threads_used} CPU thread{'s' if self.threads_used != 1 else ''}"] if self.threads_used else []
        if self.channels_last:
            parts.append("channels_last")
        if self.bf16:
            parts.append("bf16 autocast")
        elif self.bf16_requested:
            parts.append(f"float32 (bfloat16 asked for; no native bf16 on {self.device.type})")
        if self.compile:
            parts.append("compiled")
        return ", ".join(parts) or "defaults"
