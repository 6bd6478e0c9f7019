"""Compiling and launching the .cu kernels: a RawModule cache, torch's current stream, DLPack.

Kernels compile once per process with NVRTC (no nvcc needed) and launch on torch's current CUDA
stream, so they can be captured inside a torch CUDA graph. `compile_to_ptx` needs no GPU or driver:
the CPU test suite uses it to catch syntax errors in every .cu file.
"""
from __future__ import annotations

import functools
import importlib.util
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch

KERNEL_DIR = Path(__file__).resolve().parent
NVRTC_OPTIONS = ("--std=c++14", "--fmad=false")  # no contracted multiply-adds: bit-equal to torch's ops
ARCH_FOR_CHECK = "compute_90"  # Hopper, the lent GPUs; any arch works for a syntax check


PROBE_SOURCE = r'''
extern "C" __global__ void probe_add_one(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] + 1.0f;
}
'''


@dataclass(frozen=True)
class KernelProbe:
    """Whether the CuPy kernels can run here; `reason` says why not ("" when they can)."""

    usable: bool
    reason: str = ""
    installed: bool = True  # False: CuPy is not installed (a skip, not a failure)
    detail: str = ""        # the traceback of what failed


def cupy_available() -> bool:
    return importlib.util.find_spec("cupy") is not None


@functools.lru_cache(maxsize=None)
def probe() -> KernelProbe:
    """Once per process: import CuPy, see a device, compile and launch a tiny kernel and read its
    result back, then compile every kernel of this folder. A CuPy that is installed but unusable
    (no driver, an NVRTC or header mismatch, two CuPy wheels) fails here, not in every frame.
    Call it outside CUDA-graph capture (it synchronizes)."""
    try:
        import cupy
    except Exception as e:  # absent, or present but broken (two wheels: ImportError at import)
        installed = not isinstance(e, ModuleNotFoundError)
        why = f"CuPy cannot be imported ({type(e).__name__}: {e})" if installed else "CuPy is not installed"
        return KernelProbe(False, why, installed, traceback.format_exc())
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return KernelProbe(False, "CuPy sees no CUDA device")
        x = cupy.arange(4, dtype=cupy.float32)
        y = cupy.zeros_like(x)
        cupy.RawKernel(PROBE_SOURCE, "probe_add_one")((1,), (32,), (x, y, cupy.int32(4)))
        cupy.cuda.Device().synchronize()
        if cupy.asnumpy(y).tolist() != [1.0, 2.0, 3.0, 4.0]:
            return KernelProbe(False, f"CuPy's probe kernel computed {cupy.asnumpy(y).tolist()}, not [1, 2, 3, 4]")
        for name, source in kernel_sources().items():
            for entry in entry_points(source):
                module(name).get_function(entry)  # compiles and loads now, never inside a capture
    except Exception as e:
        return KernelProbe(False, f"CuPy is installed but cannot run kernels ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0] if str(e) else ''})", True, traceback.format_exc())
    return KernelProbe(True)


def entry_points(source: str) -> list[str]:
    """The `extern "C" __global__` functions a .cu source exports."""
    return re.findall(r'extern\s+"C"\s+__global__\s+void\s+(\w+)', source)


def cuda_include_dirs() -> list[str]:
    """Header folders of the CUDA runtime wheels (cuda_fp16.h lives in nvidia/cu13/include)."""
    dirs = []
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations or []) if spec else []:
        for inc in sorted(Path(root).glob("*/include")):
            if (inc / "cuda_fp16.h").exists():
                dirs.append(str(inc))
    return dirs


def kernel_sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(KERNEL_DIR.glob("*.cu"))}


def compile_to_ptx(name: str, source: str, arch: str = ARCH_FOR_CHECK) -> str:
    """Compile CUDA source with NVRTC, no device needed; raises RuntimeError with NVRTC's log."""
    from cupy_backends.cuda.libs import nvrtc
    prog = nvrtc.createProgram(source, name, [], [])
    opts = [*NVRTC_OPTIONS, f"-arch={arch}", *(f"-I{d}" for d in cuda_include_dirs())]
    try:
        nvrtc.compileProgram(prog, opts)
    except Exception as e:  # NVRTCError: attach the compiler log
        log = nvrtc.getProgramLog(prog)
        raise RuntimeError(f"{name} failed to compile:\n{log}") from e
    finally:
        ptx = None
    try:
        ptx = nvrtc.getPTX(prog)
    finally:
        nvrtc.destroyProgram(prog)
    return ptx.decode() if isinstance(ptx, bytes) else ptx


@functools.lru_cache(maxsize=None)
def module(file_name: str):
    """The cupy.RawModule of a .cu file in this folder, compiled once per process."""
    import cupy
    source = (KERNEL_DIR / file_name).read_text()
    options = (*NVRTC_OPTIONS, *(f"-I{d}" for d in cuda_include_dirs()))
    return cupy.RawModule(code=source, options=options)


class _StreamHandle:
    """A raw stream handle through the CUDA stream protocol (whatever torch's version implements)."""

    def __init__(self, handle: int):
        self.handle = handle

    def __cuda_stream__(self):
        return (0, self.handle)


@functools.lru_cache(maxsize=64)
def cupy_stream(handle: int, device: int):
    """One CuPy stream per CUDA stream handle, made once (a new wrapper per launch costs time and, with
    CuPy 14's deprecated ExternalStream, a warning per frame)."""
    import cupy
    if hasattr(cupy.cuda.Stream, "from_external"):
        return cupy.cuda.Stream.from_external(_StreamHandle(handle))
    return cupy.cuda.ExternalStream(handle, device)


def current_stream():
    """torch's current CUDA stream as a CuPy stream (kernels then order with torch's work and graphs)."""
    stream = torch.cuda.current_stream()
    return cupy_stream(stream.cuda_stream, stream.device.index)


def as_cupy(tensor):
    """Zero-copy view of a CUDA torch tensor."""
    import cupy
    return cupy.from_dlpack(tensor.detach())
