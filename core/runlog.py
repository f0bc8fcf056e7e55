"""The run directory: config.json, metrics.jsonl and checkpoint.pt, written and read back.

Everything a run produces goes through here so that the live app, `--watch`, `--resume` and
`--compare` all read one format. Writes that must survive a crash are atomic.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from core.events import Event, from_record, to_record

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"


class RunDirError(Exception):
    """The run directory cannot be used (exists, unwritable, not a run)."""


class CheckpointError(Exception):
    """A checkpoint is missing, damaged, or belongs to a different model."""


def default_run_dir(name: str, base: Path | None = None) -> Path:
    """runs/<YYYYmmdd-HHMMSS>-<name>, with a numeric suffix rather than ever reusing a directory."""
    base = base or Path("runs")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = base / f"{stamp}-{name}"
    n = 2
    while candidate.exists():
        candidate = base / f"{stamp}-{name}-{n}"
        n += 1
    return candidate


def create_new_run_dir(name: str, base: Path | None = None) -> Path:
    """Create and claim a fresh default run directory.

    default_run_dir only checks names; two runs started in the same second (a shell loop, two
    panes) would both pick the same one. mkdir without exist_ok is atomic, so exactly one wins
    each name and the other moves on to the next suffix.
    """
    while True:
        candidate = default_run_dir(name, base)
        try:
            if not candidate.parent.is_dir():
                candidate.parent.mkdir(parents=True)
            candidate.mkdir()
        except FileExistsError:
            if not candidate.parent.is_dir():
                raise RunDirError(f"cannot create run directory {candidate}: {candidate.parent} is not a directory") from None
            continue  # another run took this name a moment ago; default_run_dir picks the next suffix
        except OSError as exc:
            raise RunDirError(f"cannot create run directory {candidate}: {exc.strerror or exc}") from None
        return candidate


def is_run_dir(path: Path) -> bool:
    return (path / METRICS_FILE).exists() or (path / CONFIG_FILE).exists() or (path / CHECKPOINT_FILE).exists()


def prepare_run_dir(path: Path, resume: bool = False) -> Path:
    """Create (or, when resuming, reopen) a run directory and prove it is writable."""
    if resume:
        if not (path / CHECKPOINT_FILE).is_file():
            raise RunDirError(f"cannot resume {path}: no {CHECKPOINT_FILE} there")
    elif path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise RunDirError(f"run directory {path} already exists; choose another --run-dir or use --resume {path}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise RunDirError(f"run directory {path} is not writable: {exc.strerror or exc}") from None
    return path


def atomic_write_bytes(path: Path, writer) -> None:
    """Write via a temp file in the same directory, fsync, then os.replace: never a half file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (a power cut could otherwise bring the old name back)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def remove_stale_temp_files(run_dir: Path) -> list[Path]:
    """Delete the temp files of atomic writes that a kill -9 or forced exit cut short.

    Call only while holding the run directory (an open RunLog): then no live writer owns them.
    """
    removed = []
    for name in (CHECKPOINT_FILE, CONFIG_FILE):
        for tmp in run_dir.glob(f".{name}.*.tmp"):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def write_config(run_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(run_dir / CONFIG_FILE, lambda fh: fh.write(json.dumps(data, indent=2).encode()))


def read_config(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / CONFIG_FILE).read_text())
    except FileNotFoundError:
        raise RunDirError(f"{run_dir} is not a run directory: no {CONFIG_FILE}") from None
    except (OSError, ValueError) as exc:
        raise RunDirError(f"cannot read {run_dir / CONFIG_FILE}: {exc}") from None


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import io

    import torch  # imported here so the app can tail a log without loading torch

    # Serialise in memory first: torch.save into a file that fails mid-write (a full disk) raises
    # an opaque RuntimeError ("unexpected pos"); writing the bytes ourselves keeps it an OSError.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, lambda fh: fh.write(buffer.getbuffer()))


def load_checkpoint(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load with weights_only=True: a checkpoint is data, never code to run."""
    import torch

    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files; all mean the same to the user
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} is damaged or not a mnist-tui checkpoint ({first_line[:120]})") from None
    if not isinstance(state, dict) or "model" not in state or "format" not in state:
        raise CheckpointError(f"checkpoint {path} is not a mnist-tui checkpoint")
    return state


class RunLog:
    """The JSONL sink: one line per event, flushed at once so `--watch` sees it live."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / METRICS_FILE
        self._fh = open(self.path, "a", encoding="utf-8")
        self._lock(run_dir)

    def _lock(self, run_dir: Path) -> None:
        """Hold an advisory lock on the log while writing it, so a second process resuming the
        same run (another terminal, a retry loop) is refused instead of interleaving records and
        overwriting checkpoints. The lock goes with the file descriptor, even on kill -9."""
        try:
            import fcntl
        except ImportError:  # Windows: no flock; runs are then not protected against this
            return
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise RunDirError(f"run directory {run_dir} is in use by another running mnist-tui; "
                              f"watch it with --watch {run_dir}") from None
        except OSError:
            pass  # a file system without locks (some network mounts): carry on unprotected

    def __call__(self, event: Event) -> None:
        self._fh.write(json.dumps(to_record(event), separators=(",", ":")) + "\n")
        self._fh.flush()
        if event.type in ("epoch", "end"):
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close (and unlock) the log. Records are flushed as they are written, so a close can
        only fail over a record whose write already failed (a full disk) and was reported."""
        if not self._fh.closed:
            try:
                self._fh.close()
            except OSError:
                pass


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete, valid JSON record of a finished log; damaged lines are skipped."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


def read_events(run_dir: Path) -> list[Event]:
    path = run_dir / METRICS_FILE
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a run directory: no {METRICS_FILE}")
    return [e for r in iter_records(path) if (e := from_record(r)) is not None]


class MetricsTail:
    """Incremental reader of a metrics.jsonl another process is writing.

    Keeps a partial last line until its newline arrives, starts over if the file is truncated
    or replaced, and reports a deleted file instead of raising.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self._inode: int | None = None
        self.missing = False
        self.restarted = False

    def poll(self) -> list[Event]:
        self.restarted = False
        try:
            stat = self.path.stat()
        except OSError:
            self.missing = True
            return []
        came_back, self.missing = self.missing, False
        # A file that was gone and is back is a new file even if the file system reused its inode
        # number (common right after a delete), so it is read from the start like a replaced one.
        if self._inode is not None and (came_back or stat.st_ino != self._inode or stat.st_size < self._offset):
            self._offset, self._partial, self.restarted = 0, b"", True
        self._inode = stat.st_ino
        if stat.st_size == self._offset:
            return []
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
                self._offset = fh.tell()
        except OSError:
            self.missing = True
            return []
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        events: list[Event] = []
        for line in lines:
            try:
                record = json.loads(line.decode("utf-8", errors="replace"))
            except ValueError:
                continue
            if isinstance(record, dict) and (event := from_record(record)) is not None:
                events.append(event)
        return events
