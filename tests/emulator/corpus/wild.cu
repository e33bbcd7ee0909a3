// Kernels in the style third-party code is written where the rest of the corpus does not go: debug
// builds of cooperative-groups tiles, tiles wider than a warp, shuffles in blocks whose last warp is
// partial, vector and half-precision atomics, __reduce_*_sync / __match_all_sync, 128-bit __ldg loads
// through restrict pointers, structs by value with nested arrays, dynamically indexed local arrays,
// switch jump tables, 64-bit and 128-bit integer arithmetic, __nanosleep, cub warp/block primitives with
// custom operators and transposing loads, recursion and virtual calls (refused), and sm_90 clusters
// with distributed shared memory. Our own code; also built with -G for sm_90 (wild.sm_90.G.ptx).
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
#include <cub/block/block_histogram.cuh>
#include <cub/block/block_load.cuh>
#include <cub/block/block_store.cuh>
#include <cub/warp/warp_reduce.cuh>
#include <cub/warp/warp_scan.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace cg = cooperative_groups;

// ------------------------------------------------------------------------------ cooperative-groups tiles

// A tile size chosen at run time (cg::tiled_partition(block, n)) and a static 16-thread tile: each
// thread writes its rank in the dynamic tile plus 100 x the tile's size, and the 16-tile's sum.
extern "C" __global__ void tile_ranks(const int* x, int* rank, int* sum16, int tile, int n) {
    cg::thread_block block = cg::this_thread_block();
    cg::thread_group t = cg::tiled_partition(block, tile);
    cg::thread_block_tile<16> t16 = cg::tiled_partition<16>(block);
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int v = i < n ? x[i] : 0;
    int s = cg::reduce(t16, v, cg::plus<int>());
    if (i < n) {
        rank[i] = (int)t.thread_rank() + 100 * (int)t.size();
        sum16[i] = s;
    }
}

// A 64-thread tile (two warps): cooperative groups keep its barrier and exchange slots in the reserved
// shared memory at %reserved_smem_offset_1. Each thread gets its tile's sum and maximum.
extern "C" __global__ void tile64_sum(const int* x, int* sum, int* mx, int n) {
    cg::thread_block block = cg::this_thread_block();
    cg::thread_block_tile<64> t = cg::tiled_partition<64>(block);
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int v = i < n ? x[i] : 0;
    int s = cg::reduce(t, v, cg::plus<int>());
    t.sync();
    int m = cg::reduce(t, v, cg::greater<int>());
    if (i < n) {
        sum[i] = s;
        mx[i] = m;
    }
}

// ------------------------------------------------------------------------------ partial warps

// The textbook full-warp shuffle reduction, launched with blocks whose size is not a multiple of 32:
// the last warp's lanes read lanes that do not exist (a bug the emulator must report).
extern "C" __global__ void warp_sum_full_mask(const float* x, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? x[i] : 0.f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) out[blockIdx.x * ((blockDim.x + 31) / 32) + threadIdx.x / 32] = v;
}

// The same reduction done right: the mask names only the threads of the warp that exist, and each
// shuffle reads a lane inside it (a lane whose partner is missing reads itself), so partial warps are fine.
extern "C" __global__ void warp_sum_ballot_mask(const float* x, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned mask = __ballot_sync(__activemask(), true);
    int lanes = __popc(mask), lane = threadIdx.x & 31;
    float v = i < n ? x[i] : 0.f;
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_sync(mask, v, lane + o < lanes ? lane + o : lane);
        if (lane + o < lanes) v += w;
    }
    if (lane == 0) out[blockIdx.x * ((blockDim.x + 31) / 32) + threadIdx.x / 32] = v;
}

// Half-warp butterflies (width 16) in blocks of 16k threads: every source lane exists.
extern "C" __global__ void half_warp_xor(const int* x, int* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int v = i < n ? x[i] : 0;
    unsigned mask = __activemask();
    for (int o = 8; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(mask, v, o, 16));
    if (i < n) out[i] = v;
}

// ------------------------------------------------------------------------------ atomics

// sm_90's vector atomics on float2 / float4 and the half-precision scalar atomics, on small tables hit
// by many threads (values are multiples of 1/4, so every order of the float adds gives the same sum).
extern "C" __global__ void vector_atomics(const float* x, float2* acc2, float4* acc4, __half* h, __nv_bfloat16* b,
                                          int n, int bins) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        float v = x[i];
        int k = i % bins;
#if __CUDA_ARCH__ >= 900
        atomicAdd(&acc2[k], make_float2(v, 2.f * v));
        atomicAdd(&acc4[k], make_float4(v, -v, 0.5f * v, 1.f));
#else
        atomicAdd(&acc2[k].x, v);
        atomicAdd(&acc2[k].y, 2.f * v);
        atomicAdd(&acc4[k].x, v);
        atomicAdd(&acc4[k].y, -v);
        atomicAdd(&acc4[k].z, 0.5f * v);
        atomicAdd(&acc4[k].w, 1.f);
#endif
        atomicAdd(&h[k], __float2half(v));
        atomicAdd(&b[k], __float2bfloat16(v));
    }
}

