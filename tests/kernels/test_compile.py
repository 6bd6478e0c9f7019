"""Every .cu file compiles with NVRTC: no GPU or driver needed, so the CPU suite catches kernel errors."""
import pytest

from kernels.runtime import compile_to_ptx, entry_points, kernel_sources, probe

pytest.importorskip("cupy_backends.cuda.libs.nvrtc", reason="cupy-cuda13x is not installed (pip install -e .[gpu])")

ENTRY_POINTS = {"gather.cu": ["gather_peaks_f32", "gather_peaks_f16"], "peaks.cu": ["peak_candidates"],
                "preprocess.cu": ["warp_normalize_f32", "warp_normalize_f16"]}


@pytest.mark.parametrize("name", sorted(kernel_sources()))
def test_kernel_compiles_and_exports_its_entry_points(name):
    ptx = compile_to_ptx(name, kernel_sources()[name])
    for entry in ENTRY_POINTS[name]:
        assert f".entry {entry}" in ptx


def test_entry_points_are_read_from_each_source():
    assert {name: entry_points(src) for name, src in kernel_sources().items()} == ENTRY_POINTS


def test_the_probe_says_why_the_kernels_cannot_run_here_without_raising(monkeypatch):
    """No GPU here: CuPy imports but cannot launch; with CuPy made unimportable it is "not installed"
    (a skip in --gpu-check, not a failure). The result is kept: one probe per process."""
    import sys
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is available: the probe succeeds (test_kernels_cuda.py)")
    probe.cache_clear()
    result = probe()
    assert not result.usable and result.installed and result.reason.startswith("CuPy is installed but cannot run")
    assert probe() is result
    monkeypatch.setitem(sys.modules, "cupy", None)
    probe.cache_clear()
    try:
        absent = probe()
    finally:
        probe.cache_clear()
    assert not absent.usable and not absent.installed and absent.reason == "CuPy is not installed"


def test_one_cupy_stream_per_cuda_stream_and_no_deprecation_warning():
    import warnings
    from kernels.runtime import cupy_stream
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = cupy_stream(0x1234, 0)
        assert cupy_stream(0x1234, 0) is first and first.ptr == 0x1234
        assert cupy_stream(0x5678, 0) is not first


def test_peak_topk_refuses_what_it_cannot_serve_before_launching():
    """K above the tile (it would return fewer rows) or logits other than float32 (read as floats)."""
    import torch
    from kernels.peaks import TILE, peak_topk, supports
    assert supports(100, torch.float32) and supports(TILE, torch.float32)
    assert not supports(TILE + 1, torch.float32) and not supports(100, torch.float16)
    with pytest.raises(ValueError, match="K=1025"):
        peak_topk(torch.zeros(1, 2, 64, 64), TILE + 1)
    with pytest.raises(ValueError, match="torch.float16"):
        peak_topk(torch.zeros(1, 2, 64, 64, dtype=torch.float16), 100)


def test_a_syntax_error_is_reported_with_the_compiler_log():
    with pytest.raises(RuntimeError, match="broken.cu failed to compile"):
        compile_to_ptx("broken.cu", 'extern "C" __global__ void f(int* x) { x[0] = ; }')


def test_every_kernel_file_is_covered():
    assert set(kernel_sources()) == set(ENTRY_POINTS)


