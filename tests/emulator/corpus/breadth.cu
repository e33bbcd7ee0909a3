// Our own kernels in the idioms third-party code uses and the rest of the corpus does not: SIMD video
// intrinsics, bit tricks, an int8 dp4a GEMM, special functions, half2/bf16 fused ops, Welford layer norm
// and RMS norm with sub-warp shuffles, a flash-attention tile (ldmatrix(.trans) + mma.sync), a
// decoupled look-back scan, a warp-split radix sort, spin locks, CUTLASS-style inline PTX (cache hints,
// cp.async zero-fill), generic-pointer space tests, printf/assert in shared helpers, and a template
// instantiated many times. Built for sm_80 and sm_90, -G and --use_fast_math.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda/atomic>
#include <cstdio>
#include <cassert>
#include <cstdint>

// ------------------------------------------------------------------ SIMD video intrinsics
__global__ void simd_video(const unsigned* a, const unsigned* b, unsigned* out, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    unsigned x = a[i], y = b[i];
    unsigned* o = out + 16 * i;
    o[0] = __vadd4(x, y);
    o[1] = __vsub4(x, y);
    o[2] = __vabsdiffu4(x, y);
    o[3] = __vcmpgtu2(x, y);
    o[4] = __vmaxu4(x, y);
    o[5] = __vmins2(x, y);
    o[6] = __vavgu4(x, y);
    o[7] = __vhaddu2(x, y);
    o[8] = __vaddss4(x, y);
    o[9] = __vsubus2(x, y);
    o[10] = __vsadu4(x, y);
    o[11] = __vcmpeq4(x, y);
    o[12] = __vsetltu4(x, y);
    o[13] = __vabsss2(x);
    o[14] = __vneg4(x);
    o[15] = __vabsdiffs2(x, y);
  }
}

// ------------------------------------------------------------------ bit tricks
__global__ void bit_tricks(const unsigned* a, const unsigned* b, const unsigned long long* c, unsigned* out,
                           int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  unsigned x = a[i], y = b[i];
  unsigned long long z = c[i];
  unsigned* o = out + 14 * i;
  o[0] = __byte_perm(x, y, 0x5140);
  o[1] = __byte_perm(x, 0, 0x0123);
  o[2] = __byte_perm(x, y, y & 0x7777);
  o[3] = __funnelshift_l(x, y, y >> 27);
  o[4] = __funnelshift_rc(x, y, y >> 26);
  o[5] = __brev(x ^ y);
  o[6] = __ffsll((long long)z) + 100 * __popcll(z) + 10000 * __clzll(z);
  o[7] = __sad((int)x, (int)y, 7u);
  o[8] = __usad(x, y, 11u);
  o[9] = (unsigned)__mulhi((int)x, (int)y);
  o[10] = __umulhi(x, y);
  o[11] = (unsigned)(__umul64hi(z, (unsigned long long)x * y) >> 7);
  o[12] = (unsigned)__hadd((int)x, (int)y);
  o[13] = (unsigned)__rhadd((int)x, (int)y);
}

// ------------------------------------------------------------------ int8 GEMM with __dp4a
// C[M][N] = A[M][K] * B[N][K]^T (both K-major, K a multiple of 4), 16x16 tiles of packed char4.
__global__ void gemm_dp4a(const int* A, const int* B, int* C, const unsigned* U, unsigned* CU, int M, int N,
                          int K4) {
  __shared__ int sa[16][17], sb[16][17];
  int tx = threadIdx.x, ty = threadIdx.y;
  int row = blockIdx.y * 16 + ty, col = blockIdx.x * 16 + tx;
  int acc = 0;
  unsigned uacc = 0;
  for (int k0 = 0; k0 < K4; k0 += 16) {
    sa[ty][tx] = (row < M && k0 + tx < K4) ? A[row * K4 + k0 + tx] : 0;
    sb[ty][tx] = (blockIdx.x * 16 + ty < N && k0 + tx < K4) ? B[(blockIdx.x * 16 + ty) * K4 + k0 + tx] : 0;
    __syncthreads();
#pragma unroll 4
    for (int k = 0; k < 16; ++k) {
      acc = __dp4a(sa[ty][k], sb[tx][k], acc);
      uacc = __dp2a_hi((unsigned)sa[ty][k], (unsigned)sb[tx][k], uacc);
    }
    __syncthreads();
  }
  if (row < M && col < N) {
    C[row * N + col] = acc;
    CU[row * N + col] = uacc + U[row * N + col];
  }
}

