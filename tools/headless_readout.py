"""Reads what `main.py gui --headless` prints (app/gui/stats.py's `PipelineStats.readout`), for the benchmark tools.

One source: a line per second `display X fps | inference Y fps | overlay age Z ms | ...` and `final: ...` for the
whole run (`display - | inference -` when one frame was shown: read as 0). Several sources (issue 33): the same
lines prefixed by the source's index (`[0] ...` per second, `final [0]: ...`) and `final total: ...` summing
them. An overlay age of `-` (no detections yet) reads as None.
"""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

# the prefix: "final", "final [i]", "final total", "[i]" (per-second, several sources) or nothing
LINE = re.compile(r"^(?P<final>final)?\s*(?:\[(?P<index>\d+)\]|(?P<total>total))?:?\s*"
                  r"display (?:(?P<display>[\d.]+) fps|-) \| inference (?:(?P<inference>[\d.]+) fps|-)"
                  r"(?: \| overlay age (?:(?P<age>[\d.]+) ms|-))?"
                  r"(?:.*?\| dropped (?P<dropped>\d+))?(?:.*?\| frames (?P<frames>\d+))?")
RSS = re.compile(r"RSS (?P<rss>[\d.]+) MiB")


@dataclass(frozen=True)
class Readout:
    """One readout line's numbers."""

    display_fps: float
    inference_fps: float
    overlay_age_ms: float | None
    dropped: int | None = None
    frames: int | None = None
    rss_mib: float | None = None


@dataclass
class HeadlessRun:
    """Everything one headless process printed: the final line per stream, the total, the per-second lines."""

    finals: dict[int, Readout] = field(default_factory=dict)     # stream index -> its final line (0 for one source)
    total: Readout | None = None                                 # `final total:` (several sources only)
    seconds: dict[int, list[Readout]] = field(default_factory=dict)
    engine: str | None = None                                    # the `engine: ...` line's text

    @property
    def streams(self) -> int:
        return len(self.finals)

    def total_inference_fps(self) -> float:
        """The `final total` inference fps, else the sum over the streams' final lines."""
        if self.total is not None:
            return self.total.inference_fps
        return sum(r.inference_fps for r in self.finals.values())


def parse_line(line: str) -> tuple[str, int | None, Readout] | None:
    """('final' | 'total' | 'second', stream index or None, numbers), or None for any other line."""
    m = LINE.match(line.strip())
    if m is None:
        return None
    rss = RSS.search(line)
    # a rate of "-" (one frame shown: no time to rate) reads as 0
    readout = Readout(float(m["display"] or 0), float(m["inference"] or 0), float(m["age"]) if m["age"] else None,
                      int(m["dropped"]) if m["dropped"] else None, int(m["frames"]) if m["frames"] else None,
                      float(rss["rss"]) if rss else None)
    kind = "total" if m["total"] else "final" if m["final"] else "second"
    return kind, int(m["index"]) if m["index"] is not None else None, readout


def parse_headless(text: str) -> HeadlessRun:
    run = HeadlessRun()
    for line in text.splitlines():
        if line.startswith("engine: "):
            run.engine = line[len("engine: "):].strip()
            continue
        parsed = parse_line(line)
        if parsed is None:
            continue
        kind, index, readout = parsed
        if kind == "total":
            run.total = readout
        elif kind == "final":
            run.finals[index or 0] = readout
        else:
            run.seconds.setdefault(index or 0, []).append(readout)
    return run


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if 0 < q < 100 else \
        (min(values) if q <= 0 else max(values))
