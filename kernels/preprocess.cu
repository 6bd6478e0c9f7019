// Fused pre-processing: uint8 HWC BGR frames -> warped, normalised NCHW input (float or half).
// Mirrors centernet/inference/gpu_preprocess.py step by step (same float32 operations in the same
// order; compiled with --fmad=false so no multiply-add is contracted), which reproduces OpenCV's
// bilinear warpAffine. One thread per output pixel; blockIdx.z is the batch item.
// Each frame's warp is data, not a constant: frame b sits in the top-left corner of its slot of a
// shared canvas (B, ch, cw, 3) and brings its own source matrix (B, 6), size (B, 2: h, w) and sample
// bounds (B, 4: x0, y0, x1, y1), so frames of different sizes share one launch (and one captured CUDA
// graph). Each source coordinate is clamped to its bounds (cv2.resize repeats the edge of the frame, or
// of the frame with its pads; for warpAffine they are one pixel of border around the frame: no change),
// then taps outside the frame's own size read the border value 0.
#include <cuda_fp16.h>

struct WarpParams {
    float scale;       // pixel multiplier (1/255 or 1)
    float mean[3];     // per output channel
    float std[3];
    int rgb;           // 1: output channel c reads source channel 2 - c
    int truncate;      // 1: floor instead of round (TF.js int32 inputs)
};
// preprocess.py passes the struct by value as a numpy structured array with this layout: every
// member is 4-byte, so no padding, and the size pins the field list (NVRTC has no offsetof)
static_assert(sizeof(WarpParams) == 36, "WarpParams changed: update WARP_PARAMS_DTYPE in preprocess.py");

// One frame of the canvas: its pixels (row stride cw), its own size, its matrix from input pixel
// (x, y) to source pixel: sx = m0 x + m1 y + m2, sy = m3 x + m4 y + m5, and the bounds sx and sy are
// clamped to: b0 <= sx <= b2, b1 <= sy <= b3.
struct Frame {
    const unsigned char* img;
    int fh, fw, cw;
    const float* m;
    const float* b;
};

__device__ __forceinline__ float tap(const Frame& f, int y, int x, int c) {
    if (x < 0 || x >= f.fw || y < 0 || y >= f.fh) return 0.0f;  // constant zero border at the frame's own edge
    return (float)f.img[((long)y * f.cw + x) * 3 + c];
}

__device__ __forceinline__ float warped_value(const Frame& f, const WarpParams& p, int x, int y, int c) {
    float fx = (float)x, fy = (float)y;
    float sx = fminf(fmaxf(f.m[0] * fx + f.m[1] * fy + f.m[2], f.b[0]), f.b[2]);
    float sy = fminf(fmaxf(f.m[3] * fx + f.m[4] * fy + f.m[5], f.b[1]), f.b[3]);
    float x0f = floorf(sx), y0f = floorf(sy);
    float ax = sx - x0f, ay = sy - y0f;
    int x0 = (int)x0f, y0 = (int)y0f;
    float top = tap(f, y0, x0, c) * (1.0f - ax) + tap(f, y0, x0 + 1, c) * ax;
    float bottom = tap(f, y0 + 1, x0, c) * (1.0f - ax) + tap(f, y0 + 1, x0 + 1, c) * ax;
    float v = top * (1.0f - ay) + bottom * ay;
    return p.truncate ? floorf(v) : fminf(fmaxf(rintf(v), 0.0f), 255.0f);
}

__device__ __forceinline__ Frame frame_of(const unsigned char* frames, int ch, int cw, const float* matrices,
                                          const int* sizes, const float* bounds, int b) {
    Frame f;
    f.img = frames + (long)b * ch * cw * 3;
    f.fh = min(sizes[2 * b], ch);  // a size beyond the canvas is clipped to it: never a read outside the slot
    f.fw = min(sizes[2 * b + 1], cw);
    f.cw = cw;
    f.m = matrices + 6 * b;
    f.b = bounds + 4 * b;
    return f;
}

__device__ __forceinline__ float normalised(const Frame& f, const WarpParams& p, int x, int y, int c) {
    int src_c = p.rgb ? 2 - c : c;
    return (warped_value(f, p, x, y, src_c) * p.scale - p.mean[c]) / p.std[c];
}

extern "C" __global__ void warp_normalize_f32(const unsigned char* __restrict__ frames, int ch, int cw,
                                              const float* __restrict__ matrices, const int* __restrict__ sizes,
                                              const float* __restrict__ bounds,
                                              float* __restrict__ out, int oh, int ow, WarpParams p) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y, b = blockIdx.z;
    if (x >= ow || y >= oh) return;
    Frame f = frame_of(frames, ch, cw, matrices, sizes, bounds, b);
    long plane = (long)oh * ow;
    for (int c = 0; c < 3; ++c)
        out[(long)b * 3 * plane + c * plane + (long)y * ow + x] = normalised(f, p, x, y, c);
}

extern "C" __global__ void warp_normalize_f16(const unsigned char* __restrict__ frames, int ch, int cw,
                                              const float* __restrict__ matrices, const int* __restrict__ sizes,
                                              const float* __restrict__ bounds,
                                              __half* __restrict__ out, int oh, int ow, WarpParams p) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y, b = blockIdx.z;
    if (x >= ow || y >= oh) return;
    Frame f = frame_of(frames, ch, cw, matrices, sizes, bounds, b);
    long plane = (long)oh * ow;
    for (int c = 0; c < 3; ++c)
        out[(long)b * 3 * plane + c * plane + (long)y * ow + x] = __float2half_rn(normalised(f, p, x, y, c));
}
