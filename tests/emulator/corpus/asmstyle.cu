// Our own kernels written the way tensor-core libraries and hand-tuned code are: inline PTX for mma.sync
// (tf32 m16n8k8, s8 m16n8k32, f16 m16n8k8), ldmatrix .x1/.x2(.trans), stmatrix (sm_90), packed
// conversions, prmt modes, lop3, bfe/bfi/bmsk/szext, funnel shifts, small cp.async copies with zero-fill,
// 1-D bulk copies on an mbarrier (sm_90), 16-bit and 64-bit atomics, device lambdas and if constexpr,
// and __trap (textures and surfaces, which the emulator and the assembler refuse: textures.cu).
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda/std/array>
#include <cstdint>

__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// ------------------------------------------------------------------ tf32 m16n8k8, operands from global
// One warp per 16x8 tile of C = A (MxK, row-major) * B (KxN, row-major); ragged edges read as zero.
__global__ void mma_tf32(const float* A, const float* B, float* C, int M, int N, int K) {
  int lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
  int m0 = blockIdx.y * 16, n0 = blockIdx.x * 8;
  float d[4] = {0.f, 0.f, 0.f, 0.f};
  auto ld = [&](const float* p, int r, int c, int R, int Cc, int ld) -> unsigned {
    float v = (r < R && c < Cc) ? p[r * ld + c] : 0.f;
    unsigned u;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(u) : "f"(v));
    return u;
  };
  for (int k0 = 0; k0 < K; k0 += 8) {
    unsigned a0 = ld(A, m0 + g, k0 + t, M, K, K), a1 = ld(A, m0 + g + 8, k0 + t, M, K, K);
    unsigned a2 = ld(A, m0 + g, k0 + t + 4, M, K, K), a3 = ld(A, m0 + g + 8, k0 + t + 4, M, K, K);
    unsigned b0 = ld(B, k0 + t, n0 + g, K, N, N), b1 = ld(B, k0 + t + 4, n0 + g, K, N, N);
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
  for (int r = 0; r < 4; ++r) {
    int row = m0 + g + 8 * (r >> 1), col = n0 + 2 * t + (r & 1);
    if (row < M && col < N) C[row * N + col] = d[r];
  }
}

// ------------------------------------------------------------------ s8 m16n8k32 and f16 m16n8k8
__global__ void mma_s8_f16(const int8_t* A, const int8_t* B, int* C, const __half* H, const __half* G,
                           __half* D) {
  int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
  // A 16x32 row-major, B 32x8 stored column-major (B[n][k]): each register packs 4 consecutive k
  auto a = [&](int r, int k) { return *reinterpret_cast<const unsigned*>(A + r * 32 + k); };
  auto b = [&](int n, int k) { return *reinterpret_cast<const unsigned*>(B + n * 32 + k); };
  int c[4] = {1, -1, 2, -2};
  asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%0,%1,%2,%3};"
               : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
               : "r"(a(g, 4 * t)), "r"(a(g + 8, 4 * t)), "r"(a(g, 4 * t + 16)), "r"(a(g + 8, 4 * t + 16)),
                 "r"(b(g, 4 * t)), "r"(b(g, 4 * t + 16)));
  for (int r = 0; r < 4; ++r) C[(g + 8 * (r >> 1)) * 8 + 2 * t + (r & 1)] = c[r];
  // f16 m16n8k8 with f16 accumulate: H 16x8 row-major, G 8x8 stored column-major (G[n][k])
  auto h2 = [&](const __half* p) { return *reinterpret_cast<const unsigned*>(p); };
  unsigned acc[2] = {0u, 0u};
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f16.f16.f16.f16 {%0,%1}, {%2,%3}, {%4}, {%0,%1};"
               : "+r"(acc[0]), "+r"(acc[1])
               : "r"(h2(H + g * 8 + 2 * t)), "r"(h2(H + (g + 8) * 8 + 2 * t)), "r"(h2(G + g * 8 + 2 * t)));
  reinterpret_cast<unsigned*>(D)[g * 4 + t] = acc[0];
  reinterpret_cast<unsigned*>(D)[(g + 8) * 4 + t] = acc[1];
}

// ------------------------------------------------------------------ fp8 m16n8k32 (sm_89+), e4m3 x e5m2
// A 16x32 e4m3 row-major, B 8x32 e5m2 stored [n][k] (each register packs 4 consecutive k), D 16x8 f32.
__global__ void mma_fp8(const uint8_t* A, const uint8_t* B, float* D) {
#if __CUDA_ARCH__ >= 890
  int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
  auto a = [&](int r, int k) { return *reinterpret_cast<const unsigned*>(A + r * 32 + k); };
  auto b = [&](int n, int k) { return *reinterpret_cast<const unsigned*>(B + n * 32 + k); };
  float d[4] = {0.5f, -0.5f, 0.25f, -0.25f};
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e5m2.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%0,%1,%2,%3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a(g, 4 * t)), "r"(a(g + 8, 4 * t)), "r"(a(g, 4 * t + 16)), "r"(a(g + 8, 4 * t + 16)),
                 "r"(b(g, 4 * t)), "r"(b(g, 4 * t + 16)));
  for (int r = 0; r < 4; ++r) D[(g + 8 * (r >> 1)) * 8 + 2 * t + (r & 1)] = d[r];
