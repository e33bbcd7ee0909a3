// sass_lab's own corpus: kernels in the style of a training codebase (bf16 activations moved as 128-bit
// packets, streaming cache hints, warp reductions through cooperative groups, fused optimizer steps) and of
// the vendor samples (shared-memory bitonic sort, shuffle scan, 256-bin histogram, padded-tile transpose,
// Black-Scholes, counter-based RNGs, templated tiled matrix multiply, printf).
// Built by tools/build_corpus.py for sm_80 and sm_90; checked in tests/emulator/test_emu_training.py.
#include <cuda_bf16.h>
#include <cstdint>
#include <cstdio>
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/block/block_radix_sort.cuh>
#include <cub/warp/warp_reduce.cuh>
namespace cg = cooperative_groups;

typedef __nv_bfloat16 bf16;

// a 16-byte packet of T moved with one ld/st.v4
template <class T>
struct alignas(16) Packet {
  static constexpr int size = 16 / sizeof(T);
  T v[size];
  __device__ T& operator[](int i) { return v[i]; }
  __device__ static Packet load(const T* p) { Packet r; *reinterpret_cast<int4*>(&r) = *reinterpret_cast<const int4*>(p); return r; }
  __device__ static Packet load_cs(const T* p) { Packet r; int4 b = __ldcs(reinterpret_cast<const int4*>(p)); r = *reinterpret_cast<Packet*>(&b); return r; }
  __device__ void store(T* p) const { *reinterpret_cast<int4*>(p) = *reinterpret_cast<const int4*>(this); }
  __device__ void store_cs(T* p) const { __stcs(reinterpret_cast<int4*>(p), *reinterpret_cast<const int4*>(this)); }
};
using x128 = Packet<bf16>;

// layer normalisation: one warp per row of C channels (C a multiple of 8), statistics in float
extern "C" __global__ void layernorm_bf16(bf16* __restrict__ out, float* __restrict__ mean, float* __restrict__ rstd,
                                          const bf16* __restrict__ inp, const bf16* __restrict__ weight,
                                          const bf16* __restrict__ bias, int N, int C) {
  cg::thread_block block = cg::this_thread_block();
  cg::thread_block_tile<32> warp = cg::tiled_partition<32>(block);
  int row = blockIdx.x * warp.meta_group_size() + warp.meta_group_rank();
  if (row >= N) return;
  const bf16* x = inp + (size_t)row * C;
  float sum = 0.f;
  for (int c = warp.thread_rank() * x128::size; c < C; c += 32 * x128::size) {
    x128 p = x128::load_cs(x + c);
    for (int k = 0; k < x128::size; k++) sum += __bfloat162float(p[k]);
  }
  float m = cg::reduce(warp, sum, cg::plus<float>()) / C;
  float var = 0.f;
  for (int c = warp.thread_rank() * x128::size; c < C; c += 32 * x128::size) {
    x128 p = x128::load_cs(x + c);
    for (int k = 0; k < x128::size; k++) { float d = __bfloat162float(p[k]) - m; var += d * d; }
  }
  float s = rsqrtf(cg::reduce(warp, var, cg::plus<float>()) / C + 1e-5f);
  for (int c = warp.thread_rank() * x128::size; c < C; c += 32 * x128::size) {
    x128 p = x128::load_cs(x + c), w = x128::load(weight + c), b = x128::load(bias + c), o;
    for (int k = 0; k < x128::size; k++)
      o[k] = __float2bfloat16((__bfloat162float(p[k]) - m) * s * __bfloat162float(w[k]) + __bfloat162float(b[k]));
    o.store_cs(out + (size_t)row * C + c);
  }
  if (warp.thread_rank() == 0) { __stcs(mean + row, m); __stcs(rstd + row, s); }
}

// row softmax with an online maximum: one warp per row, any C
extern "C" __global__ void softmax_online(float* __restrict__ out, const float* __restrict__ inp, int N, int C) {
  int row = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
  if (row >= N) return;
  const float* x = inp + (size_t)row * C;
  float mx = -INFINITY, sum = 0.f;
  for (int c = lane; c < C; c += 32) {
    float v = x[c], nm = fmaxf(mx, v);
    sum = sum * expf(mx - nm) + expf(v - nm);
    mx = nm;
  }
  for (int off = 16; off > 0; off /= 2) {
    float om = __shfl_xor_sync(0xffffffffu, mx, off), os = __shfl_xor_sync(0xffffffffu, sum, off);
    float nm = fmaxf(mx, om);
    sum = sum * expf(mx - nm) + os * expf(om - nm);
    mx = nm;
  }
  float inv = 1.f / sum;
  for (int c = lane; c < C; c += 32) out[(size_t)row * C + c] = expf(x[c] - mx) * inv;
}

