// Kernels in the style of vendor samples, tutorials and training code (written for sass_lab):
// atomics of every kind, vote/match/reduce warp intrinsics, cooperative-groups partitions, the
// threadfence "last block" reduction, legacy warp-synchronous code, directed rounding, nbody,
// Mandelbrot, bisection counting, clocks and inline PTX special registers.
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>

namespace cg = cooperative_groups;

// ---------------------------------------------------------------------------------- atomics

// every thread hits a few counters; old values go to olds[] so the test checks the multiset
extern "C" __global__ void atomic_zoo(const int* v, int n, unsigned* inc, unsigned* dec, int* imin, int* imax,
                                      unsigned* umin, unsigned* umax, long long* lmin, long long* lmax,
                                      unsigned long long* ulmax, unsigned* band, unsigned* bor, unsigned* bxor,
                                      unsigned* oldinc, unsigned* olddec, unsigned bound) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        int x = v[i];
        oldinc[i] = atomicInc(inc, bound);
        olddec[i] = atomicDec(dec, bound);
        atomicMin(imin, x);
        atomicMax(imax, x);
        atomicMin(umin, (unsigned)x);
        atomicMax(umax, (unsigned)x);
        atomicMin(lmin, (long long)x * 1000003LL);
        atomicMax(lmax, (long long)x * -999983LL);
        atomicMax(ulmax, (unsigned long long)(unsigned)x << 20);
        atomicAnd(band, ~(1u << (x & 31)));
        atomicOr(bor, 1u << ((x >> 5) & 31));
        atomicXor(bxor, (unsigned)x);
    }
}

__device__ float atomic_max_float(float* addr, float val) {
    int* a = (int*)addr;
    int old = *a, assumed;
    do {
        assumed = old;
        if (__int_as_float(assumed) >= val) break;
        old = atomicCAS(a, assumed, __float_as_int(val));
    } while (assumed != old);
    return __int_as_float(old);
}

__device__ double atomic_add_double_cas(double* addr, double val) {
    unsigned long long* a = (unsigned long long*)addr;
    unsigned long long old = *a, assumed;
    do {
        assumed = old;
        old = atomicCAS(a, assumed, __double_as_longlong(val + __longlong_as_double(assumed)));
    } while (assumed != old);
    return __longlong_as_double(old);
}

extern "C" __global__ void atomic_cas_loops(const float* x, int n, float* fmax, double* dsum_cas, double* dsum,
                                            float* exch, float* exch_old) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    atomic_max_float(fmax, x[i]);
    atomic_add_double_cas(dsum_cas, (double)x[i]);
    atomicAdd(dsum, (double)x[i]);
    exch_old[i] = atomicExch(exch, x[i]);
}

// a block-local histogram in shared memory, merged with one global atomic per bin and block
extern "C" __global__ void histogram_shared(const unsigned char* data, int n, unsigned* hist, int* blocks_done) {
    __shared__ unsigned local[64];
    for (int b = threadIdx.x; b < 64; b += blockDim.x) local[b] = 0;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        atomicAdd_block(&local[data[i] & 63], 1u);
    __syncthreads();
    for (int b = threadIdx.x; b < 64; b += blockDim.x)
        if (local[b]) atomicAdd(&hist[b], local[b]);
    if (threadIdx.x == 0) atomicAdd_system(blocks_done, 1);
}

// ---------------------------------------------------------------------------------- warp intrinsics

