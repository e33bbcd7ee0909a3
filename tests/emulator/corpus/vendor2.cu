// sass_lab's own corpus, batch "vendor2": vendor-library and vendor-sample idioms the other files do not
// cover, written for sass_lab (no third-party code copied). Built by tools/build_corpus.py for sm_80 and
// sm_90 (needs cuRAND's headers); checked in tests/emulator/test_emu_vendor2.py.
//
// 1. CUB's device-wide algorithms as the library compiles them: host wrappers below make nvcc instantiate
//    the __global__ kernels of cub::DeviceReduce::Sum, cub::DeviceScan::InclusiveSum/ExclusiveSum (decoupled
//    look-back tile status words of 8 and 16 bytes), cub::DeviceSelect::If, cub::DeviceRadixSort::SortPairs
//    (the single-tile kernel; histogram, exclusive-sum and onesweep kernels), cub::DeviceSegmentedReduce::Sum,
//    an inclusive scan of a 12-byte struct (three-array tile state) and cub::DeviceReduce::ReduceByKey;
//    the test launches them the way
//    the host dispatch does (init kernel, then the main kernel, the same parameters).
// 2. cuRAND generators: MRG32k3a (seeded, subsequence and offset skip-ahead through the library's tables),
//    Sobol32 quasirandom with direction vectors from the host (uniform and inverse-CND normal), log-normal
//    and small-lambda Poisson draws.
// 3. Vendor-sample idioms: odd-even merge sort, merge by binary-search ranks, histogram64 with packed byte
//    counters, the fast Walsh transform, a Haar wavelet, separable convolution with a __constant__ kernel
//    and halo tiles, binomial options in double, Moro's inverse CND on a quasi-random grid, a recursive
//    (IIR) filter per column, a 3-D FDTD stencil with a register queue, DXT-style block compression,
//    a shuffle-tree scalar product, a grid-synchronised conjugate-gradient loop, cuda::barrier arrive_and_drop,
//    and tensor-core GEMMs the sample way (wmma from shared tiles with skewed rows, an alpha/beta epilogue
//    through shared memory, f64 m8n8k4, bf16 m32n8k16).
#include <cooperative_groups.h>
#include <cub/cub.cuh>
#include <cuda/barrier>
#include <curand_kernel.h>
#include <mma.h>

namespace cg = cooperative_groups;
#pragma nv_diag_suppress static_var_with_dynamic_init  // the cuda::barrier in __shared__, initialised by init()

// ------------------------------------------------------------------------------------------ CUB device-wide

struct IsOddMultipleOf3 {
  __host__ __device__ bool operator()(int x) const { return (x & 1) && (x % 3 == 0); }
};

// Host functions only: nvcc -ptx instantiates the kernels these dispatches launch.
void cub_reduce_sum(const int* in, int* out, int n, void* tmp, size_t& bytes) {
  cub::DeviceReduce::Sum(tmp, bytes, in, out, n);
}
void cub_inclusive_sum(const int* in, int* out, int n, void* tmp, size_t& bytes) {
  cub::DeviceScan::InclusiveSum(tmp, bytes, in, out, n);
}
void cub_exclusive_sum_i64(const long long* in, long long* out, int n, void* tmp, size_t& bytes) {
  cub::DeviceScan::ExclusiveSum(tmp, bytes, in, out, n);
}
void cub_select_if(const int* in, int* out, int* count, int n, void* tmp, size_t& bytes) {
  cub::DeviceSelect::If(tmp, bytes, in, out, count, n, IsOddMultipleOf3());
}
void cub_sort_pairs(const unsigned* keys, unsigned* keys_out, const int* vals, int* vals_out, int n, void* tmp,
                    size_t& bytes) {
  cub::DeviceRadixSort::SortPairs(tmp, bytes, keys, keys_out, vals, vals_out, n);  // single tile or onesweep
}
void cub_segmented_sum(const int* in, int* out, const int* begin, const int* end, int segments, void* tmp,
                       size_t& bytes) {
  cub::DeviceSegmentedReduce::Sum(tmp, bytes, in, out, segments, begin, end);
}
struct MinMaxSum {
  int lo, hi, sum;
};
struct MinMaxSumOp {  // a 12-byte, non-primitive scan value: ScanTileState<T, false> (status, partial, inclusive)
  __host__ __device__ MinMaxSum operator()(const MinMaxSum& a, const MinMaxSum& b) const {
    return {a.lo < b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi, a.sum + b.sum};
  }
};
void cub_scan_struct(const MinMaxSum* in, MinMaxSum* out, int n, void* tmp, size_t& bytes) {
  cub::DeviceScan::InclusiveScan(tmp, bytes, in, out, MinMaxSumOp(), n);
}
void cub_reduce_by_key(const int* keys, int* unique, const float* vals, float* sums, int* runs, int n, void* tmp,
                       size_t& bytes) {
  cub::DeviceReduce::ReduceByKey(tmp, bytes, keys, unique, vals, sums, runs, cuda::std::plus<>{}, n);
}

