"""The heatmap view: the centre heatmap of a model run, kept by a forward hook for the runs that ask for it."""
from __future__ import annotations

import threading

import numpy as np
import torch

from centernet.geometry.transforms import plan_transform, preprocess


class HeatmapTap:
    """Keeps the centre heatmap of the forward passes run through `run` / `run_batch` (a forward hook; nothing
    for other runs). Per thread: two model workers running two streams' frames at once each get their own
    run's heatmap."""

    KEYS = ("hm", "center")

    def __init__(self):
        self._local = threading.local()    # armed: this thread's run wants its heatmap; heat: what it got
        self._handles = []

    @property
    def heat(self) -> np.ndarray | None:
        """The heatmap of this thread's last armed run (None: none yet, or it had no heads to show)."""
        return getattr(self._local, "heat", None)

    def attach(self, detector) -> None:
        """Hook the modules the detector's backend runs per frame (`hook_modules`) and the model as loaded.

        Not a graph backend's model: it runs only to warm up and capture a CUDA graph, where a hook's
        blocking copy would break the capture (replays run no module: `compute` draws the heatmap)."""
        self.detach()
        seen = set()
        backend = getattr(detector, "backend", None)   # a stand-in model (app/gui/bench.py) has no modules to hook
        modules = (*backend.hook_modules(), detector.model) if backend is not None else ()
        for module in modules:
            if id(module) not in seen:
                seen.add(id(module))
                self._handles.append(module.register_forward_hook(self._hook))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._local.heat = None

    def run(self, detector, image: np.ndarray):
        """`detector(image)` and its heatmap: (detections, heat or None)."""
        dets, heats = self.run_batch(lambda images: [detector(images[0])], detector, [image], [True])
        return dets[0], heats[0]

    def run_batch(self, forward, detector, images: list, wanted: list[bool]):
        """`forward(images)` and the heatmaps of the images `wanted` says (None for the others): (outputs, heats).
        A hook sees a batch's first image only; the others wanted take a forward pass of their own."""
        local = self._local
        local.armed, local.heat = True, None
        try:
            outputs = forward(images)
        finally:
            local.armed = False
        hooked = local.heat
        heats = [None if not want else hooked if i == 0 and hooked is not None else self.compute(detector, image)
                 for i, (image, want) in enumerate(zip(images, wanted))]
        return outputs, heats

    def compute(self, detector, image: np.ndarray) -> np.ndarray | None:
        """The heatmap by a forward pass of its own: for engines that run no module (a CUDA graph, OpenVINO)."""
        model = getattr(detector, "model", None)
        if model is None or getattr(detector, "spec", None) is None:
            return None
        local = self._local
        local.armed, local.heat = True, None
        try:
            with torch.inference_mode():
                batch, _ = preprocess(image, detector.spec)
                self._hook(model, None, model(batch.to(detector.device)))
        except Exception:   # a model with no heads to show (e.g. ONNX Runtime): no heatmap, still frames
            return None
        finally:
            local.armed = False
        return local.heat

    def _hook(self, module, inputs, outputs) -> None:
        if not getattr(self._local, "armed", False) or not isinstance(outputs, dict):
            return
        if torch.cuda.is_available() and torch.cuda.is_current_stream_capturing():
            return  # inside a CUDA-graph capture: copying to the host would break it
        for key in self.KEYS:
            if key in outputs:
                heat = torch.sigmoid(outputs[key][0].float()).amax(dim=0)
                self._local.heat = heat.cpu().numpy()
                return


def heat_to_image(detector, image_hw, heat_hw) -> np.ndarray:
    """2x3 matrix from heatmap cells to image pixels for this detector's pre-processing."""
    tf = plan_transform(detector.spec, image_hw)
    down = max(1, round(tf.input_size[0] / heat_hw[0]))
    return tf.output_to_image(down)
