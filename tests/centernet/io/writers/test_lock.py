"""The output-folder lock, between real processes: refused while held, free again after kill -9."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from centernet.io.writers.lock import LOCK_NAME, FolderInUseError, holder, output_lock

REPO = Path(__file__).resolve().parents[4]


def hold_in_child(folder: Path) -> subprocess.Popen:
    """A second process that takes the lock, says so, and sleeps until killed."""
    code = textwrap.dedent(f"""
        import sys, time
        from centernet.io.writers.lock import output_lock
        with output_lock({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code, "--the-other-run"], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    return child


def test_second_writer_is_refused_naming_the_first_and_kill_9_leaves_no_stale_lock(tmp_path):
    folder = tmp_path / "out"
    child = hold_in_child(folder)
    try:
        owner = holder(folder)
        assert owner is not None and owner.pid == child.pid and "--the-other-run" in owner.command
        with pytest.raises(FolderInUseError) as err:
            with output_lock(folder):
                pass
        message = str(err.value)
        assert f"pid {child.pid}" in message and str(folder) in message and "\n" not in message
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert (folder / LOCK_NAME).exists()          # the killed run could not clean up ...
    assert holder(folder) is None                  # ... but its lock died with it
    with output_lock(folder):
        assert holder(folder) is None or holder(folder).pid == os.getpid()
    assert not (folder / LOCK_NAME).exists()


def test_a_folder_the_lock_created_and_nothing_filled_is_removed(tmp_path):
    with output_lock(tmp_path / "new"):
        pass
    assert not (tmp_path / "new").exists()
    with output_lock(tmp_path / "kept"):
        (tmp_path / "kept" / "result.json").write_text("{}")
    assert (tmp_path / "kept" / "result.json").exists() and not (tmp_path / "kept" / LOCK_NAME).exists()


def test_unwritable_place_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(Exception) as err:
        with output_lock(blocker / "out"):
            pass
    assert "cannot write to" in str(err.value) and "Not a directory" in str(err.value)