// ------------------------------------------------------------------------------------------------- cuRAND

extern "C" __global__ void mrg32k3a_draws(unsigned long long seed, unsigned long long offset, unsigned* raw,
                                          double* u, float* lognormal, unsigned* poisson, float lambda, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  curandStateMRG32k3a s;
  curand_init(seed, i, offset, &s);
  raw[2 * i] = curand(&s);
  raw[2 * i + 1] = curand(&s);
  u[i] = curand_uniform_double(&s);
  lognormal[i] = curand_log_normal(&s, 0.5f, 0.25f);
  poisson[i] = curand_poisson(&s, lambda);
}

extern "C" __global__ void sobol32_draws(const unsigned* directions, unsigned offset, unsigned* raw, float* u,
                                         float* normal, int dims, int per_dim) {
  // one thread per (dimension, stride): the sample-style layout, thread t of dimension d starts at offset + t
  int d = blockIdx.y;
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (d >= dims || t >= per_dim) return;
  curandStateSobol32_t s;
  curand_init(const_cast<unsigned*>(directions + 32 * d), offset + t, &s);
  size_t base = (size_t)d * per_dim + t;
  raw[base] = curand(&s);
  u[base] = curand_uniform(&s);
  normal[base] = curand_normal(&s);
}

// --------------------------------------------------------------------------------------- sorting, merging

extern "C" __global__ void oddeven_merge_sort(unsigned* keys, unsigned* vals, int n) {
  // Batcher's odd-even merge sort of 2*blockDim elements per block in shared memory; padded with ~0u
  extern __shared__ unsigned sm[];
  unsigned* sk = sm;
  unsigned* sv = sm + 2 * blockDim.x;
  int base = 2 * blockDim.x * blockIdx.x;
  int L = 2 * blockDim.x;
  for (int j = threadIdx.x; j < L; j += blockDim.x) {
    sk[j] = base + j < n ? keys[base + j] : 0xFFFFFFFFu;
    sv[j] = base + j < n ? vals[base + j] : 0xFFFFFFFFu;
  }
  for (int size = 2; size <= L; size <<= 1) {
    int stride = size / 2;
    int offset = threadIdx.x & (stride - 1);
    {
      __syncthreads();
      int pos = 2 * threadIdx.x - (threadIdx.x & (stride - 1));
      if (sk[pos] > sk[pos + stride]) {
        unsigned t = sk[pos]; sk[pos] = sk[pos + stride]; sk[pos + stride] = t;
        t = sv[pos]; sv[pos] = sv[pos + stride]; sv[pos + stride] = t;
      }
      stride >>= 1;
    }
    for (; stride > 0; stride >>= 1) {
      __syncthreads();
      int pos = 2 * threadIdx.x - (threadIdx.x & (stride - 1));
      if (offset >= stride) {
        if (sk[pos - stride] > sk[pos]) {
          unsigned t = sk[pos - stride]; sk[pos - stride] = sk[pos]; sk[pos] = t;
          t = sv[pos - stride]; sv[pos - stride] = sv[pos]; sv[pos] = t;
        }
      }
    }
  }
  __syncthreads();
  for (int j = threadIdx.x; j < L; j += blockDim.x)
    if (base + j < n) { keys[base + j] = sk[j]; vals[base + j] = sv[j]; }
}

__device__ __forceinline__ int lower_rank(const int* a, int len, int x) {  // #elements < x
  int lo = 0, hi = len;
  while (lo < hi) { int mid = (lo + hi) >> 1; if (a[mid] < x) lo = mid + 1; else hi = mid; }
  return lo;
}
__device__ __forceinline__ int upper_rank(const int* a, int len, int x) {  // #elements <= x
  int lo = 0, hi = len;
  while (lo < hi) { int mid = (lo + hi) >> 1; if (a[mid] <= x) lo = mid + 1; else hi = mid; }
  return lo;
}

