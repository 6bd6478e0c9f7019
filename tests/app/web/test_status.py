"""The browser view's readout (app/web/status.py): PipelineStats fed real StreamResults -> /status.json's dict
-> Prometheus text, read back by a strict parser of the text exposition format."""
from __future__ import annotations

import re
import time
from collections import deque

import numpy as np
import pytest

from app.gui.stats import PipelineStats
from app.web.status import StreamLabel, prometheus_text, public_source, starting_payload, status_payload, stream_label
from centernet.detections import Detections
from centernet.inference.detector import Detector
from centernet.live.frames import StreamResult
from centernet.live.frames import StreamStatus

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_]+="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_]+="(?:[^"\\]|\\.)*")*)\})?'
                    r' (-?[0-9.e+-]+|NaN|[+-]Inf)$')


def parse_prometheus(text: str) -> dict[str, dict]:
    """name -> {"type", "help", "samples": {labels: value}}; fails on anything the format does not allow."""
    families: dict[str, dict] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, rest = line.split(" ", 3)
            family = families.setdefault(name, {"samples": {}})
            assert not family["samples"], f"{kind} of {name} after its samples"
            family[kind.lower()] = rest
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        assert name in families and "type" in families[name], f"{name} has no HELP/TYPE before its samples"
        families[name]["samples"][labels] = float(value)
    for name, family in families.items():
        assert family["type"] in ("gauge", "counter"), family
        assert name.endswith("_total") == (family["type"] == "counter"), name
    return families