// ------------------------------------------------------------------ special functions
__global__ void special_f32(const float* x, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float v = x[i];          // in (-1, 1)
  float w = 8.0f * v;      // in (-8, 8)
  float* o = out + 12 * i;
  o[0] = erfinvf(v);
  o[1] = erfcinvf(v + 1.0f);
  float s, c;
  sincospif(w, &s, &c);
  o[2] = s;
  o[3] = c;
  o[4] = j0f(w);
  o[5] = lgammaf(fabsf(w) + 0.25f);
  int e;
  float mant = frexpf(w * 1000.0f, &e);
  o[6] = mant + (float)e;
  o[7] = ldexpf(v, ilogbf(w + 9.0f)) + scalbnf(v, -3);
  o[8] = expm1f(v) + log1pf(v * 0.5f);
  o[9] = cyl_bessel_i0f(w * 0.5f);
  o[10] = normcdfinvf(__fmaf_rn(0.49f, v, 0.5f));  // explicit: -O3 would contract it, -G not
  o[11] = nextafterf(v, 2.0f) - v;
}

// ------------------------------------------------------------------ half2 / bf16 fused ops
__global__ void half2_fused(const __half2* a, const __half2* b, const __half2* c, __half2* out,
                            const __nv_bfloat162* p, const __nv_bfloat162* q, __nv_bfloat162* bout, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  __half2 x = a[i], y = b[i], z = c[i];
  __half2* o = out + 6 * i;
  o[0] = __hfma2_relu(x, y, z);
  o[1] = __hmax2_nan(x, y);
  o[2] = __hmin2_nan(x, z);
  o[3] = __hsub2_sat(x, y);
  o[4] = __hmul2_rn(x, z);
  o[5] = __hcmadd(x, y, z);
  __nv_bfloat162 u = p[i], v = q[i];
  bout[3 * i] = __hfma2_relu(u, v, u);
  bout[3 * i + 1] = __hmax2_nan(u, v);
  bout[3 * i + 2] = __floats2bfloat162_rn(__low2float(u) * __high2float(v), __half2float(__low2half(x)));
}

// ------------------------------------------------------------------ Welford layer norm, one warp per row
__device__ __forceinline__ void welford_merge(float& m, float& m2, float& cnt, float om, float om2, float oc) {
  float tot = cnt + oc;
  if (tot == 0.0f) return;
  float d = om - m;
  float r = oc / tot;
  m += d * r;
  m2 += om2 + d * d * cnt * r;
  cnt = tot;
}

__global__ void layernorm_welford(const float* x, const float* gamma, const float* beta, float* y, float* stats,
                                  int rows, int cols) {
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int row = blockIdx.x * (blockDim.x / 32) + warp;
  if (row >= rows) return;
  const float* xr = x + (size_t)row * cols;
  float m = 0.f, m2 = 0.f, cnt = 0.f;
  for (int c = lane; c < cols; c += 32) {
    float v = xr[c];
    cnt += 1.f;
    float d = v - m;
    m += d / cnt;
    m2 += d * (v - m);
  }
  for (int off = 16; off > 0; off >>= 1) {
    float om = __shfl_xor_sync(0xffffffffu, m, off);
    float om2 = __shfl_xor_sync(0xffffffffu, m2, off);
    float oc = __shfl_xor_sync(0xffffffffu, cnt, off);
    welford_merge(m, m2, cnt, om, om2, oc);
  }
  float rstd = rsqrtf(m2 / cols + 1e-5f);
  for (int c = lane; c < cols; c += 32) y[(size_t)row * cols + c] = (xr[c] - m) * rstd * gamma[c] + beta[c];
  if (lane == 0) {
    stats[2 * row] = m;
    stats[2 * row + 1] = rstd;
  }
}

// RMS norm: a 16-lane group per row (width-16 butterflies), two rows per warp.
__global__ void rmsnorm_half_warp(const __half* x, const float* w, __half* y, int rows, int cols) {
  int group = (blockIdx.x * blockDim.x + threadIdx.x) / 16, sub = threadIdx.x % 16;
  bool live = group < rows;
  float ss = 0.f;
  if (live)
    for (int c = sub; c < cols; c += 16) {
      float v = __half2float(x[(size_t)group * cols + c]);
      ss = fmaf(v, v, ss);
    }
  for (int off = 8; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off, 16);
  float inv = rsqrtf(ss / cols + 1e-6f);
  if (live)
    for (int c = sub; c < cols; c += 16)
      y[(size_t)group * cols + c] = __float2half(__half2float(x[(size_t)group * cols + c]) * inv * w[c]);
}

