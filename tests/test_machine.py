"""core/machine.py with nvidia-ml-py and psutil faked: what is shown, what is left out, what it costs."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from core.machine import GIB, MIB, MachineMonitor, MachineStats, monitor_for, nvml_index_for


class FakeNVML(types.ModuleType):
    """The few pynvml calls core.machine makes, counting them."""

    def __init__(self, *, init_fails: bool = False, name: str | bytes = "NVIDIA H200") -> None:
        super().__init__("pynvml")
        self.init_fails = init_fails
        self.name = name
        self.calls: list[str] = []
        self.used = 3 * GIB
        self.util = 45
        self.broken = False

    def nvmlInit(self) -> None:
        self.calls.append("init")
        if self.init_fails:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        self.calls.append(f"handle {index}")
        return f"gpu{index}"

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> str:
        self.calls.append(f"uuid {uuid}")
        return uuid

    def nvmlDeviceGetName(self, handle: str) -> str | bytes:
        return self.name

    def nvmlDeviceGetMemoryInfo(self, handle: str) -> SimpleNamespace:
        if self.broken:
            raise RuntimeError("GPU is lost")
        return SimpleNamespace(used=self.used, total=140 * GIB, free=140 * GIB - self.used)

    def nvmlDeviceGetUtilizationRates(self, handle: str) -> SimpleNamespace:
        if self.broken:
            raise RuntimeError("GPU is lost")
        return SimpleNamespace(gpu=self.util, memory=10)


class FakeProcess:
    instances = 0

    def __init__(self, pid: int | None) -> None:
        FakeProcess.instances += 1
        self.pid = pid
        self.cpu_calls = 0

    def cpu_percent(self, interval: float | None) -> float:
        assert interval is None  # never blocks the caller
        self.cpu_calls += 1
        return 0.0 if self.cpu_calls == 1 else 97.4

    def memory_info(self) -> SimpleNamespace:
        return SimpleNamespace(rss=812 * MIB)

    def oneshot(self):
        import contextlib

        return contextlib.nullcontext()


@pytest.fixture
def fake_psutil(monkeypatch):
    module = types.ModuleType("psutil")
    module.Process = FakeProcess
    monkeypatch.setitem(sys.modules, "psutil", module)
    FakeProcess.instances = 0
    return module


def without(monkeypatch, name: str) -> None:
    monkeypatch.setitem(sys.modules, name, None)  # import of a None entry raises ImportError


def test_gpu_and_process_stats_with_both_libraries(monkeypatch, fake_psutil):
    nvml = FakeNVML()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    with MachineMonitor(gpu=0) as monitor:
        stats = monitor.sample()
        assert stats == MachineStats(cpu_percent=97.4, rss_bytes=812 * MIB, gpu_name="NVIDIA H200",
                                     gpu_memory_used=3 * GIB, gpu_memory_total=140 * GIB, gpu_utilization=45)
        assert stats.short_text() == "H200 · gpu 45% · vram 3.0/140 GiB · cpu 97% · rss 812 MiB"
        nvml.util, nvml.used = 99, 70 * GIB
        for _ in range(5):
            stats = monitor.sample()
        assert stats.gpu_utilization == 99 and stats.gpu_memory_used == 70 * GIB
    # cheap to call often: NVML initialised and the device looked up once, not per sample
    assert nvml.calls == ["init", "handle 0", "shutdown"]
    assert FakeProcess.instances == 1


def test_no_gpu_library_leaves_gpu_out_quietly(monkeypatch, fake_psutil, capsys):
    without(monkeypatch, "pynvml")
    stats = MachineMonitor(gpu=0).sample()
    assert not stats.has_gpu
    assert stats.short_text() == "cpu 97% · rss 812 MiB"
    assert capsys.readouterr() == ("", "")


def test_no_driver_leaves_gpu_out(monkeypatch, fake_psutil):
    nvml = FakeNVML(init_fails=True)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    stats = MachineMonitor(gpu=0).sample()
    assert not stats.has_gpu and stats.cpu_percent == 97.4
    assert nvml.calls == ["init"]


def test_no_psutil_leaves_process_out(monkeypatch):
    without(monkeypatch, "psutil")
    monkeypatch.setitem(sys.modules, "pynvml", FakeNVML(name=b"NVIDIA GeForce RTX 4090"))
    stats = MachineMonitor(gpu=0).sample()
    assert stats.cpu_percent is None and stats.rss_bytes is None
    assert stats.short_text() == "RTX 4090 · gpu 45% · vram 3.0/140 GiB"


def test_neither_library_gives_empty_text(monkeypatch):
    without(monkeypatch, "psutil")
    without(monkeypatch, "pynvml")
    stats = MachineMonitor(gpu=0).sample()
    assert stats == MachineStats()
    assert stats.short_text() == "" and stats.short_text(80) == ""


def test_a_failing_gpu_call_drops_only_that_value(monkeypatch, fake_psutil):
    nvml = FakeNVML()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monitor = MachineMonitor(gpu=0)
    nvml.broken = True
    stats = monitor.sample()
    assert stats.gpu_name == "NVIDIA H200" and stats.gpu_utilization is None and stats.gpu_memory_used is None
    assert stats.short_text() == "H200 · cpu 97% · rss 812 MiB"


def test_cpu_device_opens_no_gpu(monkeypatch, fake_psutil):
    nvml = FakeNVML()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    assert not monitor_for("cpu").sample().has_gpu
    assert not monitor_for("mps").sample().has_gpu
    assert nvml.calls == []
    assert monitor_for("cuda:1").sample().has_gpu
    assert nvml.calls == ["init", "handle 1"]


@pytest.mark.parametrize("device, visible, expected", [
    ("cpu", None, None),
    ("cuda", None, 0),
    ("cuda:1", None, 1),
    ("cuda", "2,3", 2),
    ("cuda:1", "2,3", 3),
    ("cuda:2", "2,3", None),
    ("cuda", "GPU-8f1c", "GPU-8f1c"),
    ("cuda", "", 0),
])
def test_nvml_index_follows_cuda_visible_devices(device, visible, expected):
    environ = {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}
    assert nvml_index_for(device, environ) == expected


def test_short_text_drops_whole_parts_by_priority():
    stats = MachineStats(cpu_percent=97.4, rss_bytes=812 * MIB, gpu_name="NVIDIA H200",
                         gpu_memory_used=3 * GIB, gpu_memory_total=140 * GIB, gpu_utilization=45)
    full = stats.short_text()
    assert stats.short_text(len(full)) == full
    # name goes first, then rss, then cpu, then memory; gpu utilisation stays longest
    assert stats.short_text(len(full) - 1) == "gpu 45% · vram 3.0/140 GiB · cpu 97% · rss 812 MiB"
    assert stats.short_text(40) == "gpu 45% · vram 3.0/140 GiB · cpu 97%"
    assert stats.short_text(27) == "gpu 45% · vram 3.0/140 GiB"
    assert stats.short_text(10) == "gpu 45%"
    assert stats.short_text(3) == ""
    for width in range(0, len(full) + 2):
        assert len(stats.short_text(width)) <= width
