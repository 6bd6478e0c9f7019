"""Live readout numbers: rolling FPS, per-stage latency, dropped frames, device and memory (no Qt)."""
from __future__ import annotations

import os
import time
from array import array
from collections import deque
from statistics import median

import torch

STAGES = ("capture", "pre", "net", "decode", "post", "track", "render")


class Rate:
    """Events per second: over the ticks of the last `window_s` seconds, or the last gap when the
    events are slower than that; decays while no event comes."""

    def __init__(self, window_s: float = 3.0, keep: int = 256):
        self.window_s = window_s
        self.times: deque[float] = deque(maxlen=keep)

    def tick(self, now: float | None = None) -> None:
        self.times.append(time.perf_counter() if now is None else now)

    def value(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        if len(self.times) < 2:
            return 0.0
        recent = [t for t in self.times if now - t <= self.window_s]
        if len(recent) >= 3:
            rate = (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)
        else:
            rate = 1.0 / max(self.times[-1] - self.times[-2], 1e-9)
        since_last = now - self.times[-1]
        if since_last > 2.0 / rate:   # nothing for twice the usual gap: show the slowdown
            rate = 1.0 / since_last
        return rate


class PipelineStats:
    """Collects results as they are shown; `snapshot()` gives medians over the last `history` results."""

    def __init__(self, history: int = 120, window_s: float = 3.0):
        self.display = Rate(window_s)
        self.inference = Rate(window_s)
        self.stage_history: deque[dict] = deque(maxlen=history)
        self.end_to_end: deque[float] = deque(maxlen=history)
        self.overlay_age: deque[float] = deque(maxlen=history)
        self.displayed = 0
        self.inferred = 0
        self.dropped = 0
        self.skipped = 0
        self.shown = 0
        self.first_shown_at: float | None = None   # perf_counter of the first frame shown (whole-run rates)
        self.last_shown_at: float | None = None
        self.inferred_before_first = 0
        # whole-run medians: plain float arrays (8 bytes a value: an hour at 25 fps is a few MB)
        self.run_stages: dict[str, array] = {}
        self.run_end_to_end = array("d")
        self.run_overlay_age = array("d")

    def reset(self) -> None:
        self.__init__(self.stage_history.maxlen, self.display.window_s)

    def on_result(self, result) -> None:
        """A result of the window's pipeline reached the screen."""
        now = time.perf_counter()
        self._record(now, result.inferences, result.inferred_at or now, result.overlay_age_ms, result.timings,
                     (now - result.frame.captured_at) * 1000.0, result.dropped, result.frame.skipped, result.shown)

    def on_stream_result(self, result, inferences: int, skipped: int) -> None:
        """A `centernet.live` StreamResult was shown (gui --headless); `inferences`: model runs so far."""
        now = time.perf_counter()
        self._record(now, inferences, now, result.overlay_age_ms, result.timings,
                     result.timings.get("end_to_end", 0.0), result.dropped, skipped, len(result.detections))

    def _record(self, now, inferences, inferred_at, overlay_age_ms, timings, end_to_end_ms, dropped, skipped,
                shown) -> None:
        if self.first_shown_at is None:
            self.first_shown_at, self.inferred_before_first = now, inferences
        self.last_shown_at = now
        self.displayed += 1
        self.display.tick(now)
        if inferences < self.inferred:   # a new source restarted the count
            self.inferred = 0
        for _ in range(min(inferences - self.inferred, 8)):   # model runs since the last result shown
            self.inference.tick(inferred_at)
        self.inferred = inferences
        if overlay_age_ms is not None:
            self.overlay_age.append(overlay_age_ms)
            self.run_overlay_age.append(overlay_age_ms)
        stages = {s: timings[s] for s in STAGES if s in timings}
        self.stage_history.append(stages)
        for stage, ms in stages.items():
            self.run_stages.setdefault(stage, array("d")).append(ms)
        self.end_to_end.append(end_to_end_ms)
        self.run_end_to_end.append(end_to_end_ms)
        self.dropped = dropped
        self.skipped = skipped
        self.shown = shown

    def run_snapshot(self, now: float | None = None) -> dict:
        """The whole run: frames and model runs counted over the seconds since the first frame was shown,
        stage times as medians over every frame."""
        now = time.perf_counter() if now is None else now
        seconds = now - self.first_shown_at if self.first_shown_at is not None else 0.0
        rate = lambda n: n / seconds if seconds > 0 else 0.0  # noqa: E731
        mid = lambda values: median(values) if values else None  # noqa: E731
        return {"display_fps": rate(max(self.displayed - 1, 0)),
                "inference_fps": rate(max(self.inferred - self.inferred_before_first, 0)),
                "stages": {s: median(self.run_stages[s]) for s in STAGES if self.run_stages.get(s)},
                "end_to_end_ms": mid(self.run_end_to_end), "overlay_age_ms": mid(self.run_overlay_age),
                "dropped": self.dropped, "skipped": self.skipped, "displayed": self.displayed,
                "inferred": self.inferred, "shown": self.shown}

    def snapshot(self) -> dict:
        recent = list(self.stage_history)[-30:]
        stages = {s: median(r[s] for r in recent if s in r) for s in STAGES if any(s in r for r in recent)}
        e2e = list(self.end_to_end)[-30:]
        ages = list(self.overlay_age)[-30:]
        return {"display_fps": self.display.value(), "inference_fps": self.inference.value(), "stages": stages,
                "end_to_end_ms": median(e2e) if e2e else None, "overlay_age_ms": median(ages) if ages else None, "dropped": self.dropped, "skipped": self.skipped,
                "displayed": self.displayed, "inferred": self.inferred, "shown": self.shown}

    def readout(self, device: str = "", memory: str = "", whole_run: bool = False) -> str:
        """One line: the same numbers the window's latency panel shows (`whole_run`: the final line's)."""
        s = self.run_snapshot() if whole_run else self.snapshot()
        stages = " ".join(f"{k} {v:.1f}" for k, v in s["stages"].items())
        e2e = f"{s['end_to_end_ms']:.0f} ms" if s["end_to_end_ms"] is not None else "-"
        age = f"{s['overlay_age_ms']:.0f} ms" if s["overlay_age_ms"] is not None else "-"
        # one frame shown (an image) spans no time: no rate to give, the stage times say how long it took
        timed = s["displayed"] >= 2 or not whole_run
        parts = [f"display {s['display_fps']:.1f} fps" if timed else "display -",
                 f"inference {s['inference_fps']:.1f} fps" if timed else "inference -",
                 f"overlay age {age}",
                 f"stages ms: {stages or '-'}", f"end-to-end {e2e}", f"boxes {s['shown']}",
                 f"dropped {s['dropped']}", f"skipped {s['skipped']}", f"frames {s['displayed']}"]
        if device:
            parts.append(device + (f" {memory}" if memory else ""))
        return " | ".join(parts)


def total_readout(streams: list[PipelineStats], device: str = "", memory: str = "") -> str:
    """The final line over several streams: display and inference fps summed over the whole run (inference also
    its min and median over the streams that played), overlay age and end-to-end as medians over every frame
    of every stream, frames, dropped and skipped summed."""
    runs = [s.run_snapshot() for s in streams]
    rates = sorted(r["inference_fps"] for s, r in zip(streams, runs) if s.displayed) or [0.0]   # of those that played
    ages = [a for s in streams for a in s.run_overlay_age]
    e2e = [a for s in streams for a in s.run_end_to_end]
    parts = [f"display {sum(r['display_fps'] for r in runs):.1f} fps",
             f"inference {sum(rates):.1f} fps (per stream min {rates[0]:.1f} / median {median(rates):.1f})",
             f"overlay age {median(ages):.0f} ms" if ages else "overlay age -",
             f"end-to-end {median(e2e):.0f} ms" if e2e else "end-to-end -",
             f"streams played {sum(1 for s in streams if s.displayed)} of {len(streams)}",
             f"dropped {sum(r['dropped'] for r in runs)}", f"skipped {sum(r['skipped'] for r in runs)}",
             f"frames {sum(r['displayed'] for r in runs)}"]
    if device:
        parts.append(device + (f" {memory}" if memory else ""))
    return " | ".join(parts)


def tile_captions(streams: list[PipelineStats], names: list[str], phases: list[str]) -> list[str]:
    """The grid's tile captions: `[i] name · display · inference · overlay age · phase` (rolling rates, as the big
    numbers of the performance panel)."""
    captions = []
    for i, (stats, name, phase) in enumerate(zip(streams, names, phases)):
        snap = stats.snapshot()
        age = snap["overlay_age_ms"]
        captions.append(f"[{i}] {name} · display {snap['display_fps']:.1f} fps · inference "
                        f"{snap['inference_fps']:.1f} fps · overlay age {'-' if age is None else f'{age:.0f} ms'} "
                        f"· {phase}")
    return captions


def stream_table(streams: list[PipelineStats], phases: list[str]) -> list[str]:
    """The captions' figures as a narrow table for the performance panel (names and phases are on the tiles):
    how many play, a header, a row per stream, and the total (rates summed, overlay age the median of the
    streams')."""
    snaps = [s.snapshot() for s in streams]
    age = lambda a: "-" if a is None else f"{a:.0f}"  # noqa: E731
    rows = [f"{phases.count('playing')} of {len(phases)} streams playing", "      display  infer  age ms"]
    for i, snap in enumerate(snaps):
        rows.append(f"{f'[{i}]':<5} {snap['display_fps']:>7.1f} {snap['inference_fps']:>6.1f} "
                    f"{age(snap['overlay_age_ms']):>7}")
    ages = [s["overlay_age_ms"] for s in snaps if s["overlay_age_ms"] is not None]
    rows.append(f"total {sum(s['display_fps'] for s in snaps):>7.1f} {sum(s['inference_fps'] for s in snaps):>6.1f} "
                f"{age(median(ages) if ages else None):>7}")
    return rows


def process_rss_mb() -> float:
    """Resident memory of this process in MiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or "CPU"


def device_description(device) -> str:
    """'CPU (name, N threads)' or the CUDA device name."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} ({device})"
    return f"CPU · {cpu_name()} · {torch.get_num_threads()} threads"


def memory_description(device) -> str:
    """Process RSS, plus allocated / reserved GPU memory on CUDA."""
    text = f"RSS {process_rss_mb():.0f} MiB"
    if device is not None and str(device).startswith("cuda"):
        alloc = torch.cuda.memory_allocated(device) / 2**20
        reserved = torch.cuda.memory_reserved(device) / 2**20
        text += f", GPU {alloc:.0f} / {reserved:.0f} MiB"
    return text