extern "C" __global__ void merge_by_rank(const int* a, int na, const int* b, int nb, int* out, int* src) {
  // stable merge: an element of a goes before equal elements of b
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < na) { int p = i + lower_rank(b, nb, a[i]); out[p] = a[i]; src[p] = i; }
  else if (i < na + nb) { int j = i - na; int p = j + upper_rank(a, na, b[j]); out[p] = b[j]; src[p] = -1 - j; }
}

// ------------------------------------------------------------------------------------------- histograms

#define H64_THREADS 64
extern "C" __global__ void histogram64_packed(const unsigned* data, int nwords, unsigned* partial) {
  // each thread owns one byte counter per bin: s[bin * H64_THREADS + tid]; a thread counts at most 4*63 values
  // before the block sums (8-bit counters cannot overflow), then the counters are folded into 32-bit partials
  __shared__ unsigned char s[64 * H64_THREADS];
  for (int j = threadIdx.x; j < 64 * H64_THREADS; j += blockDim.x) s[j] = 0;
  __syncthreads();
  for (int w = blockIdx.x * blockDim.x + threadIdx.x, k = 0; w < nwords && k < 63; w += blockDim.x * gridDim.x, ++k) {
    unsigned v = data[w];
    s[((v >> 2) & 63) * H64_THREADS + threadIdx.x]++;
    s[((v >> 10) & 63) * H64_THREADS + threadIdx.x]++;
    s[((v >> 18) & 63) * H64_THREADS + threadIdx.x]++;
    s[((v >> 26) & 63) * H64_THREADS + threadIdx.x]++;
  }
  __syncthreads();
  int bin = threadIdx.x;  // blockDim.x == 64: one bin per thread
  unsigned sum = 0;
  const uchar4* row = reinterpret_cast<const uchar4*>(s + bin * H64_THREADS);
  for (int j = 0; j < H64_THREADS / 4; ++j) {
    int jj = (j + threadIdx.x) & (H64_THREADS / 4 - 1);  // staggered to spread banks
    uchar4 c = row[jj];
    sum += c.x + c.y + c.z + c.w;
  }
  partial[blockIdx.x * 64 + bin] = sum;
}

// ---------------------------------------------------------------------------------------- transforms

extern "C" __global__ void fwt_shared(float* data, int log2n) {
  // in-place fast Walsh-Hadamard transform of one 2^log2n vector per block, radix-4 then radix-2 stages
  extern __shared__ float f[];
  int N = 1 << log2n;
  float* d = data + (size_t)blockIdx.x * N;
  for (int j = threadIdx.x; j < N; j += blockDim.x) f[j] = d[j];
  int stride = N;
  for (; stride >= 4; stride >>= 2) {
    int q = stride >> 2;
    __syncthreads();
    for (int pos = threadIdx.x; pos < N / 4; pos += blockDim.x) {
      int lo = pos & (q - 1);
      int i0 = ((pos - lo) << 2) + lo;
      float a0 = f[i0], a1 = f[i0 + q], a2 = f[i0 + 2 * q], a3 = f[i0 + 3 * q];
      float b0 = a0 + a2, b2 = a0 - a2, b1 = a1 + a3, b3 = a1 - a3;
      f[i0] = b0 + b1; f[i0 + q] = b0 - b1; f[i0 + 2 * q] = b2 + b3; f[i0 + 3 * q] = b2 - b3;
    }
  }
  __syncthreads();
  if (stride == 2) {
    for (int pos = threadIdx.x; pos < N / 2; pos += blockDim.x) {
      float a = f[2 * pos], b = f[2 * pos + 1];
      f[2 * pos] = a + b; f[2 * pos + 1] = a - b;
    }
  }
  __syncthreads();
  for (int j = threadIdx.x; j < N; j += blockDim.x) d[j] = f[j];
}

extern "C" __global__ void haar_decompose(const float* signal, float* coeffs, int log2n) {
  // full Haar decomposition of one 2^log2n signal per block (blockDim = 2^(log2n-1)): levels halve in shared
  extern __shared__ float h[];
  int N = 1 << log2n;
  const float* s = signal + (size_t)blockIdx.x * N;
  float* c = coeffs + (size_t)blockIdx.x * N;
  const float r = 0.70710678118654752f;
  h[2 * threadIdx.x] = s[2 * threadIdx.x];
  h[2 * threadIdx.x + 1] = s[2 * threadIdx.x + 1];
  for (int len = N / 2; len >= 1; len >>= 1) {
    __syncthreads();
    float a = 0, d = 0;
    if (threadIdx.x < len) {
      float x = h[2 * threadIdx.x], y = h[2 * threadIdx.x + 1];
      a = (x + y) * r;
      d = (x - y) * r;
      c[len + threadIdx.x] = d;  // details of this level at [len, 2len)
    }
    __syncthreads();
    if (threadIdx.x < len) h[threadIdx.x] = a;
  }
  __syncthreads();
  if (threadIdx.x == 0) c[0] = h[0];
}