extern "C" __global__ void vote_divergent(const int* v, int n, unsigned* out) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int x = i < n ? v[i] : 0;
    unsigned r[6] = {0, 0, 0, 0, 0, 0};
    if (x & 1) {  // only odd lanes
        unsigned m = __activemask();
        r[0] = m;
        r[1] = __ballot_sync(m, x > 10);
        r[2] = __all_sync(m, x > 0);
        r[3] = __any_sync(m, x > 50);
    } else {
        unsigned m = __activemask();
        r[0] = m | 0x80000000u * 0;  // keep the shape
        r[1] = __ballot_sync(m, x < 5);
        r[2] = __all_sync(m, x >= 0);
        r[3] = __any_sync(m, x == 42);
    }
    r[4] = __match_any_sync(0xffffffffu, x % 4);
    int pred;
    unsigned all = __match_all_sync(0xffffffffu, x / 100, &pred);
    r[5] = all | (pred ? 0u : 1u);
    if (i < n)
        for (int k = 0; k < 6; ++k) out[i * 6 + k] = r[k];
}

extern "C" __global__ void warp_reduce_intrinsics(const int* v, int n, int* out) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int x = i < n ? v[i] : 0;
    unsigned ux = (unsigned)x * 2654435761u;
    int s = __reduce_add_sync(0xffffffffu, x);
    int mn = __reduce_min_sync(0xffffffffu, x);
    unsigned mx = __reduce_max_sync(0xffffffffu, ux);
    unsigned a = __reduce_and_sync(0xffffffffu, ux), o = __reduce_or_sync(0xffffffffu, ux),
             xr = __reduce_xor_sync(0xffffffffu, ux);
    if (i < n) {
        out[i * 6 + 0] = s;
        out[i * 6 + 1] = mn;
        out[i * 6 + 2] = (int)mx;
        out[i * 6 + 3] = (int)a;
        out[i * 6 + 4] = (int)o;
        out[i * 6 + 5] = (int)xr;
    }
}

// shuffles with width < 32: segmented scans and butterflies over sub-warps of `width` lanes
template <int W>
__device__ void shfl_width(float x, float* o) {
    float up = x, down = x, bfly = x;
    for (int d = 1; d < W; d *= 2) {
        float t = __shfl_up_sync(0xffffffffu, up, d, W);
        if ((threadIdx.x & (W - 1)) >= d) up += t;
        down = __shfl_down_sync(0xffffffffu, down, d, W);  // reads beyond the segment keep their own value
        bfly += __shfl_xor_sync(0xffffffffu, bfly, d, W);
    }
    o[0] = up;
    o[1] = down;
    o[2] = bfly;
    o[3] = __shfl_sync(0xffffffffu, x, 3, W);  // lane 3 of each segment
}

extern "C" __global__ void shuffle_widths(const float* x, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? x[i] : 0.0f;
    float o4[4], o8[4], o16[4];
    shfl_width<4>(v, o4);
    shfl_width<8>(v, o8);
    shfl_width<16>(v, o16);
    if (i < n)
        for (int k = 0; k < 4; ++k) {
            out[i * 12 + k] = o4[k];
            out[i * 12 + 4 + k] = o8[k];
            out[i * 12 + 8 + k] = o16[k];
        }
}

// half-warps exchange through shared memory with __syncwarp(mask) of their own half only
extern "C" __global__ void syncwarp_halves(const int* v, int* out, int n) {
    __shared__ int s[256];
    int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    unsigned half = (t & 16) ? 0xffff0000u : 0x0000ffffu;
    s[t] = i < n ? v[i] : 0;
    __syncwarp(half);
    int r = s[(t & ~15) | ((t + 5) & 15)];
    __syncwarp(half);
    s[t] = r * 3;
    __syncwarp(half);
    if (i < n) out[i] = s[(t & ~15) | ((t + 1) & 15)] + r;
}

// ---------------------------------------------------------------------------------- cooperative groups

// warp-aggregated atomic inside a branch: one atomicAdd per coalesced group, every lane gets its slot
extern "C" __global__ void filter_compact(const float* x, int n, float* out, int* count) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && x[i] > 0.0f) {
        cg::coalesced_group g = cg::coalesced_threads();
        int base;
        if (g.thread_rank() == 0) base = atomicAdd(count, (int)g.size());
        base = g.shfl(base, 0);
        out[base + g.thread_rank()] = x[i];
    }
}

