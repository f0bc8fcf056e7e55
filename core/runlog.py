"""The run directory: config.json, metrics.jsonl and checkpoint.pt, written and read back.

Everything a run produces goes through here so that the live app, `--watch`, `--resume` and
`--compare` all read one format. Writes that must survive a crash are atomic.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from core.events import Event, MalformedRecord, parse_record, to_record

if TYPE_CHECKING:
    from core.config import RunConfig

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
LOCK_FILE = ".lock"  # held (flock) by the one process writing the run; holds its pid
TORN_FILE = "metrics.jsonl.torn"  # a torn last line, kept aside when a resume repairs the log
RUN_FILES = (CONFIG_FILE, METRICS_FILE, CHECKPOINT_FILE, LOCK_FILE, TORN_FILE)
MAX_CONFIG_BYTES = 1_000_000  # a config.json is ~1 kB; a bigger one is not ours
MAX_RECORD_BYTES = 1_000_000  # the longest record (64 samples with pixels) is ~70 kB; a longer line is
                              # refused unparsed, so a hostile one cannot stall a viewer's UI thread
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


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
        refuse_symlinks(path)
        _probe_writable(path)
    except OSError as exc:
        raise RunDirError(f"run directory {short_path(path)} is not writable: {exc.strerror or exc}") from None
    return path


def short_path(path: Path | str, limit: int = 120) -> str:
    """A path for a one-line message: whole when short, else its head and tail; never a decoding error
    (a non-UTF-8 name shows its bytes escaped)."""
    text = os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else f"{text[:limit // 2 - 2]}...{text[-(limit // 2 - 1):]}"


def _probe_writable(path: Path) -> None:
    """Prove the directory takes new files. mkstemp creates with O_EXCL under a random name, so a
    planted `.write-test` symlink is never followed (the old fixed name truncated its target)."""
    fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=path)
    os.close(fd)
    os.unlink(probe)


def refuse_symlinks(run_dir: Path) -> None:
    """A run directory is a trust boundary: a symlink where a run file goes would make a writer
    write (or truncate) a file outside it. Refused up front, with one line."""
    for name in RUN_FILES:
        try:
            mode = os.lstat(run_dir / name).st_mode
        except OSError:
            continue
        if stat.S_ISLNK(mode):
            raise RunDirError(f"refusing {short_path(run_dir)}: {name} there is a symlink; a run directory "
                              f"holds plain files only")
        if not stat.S_ISREG(mode):
            raise RunDirError(f"refusing {short_path(run_dir)}: {name} there is not a plain file")


def open_run_file(path: Path, flags: int, mode: int = 0o644) -> int:
    """os.open that never follows a symlink at the file itself (O_NOFOLLOW): ELOOP becomes one line."""
    try:
        return os.open(path, flags | _NOFOLLOW, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunDirError(f"refusing to open {short_path(path)}: it is a symlink") from None
        raise


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
    for pattern in (f".{CHECKPOINT_FILE}.*.tmp", f".{CONFIG_FILE}.*.tmp", ".write-test.*"):
        for tmp in run_dir.glob(pattern):
            if tmp.is_symlink() or not tmp.is_file():
                continue
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def write_config(run_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(run_dir / CONFIG_FILE, lambda fh: fh.write(json.dumps(data, indent=2).encode()))


def read_config(run_dir: Path) -> dict[str, Any]:
    """config.json, checked against the config schema: a damaged or hostile file is one RunDirError
    naming it, never a TypeError later. The returned document's "config" is a valid RunConfig's dict."""
    from core.config import ConfigError, config_from_json

    path = run_dir / CONFIG_FILE
    where = short_path(path)
    try:
        fd = open_run_file(path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise RunDirError(f"{short_path(run_dir)} is not a run directory: no {CONFIG_FILE}") from None
    except OSError as exc:
        raise RunDirError(f"cannot read {where}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise RunDirError(f"cannot read {where}: larger than {MAX_CONFIG_BYTES:,} bytes, not a mnist-tui config")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise RunDirError(f"cannot read {where}: not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise RunDirError(f"cannot read {where}: not a mnist-tui config (no \"config\" object)")
    try:
        config_from_json(data["config"])
    except ConfigError as exc:
        raise RunDirError(f"cannot read {where}: {exc}") from None
    if not isinstance(data.get("data_dir"), (str, type(None))):
        raise RunDirError(f"cannot read {where}: data_dir is not a path")
    return data


def load_config(run_dir: Path) -> "RunConfig":
    """The RunConfig a run directory was created with (validated; see read_config)."""
    from core.config import config_from_json

    return config_from_json(read_config(run_dir)["config"])


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
    import pickle
    import warnings

    try:
        with warnings.catch_warnings():  # e.g. a protocol-4 pickle's UserWarning: the refusal below says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files; all mean the same to the user
        # our own words, whole: torch's message is pages of advice (and, cut short, ends mid-word)
        why = ("it holds objects other than tensors and numbers, which are never loaded"
               if isinstance(exc, pickle.UnpicklingError) else "cut short, or another kind of file")
        raise CheckpointError(f"checkpoint {short_path(path)} is damaged or not a mnist-tui checkpoint ({why})") from None
    if not isinstance(state, dict) or "model" not in state or "format" not in state:
        raise CheckpointError(f"checkpoint {path} is not a mnist-tui checkpoint")
    return state


ERROR_LOG = "error.log"


def error_log_dir(run_dir: Path | None = None) -> Path:
    """Where a crash's traceback goes: the run directory when there is one (it travels with the run
    into a bug report), else $XDG_STATE_HOME/mnist-tui (~/.local/state/mnist-tui): never a fixed
    name in a shared /tmp, where another user could plant a symlink."""
    if run_dir is not None and Path(run_dir).is_dir():
        return Path(run_dir)
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "mnist-tui"


def write_error_log(text: str, run_dir: Path | None = None) -> Path | None:
    """The one writer of the crash log: atomically (temp file + rename, so a planted symlink is
    replaced, never followed); the path written, or None if it could not be."""
    directory = error_log_dir(run_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / ERROR_LOG
        atomic_write_bytes(path, lambda fh: fh.write(text.encode("utf-8", "backslashreplace")))
        return path
    except OSError:
        return None


def check_resumable(run_dir: Path) -> None:
    """What claim_run_dir(resume=True) would refuse, checked without writing anything: for a caller
    that hands the run to another process (the app's engine), so the user hears at once."""
    where = short_path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"cannot resume {where}: not a run directory (no such directory)")
    refuse_symlinks(run_dir)
    if writer_pid(run_dir) is not None:
        raise _in_use(run_dir)
    if not (run_dir / CHECKPOINT_FILE).is_file():
        _check_restartable(run_dir)