// ---------------------------------------------------------------------------------- separable convolution

#define KR 4
__constant__ float c_taps[2 * KR + 1];

#define ROW_TILE 32
extern "C" __global__ void conv_rows(float* dst, const float* src, int w, int h) {
  // block (ROW_TILE, 4): each row tile plus a KR-wide halo on each side is staged in shared memory
  __shared__ float t[4][ROW_TILE + 2 * KR];
  int y = blockIdx.y * 4 + threadIdx.y;
  int x0 = blockIdx.x * ROW_TILE;
  bool row = y < h;
  for (int j = threadIdx.x; j < ROW_TILE + 2 * KR; j += ROW_TILE) {
    int x = x0 + j - KR;
    t[threadIdx.y][j] = row && x >= 0 && x < w ? src[(size_t)y * w + x] : 0.f;
  }
  __syncthreads();
  int x = x0 + threadIdx.x;
  if (!row || x >= w) return;
  float acc = 0;
#pragma unroll
  for (int k = -KR; k <= KR; ++k) acc += c_taps[KR - k] * t[threadIdx.y][threadIdx.x + KR + k];
  dst[(size_t)y * w + x] = acc;
}

extern "C" __global__ void conv_cols(float* dst, const float* src, int w, int h) {
  // block (16, 16): a 16-column strip of 16 output rows with KR halo rows above and below
  __shared__ float t[16 + 2 * KR][17];
  int x = blockIdx.x * 16 + threadIdx.x;
  int y0 = blockIdx.y * 16;
  for (int j = threadIdx.y; j < 16 + 2 * KR; j += 16) {
    int y = y0 + j - KR;
    t[j][threadIdx.x] = x < w && y >= 0 && y < h ? src[(size_t)y * w + x] : 0.f;
  }
  __syncthreads();
  int y = y0 + threadIdx.y;
  if (x >= w || y >= h) return;
  float acc = 0;
#pragma unroll
  for (int k = -KR; k <= KR; ++k) acc += c_taps[KR - k] * t[threadIdx.y + KR + k][threadIdx.x];
  dst[(size_t)y * w + x] = acc;
}

// --------------------------------------------------------------------------------------- finance, numerics

extern "C" __global__ void binomial_options(const double* S, const double* X, const double* T, double R, double V,
                                            int steps, double* call) {
  // one option per block: the European call's binomial tree, backward induction in shared memory
  extern __shared__ double v[];
  int opt = blockIdx.x;
  double dt = T[opt] / steps;
  double vdt = V * sqrt(dt);
  double rdt = R * dt;
  double If = exp(rdt), Df = exp(-rdt);
  double u = exp(vdt), d = exp(-vdt);
  double pu = (If - d) / (u - d), pd = 1.0 - pu;
  double puDf = pu * Df, pdDf = pd * Df;
  for (int i = threadIdx.x; i <= steps; i += blockDim.x) {
    double price = S[opt] * exp(vdt * (2.0 * i - steps));
    v[i] = fmax(price - X[opt], 0.0);
  }
  for (int k = steps; k > 0; --k) {
    __syncthreads();
    double nv[4];
    int c = 0;
    for (int i = threadIdx.x; i < k; i += blockDim.x) nv[c++] = puDf * v[i + 1] + pdDf * v[i];
    __syncthreads();
    c = 0;
    for (int i = threadIdx.x; i < k; i += blockDim.x) v[i] = nv[c++];
  }
  __syncthreads();
  if (threadIdx.x == 0) call[opt] = v[0];
}

