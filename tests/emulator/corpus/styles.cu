// Cooperative groups, warp-aggregated atomics, packed half2 / bf16x2 math and __constant__ tables,
// written the way everyday CUDA code uses them (grid-stride loops, ragged sizes).
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
#include <cooperative_groups/scan.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace cg = cooperative_groups;

// ------------------------------------------------------------------------------ cooperative groups

// One partial sum per block: a grid-stride loop, cg::reduce over 32-thread tiles, a shared array of
// the tiles' sums, block.sync(), and the first tile reduces those.
extern "C" __global__ void cg_block_sum(const float* x, float* partial, int n) {
    cg::thread_block block = cg::this_thread_block();
    cg::thread_block_tile<32> warp = cg::tiled_partition<32>(block);
    __shared__ float sums[32];
    float s = 0.f;
    for (int i = block.group_index().x * block.size() + block.thread_rank(); i < n; i += block.size() * gridDim.x)
        s += x[i];
    s = cg::reduce(warp, s, cg::plus<float>());
    if (warp.thread_rank() == 0) sums[warp.meta_group_rank()] = s;
    block.sync();
    if (warp.meta_group_rank() == 0) {
        s = warp.thread_rank() < warp.meta_group_size() ? sums[warp.thread_rank()] : 0.f;
        s = cg::reduce(warp, s, cg::plus<float>());
        if (warp.thread_rank() == 0) partial[block.group_index().x] = s;
    }
}

// Integer work on 16- and 8-thread tiles: the tile's maximum, its inclusive prefix sum, and its vote.
extern "C" __global__ void cg_tiles(const int* x, int* tile_max, int* scan, unsigned* votes, int n) {
    cg::thread_block block = cg::this_thread_block();
    cg::thread_block_tile<16> t16 = cg::tiled_partition<16>(block);
    cg::thread_block_tile<8> t8 = cg::tiled_partition<8>(block);
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int v = i < n ? x[i] : 0;
    int m = cg::reduce(t16, v, cg::greater<int>());
    int p = cg::inclusive_scan(t8, v, cg::plus<int>());
    unsigned b = t8.ballot(v > 0);
    bool any = t16.any(v > 1000), all = t16.all(v > -1000);
    if (i < n) {
        scan[i] = p;
        if (t16.thread_rank() == 0) tile_max[i / 16] = m;
        if (t8.thread_rank() == 0) votes[i / 8] = b | (any ? 0x100u : 0u) | (all ? 0x200u : 0u);
    }
}

// ------------------------------------------------------------------------------ warp-aggregated atomics

// The classic aggregated increment: the coalesced threads elect one leader, which reserves room for
// all of them with one atomicAdd; each thread gets its own slot from the leader's old value.
__device__ int aggregated_inc(int* counter) {
    cg::coalesced_group g = cg::coalesced_threads();
    int base = 0;
    if (g.thread_rank() == 0) base = atomicAdd(counter, (int)g.size());
    return g.shfl(base, 0) + g.thread_rank();
}

// Stream compaction: keep the positive values (in any order) and count them.
extern "C" __global__ void filter_positive(const float* x, float* out, int* count, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        if (x[i] > 0.f) out[aggregated_inc(count)] = x[i];
}

// A histogram aggregated by key: the lanes holding the same key elect one leader per key
// (__match_any_sync), which adds the group's size.
extern "C" __global__ void histogram_by_key(const int* keys, unsigned* bins, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        int k = keys[i];
        unsigned peers = __match_any_sync(__activemask(), k);
        int leader = __ffs(peers) - 1;
        if ((threadIdx.x & 31) == leader) atomicAdd(&bins[k], __popc(peers));
    }
}

// ------------------------------------------------------------------------------ half2 / bf16x2

// z = a * x + b * y on half2 pairs (two roundings, as written), and a ReLU of it.
extern "C" __global__ void h2_axpby_relu(const __half2* x, const __half2* y, __half2* z, __half2* r, float a,
                                         float b, int n2) {
    const __half2 a2 = __float2half2_rn(a), b2 = __float2half2_rn(b), zero = __float2half2_rn(0.f);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n2; i += blockDim.x * gridDim.x) {
        __half2 v = __hfma2(a2, x[i], __hmul2(b2, y[i]));
        z[i] = v;
        r[i] = __hmax2(v, zero);
    }
}

// A half2 dot product: products in half2, accumulated in float, one warp shuffle tree per warp and
// one atomicAdd per warp.
extern "C" __global__ void h2_dot(const __half2* x, const __half2* y, float* out, int n2) {
    float acc = 0.f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n2; i += blockDim.x * gridDim.x) {
        float2 p = __half22float2(__hmul2(x[i], y[i]));
        acc += p.x + p.y;
    }
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if ((threadIdx.x & 31) == 0) atomicAdd(out, acc);
}

// bf16x2: floats packed with round-to-nearest, one fused multiply-add per pair, the maximum with the
// addend, unpacked back to float.
extern "C" __global__ void bf2_fma_max(const float2* x, const __nv_bfloat162* w, const __nv_bfloat162* c,
                                       float2* out, __nv_bfloat162* packed, int n2) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n2; i += blockDim.x * gridDim.x) {
        __nv_bfloat162 xb = __float22bfloat162_rn(x[i]);
        __nv_bfloat162 v = __hfma2(xb, w[i], c[i]);
        packed[i] = xb;
        out[i] = __bfloat1622float2(__hmax2(v, c[i]));
    }
}

// Packed atomics: each thread adds its pair into bin (i % bins), as __half2 and as __nv_bfloat162.
extern "C" __global__ void packed_atomics(const __half2* xh, const __nv_bfloat162* xb, __half2* hbins,
                                          __nv_bfloat162* bbins, int bins, int n2) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n2; i += blockDim.x * gridDim.x) {
        atomicAdd(&hbins[i % bins], xh[i]);
        atomicAdd(&bbins[i % bins], xb[i]);
    }
}

// ------------------------------------------------------------------------------ __constant__ tables

struct Affine {
    float scale, bias;
    int lo, hi;  // clamp of the result, as integers
};

__constant__ float taps[9];  // set by the host
__constant__ Affine stages[4];  // set by the host
__constant__ unsigned char nibble_bits[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
__constant__ float2 unit_circle[8] = {{1.f, 0.f},   {0.70710677f, 0.70710677f},   {0.f, 1.f},
                                      {-0.70710677f, 0.70710677f}, {-1.f, 0.f}, {-0.70710677f, -0.70710677f},
                                      {0.f, -1.f}, {0.70710677f, -0.70710677f}};

// A 9-tap filter with zero padding, the taps uniform across the warp (the constant cache's best case).
extern "C" __global__ void fir9(const float* x, float* y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        float s = 0.f;
#pragma unroll
        for (int k = 0; k < 9; ++k) {
            int j = i + k - 4;
            s += taps[k] * (j >= 0 && j < n ? x[j] : 0.f);
        }
        y[i] = s;
    }
}

// Per-thread (divergent) indexes into initialised tables and a host-set struct table.
extern "C" __global__ void lookups(const unsigned* words, const int* which, int* bits, float2* rot, int* q,
                                   const float* v, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        unsigned w = words[i];
        int c = 0;
        for (int s = 0; s < 32; s += 4) c += nibble_bits[(w >> s) & 15];
        bits[i] = c;
        float2 u = unit_circle[w & 7];
        rot[i] = make_float2(u.x * v[i] - u.y, u.y * v[i] + u.x);
        Affine a = stages[which[i] & 3];
        q[i] = min(max(__float2int_rn(a.scale * v[i] + a.bias), a.lo), a.hi);
    }
}