class RunDirClaim:
    """This process's claim on a run directory: an exclusive flock on LOCK_FILE, which holds our pid.

    Taken before anything else is written (config.json included) and before torch is imported, so a
    second writer, a new run or a resume, is refused within a second with the holder's pid, as git
    refuses a second writer of index.lock. The lock goes with the file descriptor: a kill -9 frees it,
    which is how a watcher tells a live writer from a gone one. `restart`: a --resume found no
    checkpoint (the first one never completed), so the run starts again from step 0 in place.
    """

    def __init__(self, run_dir: Path, fd: int | None, created_lock: bool = False, restart: bool = False) -> None:
        self.run_dir, self._fd, self.created_lock, self.restart = run_dir, fd, created_lock, restart
        self.repaired: str | None = None  # a message when a torn last line was set aside

    def release(self, discard_dir: bool = False) -> None:
        """Give the directory up; discard_dir: the run wrote nothing, so leave no (empty) directory behind."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if discard_dir:
            if self.created_lock:
                try:
                    os.unlink(self.run_dir / LOCK_FILE)
                except OSError:
                    pass
            try:
                self.run_dir.rmdir()
            except OSError:
                pass

    @property
    def held(self) -> bool:
        return self._fd is not None


def _flock(fd: int, shared: bool = False) -> bool:
    """Try to take the lock without waiting; True if taken (or if locks are unsupported here)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; runs are then not protected against a second writer
        return True
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return True  # a file system without locks (some network mounts): carry on unprotected
    return True


def _holder_pid(run_dir: Path) -> int | None:
    try:
        fd = open_run_file(run_dir / LOCK_FILE, os.O_RDONLY)
    except (OSError, RunDirError):
        return None
    try:
        text = os.read(fd, 32).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    return int(text) if text.isdigit() else None


def _in_use(run_dir: Path) -> RunDirError:
    pid = _holder_pid(run_dir)
    holder = f"mnist-tui pid {pid}" if pid else "another running mnist-tui"
    where = short_path(run_dir)
    return RunDirError(f"run directory {where} is in use by {holder}; watch it with --watch {where}")


