"""Every .cu file compiles with NVRTC: no GPU or driver needed, so the CPU suite catches kernel errors."""
import pytest

from kernels.runtime import compile_to_ptx, kernel_sources

pytest.importorskip("cupy_backends.cuda.libs.nvrtc", reason="cupy-cuda13x is not installed (pip install -e .[gpu])")

ENTRY_POINTS = {"gather.cu": ["gather_peaks_f32", "gather_peaks_f16"], "peaks.cu": ["peak_candidates"], "preprocess.cu": ["warp_normalize_f32", "warp_normalize_f16"]}


@pytest.mark.parametrize("name", sorted(kernel_sources()))
def test_kernel_compiles_and_exports_its_entry_points(name):
    ptx = compile_to_ptx(name, kernel_sources()[name])
    for entry in ENTRY_POINTS[name]:
        assert f".entry {entry}" in ptx


def test_a_syntax_error_is_reported_with_the_compiler_log():
    with pytest.raises(RuntimeError, match="broken.cu failed to compile"):
        compile_to_ptx("broken.cu", 'extern "C" __global__ void f(int* x) { x[0] = ; }')


def test_every_kernel_file_is_covered():
    assert set(kernel_sources()) == set(ENTRY_POINTS)
