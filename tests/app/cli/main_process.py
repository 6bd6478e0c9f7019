"""`main.py` run as a real process, as a user runs it: the helpers the command-line tests share."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT


def main_py(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, **kwargs)


def start_main_py(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def wait_for_chunks(proc: subprocess.Popen, state_file: Path, chunks: int = 1, timeout: float = 240) -> None:
    """Wait until an annotate run has checkpointed `chunks` chunks (its resume state says so) or has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(Path(state_file).read_text())["chunks_done"] >= chunks:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
