"""A short soak of `gui --headless`: the default model on a looping clip keeps its memory flat.

The 10-minute record is `tools/soak.py --seconds 600` (docs/benchmarks.md); this runs the same tool
for ~20 s (after the model has loaded) so a leak per frame (a growing queue, cached tensors, undisposed frames) shows in the suite.
"""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_headless_default_model_on_a_looping_clip_keeps_rss_flat():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "soak.py"), "--seconds", "20", "--warmup", "8",
                           "--", "--device", "cpu"], capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["samples"] >= 20
    assert "net " in result["final_readout"], result   # the model really ran during the soak
    assert result["growth"] < 0.05, result
    assert proc.returncode == 0
