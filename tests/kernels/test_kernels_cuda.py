"""The CuPy kernels against their torch references (CUDA only; `main.py bench --gpu-check` runs more)."""
import numpy as np
import pytest
import torch

from tests.kernels.peak_compare import top_peak_problems

pytestmark = pytest.mark.cuda
if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU", allow_module_level=True)
pytest.importorskip("cupy", reason="CuPy is not installed: the kernels are optional (pip install -e .[gpu])")


def test_the_probe_finds_the_kernels_usable():
    from kernels.runtime import probe
    result = probe()
    assert result.usable, f"{result.reason}\n{result.detail}"


@pytest.fixture
def usable_kernels():
    """The other tests skip (with the probe's reason) where the probe test above fails."""
    from kernels.runtime import probe
    if not probe().usable:
        pytest.skip(f"the CuPy kernels cannot run here: {probe().reason}")


@pytest.mark.parametrize("heat", ["random", "quantised"])
def test_peak_kernel_finds_the_torch_peaks(usable_kernels, heat):
    """Seeded; "quantised" logits tie often (plateaus and ties at the K-th score), compared
    tie-agnostically (tests/kernels/peak_compare.py)."""
    from centernet.inference.decode import peak_mask_scores, topk_peaks
    from kernels.peaks import peak_topk
    gen = torch.Generator(device="cuda").manual_seed(0)
    hm = torch.randn(2, 80, 128, 128, device="cuda", generator=gen) * 2 - 3
    if heat == "quantised":
        hm = torch.round(hm * 2) / 2
    ks, kc, ky, kx, _ = peak_topk(hm, 100)
    ref = peak_mask_scores(torch.sigmoid(hm))
    rs = topk_peaks(ref, 100)[0]
    for b in range(2):
        index = kc[b] * 128 * 128 + ky[b] * 128 + kx[b]
        assert top_peak_problems(ks[b], index, ref[b], atol=1e-5) == [], b  # expf vs torch's sigmoid: an ulp
        assert torch.allclose(ks[b], rs[b], atol=1e-5)


def test_the_frame_pipeline_decodes_more_peaks_than_a_tile_with_torch(usable_kernels):
    """K above the kernel's tile: the pipeline falls back to the torch top-K (the kernel would return 1024)."""
    from centernet.inference.frame_pipeline import DecodeOptions, FramePipeline
    from centernet.geometry.transforms import PreprocessSpec, plan_task_transform
    from centernet.models.build import build_model
    from kernels.peaks import TILE
    spec = PreprocessSpec(input_size=(256, 256))
    model = build_model("res_18", "ctdet").eval().cuda()
    pipe = FramePipeline(model, spec, plan_task_transform("ctdet", spec, (240, 320)), DecodeOptions(k=TILE + 200),
                         "cuda", use_kernels=True)
    frames = torch.zeros(1, 240, 320, 3, dtype=torch.uint8, device="cuda")
    with torch.inference_mode():
        out = pipe(frames)
    assert out.scores.shape == (1, TILE + 200)


def test_one_cupy_stream_per_torch_stream_and_no_warning_per_launch(usable_kernels):
    import warnings
    from kernels.gather import gather_peaks
    from kernels.runtime import cupy_stream, current_stream
    feature = torch.randn(1, 4, 8, 8, device="cuda")
    pixel = torch.zeros(1, 3, dtype=torch.long, device="cuda")
    gather_peaks(feature, pixel)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            gather_peaks(feature, pixel)
    assert current_stream() is current_stream()
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        assert current_stream().ptr == side.cuda_stream
    hits = cupy_stream.cache_info().hits
    current_stream()
    assert cupy_stream.cache_info().hits == hits + 1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gather_kernel_equals_gather_at(usable_kernels, dtype, layout):
    from centernet.inference.decode import gather_at
    from kernels.gather import gather_peaks
    gen = torch.Generator(device="cuda").manual_seed(1)
    feature = torch.randn(2, 34, 96, 128, device="cuda", generator=gen).to(dtype).contiguous(memory_format=layout)
    pixel = torch.randint(0, 96 * 128, (2, 100), device="cuda", generator=gen)
    assert torch.equal(gather_peaks(feature, pixel), gather_at(feature, pixel).float())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_preprocess_kernel_equals_the_torch_reference(usable_kernels, dtype):
    from centernet.inference.frame_canvas import plan_warps
    from centernet.inference.gpu_preprocess import preprocess_on_device
    from centernet.geometry.transforms import PreprocessSpec
    from kernels.preprocess import warp_normalize, warp_params
    rng = np.random.default_rng(0)
    frame = torch.from_numpy(rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)).cuda()
    spec = PreprocessSpec()
    warps = plan_warps("ctdet", spec, [(720, 1280)])
    ref = preprocess_on_device(frame, warps.transforms[0], spec, dtype=dtype)
    out = torch.empty(ref.shape, dtype=ref.dtype, device=ref.device)  # contiguous, unlike ref (an NCHW view of HWC)
    matrices, sizes, bounds = (torch.from_numpy(a).cuda() for a in (warps.matrices, warps.sizes, warps.bounds))
    warp_normalize(frame[None], matrices, sizes, bounds, out,
                   warp_params(spec.pixel_scale, spec.mean, spec.std, False, False))
    assert float((out.float() - ref.float()).abs().max()) <= 1e-3