// ------------------------------------------------------------------------------ warp intrinsics

// __reduce_{add,min,max,and,or,xor}_sync over the lanes of the warp that are inside the array, and
// __match_all_sync on a per-16-lane key: one word per warp and one per thread.
extern "C" __global__ void reduce_match(const unsigned* x, unsigned* red, int* all_pred, unsigned* all_mask, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    unsigned m = __activemask();
    unsigned v = x[i];
    unsigned a = __reduce_add_sync(m, v), lo = __reduce_min_sync(m, v), hi = __reduce_max_sync(m, v);
    unsigned an = __reduce_and_sync(m, v), o = __reduce_or_sync(m, v), xo = __reduce_xor_sync(m, v);
    int smin = __reduce_min_sync(m, (int)v), smax = __reduce_max_sync(m, (int)v);
    if ((threadIdx.x & 31) == __ffs(m) - 1) {
        unsigned* r = red + 8 * (i / 32);
        r[0] = a; r[1] = lo; r[2] = hi; r[3] = an; r[4] = o; r[5] = xo; r[6] = (unsigned)smin; r[7] = (unsigned)smax;
    }
    int pred = 0;
    all_mask[i] = __match_all_sync(m, v >> 28, &pred);
    all_pred[i] = pred;
}

// ------------------------------------------------------------------------------ loads and structs

struct Affine {  // passed by value: nested arrays, a scalar and a pointer
    float w[2][4];
    float bias[4];
    int rows;
    const float* scale;
};

// 128-bit loads through __ldg on restrict pointers (float4 and int4 reinterprets), a struct argument
// with nested arrays, and __launch_bounds__: y = W x + b per 4-vector, times scale[row].
extern "C" __global__ void __launch_bounds__(128) affine4(const float4* __restrict__ x, const int4* __restrict__ keys,
                                                          float4* __restrict__ y, int* __restrict__ keysum, Affine p) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= p.rows) return;
    float4 v = __ldg(&x[r]);
    int4 k = __ldg(&keys[r]);
    float in[4] = {v.x, v.y, v.z, v.w};
    float out[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const float* w = p.w[j / 2];
        float s = p.bias[j];
#pragma unroll
        for (int c = 0; c < 4; ++c) s = fmaf((j & 1) ? -w[c] : w[c], in[c], s);
        out[j] = s * __ldg(&p.scale[r]);
    }
    y[r] = make_float4(out[0], out[1], out[2], out[3]);
    keysum[r] = k.x + k.y + k.z + k.w;
}

// A per-thread array indexed by data (local memory): an insertion sort of 16 values and a histogram of
// their low bits in a local table, both indexed dynamically.
extern "C" __global__ void local_sort16(const int* x, int* sorted, int* hist, int n) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t * 16 >= n) return;
    int a[16];
    int h[8] = {0};
    int m = min(16, n - t * 16);
    for (int j = 0; j < m; ++j) {
        int v = x[t * 16 + j];
        h[v & 7]++;
        int k = j - 1;
        while (k >= 0 && a[k] > v) { a[k + 1] = a[k]; --k; }
        a[k + 1] = v;
    }
    for (int j = 0; j < m; ++j) sorted[t * 16 + j] = a[j];
    for (int j = 0; j < 8; ++j) hist[t * 8 + j] = h[j];
}

// ------------------------------------------------------------------------------ control flow, integers

// A dense switch (nvcc lowers it to brx.idx through a jump table) of opcodes of a tiny stack-free VM.
extern "C" __global__ void switch_vm(const int* op, const int* a, const int* b, int* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int x = a[i], y = b[i], r;
    switch (op[i]) {
        case 0: r = x + y; break;
        case 1: r = x - y; break;
        case 2: r = x * y; break;
        case 3: r = y ? x / y : 0; break;
        case 4: r = y ? x % y : 0; break;
        case 5: r = x & y; break;
        case 6: r = x | y; break;
        case 7: r = x ^ y; break;
        case 8: r = x << (y & 31); break;
        case 9: r = x >> (y & 31); break;
        case 10: r = min(x, y); break;
        case 11: r = max(x, y); break;
        default: r = -1; break;
    }
    out[i] = r;
}

// 64-bit division and modulo (signed and unsigned), and 128-bit products: the full 64x64 -> 128
// product's high word, and a modular multiply (a * b) mod m through unsigned __int128.
extern "C" __global__ void int64_math(const long long* a, const long long* b, long long* q, long long* r,
                                      unsigned long long* uq, unsigned long long* ur, unsigned long long* hi,
                                      unsigned long long* mulmod, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    long long x = a[i], y = b[i];
    unsigned long long ux = (unsigned long long)x, uy = (unsigned long long)y;
    q[i] = x / y;
    r[i] = x % y;
    uq[i] = ux / uy;
    ur[i] = ux % uy;
    unsigned __int128 p = (unsigned __int128)ux * uy;
    hi[i] = (unsigned long long)(p >> 64);
    mulmod[i] = (unsigned long long)(p % (uy | 1ull));
}