__device__ float moro_inv_cnd(float p) {
  // Moro's (1995) inverse of the normal CDF: a rational function in the centre, a Chebyshev series in the tails
  const float a1 = 2.50662823884f, a2 = -18.61500062529f, a3 = 41.39119773534f, a4 = -25.44106049637f;
  const float b1 = -8.4735109309f, b2 = 23.08336743743f, b3 = -21.06224101826f, b4 = 3.13082909833f;
  const float c1 = 0.337475482272615f, c2 = 0.976169019091719f, c3 = 0.160797971491821f,
              c4 = 2.76438810333863e-2f, c5 = 3.8405729373609e-3f, c6 = 3.951896511919e-4f,
              c7 = 3.21767881768e-5f, c8 = 2.888167364e-7f, c9 = 3.960315187e-7f;
  float y = p - 0.5f;
  if (fabsf(y) < 0.42f) {
    float z = y * y;
    return y * (((a4 * z + a3) * z + a2) * z + a1) / ((((b4 * z + b3) * z + b2) * z + b1) * z + 1.0f);
  }
  float z = y > 0 ? 1.0f - p : p;
  z = logf(-logf(z));
  z = c1 + z * (c2 + z * (c3 + z * (c4 + z * (c5 + z * (c6 + z * (c7 + z * (c8 + z * c9)))))));
  return y < 0 ? -z : z;
}

extern "C" __global__ void inverse_cnd_grid(float* out, int n) {
  // the quasi-random normals of the samples: a regular grid (i + 1) / (n + 1) pushed through Moro's inverse
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
    out[i] = moro_inv_cnd((float)(i + 1) / (float)(n + 1));
}

extern "C" __global__ void recursive_filter_cols(const float* in, float* out, int w, int h, float a0, float a1,
                                                 float b1, float b2) {
  // a second-order causal + anticausal IIR along each column (one thread per column, coalesced rows)
  int x = blockIdx.x * blockDim.x + threadIdx.x;
  if (x >= w) return;
  float xp = 0, yp = 0, yb = 0;
  for (int y = 0; y < h; ++y) {
    float xc = in[(size_t)y * w + x];
    float yc = a0 * xc + a1 * xp - b1 * yp - b2 * yb;
    out[(size_t)y * w + x] = yc;
    xp = xc; yb = yp; yp = yc;
  }
  float xn = 0, xa = 0, ya = 0, yn = 0;
  for (int y = h - 1; y >= 0; --y) {
    float xc = in[(size_t)y * w + x];
    float yc = a0 * xn + a1 * xa - b1 * ya - b2 * yn;
    xa = xn; xn = xc; yn = ya; ya = yc;
    out[(size_t)y * w + x] += yc;
  }
}

#define FR 2
__constant__ float c_stencil[FR + 1];

extern "C" __global__ void fdtd3d(const float* in, float* out, int nx, int ny, int nz) {
  // 3-D star stencil of radius FR: each thread walks z with a register queue (behind, current, in front) and
  // the current xy plane in a shared tile with halos; boundaries are left untouched (out pre-filled by host)
  __shared__ float tile[8 + 2 * FR][32 + 2 * FR];
  int ix = blockIdx.x * 32 + threadIdx.x, iy = blockIdx.y * 8 + threadIdx.y;
  int tx = threadIdx.x + FR, ty = threadIdx.y + FR;
  bool valid = ix < nx && iy < ny;
  size_t plane = (size_t)nx * ny;
  size_t idx = valid ? (size_t)iy * nx + ix : 0;
  float behind[FR], infront[FR], cur = 0;
  for (int k = 0; k < FR; ++k) behind[k] = 0;
  if (valid) {
    cur = in[idx];
    for (int k = 0; k < FR; ++k) infront[k] = in[idx + (k + 1) * plane];
  }
  for (int iz = 0; iz < nz; ++iz) {
    __syncthreads();
    if (threadIdx.x < FR) {
      int gx = ix - FR;
      tile[ty][threadIdx.x] = gx >= 0 && iy < ny ? in[iz * plane + (size_t)iy * nx + gx] : 0.f;
      gx = ix + 32;
      tile[ty][tx + 32] = gx < nx && iy < ny ? in[iz * plane + (size_t)iy * nx + gx] : 0.f;
    }
    if (threadIdx.y < FR) {
      int gy = iy - FR;
      tile[threadIdx.y][tx] = gy >= 0 && ix < nx ? in[iz * plane + (size_t)gy * nx + ix] : 0.f;
      gy = iy + 8;
      tile[ty + 8][tx] = gy < ny && ix < nx ? in[iz * plane + (size_t)gy * nx + ix] : 0.f;
    }
    tile[ty][tx] = cur;
    __syncthreads();
    bool inner = valid && ix >= FR && ix < nx - FR && iy >= FR && iy < ny - FR && iz >= FR && iz < nz - FR;
    if (inner) {
      float v = c_stencil[0] * cur;
#pragma unroll
      for (int k = 1; k <= FR; ++k)
        v += c_stencil[k] * (infront[k - 1] + behind[k - 1] + tile[ty - k][tx] + tile[ty + k][tx] +
                             tile[ty][tx - k] + tile[ty][tx + k]);
      out[iz * plane + idx] = v;
    }
    // advance the queue
    for (int k = FR - 1; k > 0; --k) behind[k] = behind[k - 1];
    behind[0] = cur;
    cur = infront[0];
    for (int k = 0; k < FR - 1; ++k) infront[k] = infront[k + 1];
    if (valid && iz + FR + 1 < nz) infront[FR - 1] = in[idx + (iz + FR + 1) * plane];
  }
}

