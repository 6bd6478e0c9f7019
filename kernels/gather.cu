// Head values at the decoded peaks: out[b, k, ch] = feature[b, ch, pixel[b, k]], as float32.
// One thread per output value. The feature map is float32 or float16, in NCHW memory
// (channels_last = 0) or NHWC memory (channels_last = 1, what a channels_last network returns),
// so no layout copy is needed before gathering. Reference: centernet.decode.gather_at.
#include <cuda_fp16.h>

template <typename T>
__device__ __forceinline__ float to_float(T v);
template <>
__device__ __forceinline__ float to_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ float to_float<__half>(__half v) { return __half2float(v); }

template <typename T>
__device__ void gather(const T* __restrict__ feature, const long long* __restrict__ pixel, int batch, int channels,
                       int plane, int k, int channels_last, float* __restrict__ out) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long total = (long long)batch * k * channels;
    if (i >= total) return;
    int ch = (int)(i % channels);
    long long peak = i / channels;  // b * k + kk
    int b = (int)(peak / k);
    long long p = pixel[peak];
    long long at = channels_last ? ((long long)b * plane + p) * channels + ch
                                 : ((long long)b * channels + ch) * plane + p;
    out[i] = to_float(feature[at]);
}

extern "C" __global__ void gather_peaks_f32(const float* feature, const long long* pixel, int batch, int channels,
                                            int plane, int k, int channels_last, float* out) {
    gather<float>(feature, pixel, batch, channels, plane, k, channels_last, out);
}

extern "C" __global__ void gather_peaks_f16(const __half* feature, const long long* pixel, int batch, int channels,
                                            int plane, int k, int channels_last, float* out) {
    gather<__half>(feature, pixel, batch, channels, plane, k, channels_last, out);
}