// partitions: labeled by key, binary by sign, tiles of 16 with shfl/any/ballot
extern "C" __global__ void cg_partitions(const int* keys, const float* x, int n, float* seg_sum, int* info) {
    cg::thread_block block = cg::this_thread_block();
    cg::thread_block_tile<32> warp = cg::tiled_partition<32>(block);
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int k = i < n ? keys[i] : -1;
    float v = i < n ? x[i] : 0.0f;
    cg::coalesced_group same = cg::labeled_partition(warp, k);
    float s = cg::reduce(same, v, cg::plus<float>());
    cg::coalesced_group sign = cg::binary_partition(warp, v < 0.0f);
    int sign_rank = sign.thread_rank(), sign_size = sign.size();
    cg::thread_block_tile<16> t16 = cg::tiled_partition<16>(block);
    int nb = t16.shfl(k, 15 - t16.thread_rank());
    int any = t16.any(k == 7), all = t16.all(k >= 0);
    unsigned bal = t16.ballot(v > 0.5f);
    if (i < n) {
        seg_sum[i] = s;
        info[i * 6 + 0] = (int)same.size();
        info[i * 6 + 1] = sign_rank * 64 + sign_size;
        info[i * 6 + 2] = nb;
        info[i * 6 + 3] = any * 2 + all;
        info[i * 6 + 4] = (int)bal;
        info[i * 6 + 5] = (int)same.thread_rank();
    }
}

// multi-block reduction with a grid barrier: partials, g.sync(), block 0 sums them
extern "C" __global__ void grid_reduce(const float* x, int n, float* partial, float* total) {
    cg::grid_group g = cg::this_grid();
    cg::thread_block b = cg::this_thread_block();
    __shared__ float s[256];
    float acc = 0.0f;
    for (int i = g.thread_rank(); i < n; i += g.size()) acc += x[i];
    s[b.thread_rank()] = acc;
    b.sync();
    for (int k = b.size() / 2; k > 0; k >>= 1) {
        if (b.thread_rank() < k) s[b.thread_rank()] += s[b.thread_rank() + k];
        b.sync();
    }
    if (b.thread_rank() == 0) partial[blockIdx.x] = s[0];
    g.sync();
    if (g.thread_rank() == 0) {
        float t = 0.0f;
        for (int k = 0; k < gridDim.x; ++k) t += partial[k];
        *total = t;
    }
}

// ---------------------------------------------------------------------------------- threadfence reduction

__device__ unsigned int retirement_count = 0;

extern "C" __global__ void fence_reduce(const float* x, int n, float* partial, float* total) {
    __shared__ float s[128];
    __shared__ bool last;
    float acc = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) acc += x[i];
    s[threadIdx.x] = acc;
    __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = s[0];
        __threadfence();
        unsigned ticket = atomicInc(&retirement_count, gridDim.x);
        last = (ticket == gridDim.x - 1);
    }
    __syncthreads();
    if (last) {
        float t = 0.0f;
        for (int k = threadIdx.x; k < gridDim.x; k += blockDim.x) t += partial[k];
        s[threadIdx.x] = t;
        __syncthreads();
        for (int k = blockDim.x / 2; k > 0; k >>= 1) {
            if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
            __syncthreads();
        }
        if (threadIdx.x == 0) {
            *total = s[0];
            retirement_count = 0;
        }
    }
}

// ---------------------------------------------------------------------------------- legacy warp-synchronous

