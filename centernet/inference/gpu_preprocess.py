"""Pre-processing on the device: uint8 HWC frame -> warped, normalised NCHW input, in torch.

This is the contract the CuPy kernel (kernels/preprocess.cu) matches. It reproduces OpenCV's
bilinear `warpAffine` as OpenCV 4.11+ computes it (measured bit-exact against OpenCV 5.0 on real
images): source coordinates from the float32 inverse matrix, bilinear weights in float32, the result
rounded to the nearest integer (uint8), zero outside the frame. Older OpenCV builds used fixed-point
1/32-pixel weights and differ by at most a few grey levels at edges. The stretch and pad-to-square
modes use cv2.resize's half-pixel centres (within a few grey levels of its fixed-point weights) and,
like it, repeat the edge of what they resize (the frame, or the frame with its zero pads): each sample
coordinate is clamped to that rectangle (`source_bounds`) before its bilinear taps.
Each frame's warp is data (`preprocess_frames`: a (B, 2, 3) matrix, a (B, 2) size and (B, 4) bounds
per batch), so frames of different sizes share one canvas, one pass and one captured CUDA graph.
"""
from __future__ import annotations

import numpy as np
import torch

from centernet.geometry.transforms import InputTransform, PreprocessSpec, invert_affine


def opencv_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse warpAffine computes internally (same formula, float64)."""
    m = np.asarray(matrix, dtype=np.float64).reshape(6).copy()
    d = m[0] * m[4] - m[1] * m[3]
    d = 1.0 / d if d != 0 else 0.0
    a11, a22 = m[4] * d, m[0] * d
    m[0], m[1], m[3], m[4] = a11, m[1] * -d, m[3] * -d, a22
    b1 = -m[0] * m[2] - m[1] * m[5]
    b2 = -m[3] * m[2] - m[4] * m[5]
    m[2], m[5] = b1, b2
    return m.reshape(2, 3)


def source_matrix(tf: InputTransform, spec: PreprocessSpec) -> np.ndarray:
    """2x3 float32 matrix from input pixel (x, y) to source pixel; resize modes fold in the half-pixel shift."""
    if spec.resize == "affine":
        return opencv_inverse(tf.matrix).astype(np.float32)
    inv = invert_affine(tf.matrix)
    shifted = inv.copy()
    shifted[:, 2] = inv[:, 2] + 0.5 * (inv[:, 0] + inv[:, 1]) - 0.5  # src = inv (x + 0.5) - 0.5
    return shifted.astype(np.float32)


def source_matrices(transforms, spec: PreprocessSpec) -> np.ndarray:
    """(B, 2, 3) float32: each frame's `source_matrix`, the per-frame warp the kernel and its reference read."""
    return np.stack([source_matrix(tf, spec) for tf in transforms])   # float32 rows


def source_bounds(tf: InputTransform, spec: PreprocessSpec) -> np.ndarray:
    """(4,) float32 x0, y0, x1, y1: the rectangle each sample's source coordinate is clamped to before
    its bilinear taps (taps outside the frame itself still read 0).

    cv2.resize repeats the edge pixel of what it resizes: the frame ("stretch"), or the frame with its
    zero pads ("pad_square": [-pad, size - 1 + pad]). warpAffine's border is 0 all around, so there one
    pixel of it around the frame clamps to the same values as no clamp at all (and keeps a far
    coordinate from overflowing an integer)."""
    h, w = tf.image_size
    if spec.resize == "affine":
        return np.array([-1, -1, w, h], dtype=np.float32)
    px, py = tf.meta.get("pad_x", 0), tf.meta.get("pad_y", 0)
    return np.array([-px, -py, w - 1 + px, h - 1 + py], dtype=np.float32)


def warp_bounds(transforms, spec: PreprocessSpec) -> np.ndarray:
    """(B, 4) float32: each frame's `source_bounds`, read per frame beside its matrix and size."""
    return np.stack([source_bounds(tf, spec) for tf in transforms]).reshape(-1, 4)   # float32 rows


