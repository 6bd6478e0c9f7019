"""Optional CuPy CUDA kernels. The torch implementations in `centernet` are the contract; these are
accelerators that must match them. Nothing here imports `centernet`."""
