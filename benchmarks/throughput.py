"""Training throughput of the engine against the tutorials' loop and against a bare loop.

For each preset, in one process, with the same model, batch size, optimizer and thread count:

  (a) tutorial: torchvision dataset + ToTensor (+ Normalize), DataLoader(shuffle=True), and a
      `loss.item()` every step, as the seed tutorials train;
  (b) bare:     slices of device-resident tensors, nothing logged, nothing read back: the
      practical limit for that model on this machine;
  (c) engine:   core.engine.Trainer with its JSONL run log and the headless console printer as
      event sink, at the log interval a full-data run uses.

The three are interleaved in rounds (the order rotates each round) and each figure is the
median over rounds, so load from other processes hits all three alike; the load average is
recorded with the results. Only training is timed: (b) and (c) both exclude evaluation and the
per-epoch shuffle, (c) via the engine's own epoch seconds. (b) and (c) start from the same seed
and see the same batches, so their final weights are compared as a check that the engine does
the same work rather than less.

    python benchmarks/throughput.py [--data-dir DIR] [--device cpu|cuda] [--presets a,b]
                                    [--rounds 9] [--seconds 1.5] [--threads N] [--out FILE]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (puts the repository root on sys.path)

from core.config import PRESETS, RunConfig  # noqa: E402
from core.console import ConsolePrinter  # noqa: E402
from core.events import EndEvent, EpochEvent  # noqa: E402
from core.runlog import CHECKPOINT_FILE, load_checkpoint  # noqa: E402

if TYPE_CHECKING:
    import torch

    from core import data as data_mod


def import_heavy() -> None:
    """torch and the engine load after the arguments are checked: --help or a bad option answers at once."""
    global F, LOG_RECORDS_PER_EPOCH, Trainer, build_model, build_optimizer, build_scheduler, data_mod, initialise
    global perf, resolve_device, torch
    import torch
    import torch.nn.functional as F

    from core import data as data_mod
    from core import perf
    from core.engine import LOG_RECORDS_PER_EPOCH, Trainer, resolve_device
    from core.models import build_model
    from core.optim import build_optimizer, build_scheduler, initialise

# What the issue asks the engine to reach over the tutorial loop (c)/(a), per preset.
TARGET_OVER_TUTORIAL = {"linear-sgd": 15.0, "fashion-mlp": 6.0, "mlp-sigmoid": 2.0, "mlp-bn-adam": 1.6,
                        "cnn-adam": 1.25}
TARGET_OVER_BARE = 0.95
KINDS = ("tutorial", "bare", "engine")


@dataclass
class Plan:
    """How much work one measurement of each kind does, sized from a calibration run."""

    tutorial_steps: int
    train_samples: int  # size of the training subset (b) and (c) use
    epochs: int  # epochs over that subset per measurement
    log_interval: int  # the engine's automatic interval for the full data set


@dataclass
class PresetResult:
    name: str
    config: RunConfig
    plan: Plan
    speed: str  # threads and memory layout, from core/perf.py
    rates: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    weight_diff: float | None = None

    def median(self, kind: str) -> float:
        return common.median(self.rates[kind])

    def ratio(self, top: str, bottom: str) -> float:
        return self.median(top) / self.median(bottom)

    def paired(self, top: str, bottom: str) -> list[float]:
        return [t / b for t, b in zip(self.rates[top], self.rates[bottom])]


def build(config: RunConfig, device: torch.device, total_steps: int, engine_settings: bool):
    """Model, optimizer and schedule as Trainer._setup makes them (same seed, same order). With
    engine_settings, also the engine's memory layout, autocast and compilation (core/perf.py);
    the tutorial loop gets the plain model. Threads are set once per preset for all three loops."""
    torch.manual_seed(config.seed)
    model = build_model(config)
    initialise(model, config.init)
    model.to(device)
    settings = perf.Settings(config, model, device)
    if engine_settings:
        model = settings.prepare_model(model)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, total_steps)
    if not engine_settings:
        return model, optimizer, scheduler, model, None
    return model, optimizer, scheduler, settings.forward(model), settings.autocast()


# ---- (a) the tutorials' loop ----
class TutorialLoop:
    """torchvision dataset + DataLoader(shuffle=True) + `.item()` each step, as pytorch/examples."""

    def __init__(self, config: RunConfig, device: torch.device, data_dir: str, workers: int) -> None:
        from torch.utils.data import DataLoader
        from torchvision import datasets, transforms

        info = data_mod.DATASETS[config.dataset]
        steps = [transforms.ToTensor()]
        if config.normalize == "standard":
            steps.append(transforms.Normalize((info.mean,), (info.std,)))
        reader = datasets.MNIST if config.dataset == "mnist" else datasets.FashionMNIST
        dataset = reader(data_dir, train=True, download=False, transform=transforms.Compose(steps))
        self.loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=True, num_workers=workers,
                                 pin_memory=device.type == "cuda")
        self.config, self.device = config, device

    def measure(self, steps: int) -> float:
        """Samples per second over `steps` training steps (a fresh model each time)."""
        model, optimizer, scheduler, _, _ = build(self.config, self.device, steps, engine_settings=False)
        model.train()
        seen = done = 0
        common.synchronize(self.device)
        start = time.perf_counter()
        while done < steps:
            for x, y in self.loader:
                x, y = x.to(self.device), y.to(self.device)
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                loss.item()  # the tutorials print or accumulate it every step
                seen += y.shape[0]
                done += 1
                if done == steps:
                    break
        return seen / (time.perf_counter() - start)


# ---- (b) the bare loop ----
def bare_loop(config: RunConfig, bundle: data_mod.DataBundle, device: torch.device, epochs: int):
    """Samples per second of the plainest loop over device-resident tensors, and its final model."""
    bs, n = config.batch_size, bundle.train_size
    steps = math.ceil(n / bs)
    model, optimizer, scheduler, forward, autocast = build(config, device, steps * epochs, engine_settings=True)
    generator = torch.Generator().manual_seed(config.seed)
    x_all, y_all = bundle.train_x, bundle.train_y
    model.train()
    seconds = 0.0
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator).to(device)
        common.synchronize(device)
        start = time.perf_counter()
        for i in range(steps):
            index = perm[i * bs:(i + 1) * bs]
            x, y = x_all[index], y_all[index]
            if autocast is None:
                loss = F.cross_entropy(forward(x), y)
            else:
                with autocast:
                    loss = F.cross_entropy(forward(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        common.synchronize(device)
        seconds += time.perf_counter() - start
    return n * epochs / seconds, model


# ---- (c) the engine ----
def engine_run(config: RunConfig, bundle: data_mod.DataBundle, epochs: int, log_interval: int, root: Path):
    """Samples per second the Trainer reports for its training time, and the final weights."""
    config = config.with_overrides(epochs=epochs, log_interval=log_interval)
    run_dir = Path(tempfile.mkdtemp(dir=root))
    epochs_seen: list[EpochEvent] = []
    with open(os.devnull, "w") as null:
        printer = ConsolePrinter(null, live=False)

        def sink(event) -> None:
            printer(event)
            if isinstance(event, EpochEvent):
                epochs_seen.append(event)

        end: EndEvent = Trainer(config, run_dir, [sink], data=bundle).run()
    if end.status != "finished":
        raise SystemExit(f"engine run {end.status}: {end.reason}")
    seconds = sum(e.seconds for e in epochs_seen)
    weights = load_checkpoint(run_dir / CHECKPOINT_FILE)["model"]
    return bundle.train_size * epochs / seconds, weights


def weight_difference(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> float:
    return max(float((v.detach().cpu().float() - state[k].cpu().float()).abs().max())
               for k, v in model.state_dict().items() if v.is_floating_point())


def make_plan(config: RunConfig, bundle: data_mod.DataBundle, tutorial: TutorialLoop, device: torch.device,
              seconds: float) -> Plan:
    """Size each measurement to about `seconds` from a short warm-up run of (a) and (b)."""
    bs, full = config.batch_size, bundle.train_size
    probe = common.subset(bundle, min(full, 20 * bs))
    bare_rate, _ = bare_loop(config, probe, device, 1)  # also warms up kernels and the allocator
    bare_rate, _ = bare_loop(config, probe, device, 1)
    tutorial.measure(3)
    tutorial_rate = tutorial.measure(5)
    wanted = max(bs, int(bare_rate * seconds))
    if wanted >= full:
        train, epochs = full, max(1, round(wanted / full))
    else:
        train, epochs = max(bs, wanted // bs * bs), 1
    return Plan(tutorial_steps=max(3, round(tutorial_rate * seconds / bs)), train_samples=train, epochs=epochs,
                log_interval=max(1, round(math.ceil(full / bs) / LOG_RECORDS_PER_EPOCH)))


def bench_preset(name: str, args, device: torch.device, load: common.LoadLog, root: Path) -> PresetResult:
    """All three loops under the thread count the engine picks for this preset (core/perf.py)."""
    config = PRESETS[name].config.with_overrides(device=args.device)
    settings = perf.Settings(config, build_model(config), device)
    settings.apply_threads()
    try:
        return measure_preset(name, config, args, device, load, root, settings)
    finally:
        settings.restore_threads()


def measure_preset(name: str, config: RunConfig, args, device: torch.device, load: common.LoadLog, root: Path,
                   settings: perf.Settings) -> PresetResult:
    bundle = common.load_bundle(config.dataset, args.data_dir, device, config.normalize)
    tutorial = TutorialLoop(config, device, args.data_dir, args.workers)
    plan = make_plan(config, bundle, tutorial, device, args.seconds)
    data = common.subset(bundle, plan.train_samples, test=1000)  # evaluation is not timed; keep it short
    result = PresetResult(name, config, plan, settings.describe())
    for r in range(args.rounds):
        load.read()
        order = KINDS[r % 3:] + KINDS[:r % 3]
        for kind in order:
            if kind == "tutorial":
                result.rates[kind].append(tutorial.measure(plan.tutorial_steps))
            elif kind == "bare":
                rate, bare_model = bare_loop(config, data, device, plan.epochs)
                result.rates[kind].append(rate)
            else:
                rate, engine_weights = engine_run(config, data, plan.epochs, plan.log_interval, root)
                result.rates[kind].append(rate)
        result.weight_diff = weight_difference(bare_model, engine_weights)
        print(f"  {name} round {r + 1}/{args.rounds}: " +
              "  ".join(f"{k} {result.rates[k][-1]:,.0f}/s" for k in KINDS), flush=True)
    load.read()
    return result


def report(results: list[PresetResult], args, device: torch.device, load: common.LoadLog, out: Path) -> None:
    rows = []
    for r in results:
        target = TARGET_OVER_TUTORIAL.get(r.name)
        # Each round measures (a), (b), (c) back to back, so a round's ratio compares them under the
        # same load; the median of those is the headline, the ratio of the medians is shown beside it.
        over_tut = common.median(r.paired("engine", "tutorial"))
        paired = r.paired("engine", "bare")
        over_bare = common.median(paired)
        rows.append([
            r.name, r.config.model, r.config.batch_size, r.speed, f"{r.median('tutorial'):,.0f}",
            f"{r.median('bare'):,.0f}", f"{r.median('engine'):,.0f}",
            f"**{over_tut:.2f}x**" + (f" (≥ {target:g} {'yes' if over_tut >= target else 'NO'})" if target else ""),
            f"**{over_bare:.3f}** (≥ {TARGET_OVER_BARE} {'yes' if over_bare >= TARGET_OVER_BARE else 'NO'})",
            f"{r.ratio('engine', 'bare'):.3f}; {min(paired):.2f}-{max(paired):.2f}",
            f"{common.median(r.paired('bare', 'tutorial')):.2f}x",
            f"{r.weight_diff:.1e}" if r.weight_diff is not None else "-"])
    table = common.markdown_table(
        ["preset", "model", "batch", "threads, layout", "(a) tutorial /s", "(b) bare /s", "(c) engine /s",
         "(c)/(a)", "(c)/(b)", "(c)/(b): ratio of medians; range of rounds", "(b)/(a)", "max weight diff (b) vs (c)"],
        rows, "llllrrrrrrrr")
    plans = [f"- {r.name}: (a) {r.plan.tutorial_steps} steps; (b), (c) {r.plan.epochs} epoch(s) of "
             f"{r.plan.train_samples} images, engine log interval {r.plan.log_interval} steps" for r in results]
    facts = common.standard_facts(device, common.command_line("throughput.py")) + [
        f"load while measuring: {load.summary()}",
        f"samples/s of training only, median of {args.rounds} interleaved rounds (order rotated each round); "
        "the ratios are medians of the rounds' own ratios (a round measures all three back to back, so they "
        f"share its load); DataLoader workers for (a): {args.workers}",
        "(c) runs core.engine.Trainer with its metrics.jsonl log and the headless console printer as sink; "
        "(b) and (c) start from the same seed and batches, so their final weights should agree",
    ]
    body = table + ["", "Work per measurement:", ""] + plans
    common.write_results(out, f"Training throughput ({device.type})", facts, body)
    print("\n".join(table))
    print(f"wrote {out}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(common.DEFAULT_DATA_DIR),
                        help="root holding MNIST/raw and FashionMNIST/raw (torchvision's layout)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps", "auto"))
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated preset names")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds; figures are medians")
    parser.add_argument("--seconds", type=float, default=1.5, help="target length of one measurement")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads for all three loops (default: what the engine picks per model)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for the tutorial loop")
    parser.add_argument("--speed", default=None, metavar="OPTS",
                        help="opt-in engine options for (b) and (c), e.g. compile (sets the engine's speed "
                             "options variable: see core/perf.py)")
    parser.add_argument("--out", default=None, help="results file (default benchmarks/results/throughput-DEVICE.md)")
    args = parser.parse_args(argv)
    names = [n for n in args.presets.split(",") if n]
    unknown = [n for n in names if n not in PRESETS]
    if unknown or args.rounds < 1 or args.seconds <= 0:
        parser.error(f"unknown preset(s) {', '.join(unknown)}" if unknown else "--rounds and --seconds must be > 0")
    import_heavy()
    if args.threads:
        os.environ[perf.THREADS_ENV] = str(args.threads)  # the engine's runs follow it too
    if args.speed is not None:
        os.environ[perf.OPTIONS_ENV] = args.speed
    try:
        perf.requested_options()
    except ValueError as exc:  # ConfigError
        parser.error(str(exc))
    device = resolve_device(args.device)
    out = Path(args.out) if args.out else common.RESULTS_DIR / f"throughput-{device.type}.md"
    load = common.LoadLog()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(f"{name}:", flush=True)
            results.append(bench_preset(name, args, device, load, Path(tmp)))
    report(results, args, device, load, out)


if __name__ == "__main__":
    main()
