"""Atomic outputs: write beside the target under a temporary name, then rename onto it.

A reader (or a resumed run) sees either the old file or the complete new one, never half a file,
even when the writer is killed with SIGKILL.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from centernet.errors import InputError


def temp_path_for(path: Path) -> Path:
    """`out/rendered.mp4` -> `out/.rendered.part.mp4`: hidden, and the suffix kept for OpenCV's muxer."""
    path = Path(path)
    return path.with_name(f".{path.stem}.part{path.suffix}")


@contextmanager
def atomic_file(path: Path, mode: str = "w", fsync: bool = False, newline: str | None = None):
    """`with atomic_file(p) as f: f.write(...)`: `p` appears only once the block has succeeded."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        with open(tmp, mode, newline=newline) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj, fsync: bool = False, indent: int | None = None,
                      sort_keys: bool = False) -> None:
    with atomic_file(path, fsync=fsync) as f:
        json.dump(obj, f, indent=indent, sort_keys=sort_keys)
        f.write("\n")

def why_unwritable(folder: Path) -> str | None:
    """Why no file can be created in `folder` (a file in the way, no permission, ...), or None when one can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return None
    except OSError as e:
        # a regular file where a folder should be: name it, errno's "File exists" does not help
        blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            return f"{blocker} is a file, not a folder"
        return e.strerror or str(e)


def ensure_writable_dir(path: Path, flag: str) -> Path:
    reason = why_unwritable(Path(path))
    if reason is not None:
        raise InputError(f"cannot write to {flag} {path}: {reason}; choose a folder you can write")
    return path


def ensure_writable_file(path: Path, flag: str) -> Path:
    """Refuse, before any work, a file destination that is a folder or lies where no file can be written."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"cannot write to {flag} {path}: it is a folder; give a file name")
    reason = why_unwritable(path.parent if str(path.parent) else Path("."))
    if reason is not None:
        raise InputError(f"cannot write to {flag} {path}: {reason}; choose a path you can write")
    return path


def remove_if_empty(folder: Path) -> None:
    """Undo the folder a failed run created, when it left nothing in it (never touches a folder with files)."""
    try:
        Path(folder).rmdir()
    except OSError:
        pass
