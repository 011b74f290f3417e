"""Safe handling of the folders the ``vpp-gym`` commands write: locks, fresh output folders, atomic files.

Nothing here deletes a file it did not write in the same invocation. Shared by training runs
(:mod:`agents.rl.train`) and evaluations (:mod:`agents.report`, :mod:`agents.cli`):

- :class:`FolderLock`: an OS file lock on ``FOLDER/.lock`` (``fcntl.flock``; ``msvcrt.locking`` on
  Windows), held while a command writes the folder and released when it exits, also on a crash or a
  kill (the OS drops the lock with the process). A second command on the same folder is refused
  with a message naming the holder.
- :func:`claim_output_folder`: an evaluation's output folder must be new or empty (it is then locked),
  so no user file is overwritten and no stale output of an earlier evaluation is left beside a new
  report; :func:`fresh_folder` makes a new timestamped one.
- :func:`read_json`, :func:`write_text_atomic`, :func:`fsync_tree`: files read with errors naming the
  file, written whole or not at all.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

LOCK_NAME = ".lock"
INCOMPLETE = "INCOMPLETE"
"""Marker file of a run that has not finished (removed when it has): SB3 and RLlib run folders."""
"""The lock file inside a locked folder."""


class RunFolderError(ValueError):
    """A run or output folder cannot be used as asked: in use, not empty, missing or corrupt files.

    The message names the folder or file and what to do.
    """


def _lock_fd(fh: IO[str]) -> bool:
    """Take an exclusive, non-blocking lock on the open file; False if another process holds it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class FolderLock:
    """An exclusive OS lock on ``folder/.lock``, held from :meth:`acquire` to :meth:`release`.

    The lock file records the holder (process id, command, start time) for the message a second
    process gets. The OS releases the lock when the process ends, however it ends.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fh: IO[str] | None = None

    def acquire(self, what: str = "vpp-gym") -> FolderLock:
        """Take the lock (the folder must exist); a :class:`RunFolderError` naming the holder if it is taken."""
        fh = self.path.open("a+", encoding="utf-8")
        if not _lock_fd(fh):
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise RunFolderError(
                f"{self.folder} is in use by {holder}; wait for it to finish or choose another folder "
                "(two commands writing one folder would mix their files)"
            )
        fh.seek(0)
        fh.truncate()
        command = " ".join(["vpp-gym", *sys.argv[1:]]) if sys.argv and sys.argv[0] else what
        fh.write(f"{what} (pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}: {command})\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self, remove: bool = False) -> None:
        """Release the lock (and remove the lock file if ``remove``: for folders whose listing matters)."""
        if self._fh is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        self._fh.close()  # closing the descriptor drops the lock
        self._fh = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fh is not None

    def __enter__(self) -> FolderLock:
        return self if self.held else self.acquire()

    def __exit__(self, tp: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def contents(folder: Path, ignore: tuple[str, ...] = (LOCK_NAME,)) -> list[str]:
    """Names in ``folder`` (sorted, folders with a trailing ``/``), leaving out ``ignore``."""
    return sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if p.name not in ignore)


def _listing(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def make_folder(path: Path, option: str = "--out") -> None:
    """Create ``path`` (and parents) unless it is a folder already; a :class:`RunFolderError` if it is a file."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise RunFolderError(f"{option} {p} is a file, not a folder; give a folder path")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise RunFolderError(f"{option} {p}: a part of the path is a file, not a folder") from None
    except PermissionError as err:
        raise RunFolderError(f"{option} {p}: cannot create the folder ({err.strerror})") from None


def claim_output_folder(path: Path, what: str, option: str = "--out") -> FolderLock:
    """Create and lock ``path`` for a command's outputs; it must be new or empty.

    Raises:
        RunFolderError: ``path`` is a file, is in use, or holds anything (named, with what to do).
    """
    folder = Path(path)
    make_folder(folder, option)
    lock = FolderLock(folder).acquire(what)
    found = contents(folder)
    if found:
        lock.release()
        raise RunFolderError(
            f"{option} {folder} is not empty (it holds {_listing(found)}); outputs go into a new or empty "
            f"folder so that nothing in it is overwritten or mixed up with them: give another {option}, or "
            "leave it out for a fresh timestamped folder"
        )
    return lock


def fresh_folder(base: Path) -> Path:
    """Create and return a new folder ``base`` (or ``base-2``, ``base-3``, ... if taken): never an existing one."""
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 10_000):
        candidate = base if k == 1 else base.with_name(f"{base.name}-{k}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RunFolderError(f"no free folder name next to {base}")


def read_json(path: Path, what: str = "") -> Any:
    """Read a JSON file; a :class:`RunFolderError` naming the file if it is missing, truncated or not JSON."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunFolderError(f"{p} is missing{': ' + what if what else ''}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RunFolderError(f"{p}: cannot read it ({err})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise RunFolderError(
            f"{p} is truncated or not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
            f"{what or 'the file is damaged'}"
        ) from None


def fsync_file(path: Path) -> None:
    """Flush a written file to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (renames, new files) to disk, where the platform allows it."""
    if sys.platform == "win32":  # pragma: no cover - folders cannot be opened there
        return
    fsync_file(path)  # the same open-fsync-close, on the folder


def fsync_tree(path: Path) -> None:
    """Flush every file below ``path`` and the folders themselves."""
    for p in sorted(Path(path).rglob("*")):
        if p.is_file():
            fsync_file(p)
    for p in sorted((q for q in Path(path).rglob("*") if q.is_dir()), key=lambda q: -len(q.parts)):
        fsync_dir(p)
    fsync_dir(Path(path))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (a temporary file, flushed, renamed over it)."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, p)
    fsync_dir(p.parent)


def truncate_curve(path: Path, last: int, column: str = "timesteps") -> None:
    """Drop the curve rows whose ``column`` is above ``last`` (evaluations after a checkpoint that a resume
    replays; ``column``: ``timesteps`` for SB3 runs, ``iteration`` for RLlib runs)."""
    if not path.is_file():
        return
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        [int(float(r[column])) for r in rows]
    except (csv.Error, KeyError, TypeError, ValueError) as err:
        raise RunFolderError(f"{path} is damaged (a row without a readable {column} column: {err})") from None
    if not rows:
        return
    kept = [r for r in rows if int(float(r[column])) <= last]
    if len(kept) == len(rows):
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(kept)
    write_text_atomic(path, buf.getvalue())