// ---------------------------------------------------------------------------------- block compression

extern "C" __global__ void dxt_like_blocks(const unsigned char* img, int w, int h, unsigned* packed) {
  // 4x4 luminance blocks, 16 lanes per block: endpoints by shuffle min/max, a 2-bit palette index per pixel
  // (nearest of 4 levels), indices gathered into one word by a ballot per bit plane
  int lane = threadIdx.x & 31;
  int half = lane >> 4, p = lane & 15;
  int bw = (w + 3) / 4, bh = (h + 3) / 4;
  int blk = (blockIdx.x * blockDim.x + threadIdx.x) >> 4;
  bool live = blk < bw * bh;
  int bx = live ? blk % bw : 0, by = live ? blk / bw : 0;
  int x = min(bx * 4 + (p & 3), w - 1), y = min(by * 4 + (p >> 2), h - 1);  // edge blocks repeat the edge
  int v = live ? img[y * w + x] : 0;
  int lo = v, hi = v;
  for (int o = 8; o > 0; o >>= 1) {
    lo = min(lo, __shfl_xor_sync(0xFFFFFFFFu, lo, o, 16));
    hi = max(hi, __shfl_xor_sync(0xFFFFFFFFu, hi, o, 16));
  }
  int range = hi - lo;
  int idx = range == 0 ? 0 : (3 * (v - lo) + range / 2) / range;  // rounded to the nearest of 4 levels
  unsigned b0 = __ballot_sync(0xFFFFFFFFu, idx & 1);
  unsigned b1 = __ballot_sync(0xFFFFFFFFu, idx & 2);
  if (live && p == 0) {
    unsigned m0 = (b0 >> (16 * half)) & 0xFFFFu, m1 = (b1 >> (16 * half)) & 0xFFFFu;
    unsigned word = 0;
    for (int k = 0; k < 16; ++k) word |= (((m0 >> k) & 1u) | (((m1 >> k) & 1u) << 1)) << (2 * k);
    packed[2 * blk] = (unsigned)lo | ((unsigned)hi << 8);
    packed[2 * blk + 1] = word;
  }
}

// ------------------------------------------------------------------------------------- reductions, CG

extern "C" __global__ void scalar_prod(const float* a, const float* b, float* out, int vectors, int len) {
  // one block per vector pair: strided partial products, a __shfl_down_sync tree per warp, then warp 0
  __shared__ float warp_sums[32];
  for (int v = blockIdx.x; v < vectors; v += gridDim.x) {
    const float* x = a + (size_t)v * len;
    const float* y = b + (size_t)v * len;
    float s = 0;
    for (int i = threadIdx.x; i < len; i += blockDim.x) s += x[i] * y[i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xFFFFFFFFu, s, o);
    if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x < 32) {
      s = threadIdx.x < (blockDim.x + 31) / 32 ? warp_sums[threadIdx.x] : 0.f;
      for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xFFFFFFFFu, s, o);
      if (threadIdx.x == 0) out[v] = s;
    }
    __syncthreads();
  }
}

__device__ double grid_dot(cg::grid_group& g, const double* x, const double* y, int n, double* slot) {
  // block partial sums by warp shuffles, one atomicAdd per warp into *slot, a grid barrier, then everyone reads
  double s = 0;
  for (int i = g.thread_rank(); i < n; i += g.size()) s += x[i] * y[i];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xFFFFFFFFu, s, o);
  if ((threadIdx.x & 31) == 0) atomicAdd(slot, s);
  g.sync();
  return *(volatile double*)slot;
}