// ------------------------------------------------------------------ flash-attention tile
// One warp per 16 query rows, head dim 16, keys in tiles of 16: S = Q K^T (mma m16n8k16), online softmax
// in registers, P (f16) reused as the A fragment of O += P V (V through ldmatrix.trans).
__device__ __forceinline__ unsigned smem_u32(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void ldsm_x4(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_u32(p)));
}

__device__ __forceinline__ void ldsm_x4_t(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_u32(p)));
}

__device__ __forceinline__ void mma16816(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%0,%1,%2,%3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ unsigned pack_h2(float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<unsigned*>(&h);
}

__global__ void flash_tile(const __half* Q, const __half* K, const __half* V, float* O, int Lq, int Lk,
                           float scale_log2) {
  __shared__ __align__(16) __half sq[2][16][16];
  __shared__ __align__(16) __half sk[16][16], sv[16][16];
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
  int q0 = (blockIdx.x * 2 + warp) * 16;
  for (int e = lane; e < 256; e += 32) {
    int r = e / 16, c = e % 16;
    sq[warp][r][c] = q0 + r < Lq ? Q[(q0 + r) * 16 + c] : __float2half(0.f);
  }
  __syncwarp();
  unsigned qa[4];
  ldsm_x4(qa, &sq[warp][(lane % 8) + 8 * ((lane / 8) % 2)][8 * (lane / 16)]);
  float o[2][4] = {};
  float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};
  for (int k0 = 0; k0 < Lk; k0 += 16) {
    __syncthreads();
    for (int e = threadIdx.x; e < 256; e += blockDim.x) {
      int r = e / 16, c = e % 16;
      bool in = k0 + r < Lk;
      sk[r][c] = in ? K[(k0 + r) * 16 + c] : __float2half(0.f);
      sv[r][c] = in ? V[(k0 + r) * 16 + c] : __float2half(0.f);
    }
    __syncthreads();
    unsigned kb[4], vb[4];
    ldsm_x4(kb, &sk[(lane % 8) + 8 * (lane / 16)][8 * ((lane / 8) % 2)]);
    ldsm_x4_t(vb, &sv[(lane % 8) + 8 * ((lane / 8) % 2)][8 * (lane / 16)]);
    float s[2][4] = {};
    mma16816(s[0], qa, kb[0], kb[1]);
    mma16816(s[1], qa, kb[2], kb[3]);
    for (int j = 0; j < 2; ++j)
      for (int r = 0; r < 4; ++r) {
        int key = k0 + 8 * j + 2 * t + (r & 1);
        s[j][r] = key < Lk ? s[j][r] * scale_log2 : -INFINITY;
      }
    for (int h = 0; h < 2; ++h) {  // h = 0: row g, h = 1: row g + 8
      float mx = fmaxf(fmaxf(s[0][2 * h], s[0][2 * h + 1]), fmaxf(s[1][2 * h], s[1][2 * h + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      float mnew = fmaxf(mrow[h], mx);
      float corr = exp2f(mrow[h] - mnew);
      float sum = 0.f;
      for (int j = 0; j < 2; ++j)
        for (int r = 2 * h; r < 2 * h + 2; ++r) {
          s[j][r] = exp2f(s[j][r] - mnew);
          sum += s[j][r];
        }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      lrow[h] = lrow[h] * corr + sum;
      mrow[h] = mnew;
      for (int j = 0; j < 2; ++j) {
        o[j][2 * h] *= corr;
        o[j][2 * h + 1] *= corr;
      }
    }
    unsigned pa[4] = {pack_h2(s[0][0], s[0][1]), pack_h2(s[0][2], s[0][3]), pack_h2(s[1][0], s[1][1]),
                      pack_h2(s[1][2], s[1][3])};
    mma16816(o[0], pa, vb[0], vb[1]);
    mma16816(o[1], pa, vb[2], vb[3]);
  }
  for (int j = 0; j < 2; ++j)
    for (int r = 0; r < 4; ++r) {
      int row = q0 + g + 8 * (r >> 1), col = 8 * j + 2 * t + (r & 1);
      if (row < Lq) O[row * 16 + col] = o[j][r] / lrow[r >> 1];
    }
}

// ------------------------------------------------------------------ decoupled look-back scan
// Tiles take a ticket in launch order; each publishes its aggregate, then walks back over its
// predecessors' flags (1 = aggregate, 2 = inclusive prefix) until an inclusive prefix is found.
template <bool ATOMIC_REF>
__global__ void scan_lookback(const int* in, int* out, unsigned long long* status, unsigned* ticket, int n) {
  __shared__ int warp_tot[32];
  __shared__ int tile_s, excl_s;
  if (threadIdx.x == 0) tile_s = atomicAdd(ticket, 1u);
  __syncthreads();
  int tile = tile_s;
  int i = tile * blockDim.x + threadIdx.x, lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int v = i < n ? in[i] : 0;
  for (int d = 1; d < 32; d <<= 1) {
    int u = __shfl_up_sync(0xffffffffu, v, d);
    if (lane >= d) v += u;
  }
  if (lane == 31) warp_tot[warp] = v;
  __syncthreads();
  if (warp == 0) {
    int w = lane < blockDim.x / 32 ? warp_tot[lane] : 0;
    for (int d = 1; d < 32; d <<= 1) {
      int u = __shfl_up_sync(0xffffffffu, w, d);
      if (lane >= d) w += u;
    }
    if (lane < blockDim.x / 32) warp_tot[lane] = w;
  }
  __syncthreads();
  if (warp > 0) v += warp_tot[warp - 1];
  if (threadIdx.x == blockDim.x - 1) {
    unsigned agg = (unsigned)v;
    int prefix = 0;
    if (ATOMIC_REF) {
      cuda::atomic_ref<unsigned long long, cuda::thread_scope_device> me(status[tile]);
      me.store((tile == 0 ? 2ull : 1ull) << 32 | agg, cuda::memory_order_release);
      for (int j = tile - 1; j >= 0; --j) {
        cuda::atomic_ref<unsigned long long, cuda::thread_scope_device> st(status[j]);
        unsigned long long s;
        while (((s = st.load(cuda::memory_order_acquire)) >> 32) == 0) {
        }
        prefix += (int)(unsigned)s;
        if ((s >> 32) == 2) break;
      }
      if (tile > 0) me.store(2ull << 32 | (unsigned)(prefix + v), cuda::memory_order_release);
    } else {
      volatile unsigned long long* vs = status;
      __threadfence();
      vs[tile] = (tile == 0 ? 2ull : 1ull) << 32 | agg;
      for (int j = tile - 1; j >= 0; --j) {
        unsigned long long s;
        while (((s = vs[j]) >> 32) == 0) {
        }
        prefix += (int)(unsigned)s;
        if ((s >> 32) == 2) break;
      }
      __threadfence();
      if (tile > 0) vs[tile] = 2ull << 32 | (unsigned)(prefix + v);
    }
    excl_s = prefix;
  }
  __syncthreads();
  if (i < n) out[i] = v + excl_s;
}
template __global__ void scan_lookback<false>(const int*, int*, unsigned long long*, unsigned*, int);
template __global__ void scan_lookback<true>(const int*, int*, unsigned long long*, unsigned*, int);

// ------------------------------------------------------------------ warp-split radix sort (one block)
__device__ __forceinline__ unsigned lanemask_lt() {
  unsigned m;
  asm("mov.u32 %0, %%lanemask_lt;" : "=r"(m));
  return m;
}

__global__ void radix_sort_block(const unsigned* keys, const int* vals, unsigned* out_k, int* out_v, int n) {
  extern __shared__ unsigned smem_u[];
  int nt = blockDim.x, nw = nt / 32, warp = threadIdx.x / 32;
  unsigned* sk = smem_u;                  // nt keys
  int* sv = (int*)(smem_u + nt);          // nt values
  int* counts = (int*)(smem_u + 2 * nt);  // 16 digits x nw warps, digit-major
  unsigned key = threadIdx.x < n ? keys[threadIdx.x] : 0xffffffffu;
  int val = threadIdx.x < n ? vals[threadIdx.x] : -1;
  for (int shift = 0; shift < 32; shift += 4) {
    for (int e = threadIdx.x; e < 16 * nw; e += nt) counts[e] = 0;
    __syncthreads();
    unsigned d = (key >> shift) & 15u;
    unsigned same = __match_any_sync(0xffffffffu, d);
    unsigned below = __popc(same & lanemask_lt());
    if (below == 0) counts[d * nw + warp] = __popc(same);
    __syncthreads();
    if (threadIdx.x == 0) {
      int run = 0;
      for (int e = 0; e < 16 * nw; ++e) {
        int c = counts[e];
        counts[e] = run;
        run += c;
      }
    }
    __syncthreads();
    int pos = counts[d * nw + warp] + below;
    sk[pos] = key;
    sv[pos] = val;
    __syncthreads();
    key = sk[threadIdx.x];
    val = sv[threadIdx.x];
    __syncthreads();
  }
  if (threadIdx.x < n) {
    out_k[threadIdx.x] = key;
    out_v[threadIdx.x] = val;
  }
}

// ------------------------------------------------------------------ spin locks around plain read-modify-writes
__device__ void lock(int* m) {
  while (atomicCAS(m, 0, 1) != 0) {
  }
  __threadfence();
}

__device__ void unlock(int* m) {
  __threadfence();
  atomicExch(m, 0);
}

// One thread per block takes the lock (the tutorial form).
__global__ void lock_per_block(const int* x, int* mutex, double* total, int* blocks, int n) {
  __shared__ int part[256];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  part[threadIdx.x] = i < n ? x[i] : 0;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    lock(mutex);
    volatile double* t = total;
    *t = *t + part[0];
    volatile int* b = blocks;
    *b = *b + 1;
    unlock(mutex);
  }
}

// Every thread takes the lock: needs independent thread scheduling (sm_70+), a deadlock before Volta.
__global__ void lock_per_thread(const int* x, int* mutex, long long* total, int* order, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  bool done = false;
  while (!done) {
    if (atomicCAS(mutex, 0, 1) == 0) {
      __threadfence();
      volatile long long* t = total;
      long long before = *t;
      *t = before + x[i];
      order[i] = (int)(before & 0x7fffffff);
      __threadfence();
      atomicExch(mutex, 0);
      done = true;
    }
  }
}

// ------------------------------------------------------------------ CUTLASS-style inline PTX
// 16-byte cp.async with zero-fill for the ragged tail, cache-hinted loads and stores, an L2 policy.
__global__ void hinted_copy(const float4* src, float4* dst, const float* tail, float* tail_out, int n4, int nt) {
  __shared__ __align__(16) float4 stage[128];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int bytes = i < n4 ? 16 : 0;
  const float4* from = i < n4 ? src + i : src;
  unsigned dst_s = smem_u32(&stage[threadIdx.x]);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst_s), "l"(from), "r"(bytes));
  asm volatile("cp.async.commit_group;\n" ::);
  asm volatile("cp.async.wait_group 0;\n" ::);
  __syncthreads();
  float4 v = stage[threadIdx.x];
  if (i < n4) {
    float4 w;
    asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.f32 {%0,%1,%2,%3}, [%4];\n"
                 : "=f"(w.x), "=f"(w.y), "=f"(w.z), "=f"(w.w) : "l"(src + i));
    v.x += w.x;
    v.y += w.y;
    v.z += w.z;
    v.w += w.w;
    asm volatile("st.global.L1::no_allocate.v4.f32 [%0], {%1,%2,%3,%4};\n" ::"l"(dst + i), "f"(v.x), "f"(v.y),
                 "f"(v.z), "f"(v.w));
  }
  for (int j = i; j < nt; j += gridDim.x * blockDim.x) {
    unsigned long long pol;
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(pol));
    float a;
    asm volatile("ld.global.L2::cache_hint.f32 %0, [%1], %2;\n" : "=f"(a) : "l"(tail + j), "l"(pol));
    float b = __ldlu(tail + j) + __ldcv(tail + j) + __ldca(tail + j) + __ldcg(tail + j);
    asm volatile("prefetch.global.L2::evict_last [%0];\n" ::"l"(tail + j));
    __stwt(tail_out + j, a + b);
  }
}