// the old tutorial reduction: the last 6 steps on volatile shared memory with no __syncwarp
extern "C" __global__ void reduce_warp_legacy(const int* x, int n, int* out) {
    __shared__ int s[256];
    int t = threadIdx.x, i = blockIdx.x * 512 + t;
    int v = 0;
    if (i < n) v = x[i];
    if (i + 256 < n) v += x[i + 256];
    s[t] = v;
    __syncthreads();
    for (int k = 128; k > 32; k >>= 1) {
        if (t < k) s[t] += s[t + k];
        __syncthreads();
    }
    if (t < 32) {
        volatile int* vs = s;
        vs[t] += vs[t + 32];
        vs[t] += vs[t + 16];
        vs[t] += vs[t + 8];
        vs[t] += vs[t + 4];
        vs[t] += vs[t + 2];
        vs[t] += vs[t + 1];
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

// the same with __syncwarp between the steps, as NVIDIA's Volta guide rewrites it
extern "C" __global__ void reduce_warp_syncwarp(const int* x, int n, int* out) {
    __shared__ int s[256];
    int t = threadIdx.x, i = blockIdx.x * 512 + t;
    int v = 0;
    if (i < n) v = x[i];
    if (i + 256 < n) v += x[i + 256];
    s[t] = v;
    __syncthreads();
    for (int k = 128; k > 32; k >>= 1) {
        if (t < k) s[t] += s[t + k];
        __syncthreads();
    }
    if (t < 32) {
        volatile int* vs = s;
        int r = vs[t] + vs[t + 32];
        for (int d = 16; d > 0; d >>= 1) {
            __syncwarp();
            vs[t] = r;
            __syncwarp();
            r += vs[t + d];
        }
        if (t == 0) out[blockIdx.x] = r;
    }
}

// ---------------------------------------------------------------------------------- directed rounding

extern "C" __global__ void interval_ops(const float* a, const float* b, const double* da, const double* db,
                                        float* f, double* d, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = a[i], y = b[i];
    f[i * 10 + 0] = __fadd_rd(x, y);
    f[i * 10 + 1] = __fadd_ru(x, y);
    f[i * 10 + 2] = __fmul_rd(x, y);
    f[i * 10 + 3] = __fmul_ru(x, y);
    f[i * 10 + 4] = __fdiv_rd(x, y);
    f[i * 10 + 5] = __fdiv_ru(x, y);
    f[i * 10 + 6] = __fsqrt_ru(fabsf(x));
    f[i * 10 + 7] = __fmaf_rz(x, y, x);
    f[i * 10 + 8] = __fsub_rd(x, y);
    f[i * 10 + 9] = __fdiv_rz(x, y);
    double p = da[i], q = db[i];
    d[i * 6 + 0] = __dadd_rn(p, q);
    d[i * 6 + 1] = __dadd_rd(p, q);
    d[i * 6 + 2] = __dmul_ru(p, q);
    d[i * 6 + 3] = __ddiv_rd(p, q);
    d[i * 6 + 4] = __dsqrt_ru(fabs(p));
    d[i * 6 + 5] = __fma_rz(p, q, p);
}

// ---------------------------------------------------------------------------------- sample-style loops

#define TILE 64
extern "C" __global__ void nbody_step(const float4* pos, float3* acc, int n, float soft2) {
    __shared__ float4 tile[TILE];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float4 me = i < n ? pos[i] : make_float4(0, 0, 0, 0);
    float3 a = make_float3(0, 0, 0);
    for (int base = 0; base < n; base += TILE) {
        int j = base + threadIdx.x;
        tile[threadIdx.x] = j < n ? pos[j] : make_float4(0, 0, 0, 0);
        __syncthreads();
#pragma unroll 8
        for (int k = 0; k < TILE; ++k) {
            float4 o = tile[k];
            float dx = o.x - me.x, dy = o.y - me.y, dz = o.z - me.z;
            float r2 = dx * dx + dy * dy + dz * dz + soft2;
            float inv = rsqrtf(r2);
            float s = o.w * inv * inv * inv;
            a.x += dx * s;
            a.y += dy * s;
            a.z += dz * s;
        }
        __syncthreads();
    }
    if (i < n) acc[i] = a;
}

template <typename T>
__device__ int mandel(T cr, T ci, int max_iter) {
    T zr = 0, zi = 0;
    int it = 0;
    while (it < max_iter && zr * zr + zi * zi < T(4)) {
        T t = zr * zr - zi * zi + cr;
        zi = T(2) * zr * zi + ci;
        zr = t;
        ++it;
    }
    return it;
}

extern "C" __global__ void mandelbrot(int* itf, int* itd, int w, int h, float x0, float y0, float step,
                                      int max_iter) {
    int px = blockIdx.x * blockDim.x + threadIdx.x, py = blockIdx.y * blockDim.y + threadIdx.y;
    if (px >= w || py >= h) return;
    itf[py * w + px] = mandel<float>(x0 + px * step, y0 + py * step, max_iter);
    itd[py * w + px] = mandel<double>((double)x0 + px * (double)step, (double)y0 + py * (double)step, max_iter);
}

// Sturm-count bisection for a symmetric tridiagonal matrix (diagonal d, off-diagonal e), one interval
// per thread, the matrix staged in shared memory
extern "C" __global__ void bisect_count(const float* d, const float* e, int m, const float* xs, int* counts,
                                        int nq) {
    extern __shared__ float sm[];
    float* sd = sm;
    float* se = sm + m;
    for (int k = threadIdx.x; k < m; k += blockDim.x) {
        sd[k] = d[k];
        se[k] = k ? e[k] * e[k] : 0.0f;
    }
    __syncthreads();
    int q = blockIdx.x * blockDim.x + threadIdx.x;
    if (q >= nq) return;
    float x = xs[q], delta = 1.0f;
    int c = 0;
    for (int k = 0; k < m; ++k) {
        delta = sd[k] - x - se[k] / delta;
        if (delta == 0.0f) delta = -1e-30f;
        c += delta < 0.0f;
    }
    counts[q] = c;
}

extern "C" __global__ void clocks_and_ids(long long* t, unsigned* ids, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    long long c0 = clock64();
    unsigned lc0 = (unsigned)clock();
    unsigned lane, warp, sm;
    asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));
    asm volatile("mov.u32 %0, %%warpid;" : "=r"(warp));
    asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
    long long c1 = clock64();
    unsigned lc1 = (unsigned)clock();
    if (i < n) {
        t[i * 2] = c0 >= 0;  // raw clocks depend on the schedule; their difference and signs do not
        t[i * 2 + 1] = c1 - c0;
        ids[i * 4] = lane;
        ids[i * 4 + 1] = warp;
        ids[i * 4 + 2] = sm;
        ids[i * 4 + 3] = lc1 - lc0;
    }
}

