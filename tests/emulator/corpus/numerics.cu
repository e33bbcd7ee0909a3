// sass_lab's own corpus: integer intrinsics, rounding-mode intrinsics, structs passed by value.
// Compiled by tools/build_corpus.py for sm_80 and sm_90; checked in tests/emulator/test_emu_corpus.py.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cstdint>
#include <cooperative_groups.h>
#include <mma.h>
#include <cuda/atomic>
namespace cg = cooperative_groups;

// quantised dot products and byte-SIMD distances, as int8 inference code writes them
extern "C" __global__ void int8_dots(const int* a, const int* b, int* dot, unsigned* sad, unsigned* near, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int x = a[i], y = b[i];
    dot[2 * i] = __dp4a(x, y, i);
    dot[2 * i + 1] = __dp2a_hi(x, y, -i);
    sad[i] = __vsadu4((unsigned)x, (unsigned)y);
    near[i] = __vabsdiffu4((unsigned)x, (unsigned)y) | (__vmaxu4((unsigned)x, (unsigned)y) & 0x80808080u);
  }
}

// the n-th set bit of a warp's ballot: which lane holds the k-th positive value
extern "C" __global__ void kth_positive(const float* x, int* owner, int k) {
  unsigned ballot = __ballot_sync(0xffffffffu, x[blockIdx.x * 32 + threadIdx.x] > 0.f);
  if (threadIdx.x == 0) owner[blockIdx.x] = (int)__fns(ballot, 0, k);
}

// every rounding-mode intrinsic family once
extern "C" __global__ void rounding(const float* f, const double* d, const long long* ll, float* of, double* od,
                                   unsigned short* oh, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = f[2 * i], y = f[2 * i + 1];
  double p = d[2 * i], q = d[2 * i + 1];
  long long w = ll[i];
  of[6 * i + 0] = __fadd_rz(x, y);
  of[6 * i + 1] = __fmaf_rd(x, y, x * 1e-30f);
  of[6 * i + 2] = __frcp_ru(y);
  of[6 * i + 3] = __ll2float_rz(w);
  of[6 * i + 4] = __double2float_ru(p);
  of[6 * i + 5] = __fsub_ru(x, y * 1e-20f);
  od[3 * i + 0] = __dadd_rd(p, q * 1e-30);
  od[3 * i + 1] = __ddiv_ru(p, q);
  od[3 * i + 2] = __ll2double_rz(w);
  oh[4 * i + 0] = __half_as_ushort(__double2half(p));
  oh[4 * i + 1] = __half_as_ushort(__float2half_rz(x));
  oh[4 * i + 2] = __bfloat16_as_ushort(__double2bfloat16(q));
  oh[4 * i + 3] = __half_as_ushort(__ll2half_rd(w));
}

// a parameter struct passed by value, with a pointer member, a double and a short array
struct Affine { float scale; int n; double bias; short offsets[3]; const float* src; };
struct Tag { char sign; float weight; };
extern "C" __global__ void affine(Affine p, Tag t, float* out) {
  extern __shared__ float tile[];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  tile[threadIdx.x] = i < p.n ? p.src[i] : 0.f;
  __syncthreads();
  if (i < p.n)
    out[i] = tile[blockDim.x - 1 - threadIdx.x] * p.scale + (float)p.bias + p.offsets[i % 3] + t.sign * t.weight;
}

// a grid-wide barrier: valid only under a cooperative launch (the emulator says so when it traps)
extern "C" __global__ void grid_two_phase(float* x, int n) {
  cg::grid_group g = cg::this_grid();
  int i = (int)g.thread_rank();
  if (i < n) x[i] += 1.f;
  g.sync();
  if (i < n) x[i] *= 2.f;
}

// neighbours across blocks after a grid-wide barrier (a cooperative launch): grid-stride loops before and
// after g.sync(), each thread reading what threads of other blocks wrote before it
extern "C" __global__ void grid_exchange(const float* x, float* y, float* out, int n) {
  cg::grid_group g = cg::this_grid();
  for (int i = (int)g.thread_rank(); i < n; i += (int)g.size()) y[i] = x[i] * 2.f;
  g.sync();
  for (int i = (int)g.thread_rank(); i < n; i += (int)g.size()) out[i] = y[n - 1 - i] + y[(i + 1) % n];
}

// scatter-add of 2- and 4-vectors (one vector atomic each on sm_90) with an L2 evict-last load hint
extern "C" __global__ void scatter_add(const float* x, const int* bucket, float2* sum2, float4* sum4, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  unsigned long long policy;
  float v;
  asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(policy));
  asm volatile("ld.global.L2::cache_hint.f32 %0, [%1], %2;" : "=f"(v) : "l"(x + i), "l"(policy));
  int b = bucket[i];
#if __CUDA_ARCH__ >= 900
  atomicAdd(sum2 + b, make_float2(v, 1.f));
  atomicAdd(sum4 + b, make_float4(v, v * v, -v, 2.f));
#else
  atomicAdd(&sum2[b].x, v); atomicAdd(&sum2[b].y, 1.f);
  atomicAdd(&sum4[b].x, v); atomicAdd(&sum4[b].y, v * v); atomicAdd(&sum4[b].z, -v); atomicAdd(&sum4[b].w, 2.f);
#endif
}

// double-precision tensor cores through wmma (m8n8k4, the only f64 shape): C (8x8) = A (8xK) · B^T, K = 4·steps
extern "C" __global__ void wmma_f64(const double* a, const double* b, double* c, int steps) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 8, 8, 4, double, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 8, 8, 4, double, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 8, 8, 4, double> fc;
  wmma::load_matrix_sync(fc, c, 8, wmma::mem_row_major);
  for (int s = 0; s < steps; s++) {
    wmma::load_matrix_sync(fa, a + 4 * s, 4 * steps);
    wmma::load_matrix_sync(fb, b + 4 * s, 4 * steps);
    wmma::mma_sync(fc, fa, fb, fc);
  }
  wmma::store_matrix_sync(c, fc, 8, wmma::mem_row_major);
}

// libcu++ atomic_ref with explicit orders and scopes, and a 16-bit compare-and-swap claim
extern "C" __global__ void atomic_refs(int* x, unsigned long long* y, unsigned short* slot, unsigned* won, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  cuda::atomic_ref<int, cuda::thread_scope_device> sum(x[0]);
  sum.fetch_add(i, cuda::memory_order_relaxed);
  cuda::atomic_ref<unsigned long long, cuda::thread_scope_block> top(y[blockIdx.x]);
  top.fetch_max((unsigned long long)i * 3, cuda::memory_order_acq_rel);
  cuda::atomic_ref<int, cuda::thread_scope_system> bits(x[1]);
  bits.fetch_or(1 << (i % 31), cuda::memory_order_release);
  won[i] = atomicCAS(slot + (i & 3), (unsigned short)0, (unsigned short)(i + 1));
}