def input_coordinates(input_size: tuple[int, int], device) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, w) float32 x and y of every input pixel. Made once, outside any CUDA-graph capture."""
    h, w = input_size
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    return torch.from_numpy(xs).to(device), torch.from_numpy(ys).to(device)


def sampling_grids(matrices: torch.Tensor, bounds: torch.Tensor,
                   coords: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """(B, h, w, 2) float32 source coordinates of every input pixel of each frame, from its (B, 2, 3)
    matrix on the device, clamped to its (B, 4) `source_bounds`: the same float32 products, sums and
    clamps, in the same order, as the kernel (and as OpenCV), so a matrix filled into a static buffer
    before a replay gives the grid a constant would."""
    xs, ys = coords
    m = matrices[:, :, :, None, None]
    lo_x, lo_y, hi_x, hi_y = bounds[:, :, None, None].unbind(1)
    sx = (m[:, 0, 0] * xs + m[:, 0, 1] * ys + m[:, 0, 2]).clamp(lo_x, hi_x)
    sy = (m[:, 1, 0] * xs + m[:, 1, 1] * ys + m[:, 1, 2]).clamp(lo_y, hi_y)
    return torch.stack([sx, sy], -1)


def sampling_grid(tf: InputTransform, spec: PreprocessSpec, device) -> torch.Tensor:
    """(h, w, 2) float32 source coordinates of every input pixel of one transform, computed as OpenCV does."""
    matrix = torch.from_numpy(source_matrix(tf, spec))[None].to(device)
    bounds = torch.from_numpy(source_bounds(tf, spec))[None].to(device)
    return sampling_grids(matrix, bounds, input_coordinates(tf.input_size, device))[0]


def warp_bilinear_u8(frame: torch.Tensor, grid: torch.Tensor, truncate: bool = False,
                     sizes: torch.Tensor | None = None) -> torch.Tensor:
    """Bilinear sampling of a (H, W, 3) uint8 frame, or a batch (B, H, W, 3), at grid (h, w, 2) or, one
    per frame, (B, h, w, 2) -> (h, w, 3) or (B, h, w, 3) float32 of integers.

    sizes: (B, 2) each frame's own (h, w) in the top-left corner of its slot (a canvas shared by frames
    of different sizes; clipped to the slot); taps outside it read 0, as OpenCV's constant border (and
    the pads of "pad_square"; the grid is already clamped to the rectangle a resize repeats).
    None: the whole slot. Rounded to nearest like OpenCV's uint8 output, or floored (truncate) like
    TF.js int32 inputs.
    """
    single = frame.dim() == 3
    frames = frame[None] if single else frame
    b, fh, fw = frames.shape[:3]
    grid = grid.expand(b, *grid.shape) if grid.dim() == 3 else grid
    if sizes is None:
        own_h, own_w = fh, fw
    else:
        own_h, own_w = sizes[:, 0].clamp(max=fh).view(b, 1, 1), sizes[:, 1].clamp(max=fw).view(b, 1, 1)
    x, y = grid[..., 0], grid[..., 1]
    x0f, y0f = torch.floor(x), torch.floor(y)
    ax, ay = (x - x0f)[..., None], (y - y0f)[..., None]
    x0, y0 = x0f.long(), y0f.long()
    item = torch.arange(b, device=frames.device).view(b, 1, 1)
    img = frames.float()

    def tap(yy, xx):
        inside = ((xx >= 0) & (xx < own_w) & (yy >= 0) & (yy < own_h))[..., None]
        return img[item, yy.clamp(0, fh - 1), xx.clamp(0, fw - 1)] * inside

    value = (tap(y0, x0) * (1 - ax) + tap(y0, x0 + 1) * ax) * (1 - ay) \
        + (tap(y0 + 1, x0) * (1 - ax) + tap(y0 + 1, x0 + 1) * ax) * ay
    value = torch.floor(value) if truncate else torch.round(value).clamp(0, 255)
    return value[0] if single else value


def normalization(spec: PreprocessSpec, device) -> tuple[torch.Tensor, torch.Tensor]:
    """The spec's per-channel mean and std as float32 device tensors.

    Made once, outside any CUDA-graph capture: a tensor built from a Python list is a host-to-device
    copy, which a capturing stream does not allow."""
    return (torch.tensor(spec.mean, device=device, dtype=torch.float32),
            torch.tensor(spec.std, device=device, dtype=torch.float32))


def normalize_nchw(warped: torch.Tensor, spec: PreprocessSpec, dtype=torch.float32,
                   norm: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """(h, w, 3) or (B, h, w, 3) BGR pixels -> (1 or B, 3, h, w) normalised, in spec's channel order.

    norm: `normalization(spec, device)`, when already made."""
    if spec.channel_order == "rgb":
        warped = warped.flip(-1)
    mean, std = norm if norm is not None else normalization(spec, warped.device)
    out = ((warped * spec.pixel_scale - mean) / std).movedim(-1, -3)
    return (out if out.dim() == 4 else out[None]).to(dtype)


def preprocess_on_device(frame: torch.Tensor, tf: InputTransform, spec: PreprocessSpec,
                         grid: torch.Tensor | None = None, dtype=torch.float32,
                         norm: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """The whole device pre-processing of one frame (H, W, 3) or a batch of one size (B, H, W, 3) ->
    (1 or B, 3, h, w): the torch reference of the fused kernel. Pass `grid` and `norm` made
    beforehand to run it inside a CUDA-graph capture."""
    if grid is None:
        grid = sampling_grid(tf, spec, frame.device)
    return normalize_nchw(warp_bilinear_u8(frame, grid, spec.truncate_pixels), spec, dtype, norm)


def preprocess_frames(canvas: torch.Tensor, matrices: torch.Tensor, sizes: torch.Tensor, bounds: torch.Tensor,
                      spec: PreprocessSpec, coords: tuple[torch.Tensor, torch.Tensor], dtype=torch.float32,
                      norm: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Frames of any sizes, each with its own warp: canvas (B, H, W, 3) uint8 (frame i in the top-left
    corner of slot i), matrices (B, 2, 3) float32 (`source_matrices`), sizes (B, 2) their own (h, w),
    bounds (B, 4) float32 (`warp_bounds`) -> (B, 3, h, w) at the input size of `coords`. The torch
    reference of the kernel; capturable (no host copy, no sync) with `coords` and `norm` made beforehand."""
    grid = sampling_grids(matrices, bounds, coords)
    return normalize_nchw(warp_bilinear_u8(canvas, grid, spec.truncate_pixels, sizes), spec, dtype, norm)
