// Peak candidates for CenterNet decoding: fused sigmoid + 3x3 local-max test + per-block top-K.
// Each block takes TILE consecutive elements of one image's flattened (C, H, W) heatmap logits, turns
// them into sigmoid scores, zeroes non-peaks (a peak equals the max of its 3x3 window in its own
// channel, so plateaus keep every equal pixel, as the torch reference), sorts the tile in shared
// memory (bitonic, descending) and writes its best K (score, flat index) pairs. A global top-K over
// these candidates (torch.topk, small) then equals the top-K over the whole map.
#define TILE 1024

__device__ __forceinline__ float sigmoid_of(float x) { return 1.0f / (1.0f + expf(-x)); }

__device__ float peak_score(const float* heat, int h, int w, long idx) {
    long plane = (long)h * w;
    long base = (idx / plane) * plane;
    int pix = (int)(idx - base), y = pix / w, x = pix - y * w;
    float s = sigmoid_of(heat[idx]);
    for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
            int yy = y + dy, xx = x + dx;
            if ((dy == 0 && dx == 0) || yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            if (sigmoid_of(heat[base + (long)yy * w + xx]) > s) return 0.0f;
        }
    }
    return s;
}

// grid: (tiles per image, batch); block: TILE / 2 threads, each loading two elements.
extern "C" __global__ void peak_candidates(const float* __restrict__ heat, int c, int h, int w, int k,
                                           float* __restrict__ cand_score, long long* __restrict__ cand_index) {
    __shared__ float score[TILE];
    __shared__ long long index[TILE];
    long n = (long)c * h * w;
    const float* img = heat + (long)blockIdx.y * n;
    long start = (long)blockIdx.x * TILE;
    for (int t = threadIdx.x; t < TILE; t += blockDim.x) {
        long i = start + t;
        score[t] = i < n ? peak_score(img, h, w, i) : -1.0f;  // padding sorts last
        index[t] = i < n ? i : -1;
    }
    __syncthreads();
    // bitonic sort, descending by score, ties by ascending index (deterministic)
    for (int size = 2; size <= TILE; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int t = threadIdx.x; t < TILE; t += blockDim.x) {
                int partner = t ^ stride;
                if (partner > t) {
                    bool descending = (t & size) == 0;
                    float a = score[t], b = score[partner];
                    long long ia = index[t], ib = index[partner];
                    bool a_first = a > b || (a == b && (unsigned long long)ia < (unsigned long long)ib);
                    if (a_first != descending) {
                        score[t] = b; score[partner] = a;
                        index[t] = ib; index[partner] = ia;
                    }
                }
            }
            __syncthreads();
        }
    }
    long out = ((long)blockIdx.y * gridDim.x + blockIdx.x) * k;
    for (int t = threadIdx.x; t < k; t += blockDim.x) {
        cand_score[out + t] = t < TILE ? score[t] : -1.0f;
        cand_index[out + t] = t < TILE ? index[t] : -1;
    }
}
