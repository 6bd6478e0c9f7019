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
import os

# torch's OpenMP threads spin-wait between operations by default; beside OpenVINO's own threads (or any other
# busy process) on a few cores they fight for them: a script calling Detector ran 26-38 fps where the same
# script with OMP_WAIT_POLICY=PASSIVE ran 40-47 (issue 32). Passive threads sleep instead. The setting only
# counts before OpenMP starts, i.e. before torch is first imported: importing centernet first is enough.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from centernet.models.checkpoint import load_checkpoint  # noqa: E402
from centernet.detections import Detections  # noqa: E402
from centernet.inference.detector import Detector  # noqa: E402
from centernet.errors import CenterNetError  # noqa: E402
from centernet.models.build import build_model  # noqa: E402

__all__ = ["Detector", "Detections", "build_model", "load_checkpoint", "CenterNetError"]
__version__ = "0.1.0"
