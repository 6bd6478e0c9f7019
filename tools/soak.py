#!/usr/bin/env python3
"""Soak `main.py gui --headless` on a looping clip and report whether its memory stays flat.

    .venv/bin/python tools/soak.py --seconds 600            # the 10-minute record in docs/benchmarks.md
    .venv/bin/python tools/soak.py --seconds 25 --warmup 8  # the short soak the test suite runs

The clock starts at the first readout (model loaded, frames flowing). Samples the process's resident set (VmRSS in /proc/<pid>/status, Linux) once a second. Growth is
measured from the end of the warm-up (model loaded, caches and pools filled) to the end of the run,
as the median of the last few samples over the median of the first few after warm-up, so a single
transient allocation does not decide it. Prints a line per minute and, last, one JSON line with the
result; exits 1 when the growth reaches --limit.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def growth(samples: list[tuple[float, float]], warmup_s: float, window: int = 5) -> dict:
    """Relative RSS growth after the warm-up, from medians of `window` samples at each end."""
    steady = [rss for t, rss in samples if t >= warmup_s]
    if len(steady) < 2 * window:
        raise SystemExit(f"too few samples after the warm-up ({len(steady)}): run longer or shorten --warmup")
    start, end = statistics.median(steady[:window]), statistics.median(steady[-window:])
    return {"rss_after_warmup_mib": round(start, 1), "rss_end_mib": round(end, 1),
            "rss_peak_mib": round(max(steady), 1), "growth": round((end - start) / start, 4)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=600,
                   help="length of the run from the first readout, model loading not counted (default 600)")
    p.add_argument("--warmup", type=float, default=30,
                   help="seconds after the first readout left out before measuring (default 30)")
    p.add_argument("--source", default=str(ROOT / "assets" / "demo" / "bikes.mp4"), help="clip, looped")
    p.add_argument("--limit", type=float, default=0.05, help="largest growth accepted (default 0.05 = 5 %%)")
    p.add_argument("gui_args", nargs=argparse.REMAINDER, help="after --: more `main.py gui` flags")
    args = p.parse_args(argv)
    extra = [a for a in args.gui_args if a != "--"]
    cmd = [sys.executable, str(ROOT / "main.py"), "gui", "--headless", "--loop", "--source", args.source, *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    errors: list[str] = []
    readers = [threading.Thread(target=lambda f=f, out=out: out.extend(iter(f.readline, "")), daemon=True)
               for f, out in ((proc.stdout, lines), (proc.stderr, errors))]
    for r in readers:
        r.start()
    started, samples, first_readout = time.monotonic(), [], None
    try:
        while proc.poll() is None and (first_readout is None or time.monotonic() - started - first_readout
                                       < args.seconds) and time.monotonic() - started < args.seconds + 300:
            time.sleep(1.0)
            now, rss = time.monotonic() - started, rss_mib(proc.pid)
            if rss is None:
                continue
            if first_readout is None and any(x.startswith("display ") for x in lines):
                first_readout = now   # the model is loaded and frames flow: the warm-up counts from here
            samples.append((now - (first_readout if first_readout is not None else 1e9), rss))
            if len(samples) % 60 == 0:
                last = next((x.strip() for x in reversed(lines) if x.startswith("display ")), "")
                print(f"{now - (first_readout or 0):6.0f} s  rss {rss:7.1f} MiB  {last}", flush=True)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)   # the headless run prints its final readout and exits 130
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for r in readers:
            r.join(timeout=5)
    if proc.returncode not in (0, 130):
        print(f"error: the headless run ended with exit code {proc.returncode}: {''.join(errors).strip()[-400:]}",
              file=sys.stderr)
        return 2
    final = next((x.strip() for x in lines if x.startswith("final: ")), "")
    result = {"seconds": round(samples[-1][0], 1) if samples else 0, "warmup_s": args.warmup,
              "samples": len(samples), **growth(samples, args.warmup), "final_readout": final,
              "load_avg": os.getloadavg()[0], "command": " ".join(cmd[1:])}
    print(json.dumps(result))
    return 0 if result["growth"] < args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