extern "C" __global__ void cg_solve_tridiag(double* x, double* r, double* p, double* Ap, double* dots, int n,
                                            int iters) {
  // conjugate gradient on A = tridiag(-1, 4, -1), x0 = 0, r0 = p0 = b (passed in r and p); dots: 3 per iteration
  cg::grid_group g = cg::this_grid();
  double rr = grid_dot(g, r, r, n, &dots[0]);
  for (int it = 0; it < iters; ++it) {
    for (int i = g.thread_rank(); i < n; i += g.size())
      Ap[i] = 4.0 * p[i] - (i > 0 ? p[i - 1] : 0.0) - (i + 1 < n ? p[i + 1] : 0.0);
    g.sync();
    double pAp = grid_dot(g, p, Ap, n, &dots[3 * it + 1]);
    double alpha = rr / pAp;
    for (int i = g.thread_rank(); i < n; i += g.size()) {
      x[i] += alpha * p[i];
      r[i] -= alpha * Ap[i];
    }
    g.sync();
    double rr_new = grid_dot(g, r, r, n, &dots[3 * it + 2]);
    double beta = rr_new / rr;
    rr = rr_new;
    for (int i = g.thread_rank(); i < n; i += g.size()) p[i] = r[i] + beta * p[i];
    g.sync();
  }
}

extern "C" __global__ void grid_relax(double* p, double* q, int n, int iters, int synced) {
  // Jacobi-style sweeps over a grid-stride range: q from p's neighbours, grid barrier, p from q, grid barrier.
  // synced == 0 drops the barrier between reading p and writing it: a genuine race between blocks
  cg::grid_group g = cg::this_grid();
  for (int it = 0; it < iters; ++it) {
    for (int i = g.thread_rank(); i < n; i += g.size())
      q[i] = 0.5 * p[i] + 0.25 * ((i > 0 ? p[i - 1] : 0.0) + (i + 1 < n ? p[i + 1] : 0.0));
    if (synced) g.sync();
    for (int i = g.thread_rank(); i < n; i += g.size()) p[i] = q[i];
    g.sync();
  }
}

extern "C" __global__ void publish_then_fence(int* data, int* flag, int* out, int mode) {
  // block 0 stores data, __threadfence(), raises a flag (atomicExch); block 1 waits for the flag (atomic),
  // fences and reads. mode 1: block 0 keeps fencing afterwards (as a look-back spin does) — still ordered;
  // mode 2: block 0 stores the data again after its fence, before the flag — unpublished (a relaxed
  // atomicExch is no fence): a genuine race with the read
  if (blockIdx.x == 0) {
    data[threadIdx.x] = threadIdx.x + 1;
    __threadfence();
    if (mode == 2) data[threadIdx.x] = -1;
    __syncthreads();
    if (threadIdx.x == 0) atomicExch(flag, 1);
    if (mode == 1)
      for (int k = 0; k < 64; ++k) __threadfence();
  } else {
    if (threadIdx.x == 0)
      while (atomicAdd(flag, 0) == 0) {
      }
    __syncthreads();
    __threadfence();
    out[threadIdx.x] = data[threadIdx.x];
  }
}

// ----------------------------------------------------------------------------------------- cuda::barrier

extern "C" __global__ void barrier_drop_rounds(const int* in, int* out, int rounds) {
  // warp w takes part in w + 1 rounds, then arrive_and_drop()s; each round every remaining thread adds its
  // neighbour's value of the previous round (double-buffered in shared memory)
  __shared__ cuda::barrier<cuda::thread_scope_block> bar;
  __shared__ int buf[2][256];
  int t = threadIdx.x, n = blockDim.x;
  if (t == 0) init(&bar, n);
  buf[0][t] = in[blockIdx.x * n + t];
  __syncthreads();
  int mine = (t >> 5) + 1;
  int r = 0;
  for (; r < rounds; ++r) {
    int cur = r & 1;
    int v = buf[cur][t] + buf[cur][(t + 1) % n];
    bar.arrive_and_wait();  // everyone still in has read round r
    buf[cur ^ 1][t] = v;
    if (r + 1 == mine) { out[blockIdx.x * n + t] = v; (void)bar.arrive_and_drop(); return; }
    bar.arrive_and_wait();  // round r + 1's values are written
  }
  out[blockIdx.x * n + t] = buf[r & 1][t];
}

// ------------------------------------------------------------------------------------ wmma, sample style