#define GELU_SCALE 0.7978845608028654f  // sqrt(2 / pi)
extern "C" __global__ void gelu_bf16(bf16* __restrict__ out, const bf16* __restrict__ inp, int n) {
  for (int i = (blockIdx.x * blockDim.x + threadIdx.x) * x128::size; i < n; i += gridDim.x * blockDim.x * x128::size) {
    x128 p = x128::load_cs(inp + i), o;
    for (int k = 0; k < x128::size; k++) {
      float x = __bfloat162float(p[k]);
      o[k] = __float2bfloat16(0.5f * x * (1.f + tanhf(GELU_SCALE * (x + 0.044715f * x * x * x))));
    }
    o.store(out + i);
  }
}

// AdamW on float parameters with bf16 gradients; bias corrections computed per thread
extern "C" __global__ void adamw(float* __restrict__ params, const bf16* __restrict__ grads, float* __restrict__ m,
                                 float* __restrict__ v, long long n, float lr, float beta1, float beta2, int t,
                                 float eps, float wd) {
  long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i >= n) return;
  float g = __bfloat162float(grads[i]);
  float mi = beta1 * m[i] + (1.f - beta1) * g;
  float vi = beta2 * v[i] + (1.f - beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  float mh = mi / (1.f - powf(beta1, (float)t)), vh = vi / (1.f - powf(beta2, (float)t));
  params[i] -= lr * (mh / (sqrtf(vh) + eps) + wd * params[i]);
}

// bias gradient: column sums of dout accumulated with bf16x2 atomics (a CAS loop on sm_80)
extern "C" __global__ void bias_grad_bf162(__nv_bfloat162* dbias, const __nv_bfloat162* dout, int N, int C2) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C2) return;
  for (int r = blockIdx.y; r < N; r += gridDim.y) atomicAdd(dbias + c, dout[(size_t)r * C2 + c]);
}

// bitonic sort of 2 * blockDim.x (key, value) pairs per block in shared memory, ascending or descending
extern "C" __global__ void bitonic_sort(unsigned* keys, unsigned* vals, int descending) {
  extern __shared__ unsigned sk[];
  unsigned* sv = sk + 2 * blockDim.x;
  int L = 2 * blockDim.x, base = blockIdx.x * L, t = threadIdx.x;
  sk[t] = keys[base + t]; sv[t] = vals[base + t];
  sk[t + blockDim.x] = keys[base + t + blockDim.x]; sv[t + blockDim.x] = vals[base + t + blockDim.x];
  for (int size = 2; size <= L; size <<= 1) {
    bool dir = ((t & (size / 2)) != 0) != (descending != 0);
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      __syncthreads();
      int pos = 2 * t - (t & (stride - 1));
      unsigned a = sk[pos], b = sk[pos + stride];
      if ((a > b) != dir) {
        sk[pos] = b; sk[pos + stride] = a;
        unsigned va = sv[pos]; sv[pos] = sv[pos + stride]; sv[pos + stride] = va;
      }
    }
  }
  __syncthreads();
  keys[base + t] = sk[t]; vals[base + t] = sv[t];
  keys[base + t + blockDim.x] = sk[t + blockDim.x]; vals[base + t + blockDim.x] = sv[t + blockDim.x];
}

// inclusive scan of each block's slice with shfl_up, warp totals through shared memory
extern "C" __global__ void scan_blocks(const int* in, int* out, int* block_sums, int n) {
  __shared__ int warp_sums[32];
  int i = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  int v = i < n ? in[i] : 0;
  for (int d = 1; d < 32; d *= 2) {
    int u = __shfl_up_sync(0xffffffffu, v, d);
    if (lane >= d) v += u;
  }
  if (lane == 31) warp_sums[w] = v;
  __syncthreads();
  if (w == 0) {
    int s = lane < (blockDim.x >> 5) ? warp_sums[lane] : 0;
    for (int d = 1; d < 32; d *= 2) {
      int u = __shfl_up_sync(0xffffffffu, s, d);
      if (lane >= d) s += u;
    }
    warp_sums[lane] = s;
  }
  __syncthreads();
  if (w > 0) v += warp_sums[w - 1];
  if (i < n) out[i] = v;
  if (threadIdx.x == blockDim.x - 1) block_sums[blockIdx.x] = v;
}

