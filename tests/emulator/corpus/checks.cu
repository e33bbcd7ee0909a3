// Grid-stride kernels with device asserts, printf, __constant__ / __device__ symbols and a
// warp-aggregated atomic counter: the everyday shape of CUDA code.
#include <cassert>
#include <cstdio>

__constant__ float coeffs[4];
__constant__ int offset_table[3] = {1, 2, 3};
__device__ unsigned int hits;

extern "C" __global__ void poly(const float* __restrict__ x, float* __restrict__ y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        float v = x[i];
        y[i] = ((coeffs[3] * v + coeffs[2]) * v + coeffs[1]) * v + coeffs[0] + offset_table[i % 3];
    }
}

extern "C" __global__ void checked_sqrt(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    assert(x[i] >= 0.0f);
    y[i] = sqrtf(x[i]);
}

extern "C" __global__ void hello(const int* v, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && v[i] % 7 == 0)
        printf("block %d thread %d: v=%d hex=%x f=%.3f s=%s c=%c %5d|%-4u|%lld %e\n", blockIdx.x, threadIdx.x,
               v[i], v[i], v[i] * 0.5, "ok", 'a' + i % 26, v[i], (unsigned)i, (long long)v[i] * 1000000000LL,
               v[i] * 1e10);
}

// one atomic per warp: the leader adds the popcount of the active lanes that pass the filter
extern "C" __global__ void count_positive(const float* x, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        bool pos = x[i] > 0.0f;
        unsigned active = __activemask();
        unsigned ballot = __ballot_sync(active, pos);
        int leader = __ffs(active) - 1;
        if ((threadIdx.x & 31) == leader) atomicAdd(&hits, __popc(ballot));
    }
}