def fed_stats(frames: int, fps: float, inferred_every: int, age_ms: float) -> PipelineStats:
    """PipelineStats that saw `frames` StreamResults at `fps` up to now, the model running on every
    `inferred_every`th (the results come at once; their clock ticks are then spread back from now at `fps`)."""
    stats = PipelineStats()
    image = np.zeros((8, 8, 3), np.uint8)
    for i in range(frames):
        inferred = i % inferred_every == 0
        result = StreamResult(0, i, i * 1000.0 / fps, image, Detections.empty(), inferred, None,
                              0.0 if inferred else age_ms, {"capture": 1.0, "pre": 2.0, "net": 30.0, "decode": 1.0,
                                                            "post": 0.5, "end_to_end": 3.0}, i // 50)
        stats.on_stream_result(result, i // inferred_every + 1, 0)
    now = time.perf_counter()
    for rate, period in ((stats.display, 1.0 / fps), (stats.inference, inferred_every / fps)):
        n = len(rate.times)
        rate.times = deque((now - (n - 1 - k) * period for k in range(n)), maxlen=rate.times.maxlen)
    stats.last_shown_at = now
    return stats


@pytest.fixture(scope="module")
def detector(seeded_checkpoint):
    return Detector.from_checkpoint(seeded_checkpoint("ctdet", "res_18"), device="cpu", engine="eager")


def test_status_has_every_field_per_stream_and_the_model(detector):
    a, b = fed_stats(100, 25.0, 2, 40.0), fed_stats(100, 10.0, 5, 400.0)
    payload = status_payload([a, b], [StreamLabel("cam0", "playing", 0), StreamLabel("rtsp://x", "stalled", 3)],
                             detector)
    s0, s1 = payload["streams"]
    assert [s0["index"], s1["index"]] == [0, 1] and [s0["source"], s1["source"]] == ["cam0", "rtsp://x"]
    assert set(s0) >= {"index", "source", "status", "display_fps", "inference_fps", "overlay_age_ms", "dropped",
                       "reconnects"}
    assert s0["display_fps"] == pytest.approx(25.0, rel=0.05) and s1["display_fps"] == pytest.approx(10.0, rel=0.05)
    assert s0["inference_fps"] == pytest.approx(12.5, rel=0.1) and s1["inference_fps"] == pytest.approx(2.0, rel=0.1)
    assert s0["overlay_age_ms"] == 20.0 and s1["overlay_age_ms"] == 400.0   # medians of the last 30 frames
    assert (s0["dropped"], s1["status"], s1["reconnects"]) == (1, "stalled", 3)
    model = payload["model"]
    assert model["name"].startswith("ctdet res_18") and model["engine"].startswith("eager ")
    assert model["latency_ms"] == pytest.approx(33.5)     # pre + net + decode + post


def test_metrics_are_prometheus_text_with_a_stream_label(detector):
    a, b = fed_stats(100, 25.0, 2, 40.0), fed_stats(100, 10.0, 5, 400.0)
    payload = status_payload([a, b], [StreamLabel("cam0", "playing", 0), StreamLabel("x", "playing", 3)], detector)
    families = parse_prometheus(prometheus_text(payload))
    display = families["centernet_display_fps"]
    assert display["type"] == "gauge" and display["help"]
    assert display["samples"]['stream="0"'] == pytest.approx(payload["streams"][0]["display_fps"])
    assert display["samples"]['stream="1"'] == pytest.approx(payload["streams"][1]["display_fps"])
    assert families["centernet_inference_fps"]["samples"]['stream="1"'] == pytest.approx(2.0, rel=0.1)
    assert families["centernet_overlay_age_seconds"]["samples"]['stream="1"'] == pytest.approx(0.4)
    assert families["centernet_dropped_frames_total"]["type"] == "counter"
    assert families["centernet_reconnects_total"]["samples"] == {'stream="0"': 0.0, 'stream="1"': 3.0}
    assert families["centernet_model_latency_seconds"]["samples"][""] == pytest.approx(0.0335)
    info = families["centernet_model_info"]["samples"]
    assert len(info) == 1 and 'name="ctdet res_18' in next(iter(info))


def test_before_the_model_and_the_first_frame_unknown_values_are_left_out():
    payload = starting_payload(["a", 'b"\\'])
    assert [s["status"] for s in payload["streams"]] == ["connecting", "connecting"]
    families = parse_prometheus(prometheus_text(payload))
    assert families["centernet_overlay_age_seconds"]["samples"] == {}     # no overlay yet: no sample, not 0
    assert families["centernet_model_latency_seconds"]["samples"] == {}
    assert "centernet_model_info" not in families
    assert families["centernet_display_fps"]["samples"] == {'stream="0"': 0.0, 'stream="1"': 0.0}


def test_a_label_value_is_escaped():
    class Named:   # a model name with the three characters the format escapes
        info = type("Info", (), {"describe": staticmethod(lambda: 'a "b" \\ c\nd')})()
        engine_summary = "eager fp32"
    families = parse_prometheus(prometheus_text(status_payload([], [], Named())))
    assert list(families["centernet_model_info"]["samples"]) == ['name="a \\"b\\" \\\\ c\\nd",engine="eager fp32"']


def status_of(spec, phase="connecting", reconnects=0) -> StreamStatus:
    return StreamStatus(0, spec, phase, None, 0, 0, 0, 0, reconnects, None)


def test_a_stream_label_follows_its_stream_status():
    stats = PipelineStats()
    assert stream_label(status_of("rtsp://cam"), stats, now=10.0) == StreamLabel("rtsp://cam", "connecting", 0)
    assert stream_label(status_of("rtsp://cam", "playing"), stats, now=10.0).status == "connecting"  # nothing shown
    stats.displayed, stats.last_shown_at = 5, 9.5
    assert stream_label(status_of("rtsp://cam", "playing", 2), stats, now=10.0) == StreamLabel("rtsp://cam", "playing", 2)
    assert stream_label(status_of("rtsp://cam", "playing"), stats, now=20.0).status == "stalled"
    for phase in ("reconnecting", "ended", "failed"):
        assert stream_label(status_of("rtsp://cam", phase), stats, now=20.0).status == phase


def test_a_sources_password_is_never_shown():
    assert public_source("rtsp://admin:secret@10.0.0.5:554/live") == "rtsp://***@10.0.0.5:554/live"
    assert public_source("http://cam/live.mjpg?x=a@b") == "http://cam/live.mjpg?x=a@b"
    assert public_source("videos/a@b.mp4") == "videos/a@b.mp4" and public_source(0) == "0"
    assert stream_label(status_of("rtsp://admin:secret@cam/1"), PipelineStats()).source == "rtsp://***@cam/1"
    assert "secret" not in str(starting_payload(["rtsp://admin:secret@cam/1"]))
