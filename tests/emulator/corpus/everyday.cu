// More of what everyday CUDA C++ does that the rest of the corpus does not: a __grid_constant__ table read
// through its address, cuda::std::complex arithmetic, signed __int128 division, long double (double on the
// device), cooperative_groups::memcpy_async into dynamic shared memory, 64-bit bit intrinsics, shuffles of
// double and long long, a struct returned by a __noinline__ function, __syncthreads_count/_and/_or,
// cub::BlockMergeSort (which reads shared memory it never wrote, and discards it) and a planted bug that
// reads never-written shared memory and stores it, alloca in a loop.
// Our own code (tests/emulator/test_emu_everyday.py); sm_80 and sm_90 only (the -G build of the libcu++
// complex and memcpy_async code is 25,000 lines).
#include <climits>
#include <cuda_runtime.h>
#include <cooperative_groups.h>
#include <cooperative_groups/memcpy_async.h>
#include <cub/block/block_merge_sort.cuh>
#include <cuda/std/complex>

namespace cg = cooperative_groups;

struct Lut {  // a table passed by value and read through its address (__grid_constant__: no local copy)
    float v[64];
    int gain;
};

extern "C" __global__ void grid_constant_lut(const __grid_constant__ Lut t, const int* idx, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const Lut* p = &t;
    out[i] = p->v[idx[i] & 63] * (float)p->gain;
}

// cuda::std::complex<float> products and quotients (the library's C99 Annex G code paths).
extern "C" __global__ void complex_ops(const cuda::std::complex<float>* a, const cuda::std::complex<float>* b,
                                       cuda::std::complex<float>* prod, cuda::std::complex<float>* quot, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    prod[i] = a[i] * b[i];
    quot[i] = a[i] / b[i];
}

// Signed 128-bit division and remainder (nvcc's inline multiword division), and long double (which nvcc
// treats as double in device code).
extern "C" __global__ void int128_divmod(const __int128* a, const __int128* b, __int128* q, __int128* r,
                                         const double* x, double* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    q[i] = a[i] / b[i];
    r[i] = a[i] % b[i];
    long double v = x[i];
    y[i] = (double)(v * v - 0.5L);
}

// cooperative_groups::memcpy_async of a block's ragged chunk into dynamic shared memory, cg::wait, and
// each thread reads its mirror element.
extern "C" __global__ void cg_memcpy_reverse(const float* g, float* out, int n) {
    extern __shared__ float chunk[];
    cg::thread_block block = cg::this_thread_block();
    int base = blockIdx.x * blockDim.x;
    int cnt = min((int)blockDim.x, n - base);
    cg::memcpy_async(block, chunk, g + base, sizeof(float) * cnt);
    cg::wait(block);
    if ((int)threadIdx.x < cnt) out[base + threadIdx.x] = chunk[cnt - 1 - threadIdx.x];
}

struct Stats3 {
    float lo, hi, sum;
};

__device__ __noinline__ Stats3 stats_of(const float* p, int m) {  // a struct returned from a real call
    Stats3 s = {p[0], p[0], 0.f};
    for (int k = 0; k < m; ++k) {
        s.lo = fminf(s.lo, p[k]);
        s.hi = fmaxf(s.hi, p[k]);
        s.sum += p[k];
    }
    return s;
}

