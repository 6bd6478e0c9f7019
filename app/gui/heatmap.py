"""The heatmap view: the centre heatmap of the model's newest run, kept by a forward hook while it is shown."""
from __future__ import annotations

import numpy as np
import torch

from centernet.geometry.transforms import plan_transform, preprocess


class HeatmapTap:
    """Keeps the centre heatmap of the last forward pass (a forward hook; only while switched on)."""

    KEYS = ("hm", "center")

    def __init__(self):
        self.enabled = False
        self.heat: np.ndarray | None = None
        self._handles = []

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
        self.heat = None

    def compute(self, detector, image: np.ndarray) -> np.ndarray | None:
        """The heatmap by a forward pass of its own: for engines that run no module (a CUDA graph)."""

        model = getattr(detector, "model", None)
        if model is None or getattr(detector, "spec", None) is None:
            return None
        try:
            with torch.inference_mode():
                batch, _ = preprocess(image, detector.spec)
                self._hook(model, None, model(batch.to(detector.device)))
        except Exception:   # a model with no heads to show (e.g. ONNX Runtime): no heatmap, still frames
            return None
        return self.heat

    def _hook(self, module, inputs, outputs) -> None:
        if not self.enabled or not isinstance(outputs, dict):
            return
        if torch.cuda.is_available() and torch.cuda.is_current_stream_capturing():
            return  # inside a CUDA-graph capture: copying to the host would break it
        for key in self.KEYS:
            if key in outputs:
                heat = torch.sigmoid(outputs[key][0].float()).amax(dim=0)
                self.heat = heat.cpu().numpy()
                return


def heat_to_image(detector, image_hw, heat_hw) -> np.ndarray:
    """2x3 matrix from heatmap cells to image pixels for this detector's pre-processing."""
    tf = plan_transform(detector.spec, image_hw)
    down = max(1, round(tf.input_size[0] / heat_hw[0]))
    return tf.output_to_image(down)