// ------------------------------------------------------------------ generic pointers into different spaces
__device__ __noinline__ float bump(float* p, float by) {
  float old = *p;
  *p = old + by;
  return old + (__isShared(p) ? 1000.f : 0.f) + (__isGlobal(p) ? 2000.f : 0.f) + (__isLocal(p) ? 4000.f : 0.f);
}

__constant__ float cscale[4] = {1.f, 2.f, 4.f, 8.f};

__global__ void pointer_spaces(float* g, float* out, int sel, int n) {
  __shared__ float s[128];
  float local[4];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  s[threadIdx.x] = (float)threadIdx.x;
  for (int k = 0; k < 4; ++k) local[k] = (float)(k * i);
  float* p = (i % 3 == 0) ? &s[threadIdx.x] : (i % 3 == 1) ? &g[i] : &local[sel & 3];
  float r = bump(p, 0.5f);
  const float* c = &cscale[i & 3];
  out[3 * i] = r;
  out[3 * i + 1] = *p + (__isConstant(c) ? *c : -1.f);
  out[3 * i + 2] = (float)(__cvta_generic_to_shared(&s[threadIdx.x]) - __cvta_generic_to_shared(&s[0]));
}

// ------------------------------------------------------------------ printf / assert from shared helpers
__device__ __noinline__ void check_range(int v, int lo, int hi) {
  assert(v >= lo && v < hi);
}

