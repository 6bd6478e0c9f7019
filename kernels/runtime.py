"""Compiling and launching the .cu kernels: a RawModule cache, torch's current stream, DLPack.

Kernels compile once per process with NVRTC (no nvcc needed) and launch on torch's current CUDA
stream, so they can be captured inside a torch CUDA graph. `compile_to_ptx` needs no GPU or driver:
the CPU test suite uses it to catch syntax errors in every .cu file.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent
NVRTC_OPTIONS = ("--std=c++14", "--fmad=false")  # no contracted multiply-adds: bit-equal to torch's ops
ARCH_FOR_CHECK = "compute_90"  # Hopper, the lent GPUs; any arch works for a syntax check


def cupy_available() -> bool:
    return importlib.util.find_spec("cupy") is not None


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


def current_stream():
    """torch's current CUDA stream as a CuPy stream (kernels then order with torch's work and graphs)."""
    import cupy
    import torch
    return cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream)


def as_cupy(tensor):
    """Zero-copy view of a CUDA torch tensor."""
    import cupy
    return cupy.from_dlpack(tensor.detach())