@pytest.mark.parametrize("resize", ["affine", "pad_square"])
def test_preprocess_kernel_warps_frames_of_different_sizes_on_one_canvas_each_as_alone(usable_kernels, resize):
    """Each frame's matrix and size are read from buffers; pixels of the canvas beyond a frame's own
    size (255 here) are never read: every frame equals the torch reference of that frame alone."""
    from centernet.inference.frame_canvas import fill_canvas, plan_warps
    from centernet.inference.gpu_preprocess import preprocess_on_device
    from centernet.geometry.transforms import PreprocessSpec
    from kernels.preprocess import warp_normalize, warp_params
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (*hw, 3), dtype=np.uint8) for hw in ((720, 1280), (480, 640), (600, 400))]
    spec = PreprocessSpec(resize=resize, input_size=(384, 384))
    warps = plan_warps("ctdet", spec, [f.shape[:2] for f in frames])
    canvas = torch.from_numpy(fill_canvas(np.full((3, 768, 1280, 3), 255, np.uint8), frames)).cuda()
    out = torch.empty(3, 3, 384, 384, device="cuda")
    matrices, sizes, bounds = (torch.from_numpy(a).cuda() for a in (warps.matrices, warps.sizes, warps.bounds))
    warp_normalize(canvas, matrices, sizes, bounds, out,
                   warp_params(spec.pixel_scale, spec.mean, spec.std, False, False))
    for i, (f, tf) in enumerate(zip(frames, warps.transforms)):
        ref = preprocess_on_device(torch.from_numpy(f).cuda(), tf, spec)
        assert float((out[i:i + 1] - ref).abs().max()) <= 1e-3, i


@pytest.mark.parametrize("truncate", [False, True])
@pytest.mark.parametrize("resize", ["stretch", "pad_square"])
def test_preprocess_kernel_repeats_the_edge_of_an_enlarged_frame_as_its_reference(usable_kernels, resize, truncate):
    """Frames smaller than the input (a 176x144 video frame, messi5 342x548, a portrait 150x200) beside a
    larger one on a canvas of 255: each sample clamped to its own frame's bounds (with its pads), as the
    torch reference (tests/centernet/inference/test_gpu_preprocess.py checks that against cv2.resize)."""
    import cv2
    from centernet.inference.frame_canvas import fill_canvas, plan_warps
    from centernet.inference.gpu_preprocess import preprocess_on_device
    from centernet.geometry.transforms import PreprocessSpec
    from kernels.preprocess import warp_normalize, warp_params
    from tests.conftest import DATA, need
    capture = cv2.VideoCapture(str(need(DATA / "video" / "carphone_pristine.mp4")))
    ok, carphone = capture.read()
    capture.release()
    assert ok
    bus = cv2.imread(str(need(DATA / "images" / "bus.jpg")))
    frames = [cv2.imread(str(need(DATA / "images" / "zidane.jpg"))), carphone,
              cv2.imread(str(need(DATA / "images" / "messi5.jpg"))), cv2.resize(bus, (150, 200))]
    spec = PreprocessSpec(resize=resize, channel_order="rgb", pixel_scale=1.0, mean=(0, 0, 0), std=(1, 1, 1),
                          truncate_pixels=truncate)
    warps = plan_warps("ctdet", spec, [f.shape[:2] for f in frames])
    canvas = torch.from_numpy(fill_canvas(np.full((len(frames), 720, 1280, 3), 255, np.uint8), frames)).cuda()
    out = torch.empty(len(frames), 3, *spec.input_size, device="cuda")
    matrices, sizes, bounds = (torch.from_numpy(a).cuda() for a in (warps.matrices, warps.sizes, warps.bounds))
    params = warp_params(spec.pixel_scale, spec.mean, spec.std, rgb=True, truncate=truncate)
    warp_normalize(canvas, matrices, sizes, bounds, out, params)
    for i, (f, tf) in enumerate(zip(frames, warps.transforms)):
        ref = preprocess_on_device(torch.from_numpy(f).cuda(), tf, spec)
        assert float((out[i:i + 1] - ref).abs().max()) <= 1e-3, i