__device__ __noinline__ void show(const char* tag, int i, double v, long long big, unsigned short h) {
  printf("%-5s|%3d|%.3e|%g|%10.4f|%a|%lld|%llx|%hu|%c|%5.2s|%%\n", tag, i, v, v, v, v, big, big, h, 'A' + i % 26,
         tag);
}

__global__ void report_helpers(const int* x, int* y, int n, int lo, int hi) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  check_range(x[i], lo, hi);
  y[i] = 2 * x[i];
  check_range(y[i], 2 * lo, hi + 50);
  if (i < 3) show(i == 0 ? "zero" : "other", i, x[i] * 0.125, -1234567890123ll * (i + 1), (unsigned short)(65535 - i));
}

// ------------------------------------------------------------------ one template, many instantiations
struct AddOp {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a > b ? a : b; }
};
struct AxpyOp {
  float alpha;
  template <typename T>
  __device__ T operator()(T a, T b) const { return (T)(alpha * (float)a + (float)b); }
};

template <typename T, int VEC>
struct alignas(sizeof(T) * VEC) Vec {
  T v[VEC];
};

template <typename T, int VEC, typename Op>
__global__ void __launch_bounds__(128, 4) binary_vec(const T* a, const T* b, T* c, Op op, int n) {
  using V = Vec<T, VEC>;
  int nv = n / VEC;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < nv; i += gridDim.x * blockDim.x) {
    V x = reinterpret_cast<const V*>(a)[i], y = reinterpret_cast<const V*>(b)[i], z;
#pragma unroll
    for (int k = 0; k < VEC; ++k) z.v[k] = op(x.v[k], y.v[k]);
    reinterpret_cast<V*>(c)[i] = z;
  }
  int tail = nv * VEC + blockIdx.x * blockDim.x + threadIdx.x;
  if (tail < n) c[tail] = op(a[tail], b[tail]);
}
template __global__ void binary_vec<int8_t, 4, AddOp>(const int8_t*, const int8_t*, int8_t*, AddOp, int);
template __global__ void binary_vec<uint16_t, 2, MaxOp>(const uint16_t*, const uint16_t*, uint16_t*, MaxOp, int);
template __global__ void binary_vec<int, 4, MaxOp>(const int*, const int*, int*, MaxOp, int);
template __global__ void binary_vec<float, 4, AxpyOp>(const float*, const float*, float*, AxpyOp, int);
template __global__ void binary_vec<float, 1, AddOp>(const float*, const float*, float*, AddOp, int);
template __global__ void binary_vec<double, 2, AxpyOp>(const double*, const double*, double*, AxpyOp, int);
template __global__ void binary_vec<__half, 8, AddOp>(const __half*, const __half*, __half*, AddOp, int);
template __global__ void binary_vec<long long, 2, AddOp>(const long long*, const long long*, long long*, AddOp,
                                                          int);

// The dynamic shared memory idiom: one extern array reinterpreted per element type.
template <typename T>
struct DynSmem {
  __device__ operator T*() {
    extern __shared__ __align__(16) unsigned char dyn_raw[];
    return reinterpret_cast<T*>(dyn_raw);
  }
};

template <typename T>
__global__ void block_sum_dyn(const T* x, T* out, int n) {
  T* s = DynSmem<T>();
  T acc = 0;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) acc += x[i];
  s[threadIdx.x] = acc;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k >>= 1) {
    if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}
template __global__ void block_sum_dyn<int>(const int*, int*, int);
template __global__ void block_sum_dyn<double>(const double*, double*, int);
template __global__ void block_sum_dyn<unsigned long long>(const unsigned long long*, unsigned long long*, int);

// ------------------------------------------------------------------ programmatic dependent launch
__global__ void pdl_scale(const float* x, float* y, float a, int n) {
#if __CUDA_ARCH__ >= 900
  cudaGridDependencySynchronize();
#endif
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i];
#if __CUDA_ARCH__ >= 900
  cudaTriggerProgrammaticLaunchCompletion();
#endif
}