template <typename T>
__device__ T axpb(T a, T x, T b) { return a * x + b; }

template <typename T>
__global__ void scale_add(const T* x, T* y, T a, T b, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) y[i] = axpb(a, x[i], b);
}
template __global__ void scale_add<float>(const float*, float*, float, float, int);
template __global__ void scale_add<double>(const double*, double*, double, double, int);
template __global__ void scale_add<int>(const int*, int*, int, int, int);

// ---------------------------------------------------------------------------------- shared-memory atomics

// every kind of atomic on shared memory, per block; thread 0 publishes the block's results
extern "C" __global__ void shared_atomics(const int* v, int n, unsigned bound, int* res, unsigned* olds) {
    __shared__ unsigned s_inc, s_dec, s_and, s_or, s_xor;
    __shared__ int s_min, s_max;
    __shared__ long long s_lmin;
    __shared__ unsigned long long s_ulmax;
    __shared__ float s_fsum, s_fmax, s_exch;
    __shared__ double s_dsum;
    if (threadIdx.x == 0) {
        s_inc = 1;
        s_dec = 5;
        s_and = 0xffffffffu;
        s_or = 0;
        s_xor = 0;
        s_min = 1 << 30;
        s_max = -(1 << 30);
        s_lmin = 1LL << 60;
        s_ulmax = 0;
        s_fsum = 0.0f;
        s_fmax = -1e30f;
        s_exch = -1.0f;
        s_dsum = 0.0;
    }
    __syncthreads();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        int x = v[i];
        olds[i * 3] = atomicInc(&s_inc, bound);
        olds[i * 3 + 1] = atomicDec(&s_dec, bound);
        atomicAnd(&s_and, ~(1u << (x & 31)));
        atomicOr(&s_or, 1u << ((x >> 7) & 31));
        atomicXor(&s_xor, (unsigned)x);
        atomicMin(&s_min, x);
        atomicMax(&s_max, x);
        atomicMin(&s_lmin, (long long)x * -4000000007LL);
        atomicMax(&s_ulmax, (unsigned long long)(unsigned)x * 3u);
        atomicAdd(&s_fsum, (float)(x % 64) * 0.25f);
        atomic_max_float(&s_fmax, (float)x * 0.5f);
        olds[i * 3 + 2] = __float_as_uint(atomicExch(&s_exch, (float)x));
        atomicAdd(&s_dsum, (double)x * 0.125);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int* r = res + blockIdx.x * 16;
        r[0] = s_inc;
        r[1] = s_dec;
        r[2] = s_and;
        r[3] = s_or;
        r[4] = s_xor;
        r[5] = s_min;
        r[6] = s_max;
        *(long long*)(r + 8) = s_lmin;
        *(unsigned long long*)(r + 10) = s_ulmax;
        r[12] = __float_as_int(s_fsum);
        r[13] = __float_as_int(s_fmax);
        r[14] = __float_as_int(s_exch);
        res[gridDim.x * 16 + blockIdx.x * 2] = __double2loint(s_dsum);
        res[gridDim.x * 16 + blockIdx.x * 2 + 1] = __double2hiint(s_dsum);
    }
}

