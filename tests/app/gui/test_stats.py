"""The headless readout's numbers over several streams (`total_readout`)."""
from __future__ import annotations

import re
import time

import numpy as np

from app.gui.stats import PipelineStats, total_readout
from centernet.detections import Detections
from centernet.live import StreamResult


def result(stream: int, index: int, age: float) -> StreamResult:
    return StreamResult(stream, index, index * 40.0, np.zeros((4, 4, 3), np.uint8), Detections.empty(), False, None,
                        age, {"net": 10.0, "end_to_end": 5.0}, dropped=index // 5)


def test_the_total_sums_rates_and_counts_and_takes_medians_over_every_frame():
    played, other, silent = PipelineStats(), PipelineStats(), PipelineStats()
    for i in range(10):
        played.on_stream_result(result(0, i, age=100.0), inferences=i, skipped=1)
        other.on_stream_result(result(1, i, age=300.0 if i < 4 else 200.0), inferences=i // 2, skipped=0)
        time.sleep(0.02)
    line = total_readout([played, other, silent], "CPU", "RSS 1 MiB")
    runs = [s.run_snapshot() for s in (played, other)]
    total = float(re.search(r"^display ([\d.]+) fps", line).group(1))
    assert abs(total / sum(r["display_fps"] for r in runs) - 1) < 0.05
    low = float(re.search(r"per stream min ([\d.]+)", line).group(1))
    assert abs(low / min(r["inference_fps"] for r in runs) - 1) < 0.05   # the silent stream is left out
    assert "overlay age 150 ms" in line                 # the median of 10 x 100, 6 x 200, 4 x 300 (not per stream)
    assert "streams played 2 of 3" in line and "frames 20" in line and "dropped 2" in line and "skipped 1" in line
    assert line.endswith("CPU RSS 1 MiB")


def test_one_frame_shown_gives_no_rate_but_its_stage_times():
    stats = PipelineStats()
    stats.on_stream_result(result(0, 0, age=0.0), inferences=1, skipped=0)   # an image: one frame, no time between
    line = stats.readout(whole_run=True)
    assert line.startswith("display - | inference - | ") and "net 10.0" in line and "frames 1" in line
    time.sleep(0.02)
    stats.on_stream_result(result(0, 1, age=0.0), inferences=2, skipped=0)
    assert re.match(r"display [\d.]+ fps \| inference [\d.]+ fps", stats.readout(whole_run=True))
