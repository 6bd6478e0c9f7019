"""CenterNet Live: objects as points, on live video.

    from centernet import Detector
    det = Detector.from_checkpoint("ctdet_coco_dla_2x.pth", device="auto")
    dets = det(cv2.imread("photo.jpg"))
"""
from .checkpoint import load_checkpoint
from .detections import Detections
from .detector import Detector
from .errors import CenterNetError
from .model import build_model

__all__ = ["Detector", "Detections", "build_model", "load_checkpoint", "CenterNetError"]
__version__ = "0.1.0"