using namespace nvcuda;
#define WT 32       // C tile per block (2 x 2 warps of 16 x 16)
#define WK 32       // K chunk staged per step
#define SKEW 8      // halves of padding per shared row (ldm stays a multiple of 8)

extern "C" __global__ void wmma_gemm_skewed(const half* A, const half* B, float* C, int M, int N, int K, float alpha,
                                            float beta) {
  // C = alpha * A(M x K, row-major) * B(K x N, row-major) + beta * C; ragged edges are zero-filled in shared
  // memory, the epilogue goes through a shared tile so only in-range elements are read and written
  __shared__ __align__(32) half As[WT][WK + SKEW];
  __shared__ __align__(32) half Bs[WK][WT + SKEW];
  __shared__ __align__(32) float Cs[WT][WT + 4];
  int warp = threadIdx.x >> 5, wy = warp >> 1, wx = warp & 1;
  int m0 = blockIdx.y * WT, n0 = blockIdx.x * WT;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (int k0 = 0; k0 < K; k0 += WK) {
    for (int j = threadIdx.x; j < WT * WK; j += blockDim.x) {
      int r = j / WK, c = j % WK;
      As[r][c] = m0 + r < M && k0 + c < K ? A[(size_t)(m0 + r) * K + k0 + c] : __float2half(0.f);
      int kr = j / WT, nc = j % WT;
      Bs[kr][nc] = k0 + kr < K && n0 + nc < N ? B[(size_t)(k0 + kr) * N + n0 + nc] : __float2half(0.f);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < WK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> fa;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::row_major> fb;
      wmma::load_matrix_sync(fa, &As[wy * 16][kk], WK + SKEW);
      wmma::load_matrix_sync(fb, &Bs[kk][wx * 16], WT + SKEW);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    __syncthreads();
  }
  wmma::store_matrix_sync(&Cs[wy * 16][wx * 16], acc, WT + 4, wmma::mem_row_major);
  __syncthreads();
  for (int j = threadIdx.x; j < WT * WT; j += blockDim.x) {
    int r = j / WT, c = j % WT;
    if (m0 + r < M && n0 + c < N) {
      float* out = &C[(size_t)(m0 + r) * N + n0 + c];
      *out = alpha * Cs[r][c] + beta * *out;
    }
  }
}

extern "C" __global__ void dmma_gemm_f64(const double* A, const double* B, double* C, int M, int N, int K) {
  // C += A(M x K, row-major) * B(K x N, column-major), one warp per 8 x 8 tile, straight from global memory
  int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  int tiles_n = N / 8;
  if (warp >= (M / 8) * tiles_n) return;
  int tm = warp / tiles_n, tn = warp % tiles_n;
  wmma::fragment<wmma::accumulator, 8, 8, 4, double> acc;
  wmma::load_matrix_sync(acc, C + (size_t)tm * 8 * N + tn * 8, N, wmma::mem_row_major);
  for (int k = 0; k < K; k += 4) {
    wmma::fragment<wmma::matrix_a, 8, 8, 4, double, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 8, 8, 4, double, wmma::col_major> fb;
    wmma::load_matrix_sync(fa, A + (size_t)tm * 8 * K + k, K);
    wmma::load_matrix_sync(fb, B + (size_t)tn * 8 * K + k, K);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(C + (size_t)tm * 8 * N + tn * 8, acc, N, wmma::mem_row_major);
}

extern "C" __global__ void wmma_bf16_m32n8k16(const __nv_bfloat16* A, const __nv_bfloat16* B, float* C, int K) {
  // one 32 x 8 tile per warp: A (32 x K) column-major, B (K x 8) row-major, C column-major (ld 32)
  int warp = threadIdx.x >> 5;
  wmma::fragment<wmma::accumulator, 32, 8, 16, float> acc;
  wmma::fill_fragment(acc, -1.0f);
  const __nv_bfloat16* a = A + (size_t)warp * 32 * K;
  const __nv_bfloat16* b = B + (size_t)warp * K * 8;
  for (int k = 0; k < K; k += 16) {
    wmma::fragment<wmma::matrix_a, 32, 8, 16, __nv_bfloat16, wmma::col_major> fa;
    wmma::fragment<wmma::matrix_b, 32, 8, 16, __nv_bfloat16, wmma::row_major> fb;
    wmma::load_matrix_sync(fa, a + (size_t)k * 32, 32);
    wmma::load_matrix_sync(fb, b + (size_t)k * 8, 8);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(C + (size_t)warp * 32 * 8, acc, 32, wmma::mem_col_major);
}
