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
from typing import Iterator

from centernet.errors import InputError


def temp_path_for(path: Path) -> Path:
    """`out/rendered.mp4` -> `out/.rendered.part.mp4`: hidden, and the suffix kept for OpenCV's muxer."""
    path = Path(path)
    return path.with_name(f".{path.stem}.part{path.suffix}")


@contextmanager
def atomic_path(path: Path, unique: bool = True) -> Iterator[Path]:
    """`with atomic_path(p) as tmp: save(obj, tmp)`: the one write-then-rename of the library.

    Yields the temporary path to write (for writers that take a file name: torch.save, onnx.save,
    savefig); `p` appears only once the block has succeeded, and a failed block leaves no temporary.
    `unique` names the temporary `p.name.XXXX.part` (mkstemp), so processes writing the same target at
    once (Ray workers filling a model cache) never share one; otherwise it is `temp_path_for(p)`, a fixed
    name that a resumed run knows to sweep.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if unique:
        fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    else:
        tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_file(path: Path, mode: str = "w", fsync: bool = False, newline: str | None = None):
    """`with atomic_file(p) as f: f.write(...)`: `p` appears only once the block has succeeded."""
    with atomic_path(path, unique=False) as tmp, open(tmp, mode, newline=newline) as f:
        yield f
        f.flush()
        if fsync:
            os.fsync(f.fileno())


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