// 256-bin histogram of bytes: one sub-histogram per warp in shared memory, merged with global atomics
extern "C" __global__ void histogram256(const unsigned* data, unsigned* hist, int nwords) {
  extern __shared__ unsigned sub[];
  int warps = blockDim.x / 32;
  for (int k = threadIdx.x; k < 256 * warps; k += blockDim.x) sub[k] = 0;
  __syncthreads();
  unsigned* mine = sub + 256 * (threadIdx.x / 32);
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < nwords; i += gridDim.x * blockDim.x) {
    unsigned w = data[i];
    for (int b = 0; b < 4; b++) atomicAdd(mine + ((w >> (8 * b)) & 0xFFu), 1u);
  }
  __syncthreads();
  for (int bin = threadIdx.x; bin < 256; bin += blockDim.x) {
    unsigned s = 0;
    for (int k = 0; k < warps; k++) s += sub[256 * k + bin];
    if (s) atomicAdd(hist + bin, s);
  }
}

// transpose through a padded 32 x 33 tile, 32 x 8 threads, ragged edges
#define TILE 32
#define ROWS 8
extern "C" __global__ void transpose_padded(float* out, const float* in, int rows, int cols) {
  __shared__ float tile[TILE][TILE + 1];
  int x = blockIdx.x * TILE + threadIdx.x, y = blockIdx.y * TILE + threadIdx.y;
  for (int j = 0; j < TILE; j += ROWS)
    if (x < cols && y + j < rows) tile[threadIdx.y + j][threadIdx.x] = in[(size_t)(y + j) * cols + x];
  __syncthreads();
  x = blockIdx.y * TILE + threadIdx.x;
  y = blockIdx.x * TILE + threadIdx.y;
  for (int j = 0; j < TILE; j += ROWS)
    if (x < rows && y + j < cols) out[(size_t)(y + j) * rows + x] = tile[threadIdx.x][threadIdx.y + j];
}

// Black-Scholes with the classic polynomial approximation of the normal CDF
__device__ inline float cnd(float d) {
  const float a1 = 0.31938153f, a2 = -0.356563782f, a3 = 1.781477937f, a4 = -1.821255978f, a5 = 1.330274429f;
  float k = __fdividef(1.0f, 1.0f + 0.2316419f * fabsf(d));
  float c = 0.3989422804014327f * __expf(-0.5f * d * d) * (k * (a1 + k * (a2 + k * (a3 + k * (a4 + k * a5)))));
  return d > 0 ? 1.0f - c : c;
}
extern "C" __global__ void black_scholes(float* call, float* put, const float* S, const float* X, const float* T,
                                         float r, float v, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    float s = S[i], x = X[i], t = T[i], sq = sqrtf(t);
    float d1 = (__logf(s / x) + (r + 0.5f * v * v) * t) / (v * sq), d2 = d1 - v * sq;
    float e = __expf(-r * t);
    call[i] = s * cnd(d1) - x * e * cnd(d2);
    put[i] = x * e * (1.0f - cnd(d2)) - s * (1.0f - cnd(d1));
  }
}

// two counter-based generators written here: xorwow seeded per thread by a mixing hash, and Philox-4x32-10
__device__ inline unsigned mix32(unsigned x) { x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; return x ^ (x >> 16); }
extern "C" __global__ void rngs(unsigned* xw, uint4* ph, unsigned seed, int draws, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  unsigned s[5] = {mix32(seed ^ i), mix32(seed + 2 * i + 1), mix32(~seed ^ (3 * i)), mix32(seed * 5 + i), mix32(i + 77)};
  unsigned d = 6615241u + i;
  for (int k = 0; k < draws; k++) {
    unsigned t = s[0] ^ (s[0] >> 2);
    s[0] = s[1]; s[1] = s[2]; s[2] = s[3]; s[3] = s[4];
    s[4] = (s[4] ^ (s[4] << 4)) ^ (t ^ (t << 1));
    d += 362437u;
    xw[k * n + i] = s[4] + d;
  }
  uint4 c = make_uint4(i, 0, seed, 0xdeadbeefu);
  uint2 key = make_uint2(seed, seed ^ 0x12345678u);
  for (int round = 0; round < 10; round++) {
    unsigned hi0 = __umulhi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
    unsigned hi1 = __umulhi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
    c = make_uint4(hi1 ^ c.y ^ key.x, lo1, hi0 ^ c.w ^ key.y, lo0);
    key.x += 0x9E3779B9u; key.y += 0xBB67AE85u;
  }
  ph[i] = c;
}