#endif
}

// ------------------------------------------------------------------ ldmatrix .x1 / .x2 / .x2.trans, stmatrix
__global__ void ldmatrix_forms(const unsigned short* src, unsigned* out, unsigned short* back) {
  __shared__ __align__(16) unsigned short tile[16][8];
  __shared__ __align__(16) unsigned short st[16][8];
  int lane = threadIdx.x;
  for (int e = lane; e < 128; e += 32) tile[e / 8][e % 8] = src[e];
  __syncwarp();
  unsigned r0, r1, r2, q0, q1;
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];" : "=r"(r0) : "r"(smem_addr(&tile[lane % 8][0])));
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];"
               : "=r"(r1), "=r"(r2) : "r"(smem_addr(&tile[lane % 16][0])));
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];"
               : "=r"(q0), "=r"(q1) : "r"(smem_addr(&tile[lane % 16][0])));
  out[lane * 5 + 0] = r0;
  out[lane * 5 + 1] = r1;
  out[lane * 5 + 2] = r2;
  out[lane * 5 + 3] = q0;
  out[lane * 5 + 4] = q1;
#if __CUDA_ARCH__ >= 900
  asm volatile("stmatrix.sync.aligned.m8n8.x2.trans.shared.b16 [%0], {%1,%2};" ::"r"(smem_addr(&st[lane % 16][0])),
               "r"(r1), "r"(r2));
#else
  // the same effect without stmatrix: element (row, col) of matrix m goes to st[8m + col][row]
  for (int j = 0; j < 2; ++j) {
    unsigned v = j ? r2 : r1;
    int row = lane / 4, col = 2 * (lane % 4);
    st[8 * j + col][row] = v & 0xffff;
    st[8 * j + col + 1][row] = v >> 16;
  }
#endif
  __syncwarp();
  for (int e = lane; e < 128; e += 32) back[e] = st[e / 8][e % 8];
}

// ------------------------------------------------------------------ packed conversions and bit fields
__global__ void pack_bits(const float* f, const unsigned* u, unsigned* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = f[2 * i], y = f[2 * i + 1];
  unsigned a = u[2 * i], b = u[2 * i + 1];
  unsigned* o = out + 20 * i;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(o[0]) : "f"(x), "f"(y));
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(o[1]) : "f"(x), "f"(y));
  asm("cvt.rn.relu.f16x2.f32 %0, %1, %2;" : "=r"(o[2]) : "f"(x), "f"(y));
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(o[3]) : "f"(x));
  {
    unsigned short lo, hi;
    asm("mov.b32 {%0,%1}, %2;" : "=h"(lo), "=h"(hi) : "r"(a));
    o[4] = (unsigned)hi << 16 | (unsigned)(lo ^ 0x5a5a);
  }
  asm("prmt.b32.f4e %0, %1, %2, %3;" : "=r"(o[5]) : "r"(a), "r"(b), "r"(i));
  asm("prmt.b32.b4e %0, %1, %2, %3;" : "=r"(o[6]) : "r"(a), "r"(b), "r"(i));
  asm("prmt.b32.rc8 %0, %1, %2, %3;" : "=r"(o[7]) : "r"(a), "r"(b), "r"(i));
  asm("prmt.b32.ecl %0, %1, %2, %3;" : "=r"(o[8]) : "r"(a), "r"(b), "r"(i));
  asm("prmt.b32.ecr %0, %1, %2, %3;" : "=r"(o[9]) : "r"(a), "r"(b), "r"(i));
  asm("prmt.b32.rc16 %0, %1, %2, %3;" : "=r"(o[10]) : "r"(a), "r"(b), "r"(i));
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(o[11]) : "r"(a), "r"(b), "r"(b));
  asm("lop3.b32 %0, %1, %2, %3, 0x96;" : "=r"(o[12]) : "r"(a), "r"(b), "r"(i));  // a ^ b ^ c
  asm("lop3.b32 %0, %1, %2, %3, 0xe8;" : "=r"(o[13]) : "r"(a), "r"(b), "r"(i));  // majority
  asm("bfe.s32 %0, %1, %2, %3;" : "=r"(o[14]) : "r"(a), "r"(b & 31), "r"((b >> 5) & 31));
  asm("bfi.b32 %0, %1, %2, %3, %4;" : "=r"(o[15]) : "r"(a), "r"(b), "r"((a >> 8) & 31), "r"((a >> 13) & 15));
  asm("bmsk.wrap.b32 %0, %1, %2;" : "=r"(o[16]) : "r"(a & 31), "r"((b >> 10) & 63));
  asm("szext.clamp.s32 %0, %1, %2;" : "=r"(o[17]) : "r"(a), "r"((b >> 16) & 63));
  asm("shf.l.wrap.b32 %0, %1, %2, %3;" : "=r"(o[18]) : "r"(a), "r"(b), "r"(b >> 7));
  asm("shf.r.clamp.b32 %0, %1, %2, %3;" : "=r"(o[19]) : "r"(a), "r"(b), "r"(b >> 20));
}