def test_warp_params_are_a_one_element_array_laid_out_as_the_c_struct():
    """CuPy passes a one-element numpy array by value (it refuses ctypes structures); the layout must
    be preprocess.cu's `struct WarpParams`: float scale, mean[3], std[3]; int rgb, truncate. The warp
    itself is no longer a constant of it: each frame's matrix and size are device buffers."""
    import numpy as np
    from kernels.preprocess import WARP_PARAMS_DTYPE, warp_params
    offsets = {name: WARP_PARAMS_DTYPE.fields[name][1] for name in WARP_PARAMS_DTYPE.names}
    assert offsets == {"scale": 0, "mean": 4, "std": 16, "rgb": 28, "truncate": 32}
    assert WARP_PARAMS_DTYPE.itemsize == 36  # preprocess.cu static_asserts sizeof(WarpParams) == 36
    p = warp_params(1 / 255, (0.4, 0.5, 0.6), (0.2, 0.3, 0.4), True, False)
    assert isinstance(p, np.ndarray) and p.shape == (1,)
    raw = np.frombuffer(p.tobytes(), np.float32)
    assert raw[0] == np.float32(1 / 255)
    assert np.allclose(raw[1:7], [0.4, 0.5, 0.6, 0.2, 0.3, 0.4])
    assert np.frombuffer(p.tobytes(), np.int32)[7:].tolist() == [1, 0]


def test_the_warp_kernel_reads_each_frames_matrix_and_size_from_buffers():
    """The per-frame warp is data the kernel reads at launch (so a captured graph serves frames of any
    size): its signature takes the canvas, the (B, 6) matrices, (B, 2) sizes and (B, 4) sample bounds,
    not a matrix by value."""
    import re
    source = kernel_sources()["preprocess.cu"]
    for entry in ENTRY_POINTS["preprocess.cu"]:
        signature = re.search(rf"{entry}\(([^)]*)\)", source).group(1)
        assert "const float* __restrict__ matrices" in signature and "const int* __restrict__ sizes" in signature
        assert "const float* __restrict__ bounds" in signature


def test_warp_normalize_refuses_a_strided_output_before_launching():
    """The kernel writes raw NCHW memory: the torch reference's output is an NCHW view of HWC memory,
    so `torch.empty_like` of it would be filled in the wrong order; the check needs no GPU. The
    per-frame matrices and sizes are checked the same way (dtype, shape, contiguity)."""
    import numpy as np
    import torch
    from centernet.inference.gpu_preprocess import preprocess_on_device
    from centernet.geometry.transforms import PreprocessSpec, plan_transform
    from kernels.preprocess import warp_normalize, warp_params
    spec = PreprocessSpec(input_size=(64, 64))
    frame = torch.from_numpy(np.zeros((48, 80, 3), np.uint8))
    tf = plan_transform(spec, (48, 80))
    ref = preprocess_on_device(frame, tf, spec)
    assert not ref.is_contiguous()
    params = warp_params(1 / 255, spec.mean, spec.std, False, False)
    matrices, sizes = torch.zeros(1, 2, 3), torch.tensor([[48, 80]], dtype=torch.int32)
    bounds = torch.tensor([[0, 0, 79, 47]], dtype=torch.float32)
    with pytest.raises(ValueError, match="out must be a contiguous"):
        warp_normalize(frame[None], matrices, sizes, bounds, torch.empty_like(ref), params)
    with pytest.raises(ValueError, match="out must be a contiguous"):
        warp_normalize(frame[None], matrices, sizes, bounds, torch.empty(ref.shape, dtype=torch.bfloat16), params)
    with pytest.raises(ValueError, match="frames must be a contiguous"):
        warp_normalize(frame[None].permute(0, 2, 1, 3), matrices, sizes, bounds, torch.empty(ref.shape), params)
    with pytest.raises(ValueError, match=r"matrices must be a contiguous \(1, 2, 3\) float32"):
        warp_normalize(frame[None], torch.zeros(2, 2, 3), sizes, bounds, torch.empty(ref.shape), params)
    with pytest.raises(ValueError, match=r"sizes must be a contiguous \(1, 2\) int32"):
        warp_normalize(frame[None], matrices, sizes.long(), bounds, torch.empty(ref.shape), params)
    with pytest.raises(ValueError, match=r"bounds must be a contiguous \(1, 4\) float32"):
        warp_normalize(frame[None], matrices, sizes, bounds[:, :2], torch.empty(ref.shape), params)
