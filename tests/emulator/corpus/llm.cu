// Our own kernels in the style of inference and image codebases: int4 dequantisation with the lop3
// magic-number trick, rotary embeddings from a frequency table, a warp bitonic top-k, a packed 64-bit
// atomicMax argmax, a work-efficient (Blelloch) scan with conflict-free padding, a 2-D convolution with a
// __constant__ mask set from the host, a Sobel filter on uchar4 pixels, and a warp-per-row CSR SpMV.
#include <cuda_fp16.h>
#include <cstdint>

// ------------------------------------------------------------------ int4 -> half, lop3 magic numbers
// Each 32-bit word holds 8 unsigned 4-bit values (q - 8 is the signed weight); out = (q - 8) * scale.
__global__ void dequant_int4(const uint32_t* packed, const __half* scales, __half* out, int words, int group) {
  int w = blockIdx.x * blockDim.x + threadIdx.x;
  if (w >= words) return;
  uint32_t q = packed[w];
  const uint32_t magic = 0x64006400u;  // 1024.0 in both halves
  __half2 s = __half2half2(scales[(8 * w) / group]);
  const __half2 bias = __float2half2_rn(-1032.0f);  // -(1024 + 8)
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    uint32_t sh = q >> (4 * k);
    uint32_t h;
    // (sh & 0x000f000f) | magic: halves 1024 + nibble k (low) and 1024 + nibble k + 4 (high)
    asm("lop3.b32 %0, %1, %2, %3, 0xea;" : "=r"(h) : "r"(sh), "r"(0x000f000fu), "r"(magic));
    __half2 v = __hadd2(*reinterpret_cast<__half2*>(&h), bias);
    v = __hmul2(v, s);
    out[8 * w + k] = __low2half(v);
    out[8 * w + k + 4] = __high2half(v);
  }
}

// ------------------------------------------------------------------ rotary embeddings (GPT-NeoX layout)
__global__ void rope(float* x, const float* inv_freq, const int* pos, int tokens, int heads, int dim) {
  int half = dim / 2;
  int idx = blockIdx.x * blockDim.x + threadIdx.x;  // (token, head, j)
  if (idx >= tokens * heads * half) return;
  int j = idx % half, th = idx / half, t = th / heads;
  float* v = x + (size_t)th * dim;
  float ang = (float)pos[t] * inv_freq[j];
  float s, c;
  sincosf(ang, &s, &c);
  float a = v[j], b = v[j + half];
  v[j] = a * c - b * s;
  v[j + half] = a * s + b * c;
}

// ------------------------------------------------------------------ warp bitonic top-k
// Each warp sorts its 32 (value, index) pairs descending with a butterfly bitonic network; lanes < k
// write the top k.
__global__ void warp_topk(const float* x, float* vals, int* idxs, int n, int k) {
  int lane = threadIdx.x & 31, warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  int i = warp * 32 + lane;
  float v = i < n ? x[i] : -INFINITY;
  int id = i < n ? i : -1;
  for (int size = 2; size <= 32; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, v, stride);
      int oid = __shfl_xor_sync(0xffffffffu, id, stride);
      bool up = ((lane & size) == 0);  // this lane's subsequence is sorted descending
      bool lower = (lane & stride) == 0;
      bool other_first = ov > v || (ov == v && oid < id);
      bool take = lower == up ? other_first : !other_first;
      if (take) {
        v = ov;
        id = oid;
      }
    }
  }
  if (lane < k && warp * 32 < n) {
    vals[warp * k + lane] = v;
    idxs[warp * k + lane] = id;
  }
}

// ------------------------------------------------------------------ argmax through one 64-bit atomicMax
__device__ __forceinline__ uint32_t ordered(float f) {  // monotone float -> uint32 map
  uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__global__ void argmax_packed(const float* x, unsigned long long* best, int n) {
  unsigned long long mine = 0;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    // ties go to the lowest index: store ~i in the low word
    unsigned long long key = (unsigned long long)ordered(x[i]) << 32 | (uint32_t)~i;
    mine = key > mine ? key : mine;
  }
  for (int o = 16; o > 0; o >>= 1) {
    unsigned long long other = __shfl_down_sync(0xffffffffu, mine, o);
    mine = other > mine ? other : mine;
  }
  if ((threadIdx.x & 31) == 0) atomicMax(best, mine);
}

// ------------------------------------------------------------------ Blelloch scan, conflict-free padding
#define LOG_BANKS 5
#define PAD(i) ((i) >> LOG_BANKS)