def lock_run_dir(run_dir: Path, tries: int = 5) -> int:
    """Open LOCK_FILE (never through a symlink) and take its exclusive lock; the fd holds it.

    A watcher probing the lock holds a shared lock for microseconds, so a refused attempt is
    retried a few times (0.2 s in all) before the directory is called in use."""
    fd = open_run_file(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    for attempt in range(tries):
        if _flock(fd):
            break
        if attempt == tries - 1:
            os.close(fd)
            raise _in_use(run_dir)
        time.sleep(0.05)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:
        os.close(fd)
        raise
    return fd


def writer_pid(run_dir: Path) -> int | None:
    """The pid of a live writer of run_dir (0 if it holds the lock but its pid is unknown), or None
    when no process holds it. Reads nothing but the lock; never blocks."""
    for name in (LOCK_FILE, METRICS_FILE):  # metrics.jsonl: what writers before LOCK_FILE locked
        try:
            fd = open_run_file(run_dir / name, os.O_RDONLY)
        except (OSError, RunDirError):
            continue
        try:
            if not _flock(fd, shared=True):
                return (_holder_pid(run_dir) or 0) if name == LOCK_FILE else 0
        finally:
            os.close(fd)  # also drops the shared lock just taken
    return None


def _only_leftovers(run_dir: Path) -> bool:
    """Whether a directory holds nothing but what a claim or a killed write leaves (reusable)."""
    for entry in run_dir.iterdir():
        name = entry.name
        if name == LOCK_FILE or (name.startswith(".") and name.endswith(".tmp")) or name.startswith(".write-test."):
            continue
        return False
    return True


def claim_run_dir(run_dir: Path, resume: bool = False) -> RunDirClaim:
    """Create (new run) or reopen (--resume) a run directory and claim it for this process.

    In order: refuse what cannot work without touching anything, take the lock, check again under
    it (two runs started at once into one --run-dir: exactly one gets it), then tidy up what a
    killed writer left (temp files, a torn last line) and prove the directory writable.
    """
    run_dir = Path(run_dir)
    where = short_path(run_dir)
    try:
        if resume:
            if not run_dir.is_dir():
                raise RunDirError(f"cannot resume {where}: not a run directory (no such directory)")
            refuse_symlinks(run_dir)
            if not (run_dir / CHECKPOINT_FILE).is_file() and not (run_dir / CONFIG_FILE).is_file():
                raise RunDirError(f"cannot resume {where}: no {CHECKPOINT_FILE} there")
        else:
            if run_dir.exists() and (not run_dir.is_dir() or not _only_leftovers(run_dir)):
                raise RunDirError(f"run directory {where} already exists; choose another --run-dir "
                                  f"or use --resume {where}")
            run_dir.mkdir(parents=True, exist_ok=True)
            refuse_symlinks(run_dir)
        created_lock = not os.path.lexists(run_dir / LOCK_FILE)
        fd = lock_run_dir(run_dir)
    except OSError as exc:
        raise RunDirError(f"run directory {where} is not writable: {exc.strerror or exc}") from None
    claim = RunDirClaim(run_dir, fd, created_lock=created_lock)
    try:
        refuse_symlinks(run_dir)
        if resume:
            claim.repaired = repair_torn_line(run_dir)
            if not (run_dir / CHECKPOINT_FILE).is_file():
                _check_restartable(run_dir)
                claim.restart = True
        elif not _only_leftovers(run_dir):  # another run got here first and already finished
            raise RunDirError(f"run directory {where} already exists; choose another --run-dir "
                              f"or use --resume {where}")
        remove_stale_temp_files(run_dir)
        _probe_writable(run_dir)
    except OSError as exc:
        claim.release()
        raise RunDirError(f"run directory {where} is not writable: {exc.strerror or exc}") from None
    except BaseException:
        claim.release()
        raise
    return claim


def _check_restartable(run_dir: Path) -> None:
    """No checkpoint.pt: fine only when its first write never completed (a kill -9 right after the
    run started: the log then holds no training record, as the first checkpoint precedes step 1).
    Then the run restarts from step 0 in place; a log with training in it lost its checkpoint."""
    where = short_path(run_dir)
    try:
        trained = any(e.type in ("step", "epoch") for e in read_log(run_dir)[0])
    except RunDirError:
        trained = False  # no log at all: nothing trained either
    if trained:
        raise RunDirError(f"cannot resume {where}: no {CHECKPOINT_FILE} there")
    read_config(run_dir)  # the config the restart trains with must be readable


def repair_torn_line(run_dir: Path) -> str | None:
    """Cut an unfinished last line (a full disk or a kill mid-write) off metrics.jsonl before a resume
    appends to it; the fragment is kept in TORN_FILE. Returns a message when something was cut.
    Without this the resume's first record would be glued to the fragment and lost with it."""
    path = run_dir / METRICS_FILE
    try:
        fd = open_run_file(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return None
        os.lseek(fd, size - 1, os.SEEK_SET)
        if os.read(fd, 1) == b"\n":
            return None
        end, block = size, 65536  # find the last newline, reading backwards
        keep = 0
        while end > 0:
            start = max(0, end - block)
            os.lseek(fd, start, os.SEEK_SET)
            chunk = os.read(fd, end - start)
            at = chunk.rfind(b"\n")
            if at >= 0:
                keep = start + at + 1
                break
            end = start
        os.lseek(fd, keep, os.SEEK_SET)
        fragment = os.read(fd, size - keep)
        side = open_run_file(run_dir / TORN_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            os.write(side, fragment + b"\n")
            os.fsync(side)
        finally:
            os.close(side)
        os.ftruncate(fd, keep)
        os.fsync(fd)
    finally:
        os.close(fd)
    return f"repaired {METRICS_FILE}: an unfinished last line ({size - keep} bytes) was moved to {TORN_FILE}"


class RunLog:
    """The JSONL sink: one line per event, flushed at once so `--watch` sees it live.

    claim: the run directory's claim, held by the caller; without one the log claims the
    directory's lock itself (and gives it up on close), so it never writes beside another writer.
    """

    def __init__(self, run_dir: Path, claim: RunDirClaim | None = None) -> None:
        self.path = run_dir / METRICS_FILE
        self._own_lock = None if claim is not None else lock_run_dir(run_dir)
        try:
            fd = open_run_file(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        except BaseException:
            if self._own_lock is not None:
                os.close(self._own_lock)
            raise
        self._fh = os.fdopen(fd, "a", encoding="utf-8")

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
        if self._own_lock is not None:
            os.close(self._own_lock)
            self._own_lock = None


def _parse_line(line: bytes | str) -> tuple[Event | None, bool]:
    """(event, malformed) for one complete line: JSON that is not an object, or a known record whose
    fields are wrong, is malformed; a record type this version does not know is skipped quietly."""
    if len(line) > MAX_RECORD_BYTES:
        return None, True
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: a line of 200,000 "["
        return None, bool(line.strip())
    try:
        return parse_record(record), False
    except MalformedRecord:
        return None, True


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete, valid JSON record of a finished log; damaged lines are skipped."""
    fd = open_run_file(path, os.O_RDONLY)
    with os.fdopen(fd, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(record, dict):
                yield record


def read_log(run_dir: Path) -> tuple[list[Event], int]:
    """The events of a run's log and how many malformed records were skipped (for the user to see)."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        raise RunDirError(f"{short_path(run_dir)} is not a run directory: no {METRICS_FILE}")
    events: list[Event] = []
    malformed = 0
    try:
        fd = open_run_file(path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # a torn last line: the writer is still writing it, or was killed mid-line
                event, bad = _parse_line(line.decode("utf-8", errors="replace"))
                malformed += bad
                if event is not None:
                    events.append(event)
    except OSError as exc:
        raise RunDirError(f"cannot read {short_path(path)}: {exc.strerror or exc}") from None
    return events, malformed


def read_events(run_dir: Path) -> list[Event]:
    return read_log(run_dir)[0]


def skipped_note(malformed: int) -> str:
    """What the user sees about skipped records (empty when none were)."""
    return f"{malformed} malformed record{'s' if malformed != 1 else ''} skipped" if malformed else ""


class MetricsTail:
    """Incremental reader of a metrics.jsonl another process is writing.

    Keeps a partial last line until its newline arrives, starts over if the file is truncated
    or replaced, and reports a deleted file instead of raising. `malformed` counts the records
    skipped as damaged since the (re)start.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self._inode: int | None = None
        self.missing = False
        self.restarted = False
        self.malformed = 0

    def poll(self) -> list[Event]:
        self.restarted = False
        try:
            stat_ = self.path.stat()
        except OSError:
            self.missing = True
            return []
        came_back, self.missing = self.missing, False
        # A file that was gone and is back is a new file even if the file system reused its inode
        # number (common right after a delete), so it is read from the start like a replaced one.
        if self._inode is not None and (came_back or stat_.st_ino != self._inode or stat_.st_size < self._offset):
            self._offset, self._partial, self.restarted, self.malformed = 0, b"", True, 0
        self._inode = stat_.st_ino
        if stat_.st_size == self._offset:
            return []
        try:
            fd = open_run_file(self.path, os.O_RDONLY)
            with os.fdopen(fd, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
                self._offset = fh.tell()
        except (OSError, RunDirError):
            self.missing = True
            return []
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        events: list[Event] = []
        for line in lines:
            event, bad = _parse_line(line.decode("utf-8", errors="replace"))
            self.malformed += bad
            if event is not None:
                events.append(event)
        return events
