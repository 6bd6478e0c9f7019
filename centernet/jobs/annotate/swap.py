"""`--overwrite` that never destroys good output: the new run of an input is built beside the old one,
in `out/.NAME.overwrite/`, and swapped in only when that input is complete:

    out/NAME -> out/.NAME.replaced;  out/.NAME.overwrite -> out/NAME;  out/.NAME.replaced removed

A run that fails or is killed before the swap leaves `out/NAME` exactly as it was. `--resume` continues
the unfinished new output (with the overwrite's settings, like any resume), and a plain rerun is refused
(plan_job). A kill between the two renames leaves the complete new output in `.NAME.overwrite`: the next
run over that folder completes the swap before anything else (`finish_swap`: plan_job, and each input's start).

The new output's folder is locked (`.centernet.lock`) for the whole run; the lock file travels with it in
the rename, so the output folder is never without its live lock, and is removed only after the swap.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from centernet.errors import InputError
from centernet.io.writers.lock import LOCK_NAME, output_lock

STATE_DIR = ".annotate"      # an output folder's resume state (state.py writes it; a swap reads its complete mark)
STATE_FILE = "state.json"


def staging_folder(folder: Path) -> Path:
    """Where `--overwrite` builds an input's new output, beside the old one."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}.overwrite"


def unfinished_overwrite_error(folder: Path) -> InputError:
    return InputError(f"output folder {folder} has an unfinished --overwrite run (the old output is kept): add "
                      f"--resume to finish it or --overwrite to start it again")


def replaced_folder(folder: Path) -> Path:
    """Where the old output waits between the two renames of a swap (removed right after)."""
    return folder.parent / f".{folder.name}.replaced"


def has_output(folder: Path) -> bool:
    """Anything worth keeping in `folder`: a lock file alone (a killed run's, or a live one's) is not."""
    return folder.is_dir() and any(entry.name != LOCK_NAME for entry in folder.iterdir())


def is_complete(folder: Path) -> bool:
    """The run in `folder` finished its input (the state's complete mark, written last)."""
    try:
        return bool(json.loads((folder / STATE_DIR / STATE_FILE).read_text()).get("complete"))
    except (OSError, ValueError, AttributeError):
        return False


def output_target(folder: Path, overwrite: bool, resume: bool) -> Path:
    """The folder a run writes into: the staging folder when it replaces existing output (--overwrite) or
    continues such a replacement (--resume); `folder` itself otherwise."""
    staged = staging_folder(folder)
    if staged.exists():
        if overwrite or resume:
            return staged
        raise unfinished_overwrite_error(folder)
    return staged if overwrite and has_output(folder) else folder


def swap_in(staged: Path, folder: Path) -> None:
    """Put the complete new output in `staged` in the place of `folder`. Call while holding the staged lock:
    the lock file moves with the folder, and is removed here once the swap is done."""
    old = replaced_folder(folder)
    if old.exists():
        shutil.rmtree(old)               # left by a kill during an earlier swap's clean-up
    if folder.exists():
        folder.rename(old)
    staged.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    (folder / LOCK_NAME).unlink(missing_ok=True)


def finish_swap(folder: Path) -> None:
    """Complete a swap a kill interrupted (the new output finished, not yet in place), and remove an old
    output whose swap is done. Refused (FolderInUseError) while another live run holds the new output."""
    staged, old = staging_folder(folder), replaced_folder(folder)
    if staged.is_dir() and is_complete(staged):
        with output_lock(staged, remove_if_empty=False):
            if is_complete(staged):      # read again under the lock
                swap_in(staged, folder)
    if old.exists() and folder.exists() and not staged.exists():
        shutil.rmtree(old, ignore_errors=True)


def describe_target(folder: Path, target: Path) -> str:
    """How messages name where a run writes: the staging folder is an implementation detail."""
    return str(folder) if target == folder else f"the new output for {folder} (--overwrite; the old one is kept)"

