"""What an annotate job gives back, one shape for the single-process run and the Ray pool.

The command line maps it to an exit code (app/cli); the library only says what happened.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ALREADY_COMPLETE = "already complete, nothing to do"   # the summary message of an input with nothing left


@dataclass(frozen=True)
class InputResult:
    """One input's outcome, and where it ran when a pool ran it."""

    spec: str
    folder: Path
    ok: bool
    message: str = ""
    summary: dict | None = None    # summary.json's content when the input succeeded
    worker: str = ""               # host:pid (a pool run)
    device: str = ""
    attempts: int = 1              # a pool retries an input whose worker died

    @property
    def status(self) -> str:
        """annotated | resumed | already complete | failed"""
        if not self.ok:
            return "failed"
        summary = self.summary or {}
        if summary.get("message") == ALREADY_COMPLETE:
            return "already complete"
        return "resumed" if summary.get("frames", {}).get("resumed_after") else "annotated"

    @property
    def frames(self) -> int:
        """Frames annotated (all of them, also those an earlier run did)."""
        return int((self.summary or {}).get("frames", {}).get("annotated", 0))

    @property
    def fps(self) -> float:
        """Frames this run annotated / its wall time, on its worker."""
        return float((self.summary or {}).get("fps", 0.0))


@dataclass
class JobResult:
    results: list = field(default_factory=list)    # InputResult per input, in the plan's order
    workers: int = 1
    wall_s: float = 0.0            # a pool run: from handing out the first input to the end
    startup_s: float = 0.0         # of which starting the workers and loading the model, until the first frame

    @property
    def failed(self) -> list:
        return [r for r in self.results if not r.ok]
