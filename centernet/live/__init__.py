"""The live pipeline as a library (no Qt): a camera, file, folder or stream played through a Detector.

    from centernet.live import stream, draw_result

    with stream("video.mp4", track=True) as results:
        for r in results:          # StreamResult: frame_index, image, detections, inferred, track_ids, ...
            picture = draw_result(r, results.detector.class_names)

    for r in stream(["cam.mp4", 0, "rtsp://host/2"]):   # several sources, one model: r.stream says whose
        ...

The window and `gui --headless` are front ends over it.
"""
from centernet.live.draw import draw_result
from centernet.live.frames import SourceInfo, StreamEvent, StreamResult, StreamStatus
from centernet.live.options import StreamOptions
from centernet.live.stream import Stream, stream

__all__ = ["stream", "Stream", "StreamResult", "StreamOptions", "StreamEvent", "SourceInfo", "StreamStatus",
           "draw_result"]
