"""The CuPy kernels against their torch references (CUDA only; `main.py bench --gpu-check` runs more)."""
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.cuda
if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU", allow_module_level=True)
pytest.importorskip("cupy")


def test_peak_kernel_finds_the_torch_peaks_in_the_same_order():
    from centernet.inference.decode import peak_mask_scores, topk_peaks
    from kernels.peaks import peak_topk
    hm = torch.randn(2, 80, 128, 128, device="cuda") * 2 - 3
    ks, kc, ky, kx, _ = peak_topk(hm, 100)
    rs, rc, ry, rx, _ = topk_peaks(peak_mask_scores(torch.sigmoid(hm)), 100)
    assert torch.allclose(ks, rs, atol=1e-3)
    assert torch.equal(kc * 16384 + ky * 128 + kx, rc * 16384 + ry * 128 + rx)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gather_kernel_equals_gather_at(dtype, layout):
    from centernet.inference.decode import gather_at
    from kernels.gather import gather_peaks
    feature = torch.randn(2, 34, 96, 128, device="cuda").to(dtype).contiguous(memory_format=layout)
    pixel = torch.randint(0, 96 * 128, (2, 100), device="cuda")
    assert torch.equal(gather_peaks(feature, pixel), gather_at(feature, pixel).float())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_preprocess_kernel_equals_the_torch_reference(dtype):
    from centernet.inference.gpu_preprocess import preprocess_on_device, source_matrix
    from centernet.inference.transforms import PreprocessSpec, plan_transform
    from kernels.preprocess import warp_normalize, warp_params
    rng = np.random.default_rng(0)
    frame = torch.from_numpy(rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)).cuda()
    spec = PreprocessSpec()
    tf = plan_transform(spec, (720, 1280))
    ref = preprocess_on_device(frame, tf, spec, dtype=dtype)
    out = torch.empty(ref.shape, dtype=ref.dtype, device=ref.device)  # contiguous, unlike ref (an NCHW view of HWC)
    warp_normalize(frame[None], out, warp_params(source_matrix(tf, spec), spec.pixel_scale, spec.mean, spec.std,
                                                 False, False))
    assert float((out.float() - ref.float()).abs().max()) <= 1e-3
