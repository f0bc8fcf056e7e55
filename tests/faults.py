"""Fault injection for tests: a disk that fills up after a given number of bytes.

Test-only, so it lives under tests/ and the engine package ships nothing that breaks writes on purpose.

A full disk is the failure people actually meet on shared GPU boxes (checkpoints on a small
/home), yet a real full file system cannot be made on demand without root (tmpfs or loop
mounts). This wraps the file writers of `core.runlog` (the JSONL log, the atomic config and
checkpoint writes) so that their raw writes fail with ENOSPC once a byte budget is spent.
Python's real buffering stays on top, so the error surfaces where a kernel's would: in
write(), flush() or close(), possibly after a partial write. Only runlog's writers are
affected; reads and every other module see the real disk.

    with disk_full_after(10_000) as disk:
        trainer.run()          # fails as on a real full disk
    disk.failed_writes         # how many writes were refused
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
from types import ModuleType
from typing import Any, Iterator


class FullDisk:
    """The shared byte budget of every file opened while the fault is active."""

    def __init__(self, budget: int) -> None:
        self.left = budget
        self.written = 0
        self.failed_writes = 0
        self.journal: list[tuple[str, int, int]] = []  # (file name, first byte, end) of each write

    def take(self, wanted: int, name: str = "") -> int:
        granted = min(wanted, self.left)
        self.left -= granted
        if granted:
            self.journal.append((name, self.written, self.written + granted))
        self.written += granted
        return granted


class _BudgetedRaw(io.RawIOBase):
    """A raw file whose writes succeed only while the disk has budget left, like a real one:
    a write that does not fit is partial, and the next one fails with ENOSPC."""

    def __init__(self, raw: io.FileIO, disk: FullDisk, label: str) -> None:
        super().__init__()
        self._raw, self._disk, self._label = raw, disk, label

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return self._raw.readable()

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def fileno(self) -> int:
        return self._raw.fileno()

    def readinto(self, buffer: Any) -> int | None:
        return self._raw.readinto(buffer)

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        granted = self._disk.take(len(view), self._label)
        if view.nbytes and not granted:
            self._disk.failed_writes += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._label)
        return self._raw.write(view[:granted])

    def close(self) -> None:
        if not self.closed:
            try:
                super().close()
            finally:
                self._raw.close()

    @property
    def name(self) -> Any:
        return self._raw.name


def _wrap(raw: io.FileIO, mode: str, disk: FullDisk, encoding: str | None, errors: str | None,
          newline: str | None) -> Any:
    name = raw.name
    if isinstance(name, int):  # opened from a descriptor (mkstemp): find its path for the journal
        try:
            name = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            name = f"fd {name}"
    buffered = io.BufferedWriter(_BudgetedRaw(raw, disk, os.path.basename(str(name))))
    if "b" in mode:
        return buffered
    return io.TextIOWrapper(buffered, encoding=encoding or "utf-8", errors=errors, newline=newline)


def _raw_mode(mode: str) -> str:
    return mode.replace("b", "").replace("t", "")


@contextlib.contextmanager
def disk_full_after(budget: int, module: ModuleType | None = None) -> Iterator[FullDisk]:
    """Make `module`'s (default core.runlog) file writes fail with ENOSPC after `budget` bytes."""
    if module is None:
        from core import runlog as module
    disk = FullDisk(budget)
    real_os = module.os

    def fake_open(file: Any, mode: str = "r", buffering: int = -1, encoding: str | None = None,
                  errors: str | None = None, newline: str | None = None, closefd: bool = True, opener: Any = None):
        if not any(c in mode for c in "wax+"):
            return open(file, mode, buffering, encoding, errors, newline, closefd, opener)
        return _wrap(io.FileIO(file, _raw_mode(mode), closefd=closefd, opener=opener), mode, disk, encoding,
                     errors, newline)

    def fake_fdopen(fd: int, mode: str = "r", buffering: int = -1, encoding: str | None = None, *args: Any,
                    **kwargs: Any):
        if not any(c in mode for c in "wax+"):
            return os.fdopen(fd, mode, buffering, encoding, *args, **kwargs)
        return _wrap(io.FileIO(fd, _raw_mode(mode), closefd=True), mode, disk, encoding, None, None)

    class _Os:
        """`os` for the patched module, with fdopen budgeted and everything else real."""

        fdopen = staticmethod(fake_fdopen)

        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

    module.open = fake_open  # shadows the builtin for this module only
    module.os = _Os()
    try:
        yield disk
    finally:
        module.os = real_os
        del module.open
