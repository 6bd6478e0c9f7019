"""CenterNet Live: objects as points, on live video.

    from centernet import Detector
    det = Detector.from_checkpoint("ctdet_coco_dla_2x.pth", device="auto")
    dets = det(cv2.imread("photo.jpg"))

Live video (a camera, file, folder or stream URL) through a Detector, with no Qt: `centernet.live.stream`

    from centernet.live import stream
    with stream("rtsp://camera/1", track=True) as results:
        for r in results:          # StreamResult: image, detections, inferred, track_ids, overlay_age_ms, ...
            ...
"""
from centernet.models.checkpoint import load_checkpoint
from centernet.detections import Detections
from centernet.inference.detector import Detector
from centernet.errors import CenterNetError
from centernet.models.build import build_model

__all__ = ["Detector", "Detections", "build_model", "load_checkpoint", "CenterNetError"]
__version__ = "0.1.0"
