"""One writer per output folder: an OS file lock that dies with the process holding it.

`with output_lock(folder): ...` takes `fcntl.flock` on `folder/.centernet.lock` and stores who holds it
(pid, host, start time, command). The kernel drops the lock when the process ends, however it ends
(kill -9 included), so a crashed run never leaves a stale lock behind: the next run simply gets it.
A second writer is refused with a `FolderInUseError` that names the run holding the folder.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from centernet.errors import InputError

LOCK_NAME = ".centernet.lock"


class FolderInUseError(InputError):
    """Another live run writes into the same output folder."""


@dataclass(frozen=True)
class LockOwner:
    pid: int | None
    host: str
    started: str
    command: str

    def describe(self) -> str:
        who = f"pid {self.pid} on {self.host}" if self.pid else "another run"
        when = f", started {self.started}" if self.started else ""
        what = f": {self.command}" if self.command else ""
        return f"{who}{when}{what}"


def this_run() -> LockOwner:
    return LockOwner(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%d %H:%M:%S"),
                     " ".join(sys.argv)[:300])


def read_owner(lock_path: Path) -> LockOwner:
    """What the holder wrote in its lock file (blank fields while it is still writing them)."""
    try:
        info = json.loads(Path(lock_path).read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    return LockOwner(info.get("pid"), str(info.get("host", "")), str(info.get("started", "")),
                     str(info.get("command", "")))


def _try_lock(lock_path: Path) -> int | None:
    """An open descriptor holding the lock, or None when a live run holds it.

    Retries when the file was replaced between open and flock (a holder removes its lock file when it
    is done), so two runs can never each lock a different copy of the file.
    """
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def holder(folder: Path) -> LockOwner | None:
    """The live run writing into `folder`, or None (also when the folder or its lock file does not exist)."""
    lock_path = Path(folder) / LOCK_NAME
    if not lock_path.exists():
        return None
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return read_owner(lock_path)
    finally:
        os.close(fd)
    return None


def in_use_error(folder: Path, owner: LockOwner) -> FolderInUseError:
    return FolderInUseError(f"output folder {folder} is in use by {owner.describe()}; wait for that run to "
                            f"finish or stop it, or choose another --out")


@contextmanager
def output_lock(folder: Path, remove_if_empty: bool = True):
    """Hold `folder` for this process for the block. Creates the folder; if it created it and the block
    leaves nothing in it (a run that failed early), removes it again so no empty folder is left behind."""
    folder = Path(folder)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock_path = folder / LOCK_NAME
        fd = _try_lock(lock_path)
    except OSError as e:
        raise InputError(f"cannot write to {folder}: {e.strerror or e}; choose a folder you can write") from None
    if fd is None:
        raise in_use_error(folder, read_owner(lock_path))
    try:
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(this_run().__dict__) + "\n").encode())
        yield lock_path
    finally:
        lock_path.unlink(missing_ok=True)   # still holding it: a waiting run re-opens the path (see _try_lock)
        os.close(fd)
        if created and remove_if_empty:
            try:
                folder.rmdir()             # only succeeds when empty
            except OSError:
                pass
