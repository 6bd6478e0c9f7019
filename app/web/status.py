"""The browser view's readout: per-stream `PipelineStats` (app/gui/stats.py) and the detector -> a status dict
(served as /status.json) -> Prometheus text (/metrics). Pure functions; the server only stores the dict."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit, urlunsplit

MODEL_STAGES = ("pre", "net", "decode", "post")   # the Detector's own time per frame
STALLED_AFTER_S = 2.0                             # a playing stream that showed nothing this long has stalled


@dataclass(frozen=True)
class StreamLabel:
    """What a tile says about its source besides the numbers."""

    source: str
    status: str = "connecting"    # connecting, playing, stalled, reconnecting, ended or failed
    reconnects: int = 0


def public_source(spec) -> str:
    """A source as the page and the readout show it: a URL's user and password (rtsp://user:pass@cam/1) replaced
    by *** (the view may be seen by others than whoever started the run)."""
    text = str(spec)
    parts = urlsplit(text)
    if not parts.scheme or "@" not in parts.netloc:
        return text
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def stream_label(status, stats, now: float | None = None) -> StreamLabel:
    """A stream's `centernet.live` StreamStatus and its stats -> its label (`now`: time.perf_counter(), as the
    stats'); a playing stream that showed nothing for STALLED_AFTER_S has stalled."""
    now = time.perf_counter() if now is None else now
    phase = status.phase
    if phase == "playing" and not stats.displayed:
        phase = "connecting"
    elif phase == "playing" and stats.last_shown_at is not None and now - stats.last_shown_at > STALLED_AFTER_S:
        phase = "stalled"
    return StreamLabel(public_source(status.spec), phase, int(status.reconnects))


def status_payload(stats: list, labels: list[StreamLabel], detector=None) -> dict:
    """/status.json: one entry per stream (index i: the i-th source) and the model (null fields before it loads)."""
    streams, latencies = [], []
    for index, (label, s) in enumerate(zip(labels, stats)):
        snap = s.snapshot()
        streams.append({"index": index, **asdict(label), "display_fps": round(snap["display_fps"], 2),
                        "inference_fps": round(snap["inference_fps"], 2),
                        "overlay_age_ms": _round(snap["overlay_age_ms"]), "dropped": int(snap["dropped"]),
                        "frames": int(snap["displayed"])})
        if any(stage in snap["stages"] for stage in MODEL_STAGES):
            latencies.append(sum(snap["stages"].get(stage, 0.0) for stage in MODEL_STAGES))
    model = {"name": None, "engine": None, "latency_ms": None}
    if detector is not None:
        model = {"name": detector.info.describe(), "engine": detector.engine_summary,
                 "latency_ms": _round(sum(latencies) / len(latencies) if latencies else None)}
    return {"streams": streams, "model": model}


def starting_payload(sources: list[str]) -> dict:
    """The status before the first readout: every stream connecting, no model yet."""
    return {"streams": [{"index": i, **asdict(StreamLabel(public_source(s))), "display_fps": 0.0, "inference_fps": 0.0,
                         "overlay_age_ms": None, "dropped": 0, "frames": 0} for i, s in enumerate(sources)],
            "model": {"name": None, "engine": None, "latency_ms": None}}


# (name, type, help, the status field, its scale to the metric's unit)
STREAM_METRICS = (
    ("centernet_display_fps", "gauge", "Frames shown per second (rolling over the last seconds).", "display_fps", 1),
    ("centernet_inference_fps", "gauge", "Model runs per second on this stream (rolling).", "inference_fps", 1),
    ("centernet_overlay_age_seconds", "gauge", "How much older the frame the model last ran on is than the frame "
     "shown (median of recent frames).", "overlay_age_ms", 1e-3),
    ("centernet_dropped_frames_total", "counter", "Frames of the source never shown.", "dropped", 1),
    ("centernet_reconnects_total", "counter", "Attempts to reopen the source.", "reconnects", 1),
)


def prometheus_text(payload: dict) -> str:
    """The status dict in Prometheus' text exposition format (version 0.0.4): HELP and TYPE once per metric,
    one sample per stream labelled `stream="N"`; unknown values (no overlay yet) are left out."""
    lines = []
    for name, kind, help_text, key, scale in STREAM_METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for s in payload["streams"]:
            if s.get(key) is not None:
                lines.append(f'{name}{{stream="{s["index"]}"}} {_number(s[key] * scale)}')
    model = payload["model"]
    lines += ["# HELP centernet_model_latency_seconds The Detector's time per frame (pre, net, decode, post; "
              "median of recent frames, mean over streams).", "# TYPE centernet_model_latency_seconds gauge"]
    if model.get("latency_ms") is not None:
        lines.append(f"centernet_model_latency_seconds {_number(model['latency_ms'] * 1e-3)}")
    if model.get("name") is not None:
        lines += ["# HELP centernet_model_info The model and engine serving every stream.",
                  "# TYPE centernet_model_info gauge",
                  f'centernet_model_info{{name="{_escape(model["name"])}",engine="{_escape(model["engine"])}"}} 1']
    return "\n".join(lines) + "\n"


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def _number(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value.is_integer() else repr(round(value, 6))


def _escape(text: str) -> str:
    """A label value: backslash, double quote and line feed escaped as the format asks."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