// tiled matrix multiply, the tile size a template parameter; C (M x N) = A (M x K) · B (K x N), any sizes
template <int BS>
__device__ void matmul_tiled(float* C, const float* A, const float* B, int M, int N, int K) {
  __shared__ float As[BS][BS], Bs[BS][BS];
  int row = blockIdx.y * BS + threadIdx.y, col = blockIdx.x * BS + threadIdx.x;
  float acc = 0.f;
  for (int k0 = 0; k0 < K; k0 += BS) {
    As[threadIdx.y][threadIdx.x] = row < M && k0 + threadIdx.x < K ? A[row * K + k0 + threadIdx.x] : 0.f;
    Bs[threadIdx.y][threadIdx.x] = col < N && k0 + threadIdx.y < K ? B[(k0 + threadIdx.y) * N + col] : 0.f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BS; k++) acc += As[threadIdx.y][k] * Bs[k][threadIdx.x];
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}
extern "C" __global__ void matmul16(float* C, const float* A, const float* B, int M, int N, int K) { matmul_tiled<16>(C, A, B, M, N, K); }
extern "C" __global__ void matmul32(float* C, const float* A, const float* B, int M, int N, int K) { matmul_tiled<32>(C, A, B, M, N, K); }

// printf with flags, widths, precisions and every common conversion
extern "C" __global__ void report(const int* v, const double* d, long long big, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const char* tag = i % 2 ? "odd" : "even";
  printf("[%3d] %-6s|%+d|%u|%08.3f|%.2e|%g|%#x|%X|%10s|%-4c|%lld|%llu|%5.1f%%|%.0f|%G\n", i, tag, v[i], (unsigned)v[i],
         d[i], d[i] * 1e6, d[i] / 7, v[i] & 0xffff, v[i] & 0xfff, tag, 'a' + i % 26, big * i, (unsigned long long)big + i,
         d[i] * 10, d[i], d[i] * 1e-9);
  if (i == 0) printf("ptr %s\n", v != nullptr ? "set" : "null");
  if (i == 0) printf("%#o|%#x|%.0d|%+u|% u|%08.3x|%-#6o|%#X|%06d\n", 8u, 0u, 0, 5u, 5u, 255u, 8u, 255u, -42);
}

// the CUDA C++ core library's block primitives: a reduction, an exclusive scan and a radix sort of
// 4 keys per thread (bit-field masks with bmsk) sharing one union of temporary storage
extern "C" __global__ void cub_block(const int* in, int* prefix, int* sums, unsigned* keys, int n) {
  typedef cub::BlockReduce<int, 128> Reduce;
  typedef cub::BlockScan<int, 128> Scan;
  typedef cub::BlockRadixSort<unsigned, 128, 4> Sort;
  __shared__ union { typename Reduce::TempStorage r; typename Scan::TempStorage s; typename Sort::TempStorage k; } tmp;
  int i = blockIdx.x * 128 + threadIdx.x;
  int v = i < n ? in[i] : 0;
  int total = Reduce(tmp.r).Sum(v);
  __syncthreads();
  int pre;
  Scan(tmp.s).ExclusiveSum(v, pre);
  if (i < n) prefix[i] = pre;
  if (threadIdx.x == 0) sums[blockIdx.x] = total;
  __syncthreads();
  unsigned k[4];
  for (int j = 0; j < 4; j++) k[j] = keys[blockIdx.x * 512 + threadIdx.x * 4 + j];
  Sort(tmp.k).Sort(k);
  for (int j = 0; j < 4; j++) keys[blockIdx.x * 512 + threadIdx.x * 4 + j] = k[j];
}

extern "C" __global__ void cub_warp_max(const float* in, float* out) {
  typedef cub::WarpReduce<float> WarpMax;
  __shared__ typename WarpMax::TempStorage tmp[4];
  float v = in[blockIdx.x * 128 + threadIdx.x];
  float m = WarpMax(tmp[threadIdx.x / 32]).Reduce(v, cuda::maximum<float>{});
  if (threadIdx.x % 32 == 0) out[blockIdx.x * 4 + threadIdx.x / 32] = m;
}

// a scratch buffer from the device heap: refused at decode time, naming the heap
extern "C" __global__ void device_heap(int* out) {
  int* p = (int*)malloc(4 * sizeof(int));
  p[threadIdx.x % 4] = threadIdx.x;
  out[threadIdx.x] = p[threadIdx.x % 4];
  free(p);
}
