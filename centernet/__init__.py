"""CenterNet Live: objects as points, on live video.

    from centernet import Detector
    det = Detector.from_checkpoint("ctdet_coco_dla_2x.pth", device="auto")
    dets = det(cv2.imread("photo.jpg"))
"""
from centernet.models.checkpoint import load_checkpoint
from centernet.detections import Detections
from centernet.inference.detector import Detector
from centernet.errors import CenterNetError
from centernet.models.build import build_model

__all__ = ["Detector", "Detections", "build_model", "load_checkpoint", "CenterNetError"]
__version__ = "0.1.0"