__global__ void blelloch_scan(const int* in, int* out, int* sums, int n) {
  extern __shared__ int tmp[];  // 2 * blockDim.x elements plus padding
  int t = threadIdx.x, m = 2 * blockDim.x, base = blockIdx.x * m;
  int ai = t, bi = t + blockDim.x;
  tmp[ai + PAD(ai)] = base + ai < n ? in[base + ai] : 0;
  tmp[bi + PAD(bi)] = base + bi < n ? in[base + bi] : 0;
  int off = 1;
  for (int d = m >> 1; d > 0; d >>= 1) {  // up-sweep
    __syncthreads();
    if (t < d) {
      int a = off * (2 * t + 1) - 1, b = off * (2 * t + 2) - 1;
      tmp[b + PAD(b)] += tmp[a + PAD(a)];
    }
    off <<= 1;
  }
  if (t == 0) {
    sums[blockIdx.x] = tmp[m - 1 + PAD(m - 1)];
    tmp[m - 1 + PAD(m - 1)] = 0;
  }
  for (int d = 1; d < m; d <<= 1) {  // down-sweep
    off >>= 1;
    __syncthreads();
    if (t < d) {
      int a = off * (2 * t + 1) - 1, b = off * (2 * t + 2) - 1;
      int x = tmp[a + PAD(a)];
      tmp[a + PAD(a)] = tmp[b + PAD(b)];
      tmp[b + PAD(b)] += x;
    }
  }
  __syncthreads();
  if (base + ai < n) out[base + ai] = tmp[ai + PAD(ai)];
  if (base + bi < n) out[base + bi] = tmp[bi + PAD(bi)];
}

// ------------------------------------------------------------------ 2-D convolution, __constant__ mask
#define R 2
#define TILE 16
__constant__ float conv_mask[(2 * R + 1) * (2 * R + 1)];

__global__ void conv2d_const(const float* img, float* out, int w, int h) {
  __shared__ float tile[TILE + 2 * R][TILE + 2 * R + 1];
  int tx = threadIdx.x, ty = threadIdx.y;
  int x0 = blockIdx.x * TILE - R, y0 = blockIdx.y * TILE - R;
  for (int yy = ty; yy < TILE + 2 * R; yy += TILE)
    for (int xx = tx; xx < TILE + 2 * R; xx += TILE) {
      int gx = min(max(x0 + xx, 0), w - 1), gy = min(max(y0 + yy, 0), h - 1);  // clamp to edge
      tile[yy][xx] = img[gy * w + gx];
    }
  __syncthreads();
  int x = blockIdx.x * TILE + tx, y = blockIdx.y * TILE + ty;
  if (x >= w || y >= h) return;
  float acc = 0.f;
#pragma unroll
  for (int i = 0; i < 2 * R + 1; ++i)
#pragma unroll
    for (int j = 0; j < 2 * R + 1; ++j) acc = fmaf(conv_mask[i * (2 * R + 1) + j], tile[ty + i][tx + j], acc);
  out[y * w + x] = acc;
}

// ------------------------------------------------------------------ Sobel on uchar4 pixels
__global__ void sobel_rgba(const uchar4* img, uchar4* out, int w, int h) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= w || y >= h) return;
  auto lum = [&](int xx, int yy) {
    uchar4 p = img[min(max(yy, 0), h - 1) * w + min(max(xx, 0), w - 1)];
    return (int)p.x + 2 * (int)p.y + (int)p.z;  // 0..1020
  };
  int gx = lum(x + 1, y - 1) + 2 * lum(x + 1, y) + lum(x + 1, y + 1) - lum(x - 1, y - 1) - 2 * lum(x - 1, y) -
           lum(x - 1, y + 1);
  int gy = lum(x - 1, y + 1) + 2 * lum(x, y + 1) + lum(x + 1, y + 1) - lum(x - 1, y - 1) - 2 * lum(x, y - 1) -
           lum(x + 1, y - 1);
  float mag = __fsqrt_rn((float)(gx * gx + gy * gy));
  unsigned char e = (unsigned char)__float2uint_rn(255.0f * __saturatef(__fdiv_rn(mag, 2040.0f)));
  out[y * w + x] = make_uchar4(e, e, e, img[y * w + x].w);
}

// ------------------------------------------------------------------ CSR SpMV, one warp per row
__global__ void spmv_csr_warp(const int* rowptr, const int* cols, const float* vals, const float* xv, float* y,
                              int rows) {
  int lane = threadIdx.x & 31, row = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  if (row >= rows) return;  // whole warps leave together
  float s = 0.f;
  for (int k = rowptr[row] + lane; k < rowptr[row + 1]; k += 32) s += vals[k] * __ldg(xv + cols[k]);
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) y[row] = s;
}
