"""The machine at a glance: GPU name, memory and utilisation (NVML), this process's CPU% and memory (psutil).

For people training on a GPU box over SSH, who would otherwise keep `nvidia-smi` or `btop` open in a
second pane. Both libraries are optional: without nvidia-ml-py, a driver or a GPU the GPU part is
left out, without psutil the process part is; nothing is ever printed about it. Sampling is cheap
(a handful of NVML calls and one /proc read, well under a millisecond) so views can call it twice
a second; the NVML handle and psutil's Process are opened once per monitor, not per sample.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

GIB = 1024 ** 3
MIB = 1024 ** 2
SEPARATOR = " · "


@dataclass(frozen=True)
class MachineStats:
    """One sample; a field is None where it could not be measured (no GPU, library missing, call failed)."""

    cpu_percent: float | None = None  # this process, 100 = one core busy (as top and btop count)
    rss_bytes: int | None = None  # this process's resident memory
    gpu_name: str | None = None
    gpu_memory_used: int | None = None  # bytes in use on the whole device (as nvidia-smi shows), not just ours
    gpu_memory_total: int | None = None
    gpu_utilization: int | None = None  # percent of the last sample period the device was busy

    @property
    def has_gpu(self) -> bool:
        return self.gpu_name is not None or self.gpu_utilization is not None or self.gpu_memory_total is not None

    def parts(self) -> list[tuple[int, str]]:
        """(priority, text) per measured value, in display order; lower priority number = kept longer."""
        out: list[tuple[int, str]] = []
        if self.gpu_name:
            out.append((4, short_gpu_name(self.gpu_name)))
        if self.gpu_utilization is not None:
            out.append((0, f"gpu {self.gpu_utilization}%"))
        if self.gpu_memory_used is not None and self.gpu_memory_total:
            out.append((1, f"vram {format_bytes_pair(self.gpu_memory_used, self.gpu_memory_total)}"))
        if self.cpu_percent is not None:
            out.append((2, f"cpu {self.cpu_percent:.0f}%"))
        if self.rss_bytes is not None:
            out.append((3, f"rss {format_bytes(self.rss_bytes)}"))
        return out

    def short_text(self, width: int | None = None) -> str:
        """The stats as one line of at most `width` cells: the least useful parts are dropped whole,
        never cut mid-number. "" when nothing was measured or nothing fits."""
        parts = self.parts()
        if width is None:
            return SEPARATOR.join(text for _, text in parts)
        kept = list(parts)
        for priority in sorted({p for p, _ in parts}, reverse=True):
            if len(SEPARATOR.join(t for _, t in kept)) <= width:
                break
            kept = [(p, t) for p, t in kept if p != priority]
        text = SEPARATOR.join(t for _, t in kept)
        return text if len(text) <= width else ""


def short_gpu_name(name: str) -> str:
    """'NVIDIA H200' -> 'H200', 'NVIDIA GeForce RTX 4090' -> 'RTX 4090': the vendor is known from context."""
    for prefix in ("NVIDIA ", "GeForce ", "Tesla "):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.strip() or "GPU"


def format_bytes(n: int) -> str:
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / MIB:.0f} MiB"


def format_bytes_pair(used: int, total: int) -> str:
    """'3.1/140 GiB': one unit for both, total without decimals when large."""
    if total >= GIB:
        return f"{used / GIB:.1f}/{total / GIB:.0f} GiB"
    return f"{used / MIB:.0f}/{total / MIB:.0f} MiB"


def nvml_index_for(device: str, environ: dict[str, str] | None = None) -> int | str | None:
    """The NVML device of a torch device string: an index, a UUID, or None for non-CUDA devices.

    NVML numbers GPUs physically and ignores CUDA_VISIBLE_DEVICES, torch numbers the visible ones:
    with CUDA_VISIBLE_DEVICES=2,3, torch's cuda:1 is NVML's 3 (or a GPU-... UUID when listed that way).
    """
    if not device.startswith("cuda"):
        return None
    _, _, index_text = device.partition(":")
    index = int(index_text) if index_text.isdigit() else 0
    visible = (environ if environ is not None else os.environ).get("CUDA_VISIBLE_DEVICES")
    if visible is None or not visible.strip():
        return index
    listed = [v.strip() for v in visible.split(",") if v.strip()]
    if index >= len(listed):
        return None
    chosen = listed[index]
    return int(chosen) if chosen.isdigit() else chosen


def _optional_import(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a broken install: either way, no stats from it
        return None


class MachineMonitor:
    """Samples the machine for one training process; create once, call sample() as often as you draw.

    gpu: the NVML device to watch (see nvml_index_for), or None for no GPU stats. pid: the process
    to measure (default this one; the app passes its engine child's pid).
    """

    def __init__(self, gpu: int | str | None = None, pid: int | None = None) -> None:
        self._nvml: Any = None
        self._handle: Any = None
        self._gpu_name: str | None = None
        self._process: Any = None
        psutil = _optional_import("psutil")
        if psutil is not None:
            try:
                self._process = psutil.Process(pid)
                self._process.cpu_percent(None)  # the first call only starts the interval
            except Exception:
                self._process = None
        if gpu is not None:
            self._open_gpu(gpu)

    def _open_gpu(self, gpu: int | str) -> None:
        nvml = _optional_import("pynvml")
        if nvml is None:
            return
        try:
            nvml.nvmlInit()
        except Exception:  # no driver, no GPU: quietly nothing
            return
        try:
            if isinstance(gpu, int):
                handle = nvml.nvmlDeviceGetHandleByIndex(gpu)
            else:
                handle = nvml.nvmlDeviceGetHandleByUUID(gpu)
            name = nvml.nvmlDeviceGetName(handle)
        except Exception:
            _quiet(nvml.nvmlShutdown)
            return
        self._nvml, self._handle = nvml, handle
        self._gpu_name = name.decode() if isinstance(name, bytes) else str(name)

    def sample(self) -> MachineStats:
        cpu = rss = None
        if self._process is not None:
            try:
                with self._process.oneshot():
                    cpu = float(self._process.cpu_percent(None))
                    rss = int(self._process.memory_info().rss)
            except Exception:  # the process ended, or /proc is unreadable
                cpu = rss = None
        used = total = util = None
        if self._handle is not None:
            try:
                memory = self._nvml.nvmlDeviceGetMemoryInfo(self._handle)
                used, total = int(memory.used), int(memory.total)
            except Exception:
                pass
            try:
                util = int(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)
            except Exception:
                pass
        return MachineStats(cpu_percent=cpu, rss_bytes=rss, gpu_name=self._gpu_name, gpu_memory_used=used,
                            gpu_memory_total=total, gpu_utilization=util)

    def close(self) -> None:
        if self._nvml is not None:
            _quiet(self._nvml.nvmlShutdown)
            self._nvml = self._handle = None

    def __enter__(self) -> MachineMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def monitor_for(device: str, pid: int | None = None) -> MachineMonitor:
    """A monitor for a run on torch device `device` ("cpu", "cuda", "cuda:1", "mps"): GPU stats only for CUDA."""
    return MachineMonitor(gpu=nvml_index_for(device), pid=pid)


def _quiet(call: Any) -> None:
    try:
        call()
    except Exception:
        pass
