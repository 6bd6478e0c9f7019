"""One process with N streams vs N processes with one stream each (issue 33's Measure).

For each case (N copies of the demo clip for N in --n, and a mix of the demo clip and vtest.avi), in turn:
(a) one `main.py gui --headless --source S --source S ...` and (b) N `main.py gui --headless --source S`
processes at the same time (what a user does today), all real time, looping, for --seconds, with the same
--engine and --precision. Reports total inference fps, per-stream inference fps (min / median), the lowest
per-stream display fps, overlay age (median of the streams' run medians; p95 over every per-second line) and
the peak total RSS (VmRSS summed over the processes, sampled every 0.5 s). A main.py that plays only one source
(no `final [i]:` lines for two sources) is detected once by a short probe and (a) is skipped for N > 1.

    python tools/multi_stream_bench.py --n 1,2,4,8 --seconds 20 [--mix] [--json multi_stream.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.headless_readout import HeadlessRun, parse_headless, percentile  # noqa: E402

DEMO = ROOT / "assets" / "demo" / "bikes.mp4"
VTEST = ROOT.parent / "shared" / "data" / "video" / "vtest.avi"   # ../shared beside the checkout
PROCESS_GIB = 1.2   # what one headless process holds (about 950 MiB measured), to refuse runs that cannot fit


@dataclass(frozen=True)
class Case:
    name: str
    sources: tuple[str, ...]


@dataclass
class Outcome:
    """One layout's figures for one case."""

    case: str
    layout: str                       # "one process" or "N processes"
    streams: int
    exit_codes: list[int]
    total_inference_fps: float | None = None
    stream_inference_min: float | None = None
    stream_inference_median: float | None = None
    display_min: float | None = None
    overlay_age_p50_ms: float | None = None
    overlay_age_p95_ms: float | None = None
    peak_rss_mib: float | None = None
    note: str = ""