// ------------------------------------------------------------------ small cp.async copies with zero-fill
__global__ void cp_async_small(const int* src, int* dst, int n) {
  __shared__ __align__(8) int s4[128];
  __shared__ __align__(8) int2 s8[128];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int in4 = i < n ? 4 : 0, in8 = 2 * i + 1 < n ? 8 : (2 * i < n ? 4 : 0);
  const int* p4 = i < n ? src + i : src;
  const int* p8 = 2 * i < n ? src + 2 * i : src;
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(smem_addr(&s4[threadIdx.x])), "l"(p4),
               "r"(in4));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;" ::"r"(smem_addr(&s8[threadIdx.x])), "l"(p8),
               "r"(in8));
  asm volatile("cp.async.wait_all;" ::);
  __syncthreads();
  int2 v = s8[threadIdx.x];
  dst[3 * i] = s4[threadIdx.x];
  dst[3 * i + 1] = v.x;
  dst[3 * i + 2] = v.y;
}

// ------------------------------------------------------------------ 1-D bulk copy on an mbarrier (sm_90)
__global__ void bulk_copy_1d(const float4* src, float* dst, int chunks) {
  __shared__ __align__(128) float4 buf[64];
  __shared__ __align__(8) unsigned long long bar;
  int c = blockIdx.x;
  if (c >= chunks) return;
#if __CUDA_ARCH__ >= 900
  unsigned b = smem_addr(&bar);
  if (threadIdx.x == 0) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(b));
    asm volatile("fence.proxy.async.shared::cta;" ::);
  }
  __syncthreads();
  unsigned leader;
  asm volatile("{\n .reg .pred p;\n elect.sync _|p, 0xffffffff;\n selp.u32 %0, 1, 0, p;\n}" : "=r"(leader));
  if (threadIdx.x < 32 && leader) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], 1024;" ::"r"(b));
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], 1024, [%2];" ::"r"(
                     smem_addr(buf)),
                 "l"(src + 64 * c), "r"(b));
  }
  asm volatile("{\n .reg .pred done;\n W: mbarrier.try_wait.parity.shared::cta.b64 done, [%0], 0;\n @!done bra W;\n}" ::"r"(b));
#else
  for (int e = threadIdx.x; e < 64; e += blockDim.x) buf[e] = src[64 * c + e];
  __syncthreads();
#endif
  for (int e = threadIdx.x; e < 256; e += blockDim.x) dst[256 * c + e] = 2.f * reinterpret_cast<float*>(buf)[e];
}

// ------------------------------------------------------------------ 16- and 64-bit atomics
__global__ void atomics_16_64(const int* x, unsigned short* h16, unsigned long long* u64, long long* s64,
                              __nv_bfloat16* bsum, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int v = x[i];
  // a 16-bit counter per bin through atomicCAS on unsigned short (sm_70+)
  unsigned short* bin = h16 + (v & 7);
  unsigned short old = *bin, assumed;
  do {
    assumed = old;
    old = atomicCAS(bin, assumed, (unsigned short)(assumed + 1));
  } while (old != assumed);
  atomicMin(s64, (long long)v * 1000000007ll);
  atomicMax(s64 + 1, (long long)v * 1000000007ll);
  atomicAnd(u64, ~(1ull << (v & 63)));
  atomicOr(u64 + 1, 1ull << ((v >> 3) & 63));
  atomicXor(u64 + 2, (unsigned long long)v << 20);
  atomicAdd(u64 + 3, (unsigned long long)(unsigned)v);
  atomicAdd(bsum + (v & 3), __float2bfloat16((float)((v >> 2) & 7)));
}

// ------------------------------------------------------------------ device lambdas, if constexpr
template <typename T, typename F>
__global__ void transform_n(const T* x, T* y, int n, F f) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    cuda::std::array<T, 3> taps{x[i], i + 1 < n ? x[i + 1] : T(0), i + 2 < n ? x[i + 2] : T(0)};
    if constexpr (sizeof(T) == 8) {
      y[i] = f(taps[0], taps[1]) + taps[2];
    } else {
      y[i] = f(taps[0], taps[2]) - taps[1];
    }
  }
}

void launch_transforms(const int* xi, int* yi, const double* xd, double* yd, int n, int k) {
  transform_n<<<2, 64>>>(xi, yi, n, [k] __device__(int a, int b) { return a * k + b; });
  transform_n<<<2, 64>>>(xd, yd, n, [k] __device__(double a, double b) { return a * k - b; });
}

// ------------------------------------------------------------------ __trap on bad input
__global__ void checked_gather(const int* idx, const float* v, float* out, int n, int m) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int j = idx[i];
  if (j < 0 || j >= m) __trap();
  out[i] = v[j];
}
