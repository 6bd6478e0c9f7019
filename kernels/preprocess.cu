// Fused pre-processing: uint8 HWC BGR frames -> warped, normalised NCHW input (float or half).
// Mirrors centernet/gpu_preprocess.py step by step (same float32 operations in the same order;
// compiled with --fmad=false so no multiply-add is contracted), which reproduces OpenCV's
// bilinear warpAffine. One thread per output pixel; blockIdx.z is the batch item.
#include <cuda_fp16.h>

struct WarpParams {
    float m[6];        // input pixel (x, y) -> source pixel: sx = m0 x + m1 y + m2, sy = m3 x + m4 y + m5
    float scale;       // pixel multiplier (1/255 or 1)
    float mean[3];     // per output channel
    float std[3];
    int rgb;           // 1: output channel c reads source channel 2 - c
    int truncate;      // 1: floor instead of round (TF.js int32 inputs)
};
// preprocess.py passes the struct by value as a numpy structured array with this layout: every
// member is 4-byte, so no padding, and the size pins the field list (NVRTC has no offsetof)
static_assert(sizeof(WarpParams) == 60, "WarpParams changed: update WARP_PARAMS_DTYPE in preprocess.py");

__device__ __forceinline__ float tap(const unsigned char* img, int fh, int fw, int y, int x, int c) {
    if (x < 0 || x >= fw || y < 0 || y >= fh) return 0.0f;  // constant zero border
    return (float)img[((long)y * fw + x) * 3 + c];
}

__device__ __forceinline__ float warped_value(const unsigned char* img, int fh, int fw, const WarpParams& p,
                                              int x, int y, int c) {
    float fx = (float)x, fy = (float)y;
    float sx = p.m[0] * fx + p.m[1] * fy + p.m[2];
    float sy = p.m[3] * fx + p.m[4] * fy + p.m[5];
    float x0f = floorf(sx), y0f = floorf(sy);
    float ax = sx - x0f, ay = sy - y0f;
    int x0 = (int)x0f, y0 = (int)y0f;
    float top = tap(img, fh, fw, y0, x0, c) * (1.0f - ax) + tap(img, fh, fw, y0, x0 + 1, c) * ax;
    float bottom = tap(img, fh, fw, y0 + 1, x0, c) * (1.0f - ax) + tap(img, fh, fw, y0 + 1, x0 + 1, c) * ax;
    float v = top * (1.0f - ay) + bottom * ay;
    return p.truncate ? floorf(v) : fminf(fmaxf(rintf(v), 0.0f), 255.0f);
}

__device__ __forceinline__ float normalised(const unsigned char* frames, int fh, int fw, const WarpParams& p,
                                            int x, int y, int c, int b) {
    const unsigned char* img = frames + (long)b * fh * fw * 3;
    int src_c = p.rgb ? 2 - c : c;
    return (warped_value(img, fh, fw, p, x, y, src_c) * p.scale - p.mean[c]) / p.std[c];
}

extern "C" __global__ void warp_normalize_f32(const unsigned char* __restrict__ frames, int fh, int fw,
                                              float* __restrict__ out, int oh, int ow, WarpParams p) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y, b = blockIdx.z;
    if (x >= ow || y >= oh) return;
    long plane = (long)oh * ow;
    for (int c = 0; c < 3; ++c)
        out[(long)b * 3 * plane + c * plane + (long)y * ow + x] = normalised(frames, fh, fw, p, x, y, c, b);
}

extern "C" __global__ void warp_normalize_f16(const unsigned char* __restrict__ frames, int fh, int fw,
                                              __half* __restrict__ out, int oh, int ow, WarpParams p) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y, b = blockIdx.z;
    if (x >= ow || y >= oh) return;
    long plane = (long)oh * ow;
    for (int c = 0; c < 3; ++c)
        out[(long)b * 3 * plane + c * plane + (long)y * ow + x] = __float2half_rn(normalised(frames, fh, fw, p, x, y, c, b));
}