def rss_mib(pid: int) -> float:
    """VmRSS of a process in MiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def mem_available_gib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return 0.0


class RssSampler(threading.Thread):
    """The peak of the summed VmRSS of some processes, sampled every `every_s` seconds until stopped."""

    def __init__(self, pids: list[int], every_s: float = 0.5):
        super().__init__(daemon=True)
        self.pids, self.every_s, self.peak = pids, every_s, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, sum(rss_mib(p) for p in self.pids))
            self.done.wait(self.every_s)

    def stop(self) -> float:
        self.done.set()
        self.join()
        return self.peak


def headless_command(sources: tuple[str, ...], seconds: float, engine: str, precision: str,
                     extra: tuple[str, ...] = ()) -> list[str]:
    cmd = [sys.executable, str(ROOT / "main.py"), "gui", "--headless", "--loop", "--max-seconds", str(seconds),
           "--engine", engine, "--precision", precision, *extra]
    for s in sources:
        cmd += ["--source", s]
    return cmd


def run_processes(commands: list[list[str]], timeout_s: float) -> tuple[list[int], list[str], float]:
    """Starts every command at once; (exit codes, stdouts, peak summed RSS in MiB)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        outs = [open(Path(tmp) / f"{i}.out", "w+") for i in range(len(commands))]
        procs = [subprocess.Popen(c, stdout=o, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
                 for c, o in zip(commands, outs)]
        sampler = RssSampler([p.pid for p in procs])
        sampler.start()
        codes = []
        deadline = time.monotonic() + timeout_s
        for p in procs:
            try:
                codes.append(p.wait(max(1.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait())
        peak = sampler.stop()
        texts = []
        for o in outs:
            o.seek(0)
            texts.append(o.read())
            o.close()
    return codes, texts, peak


def summarise(case: Case, layout: str, runs: list[HeadlessRun], codes: list[int], peak: float) -> Outcome:
    """Figures over every stream of the runs (one run with N streams, or N runs with one)."""
    finals = [r for run in runs for r in run.finals.values()]
    out = Outcome(case.name, layout, len(case.sources), codes, peak_rss_mib=round(peak))
    if len(finals) != len(case.sources):
        out.note = f"{len(finals)} final lines for {len(case.sources)} streams"
        if not finals:
            return out
    inference = sorted(r.inference_fps for r in finals)
    ages = [r.overlay_age_ms for r in finals if r.overlay_age_ms is not None]
    per_second = [s.overlay_age_ms for run in runs for lines in run.seconds.values() for s in lines
                  if s.overlay_age_ms is not None]
    out.total_inference_fps = round(sum(run.total_inference_fps() for run in runs), 1)
    out.stream_inference_min = inference[0]
    out.stream_inference_median = statistics.median(inference)
    out.display_min = min(r.display_fps for r in finals)
    out.overlay_age_p50_ms = statistics.median(ages) if ages else None
    out.overlay_age_p95_ms = percentile(per_second, 95)
    return out


def plays_several(engine: str, precision: str) -> bool:
    """Does this main.py play two sources in one process? (a short probe: `final [1]:` in its output)."""
    codes, texts, _ = run_processes([headless_command((str(DEMO), str(DEMO)), 5, engine, precision)], 150)
    run = parse_headless(texts[0])
    return run.total is not None or len(run.finals) >= 2


def one_process(case: Case, seconds: float, engine: str, precision: str) -> Outcome:
    codes, texts, peak = run_processes([headless_command(case.sources, seconds, engine, precision)],
                                       seconds + 120)
    return summarise(case, "one process", [parse_headless(texts[0])], codes, peak)


def n_processes(case: Case, seconds: float, engine: str, precision: str) -> Outcome:
    codes, texts, peak = run_processes([headless_command((s,), seconds, engine, precision) for s in case.sources],
                                       seconds + 60 + 30 * len(case.sources))
    return summarise(case, f"{len(case.sources)} processes", [parse_headless(t) for t in texts], codes, peak)


def cases(ns: list[int], mix: Path | None = None) -> list[Case]:
    """N copies of the demo clip for each N; with `mix`, the demo clip and that video alternating (N = 2, 4)."""
    out = [Case(f"demo x{n}", (str(DEMO),) * n) for n in ns]
    if mix is not None:
        out += [Case(f"mix x{n}", tuple(str(DEMO if i % 2 == 0 else mix) for i in range(n))) for n in (2, 4)
                if n <= max(ns)]
    return out


def fmt(v, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def format_table(outcomes: list[Outcome]) -> str:
    head = ["case", "layout", "total inference fps", "per-stream inference min / median", "display min",
            "overlay age p50 / p95 ms", "peak RSS MiB", "exit codes"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for o in outcomes:
        if o.total_inference_fps is None:
            lines.append(f"| {o.case} | {o.layout} | {o.note or 'no figures'} | | | | | {o.exit_codes} |")
            continue
        lines.append("| " + " | ".join([
            o.case, o.layout, fmt(o.total_inference_fps), f"{fmt(o.stream_inference_min)} / "
            f"{fmt(o.stream_inference_median)}", fmt(o.display_min), f"{fmt(o.overlay_age_p50_ms, 0)} / "
            f"{fmt(o.overlay_age_p95_ms, 0)}", fmt(o.peak_rss_mib, 0),
            " ".join(map(str, sorted(set(o.exit_codes)))) + (f" ({o.note})" if o.note else "")]) + " |")
    return "\n".join(lines)


def ratios(outcomes: list[Outcome]) -> list[str]:
    """One process against N processes, case by case: inference fps and memory."""
    by_case: dict[str, dict[str, Outcome]] = {}
    for o in outcomes:
        by_case.setdefault(o.case, {})["one" if o.layout == "one process" else "many"] = o
    lines = []
    for name, pair in by_case.items():
        one, many = pair.get("one"), pair.get("many")
        if one and many and one.total_inference_fps and many.total_inference_fps and one.streams > 1:
            lines.append(f"{name}: one process {one.total_inference_fps / many.total_inference_fps:.2f}x the "
                         f"inference fps of {many.streams} processes in "
                         f"{one.peak_rss_mib / max(many.peak_rss_mib, 1):.2f}x their memory")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", default="1,2,4,8", help="stream counts (copies of the demo clip)")
    p.add_argument("--seconds", type=float, default=20.0, help="--max-seconds of every run")
    p.add_argument("--engine", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--mix", action="store_true", help="also the demo clip and --mix-video alternating (N = 2, 4)")
    p.add_argument("--mix-video", type=Path, default=VTEST, help=f"default {VTEST}")
    p.add_argument("--layouts", default="one,many", help="one (one process), many (N processes), or both")
    p.add_argument("--json", type=Path, help="also write the outcomes here")
    args = p.parse_args(argv)
    if args.mix and not args.mix_video.is_file():
        p.error(f"--mix: {args.mix_video} not found: give --mix-video PATH")
    ns = sorted({int(v) for v in args.n.split(",") if v.strip()})
    layouts = {v.strip() for v in args.layouts.split(",")}
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}, load average before: {open('/proc/loadavg').read().strip()}",
          flush=True)
    several = "one" in layouts and max(ns) > 1 and plays_several(args.engine, args.precision)
    if "one" in layouts and max(ns) > 1 and not several:
        print("# this main.py plays one source per process (two --source gave no `final [1]:` line): "
              "the one-process runs are skipped for N > 1", flush=True)
    outcomes: list[Outcome] = []
    for case in cases(ns, args.mix_video if args.mix else None):
        n = len(case.sources)
        runs = []
        if "one" in layouts and (n == 1 or several):
            runs.append(one_process)
        if "many" in layouts and (n > 1 or "one" not in layouts):   # N = 1: one process is both layouts
            runs.append(n_processes)
        for run in runs:
            if run is n_processes and mem_available_gib() < n * PROCESS_GIB:
                print(f"# {case.name}: skipped {n} processes: {mem_available_gib():.1f} GiB available, "
                      f"about {n * PROCESS_GIB:.0f} needed", flush=True)
                continue
            outcome = run(case, args.seconds, args.engine, args.precision)
            outcomes.append(outcome)
            print(f"# {case.name}, {outcome.layout}: total inference {fmt(outcome.total_inference_fps)} fps, "
                  f"peak RSS {fmt(outcome.peak_rss_mib, 0)} MiB, exit {outcome.exit_codes}; load average "
                  f"{os.getloadavg()[0]:.2f}", flush=True)
    print(f"# load average after: {open('/proc/loadavg').read().strip()}")
    print(format_table(outcomes))
    for line in ratios(outcomes):
        print("# " + line)
    if args.json:
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
        tmp.replace(args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