// ---------------------------------------------------------------------------------- more atomic widths and scopes

extern "C" __global__ void atomic_widths(const int* v, int n, unsigned short* h, unsigned long long* u64,
                                         unsigned long long* x64, unsigned long long* x64_old, float* fsum_block,
                                         int* mx_sys, unsigned* sub) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int x = v[i];
    // a 16-bit counter bumped by a CAS loop on its own half-word
    unsigned short old = *h, assumed;
    do {
        assumed = old;
        old = atomicCAS(h, assumed, (unsigned short)(assumed + (x & 7)));
    } while (old != assumed);
    atomicAdd(u64, (unsigned long long)(unsigned)x * 4294967311ull);
    x64_old[i] = atomicExch(x64, (unsigned long long)i * 0x100000001ull);
    atomicAdd_block(fsum_block, (float)(x & 15));
    atomicMax_system(mx_sys, x);
    atomicSub(sub, (unsigned)(x & 255));
}

// a grid-stride loop with warp-aggregated atomics: in the last round only some lanes of a warp are left
extern "C" __global__ void compact_grid_stride(const int* x, int n, int* out, int* count, int* tail_sum) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        int v = x[i];
        // a butterfly over whichever lanes are still here (the active mask as the member mask)
        unsigned m = __activemask();
        int s = v, k = __popc(m);
        int rank = __popc(m & ((1u << (threadIdx.x & 31)) - 1));
        for (int j = 0; j < 32; ++j) {  // sum over the active lanes by an index shuffle, lane by lane
            if (j == 0) s = 0;
            if ((m >> j) & 1) s += __shfl_sync(m, v, j);
        }
        if (rank == 0) atomicAdd(tail_sum, s * 0 + (k == 32 ? 0 : s));
        if (v % 3 == 0) {
            cg::coalesced_group g = cg::coalesced_threads();
            int base = 0;
            if (g.thread_rank() == 0) base = atomicAdd(count, g.size());
            out[g.shfl(base, 0) + g.thread_rank()] = v;
        }
    }
}