// 64-bit bit intrinsics, shuffles of double and long long, a struct returned by a __noinline__ function,
// and __syncthreads_count/_and/_or.
extern "C" __global__ void bits_shfl_struct(const unsigned long long* x, const double* d, const float* rows,
                                            unsigned long long* bits, double* dn, long long* ln, float* st,
                                            int* votes, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    bool in = i < n;
    unsigned long long v = in ? x[i] : 0ull;
    double dv = in ? d[i] : 0.0;
    double dnext = __shfl_down_sync(0xffffffffu, dv, 1);
    long long lprev = __shfl_up_sync(0xffffffffu, (long long)v, 1);
    int c = __syncthreads_count(in && (v & 1));
    int all = __syncthreads_and(!in || v != 0);
    int any = __syncthreads_or(in && (v >> 63));
    if (!in) return;
    unsigned long long y = v ^ 0x9E3779B97F4A7C15ull;
    bits[4 * i + 0] = (unsigned long long)__popcll(v) | (unsigned long long)__clzll(v) << 8 |
                      (unsigned long long)__ffsll(v) << 16 | (unsigned long long)__sad((int)v, (int)y, 7u) << 32;
    bits[4 * i + 1] = __brevll(v);
    bits[4 * i + 2] = __umul64hi(v, y);
    bits[4 * i + 3] = (unsigned long long)__mul64hi((long long)v, (long long)y) ^
                      (unsigned long long)(unsigned)__rhadd((int)v, (int)(v >> 32)) ^
                      ((unsigned long long)__urhadd((unsigned)v, (unsigned)y) << 32);
    dn[i] = dnext;
    ln[i] = lprev;
    Stats3 s = stats_of(rows + 8 * i, 1 + (i & 7));
    st[3 * i] = s.lo;
    st[3 * i + 1] = s.hi;
    st[3 * i + 2] = s.sum;
    if (threadIdx.x == 0) {
        votes[3 * blockIdx.x] = c;
        votes[3 * blockIdx.x + 1] = all;
        votes[3 * blockIdx.x + 2] = any;
    }
}

// cub::BlockMergeSort with a custom comparator over a ragged tile (padding sorts last). Its merge reads one
// slot past a range before the bounds test discards the value (cub's TempStorage has ITEMS_PER_TILE + 1
// keys for that), so the read is of shared memory no thread wrote, and nothing depends on it.
struct Descending {
    __device__ bool operator()(int a, int b) const { return a > b; }
};

extern "C" __global__ void cub_merge_sort_desc(const int* x, int* out, int n) {
    constexpr int T = 64, ITEMS = 4;
    using Sort = cub::BlockMergeSort<int, T, ITEMS>;
    __shared__ typename Sort::TempStorage tmp;
    int base = blockIdx.x * T * ITEMS;
    int items[ITEMS];
    for (int k = 0; k < ITEMS; ++k) {
        int j = base + threadIdx.x * ITEMS + k;
        items[k] = j < n ? x[j] : INT_MIN;
    }
    Sort(tmp).Sort(items, Descending());
    for (int k = 0; k < ITEMS; ++k) {
        int j = base + threadIdx.x * ITEMS + k;
        if (j < n) out[j] = items[k];
    }
}

// A real bug of the same shape: the last thread of each block reads the slot after the data it staged,
// which no thread writes, and stores what it read.
extern "C" __global__ void shifted_stage(const int* x, int* out, int n) {
    __shared__ int stage[129];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    stage[threadIdx.x] = i < n ? x[i] : 0;
    __syncthreads();
    if (i < n) out[i] = stage[threadIdx.x + 1];
}

// alloca: a per-thread scratch block sized by the data, allocated in each round of a loop (nvcc saves and
// restores the stack around it), filled and read backwards.
extern "C" __global__ void alloca_rounds(const int* x, int* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int acc = 0;
    for (int round = 0; round < 3; ++round) {
        int m = 1 + ((x[i] >> (3 * round)) & 7);
        int* buf = static_cast<int*>(alloca(m * sizeof(int)));
        for (int k = 0; k < m; ++k) buf[k] = x[i] * (k + round);
        for (int k = 0; k < m; ++k) acc += buf[m - 1 - k] ^ k;
    }
    out[i] = acc;
}

// sm_90's 128-bit atomics (atomicExch on a 16-byte struct: atom.exch.b128 through .b128 registers): refused.
struct __align__(16) Pair {
    long long key, value;
};

extern "C" __global__ void exchange128(Pair* slots, const Pair* in, Pair* old, int n) {
#if __CUDA_ARCH__ >= 900
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) old[i] = atomicExch(&slots[i % 4], in[i]);
#endif
}