// A producer warp publishes per-block data through a flag in global memory while a consumer spins
// with __nanosleep backoff; here the consumer is the same thread (no cross-thread wait), so the sleep
// only has to be accepted: each thread sleeps in a short loop and counts its rounds.
extern "C" __global__ void nanosleep_backoff(int* rounds, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    unsigned ns = 8;
    int k = 0;
    while (k < (i & 7)) {
        __nanosleep(ns);
        ns = min(ns * 2, 256u);
        ++k;
    }
    rounds[i] = k;
}

// ------------------------------------------------------------------------------ cub

struct MaxAbs {  // a custom associative operator for cub
    __device__ int operator()(int a, int b) const { return abs(a) >= abs(b) ? a : b; }
};

// cub::WarpScan with a custom operator (running max-abs) and cub::WarpReduce with one (the warp's
// max-abs), on 32-thread logical warps of a 128-thread block.
extern "C" __global__ void cub_warp_maxabs(const int* x, int* scan, int* warp_max, int n) {
    using Scan = cub::WarpScan<int>;
    using Reduce = cub::WarpReduce<int>;
    __shared__ typename Scan::TempStorage ts[4];
    __shared__ typename Reduce::TempStorage tr[4];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int w = threadIdx.x / 32;
    int v = i < n ? x[i] : 0;
    int s;
    Scan(ts[w]).InclusiveScan(v, s, MaxAbs());
    int m = Reduce(tr[w]).Reduce(v, MaxAbs());
    if (i < n) scan[i] = s;
    if ((threadIdx.x & 31) == 0 && i < n) warp_max[i / 32] = m;
}

// cub::BlockLoad / BlockStore with the warp-transpose algorithms (blocked <-> striped through shared
// memory, ragged tail guarded) and a 64-bin cub::BlockHistogram of the loaded bytes; each thread
// reverses its 4 items, so out is x with every run of 4 reversed.
extern "C" __global__ void cub_load_store_hist(const int* x, int* out, unsigned* hist, int n) {
    constexpr int T = 64, ITEMS = 4;
    using Load = cub::BlockLoad<int, T, ITEMS, cub::BLOCK_LOAD_WARP_TRANSPOSE>;
    using Store = cub::BlockStore<int, T, ITEMS, cub::BLOCK_STORE_WARP_TRANSPOSE>;
    using Hist = cub::BlockHistogram<unsigned char, T, ITEMS, 64>;
    __shared__ union {
        typename Load::TempStorage load;
        typename Store::TempStorage store;
    } tmp;
    __shared__ typename Hist::TempStorage th;
    __shared__ unsigned bins[64];
    int base = blockIdx.x * T * ITEMS;
    int valid = min(T * ITEMS, n - base);
    int items[ITEMS];
    Load(tmp.load).Load(x + base, items, valid, 0);
    __syncthreads();
    unsigned char bytes[ITEMS];
    for (int k = 0; k < ITEMS; ++k) bytes[k] = (unsigned char)(base + threadIdx.x * ITEMS + k < n ? items[k] & 63 : 0);
    Hist(th).Histogram(bytes, bins);
    int rev[ITEMS];
    for (int k = 0; k < ITEMS; ++k) rev[k] = items[ITEMS - 1 - k];
    Store(tmp.store).Store(out + base, rev, valid);
    __syncthreads();
    for (int b = threadIdx.x; b < 64; b += T) atomicAdd(&hist[b], bins[b]);
}

// ------------------------------------------------------------------------------ refused: recursion, virtual calls

__device__ __noinline__ int depth(const int* tree, int node) {  // recursion through the local stack
    if (node < 0) return 0;
    return 1 + max(depth(tree, tree[2 * node]), depth(tree, tree[2 * node + 1]));
}

extern "C" __global__ void tree_depth(const int* tree, int* out) { out[threadIdx.x] = depth(tree, threadIdx.x); }

struct Shape {
    __device__ virtual float area(float s) const = 0;
};
struct Square : Shape {
    __device__ float area(float s) const override { return s * s; }
};
struct Circle : Shape {
    __device__ float area(float s) const override { return 3.14159265f * s * s; }
};

extern "C" __global__ void virtual_area(const float* s, const int* kind, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    Square sq;
    Circle ci;
    const Shape* sh = kind[i] ? static_cast<const Shape*>(&ci) : static_cast<const Shape*>(&sq);
    out[i] = sh->area(s[i]);
}

// ------------------------------------------------------------------------------ sm_90 clusters

// Distributed shared memory: each block of a 4-block cluster fills its shared array, the cluster
// syncs, and every thread reads its element from the next block's array (map_shared_rank).
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
extern "C" __global__ void __cluster_dims__(4, 1, 1) cluster_rotate(const int* x, int* out, int n) {
    __shared__ int buf[128];
    cg::cluster_group cluster = cg::this_cluster();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    buf[threadIdx.x] = i < n ? x[i] : -1;
    cluster.sync();
    unsigned next = (cluster.block_rank() + 1) % cluster.num_blocks();
    int* remote = cluster.map_shared_rank(buf, next);
    int v = remote[threadIdx.x];
    cluster.sync();  // no block may exit while others still read its shared memory
    if (i < n) out[i] = v;
}
#endif
