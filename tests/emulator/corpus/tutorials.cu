// Kernels in the style of CUDA tutorials, textbooks and blog posts: the SGEMM optimisation series, PMPP-style
// scans, merge, histogram, stencil, sparse and graph kernels, "CUDA by Example" idioms, developer-blog
// snippets and course-style image and attention kernels. Our own code, written for sass_lab's emulator
// tests (tests/emulator/test_emu_tutorials.py); no kernel here is copied from anywhere.
#include <cfloat>
#include <climits>
#include <cooperative_groups.h>
namespace cg = cooperative_groups;

// ===================================================================================== SGEMM series
// C = alpha * A @ B + beta * C, row-major A (M x K), B (K x N), C (M x N).

// 1. naive: one thread per C element, x walks rows (uncoalesced), guarded
__global__ void sgemm_naive(int M, int N, int K, float alpha, const float *A, const float *B, float beta, float *C) {
    const unsigned x = blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < M && y < N) {
        float tmp = 0.0f;
        for (int i = 0; i < K; ++i) tmp += A[x * K + i] * B[i * N + y];
        C[x * N + y] = alpha * tmp + beta * C[x * N + y];
    }
}

// 2. global memory coalescing: a 1-D block of BS*BS threads, consecutive threads walk a row of C
template <int BS>
__global__ void sgemm_coalesce(int M, int N, int K, float alpha, const float *A, const float *B, float beta, float *C) {
    const int cRow = blockIdx.x * BS + (threadIdx.x / BS);
    const int cCol = blockIdx.y * BS + (threadIdx.x % BS);
    if (cRow < M && cCol < N) {
        float tmp = 0.0f;
        for (int i = 0; i < K; ++i) tmp += A[cRow * K + i] * B[i * N + cCol];
        C[cRow * N + cCol] = alpha * tmp + beta * C[cRow * N + cCol];
    }
}
template __global__ void sgemm_coalesce<32>(int, int, int, float, const float *, const float *, float, float *);

// 3. shared-memory cache blocking (sizes must be multiples of BS: this style does not guard)
template <int BS>
__global__ void sgemm_smem(int M, int N, int K, float alpha, const float *A, const float *B, float beta, float *C) {
    const unsigned cRow = blockIdx.x, cCol = blockIdx.y;
    __shared__ float As[BS * BS];
    __shared__ float Bs[BS * BS];
    const unsigned tRow = threadIdx.x / BS, tCol = threadIdx.x % BS;
    A += cRow * BS * K;
    B += cCol * BS;
    C += cRow * BS * N + cCol * BS;
    float tmp = 0.0f;
    for (int bk = 0; bk < K; bk += BS) {
        As[tRow * BS + tCol] = A[tRow * K + tCol];
        Bs[tRow * BS + tCol] = B[tRow * N + tCol];
        __syncthreads();
        A += BS;
        B += BS * N;
        for (int d = 0; d < BS; ++d) tmp += As[tRow * BS + d] * Bs[d * BS + tCol];
        __syncthreads();
    }
    C[tRow * N + tCol] = alpha * tmp + beta * C[tRow * N + tCol];
}
template __global__ void sgemm_smem<32>(int, int, int, float, const float *, const float *, float, float *);

// 4. 1-D blocktiling: each thread computes TM results of a column
template <int BM, int BN, int BK, int TM>
__global__ void sgemm_blocktile1d(int M, int N, int K, float alpha, const float *A, const float *B, float beta,
                                  float *C) {
    const unsigned cRow = blockIdx.y, cCol = blockIdx.x;
    const int threadCol = threadIdx.x % BN, threadRow = threadIdx.x / BN;
    __shared__ float As[BM * BK];
    __shared__ float Bs[BK * BN];
    A += cRow * BM * K;
    B += cCol * BN;
    C += cRow * BM * N + cCol * BN;
    const unsigned innerColA = threadIdx.x % BK, innerRowA = threadIdx.x / BK;
    const unsigned innerColB = threadIdx.x % BN, innerRowB = threadIdx.x / BN;
    float threadResults[TM] = {0.0f};
    for (unsigned bk = 0; bk < K; bk += BK) {
        As[innerRowA * BK + innerColA] = A[innerRowA * K + innerColA];
        Bs[innerRowB * BN + innerColB] = B[innerRowB * N + innerColB];
        __syncthreads();
        A += BK;
        B += BK * N;
        for (unsigned d = 0; d < BK; ++d) {
            float tmpB = Bs[d * BN + threadCol];
            for (unsigned r = 0; r < TM; ++r) threadResults[r] += As[(threadRow * TM + r) * BK + d] * tmpB;
        }
        __syncthreads();
    }
    for (unsigned r = 0; r < TM; ++r)
        C[(threadRow * TM + r) * N + threadCol] = alpha * threadResults[r] + beta * C[(threadRow * TM + r) * N + threadCol];
}
template __global__ void sgemm_blocktile1d<64, 64, 8, 8>(int, int, int, float, const float *, const float *, float,
                                                         float *);

// 5. 2-D blocktiling with float4 loads, As stored transposed, float4 epilogue
template <int BM, int BN, int BK, int TM, int TN>
__global__ void sgemm_vec2d(int M, int N, int K, float alpha, const float *A, const float *B, float beta, float *C) {
    const unsigned cRow = blockIdx.y, cCol = blockIdx.x;
    const int threadCol = threadIdx.x % (BN / TN), threadRow = threadIdx.x / (BN / TN);
    constexpr int numThreads = BM * BN / (TM * TN);
    __shared__ __align__(16) float As[BM * BK];
    __shared__ __align__(16) float Bs[BK * BN];
    A += cRow * BM * K;
    B += cCol * BN;
    C += cRow * BM * N + cCol * BN;
    const unsigned innerRowA = threadIdx.x / (BK / 4), innerColA = threadIdx.x % (BK / 4);
    const unsigned innerRowB = threadIdx.x / (BN / 4), innerColB = threadIdx.x % (BN / 4);
    constexpr unsigned strideA = numThreads / (BK / 4), strideB = numThreads / (BN / 4);
    float threadResults[TM * TN] = {0.0f};
    float regM[TM], regN[TN];
    for (unsigned bk = 0; bk < K; bk += BK) {
        for (unsigned off = 0; off < BM; off += strideA) {
            float4 tmp = reinterpret_cast<const float4 *>(&A[(innerRowA + off) * K + innerColA * 4])[0];
            As[(innerColA * 4 + 0) * BM + innerRowA + off] = tmp.x;
            As[(innerColA * 4 + 1) * BM + innerRowA + off] = tmp.y;
            As[(innerColA * 4 + 2) * BM + innerRowA + off] = tmp.z;
            As[(innerColA * 4 + 3) * BM + innerRowA + off] = tmp.w;
        }
        for (unsigned off = 0; off < BK; off += strideB)
            reinterpret_cast<float4 *>(&Bs[(innerRowB + off) * BN + innerColB * 4])[0] =
                reinterpret_cast<const float4 *>(&B[(innerRowB + off) * N + innerColB * 4])[0];
        __syncthreads();
        A += BK;
        B += BK * N;
        for (unsigned d = 0; d < BK; ++d) {
            for (unsigned i = 0; i < TM; ++i) regM[i] = As[d * BM + threadRow * TM + i];
            for (unsigned i = 0; i < TN; ++i) regN[i] = Bs[d * BN + threadCol * TN + i];
            for (unsigned m = 0; m < TM; ++m)
                for (unsigned n = 0; n < TN; ++n) threadResults[m * TN + n] += regM[m] * regN[n];
        }
        __syncthreads();
    }
    for (unsigned m = 0; m < TM; ++m) {
        for (unsigned n = 0; n < TN; n += 4) {
            float4 *p = reinterpret_cast<float4 *>(&C[(threadRow * TM + m) * N + threadCol * TN + n]);
            float4 tmp = p[0];
            tmp.x = alpha * threadResults[m * TN + n + 0] + beta * tmp.x;
            tmp.y = alpha * threadResults[m * TN + n + 1] + beta * tmp.y;
            tmp.z = alpha * threadResults[m * TN + n + 2] + beta * tmp.z;
            tmp.w = alpha * threadResults[m * TN + n + 3] + beta * tmp.w;
            p[0] = tmp;
        }
    }
}
template __global__ void sgemm_vec2d<64, 64, 8, 8, 8>(int, int, int, float, const float *, const float *, float, float *);

// 6. double buffering: the next K tile is loaded into the other buffer while this one is used; ragged edges
#define DB_T 16
__global__ void sgemm_double_buffer(int M, int N, int K, float alpha, const float *A, const float *B, float beta,
                                    float *C) {
    __shared__ float As[2][DB_T][DB_T];
    __shared__ float Bs[2][DB_T][DB_T];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int row = blockIdx.y * DB_T + ty, col = blockIdx.x * DB_T + tx;
    const int tiles = (K + DB_T - 1) / DB_T;
    auto load = [&](int buf, int t) {
        int ka = t * DB_T + tx, kb = t * DB_T + ty;
        As[buf][ty][tx] = (row < M && ka < K) ? A[row * K + ka] : 0.0f;
        Bs[buf][ty][tx] = (kb < K && col < N) ? B[kb * N + col] : 0.0f;
    };
    load(0, 0);
    __syncthreads();
    float acc = 0.0f;
    for (int t = 0; t < tiles; ++t) {
        const int cur = t & 1;
        if (t + 1 < tiles) load(cur ^ 1, t + 1);
        for (int k = 0; k < DB_T; ++k) acc += As[cur][ty][k] * Bs[cur][k][tx];
        __syncthreads();
    }
    if (row < M && col < N) C[row * N + col] = alpha * acc + beta * C[row * N + col];
}

// ===================================================================================== scans (PMPP style)

// Kogge-Stone inclusive scan of one section per block, double-buffered in shared memory; S gets block sums
#define KS_SECTION 128
__global__ void kogge_stone_scan(const float *X, float *Y, float *S, unsigned n) {
    __shared__ float buf[2][KS_SECTION];
    const unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    buf[0][t] = i < n ? X[i] : 0.0f;
    int src = 0;
    for (unsigned stride = 1; stride < blockDim.x; stride *= 2) {
        __syncthreads();
        float v = buf[src][t];
        if (t >= stride) v += buf[src][t - stride];
        buf[1 - src][t] = v;
        src = 1 - src;
    }
    if (i < n) Y[i] = buf[src][t];
    if (S != nullptr && t == blockDim.x - 1) S[blockIdx.x] = buf[src][t];
}

// third phase of the hierarchical scan: add the scanned sums of the blocks before
__global__ void add_block_sums(float *Y, const float *S, unsigned n) {
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    if (blockIdx.x > 0 && i < n) Y[i] += S[blockIdx.x - 1];
}

// Brent-Kung inclusive scan: 2*blockDim elements per block, reduction tree then distribution tree
__global__ void brent_kung_scan(const int *X, int *Y, unsigned n) {
    extern __shared__ int XY[];
    const unsigned i = 2 * blockIdx.x * blockDim.x + threadIdx.x;
    XY[threadIdx.x] = i < n ? X[i] : 0;
    XY[threadIdx.x + blockDim.x] = i + blockDim.x < n ? X[i + blockDim.x] : 0;
    for (unsigned stride = 1; stride <= blockDim.x; stride *= 2) {
        __syncthreads();
        unsigned index = (threadIdx.x + 1) * 2 * stride - 1;
        if (index < 2 * blockDim.x) XY[index] += XY[index - stride];
    }
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        __syncthreads();
        unsigned index = (threadIdx.x + 1) * stride * 2 - 1;
        if (index + stride < 2 * blockDim.x) XY[index + stride] += XY[index];
    }
    __syncthreads();
    if (i < n) Y[i] = XY[threadIdx.x];
    if (i + blockDim.x < n) Y[i + blockDim.x] = XY[threadIdx.x + blockDim.x];
}

// three-phase scan with thread coarsening: per-thread sequential scans, a Kogge-Stone over the subsection
// ends, then each subsection adds the ends before it (one CF*CB section per block)
#define CF 4
#define CB 64
__global__ void scan_three_phase(const float *X, float *Y, unsigned n) {
    __shared__ float xs[CF * CB];
    __shared__ float ends[CB];
    const unsigned base = blockIdx.x * CF * CB;
    for (int j = 0; j < CF; ++j) {
        unsigned k = j * CB + threadIdx.x;
        xs[k] = base + k < n ? X[base + k] : 0.0f;
    }
    __syncthreads();
    float *sub = xs + threadIdx.x * CF;
    for (int j = 1; j < CF; ++j) sub[j] += sub[j - 1];
    ends[threadIdx.x] = sub[CF - 1];
    for (unsigned s = 1; s < CB; s *= 2) {
        __syncthreads();
        float v = threadIdx.x >= s ? ends[threadIdx.x - s] : 0.0f;
        __syncthreads();
        ends[threadIdx.x] += v;
    }
    __syncthreads();
    if (threadIdx.x > 0) {
        float add = ends[threadIdx.x - 1];
        for (int j = 0; j < CF; ++j) sub[j] += add;
    }
    __syncthreads();
    for (int j = 0; j < CF; ++j) {
        unsigned k = j * CB + threadIdx.x;
        if (base + k < n) Y[base + k] = xs[k];
    }
}

// ===================================================================================== merge with co-rank
__device__ int co_rank(int k, const int *A, int m, const int *B, int n) {
    int i = k < m ? k : m;
    int j = k - i;
    int i_low = 0 > (k - n) ? 0 : k - n;
    int j_low = 0 > (k - m) ? 0 : k - m;
    int delta;
    bool active = true;
    while (active) {
        if (i > 0 && j < n && A[i - 1] > B[j]) {
            delta = ((i - i_low + 1) >> 1);
            j_low = j;
            j = j + delta;
            i = i - delta;
        } else if (j > 0 && i < m && B[j - 1] >= A[i]) {
            delta = ((j - j_low + 1) >> 1);
            i_low = i;
            i = i + delta;
            j = j - delta;
        } else {
            active = false;
        }
    }
    return i;
}

__device__ void merge_sequential(const int *A, int m, const int *B, int n, int *C) {
    int i = 0, j = 0, k = 0;
    while (i < m && j < n) {
        if (A[i] <= B[j]) C[k++] = A[i++];
        else C[k++] = B[j++];
    }
    if (i == m) while (j < n) C[k++] = B[j++];
    else while (i < m) C[k++] = A[i++];
}

__global__ void merge_corank(const int *A, int m, const int *B, int n, int *C) {
    const int tid = blockIdx.x * blockDim.x + threadIdx.x;
    const int total = blockDim.x * gridDim.x;
    const int per = (m + n + total - 1) / total;
    const int k_curr = min(tid * per, m + n);
    const int k_next = min(k_curr + per, m + n);
    const int i_curr = co_rank(k_curr, A, m, B, n);
    const int i_next = co_rank(k_next, A, m, B, n);
    const int j_curr = k_curr - i_curr, j_next = k_next - i_next;
    merge_sequential(&A[i_curr], i_next - i_curr, &B[j_curr], j_next - j_curr, &C[k_curr]);
}

// ===================================================================================== histogram
// letters a-z in bins of four, privatized in shared memory, coarsened (contiguous or interleaved
// partitions) and aggregated (a run of equal bins becomes one atomicAdd)
#define NUM_BINS 7
template <bool CONTIGUOUS>
__global__ void histo_aggregated(const char *data, unsigned length, unsigned *histo, unsigned cf) {
    __shared__ unsigned histo_s[NUM_BINS];
    for (unsigned b = threadIdx.x; b < NUM_BINS; b += blockDim.x) histo_s[b] = 0u;
    __syncthreads();
    unsigned accumulator = 0;
    int prevBin = -1;
    const unsigned tid = blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned begin = CONTIGUOUS ? tid * cf : tid;
    const unsigned end = CONTIGUOUS ? min((tid + 1) * cf, length) : length;
    const unsigned step = CONTIGUOUS ? 1 : blockDim.x * gridDim.x;
    for (unsigned i = begin; i < end; i += step) {
        int alpha = data[i] - 'a';
        if (alpha >= 0 && alpha < 26) {
            int bin = alpha / 4;
            if (bin == prevBin) {
                ++accumulator;
            } else {
                if (accumulator > 0) atomicAdd(&histo_s[prevBin], accumulator);
                accumulator = 1;
                prevBin = bin;
            }
        }
    }
    if (accumulator > 0) atomicAdd(&histo_s[prevBin], accumulator);
    __syncthreads();
    for (unsigned b = threadIdx.x; b < NUM_BINS; b += blockDim.x) {
        unsigned v = histo_s[b];
        if (v > 0) atomicAdd(&histo[b], v);
    }
}
template __global__ void histo_aggregated<true>(const char *, unsigned, unsigned *, unsigned);
template __global__ void histo_aggregated<false>(const char *, unsigned, unsigned *, unsigned);

// ===================================================================================== 3-D stencil
// seven-point stencil, thread coarsening along z with register tiling (prev/next planes in registers,
// the current plane in shared memory); only interior points are written
#define IN_TILE 8
#define OUT_TILE (IN_TILE - 2)
__global__ void stencil3d_coarse(const float *in, float *out, int N, float c0, float c1, float c2, float c3, float c4,
                                 float c5, float c6) {
    const int iStart = blockIdx.z * OUT_TILE;
    const int j = blockIdx.y * OUT_TILE + threadIdx.y - 1;
    const int k = blockIdx.x * OUT_TILE + threadIdx.x - 1;
    const bool jk = j >= 0 && j < N && k >= 0 && k < N;
    float inPrev = 0.0f, inCurr = 0.0f, inNext = 0.0f;
    __shared__ float inCurr_s[IN_TILE][IN_TILE];
    if (iStart - 1 >= 0 && iStart - 1 < N && jk) inPrev = in[(iStart - 1) * N * N + j * N + k];
    if (iStart < N && jk) inCurr = in[iStart * N * N + j * N + k];
    inCurr_s[threadIdx.y][threadIdx.x] = inCurr;
    for (int i = iStart; i < iStart + OUT_TILE; ++i) {
        if (i + 1 < N && jk) inNext = in[(i + 1) * N * N + j * N + k];
        __syncthreads();
        if (i >= 1 && i < N - 1 && j >= 1 && j < N - 1 && k >= 1 && k < N - 1) {
            if (threadIdx.y >= 1 && threadIdx.y < IN_TILE - 1 && threadIdx.x >= 1 && threadIdx.x < IN_TILE - 1) {
                out[i * N * N + j * N + k] = c0 * inCurr + c1 * inCurr_s[threadIdx.y][threadIdx.x - 1] +
                                             c2 * inCurr_s[threadIdx.y][threadIdx.x + 1] +
                                             c3 * inCurr_s[threadIdx.y - 1][threadIdx.x] +
                                             c4 * inCurr_s[threadIdx.y + 1][threadIdx.x] + c5 * inPrev + c6 * inNext;
            }
        }
        __syncthreads();
        inPrev = inCurr;
        inCurr = inNext;
        inCurr_s[threadIdx.y][threadIdx.x] = inNext;
    }
}

// ===================================================================================== sparse matrix-vector
__global__ void spmv_coo(const int *rowIdx, const int *colIdx, const float *value, int nnz, const float *x, float *y) {
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < nnz) atomicAdd(&y[rowIdx[i]], x[colIdx[i]] * value[i]);
}

// ELL: padded rows stored column-major (entry t of row r at t * numRows + r)
__global__ void spmv_ell(const int *colIdx, const float *value, const int *nnzPerRow, int numRows, const float *x,
                         float *y) {
    const unsigned row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row < numRows) {
        float sum = 0.0f;
        for (int t = 0; t < nnzPerRow[row]; ++t) {
            int i = t * numRows + row;
            sum += x[colIdx[i]] * value[i];
        }
        y[row] = sum;
    }
}

// JDS: rows sorted by length, jagged diagonal t holds entry t of rows 0..len(t)-1
__global__ void spmv_jds(const int *colIdx, const float *value, const int *iterPtr, int numIters, const int *rowPerm,
                         int numRows, const float *x, float *y) {
    const unsigned row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row < numRows) {
        float sum = 0.0f;
        for (int t = 0; t < numIters; ++t) {
            if (row >= iterPtr[t + 1] - iterPtr[t]) break;
            int i = iterPtr[t] + row;
            sum += x[colIdx[i]] * value[i];
        }
        y[rowPerm[row]] = sum;
    }
}

// ===================================================================================== BFS (PMPP style)
// vertex-centric push: the textbook code writes level[] from several blocks (the same value: a benign race)
__global__ void bfs_vertex_push(const int *srcPtrs, const int *dst, int numVertices, unsigned *level,
                                unsigned *newVertexVisited, unsigned currLevel) {
    const unsigned v = blockIdx.x * blockDim.x + threadIdx.x;
    if (v < numVertices && level[v] == currLevel - 1) {
        for (int e = srcPtrs[v]; e < srcPtrs[v + 1]; ++e) {
            unsigned nb = dst[e];
            if (level[nb] == UINT_MAX) {
                level[nb] = currLevel;
                *newVertexVisited = 1;
            }
        }
    }
}

// edge-centric with an atomic claim (no race)
__global__ void bfs_edge_atomic(const int *src, const int *dst, int numEdges, unsigned *level,
                                unsigned *newVertexVisited, unsigned currLevel) {
    const unsigned e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e < numEdges) {
        unsigned v = src[e];
        if (atomicAdd(&level[v], 0u) == currLevel - 1) {
            unsigned nb = dst[e];
            if (atomicCAS(&level[nb], UINT_MAX, currLevel) == UINT_MAX) atomicExch(newVertexVisited, 1u);
        }
    }
}

// frontier-based with a privatized shared-memory queue that overflows into the global queue
#define LOCAL_Q 32
__global__ void bfs_frontier_queue(const int *srcPtrs, const int *dst, unsigned *level, const unsigned *prevFrontier,
                                   unsigned *currFrontier, unsigned numPrev, unsigned *numCurr, unsigned currLevel) {
    __shared__ unsigned currFrontier_s[LOCAL_Q];
    __shared__ unsigned numCurr_s, start_s;
    if (threadIdx.x == 0) numCurr_s = 0;
    __syncthreads();
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < numPrev) {
        unsigned v = prevFrontier[i];
        for (int e = srcPtrs[v]; e < srcPtrs[v + 1]; ++e) {
            unsigned nb = dst[e];
            if (atomicCAS(&level[nb], UINT_MAX, currLevel) == UINT_MAX) {
                unsigned idx_s = atomicAdd(&numCurr_s, 1u);
                if (idx_s < LOCAL_Q) {
                    currFrontier_s[idx_s] = nb;
                } else {
                    unsigned idx = atomicAdd(numCurr, 1u);
                    currFrontier[idx] = nb;
                }
            }
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        numCurr_s = min(numCurr_s, (unsigned)LOCAL_Q);
        start_s = atomicAdd(numCurr, numCurr_s);
    }
    __syncthreads();
    for (unsigned j = threadIdx.x; j < numCurr_s; j += blockDim.x) currFrontier[start_s + j] = currFrontier_s[j];
}

// ===================================================================================== reductions
// interleaved addressing with the divergent modulo test (the first kernel of the classic series)
__global__ void reduce_interleaved(const float *in, float *out, unsigned n) {
    extern __shared__ float sdata[];
    const unsigned tid = threadIdx.x, i = blockIdx.x * blockDim.x + threadIdx.x;
    sdata[tid] = i < n ? in[i] : 0.0f;
    __syncthreads();
    for (unsigned s = 1; s < blockDim.x; s *= 2) {
        if (tid % (2 * s) == 0) sdata[tid] += sdata[tid + s];
        __syncthreads();
    }
    if (tid == 0) out[blockIdx.x] = sdata[0];
}

// sequential addressing, first add during load, block sums combined with one atomicAdd each
__global__ void reduce_first_add(const float *in, float *total, unsigned n) {
    extern __shared__ float sdata[];
    const unsigned tid = threadIdx.x, i = blockIdx.x * (blockDim.x * 2) + threadIdx.x;
    float v = i < n ? in[i] : 0.0f;
    if (i + blockDim.x < n) v += in[i + blockDim.x];
    sdata[tid] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) sdata[tid] += sdata[tid + s];
        __syncthreads();
    }
    if (tid == 0) atomicAdd(total, sdata[0]);
}

// ===================================================================================== "CUDA by Example" style
struct Lock {
    int *mutex;
    __device__ void lock() {
        while (atomicCAS(mutex, 0, 1) != 0) {
        }
        __threadfence();
    }
    __device__ void unlock() {
        __threadfence();
        atomicExch(mutex, 0);
    }
};

// the book's lock as printed, without fences: the critical section's plain *c += is a data race in the
// PTX memory model (relaxed atomics order nothing else)
struct LockNoFence {
    int *mutex;
    __device__ void lock() {
        while (atomicCAS(mutex, 0, 1) != 0) {
        }
    }
    __device__ void unlock() { atomicExch(mutex, 0); }
};

#define DOT_TPB 128
template <class L>
__global__ void dot_lock(L lock, const float *a, const float *b, float *c, int n) {
    __shared__ float cache[DOT_TPB];
    int tid = threadIdx.x + blockIdx.x * blockDim.x;
    const int cacheIndex = threadIdx.x;
    float temp = 0.0f;
    while (tid < n) {
        temp += a[tid] * b[tid];
        tid += blockDim.x * gridDim.x;
    }
    cache[cacheIndex] = temp;
    __syncthreads();
    int i = blockDim.x / 2;
    while (i != 0) {
        if (cacheIndex < i) cache[cacheIndex] += cache[cacheIndex + i];
        __syncthreads();
        i /= 2;
    }
    if (cacheIndex == 0) {
        lock.lock();
        *c += cache[0];
        lock.unlock();
    }
}
template __global__ void dot_lock<Lock>(Lock, const float *, const float *, float *, int);
template __global__ void dot_lock<LockNoFence>(LockNoFence, const float *, const float *, float *, int);

// animated ripple: grey level from a damped cosine of the distance to the centre, RGBA output
__global__ void ripple(unsigned char *ptr, int dim, int ticks) {
    const int x = threadIdx.x + blockIdx.x * blockDim.x;
    const int y = threadIdx.y + blockIdx.y * blockDim.y;
    if (x >= dim || y >= dim) return;
    const int offset = x + y * dim;
    float fx = x - dim / 2;
    float fy = y - dim / 2;
    float d = sqrtf(fx * fx + fy * fy);
    unsigned char grey = (unsigned char)(128.0f + 127.0f * cos(d / 10.0f - ticks / 7.0f) / (d / 10.0f + 1.0f));
    ptr[offset * 4 + 0] = grey;
    ptr[offset * 4 + 1] = grey;
    ptr[offset * 4 + 2] = grey;
    ptr[offset * 4 + 3] = 255;
}

// Julia set membership with a small complex struct (the book's cuComplex), one byte per pixel
struct cuComplex {
    float r, i;
    __device__ cuComplex(float a, float b) : r(a), i(b) {}
    __device__ float magnitude2() const { return r * r + i * i; }
    __device__ cuComplex operator*(const cuComplex &a) const { return cuComplex(r * a.r - i * a.i, i * a.r + r * a.i); }
    __device__ cuComplex operator+(const cuComplex &a) const { return cuComplex(r + a.r, i + a.i); }
};

__device__ int julia(int x, int y, int dim, float scale, float cr, float ci) {
    float jx = scale * (float)(dim / 2 - x) / (dim / 2);
    float jy = scale * (float)(dim / 2 - y) / (dim / 2);
    cuComplex c(cr, ci);
    cuComplex a(jx, jy);
    for (int i = 0; i < 200; i++) {
        a = a * a + c;
        if (a.magnitude2() > 1000) return i;
    }
    return 200;
}

__global__ void julia_kernel(unsigned char *ptr, int dim, float scale, float cr, float ci) {
    const int x = blockIdx.x, y = blockIdx.y;
    ptr[x + y * gridDim.x] = (unsigned char)julia(x, y, dim, scale, cr, ci);
}

// ===================================================================================== developer-blog style
__global__ void static_reverse(int *d, int n) {
    __shared__ int s[64];
    const int t = threadIdx.x, tr = n - t - 1;
    s[t] = d[t];
    __syncthreads();
    d[t] = s[tr];
}

__global__ void dynamic_reverse(int *d, int n) {
    extern __shared__ int s[];
    const int t = threadIdx.x, tr = n - t - 1;
    s[t] = d[t];
    __syncthreads();
    d[t] = s[tr];
}

// vectorized copies: int2 / int4 body, one thread finishes the tail
__global__ void copy_vec2(const int *d_in, int *d_out, int N) {
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    for (int i = idx; i < N / 2; i += blockDim.x * gridDim.x)
        reinterpret_cast<int2 *>(d_out)[i] = reinterpret_cast<const int2 *>(d_in)[i];
    if (idx == N / 2 && N % 2 == 1) d_out[N - 1] = d_in[N - 1];
}

__global__ void copy_vec4(const int *d_in, int *d_out, int N) {
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    for (int i = idx; i < N / 4; i += blockDim.x * gridDim.x)
        reinterpret_cast<int4 *>(d_out)[i] = reinterpret_cast<const int4 *>(d_in)[i];
    int remainder = N % 4;
    if (idx == N / 4 && remainder != 0) {
        while (remainder) {
            int i = N - remainder--;
            d_out[i] = d_in[i];
        }
    }
}

// cooperative groups: per-thread int4 sums, a 32-thread tile shuffle reduction, one atomicAdd per tile
__device__ int thread_sum(const int *input, int n) {
    int sum = 0;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n / 4; i += blockDim.x * gridDim.x) {
        int4 in = reinterpret_cast<const int4 *>(input)[i];
        sum += in.x + in.y + in.z + in.w;
    }
    return sum;
}

template <int tile_sz>
__device__ int reduce_sum_tile_shfl(cg::thread_block_tile<tile_sz> g, int val) {
    for (int i = g.size() / 2; i > 0; i /= 2) val += g.shfl_down(val, i);
    return val;
}

__global__ void sum_tile_shfl(int *sum, const int *input, int n) {
    int my_sum = thread_sum(input, n);
    auto tile32 = cg::tiled_partition<32>(cg::this_thread_block());
    int tile_sum = reduce_sum_tile_shfl<32>(tile32, my_sum);
    if (tile32.thread_rank() == 0) atomicAdd(sum, tile_sum);
}

// coalescing experiments: offset and strided accesses, templated over the element type
template <typename T>
__global__ void offset_access(T *a, int s) {
    const int i = blockDim.x * blockIdx.x + threadIdx.x + s;
    a[i] = a[i] + 1;
}

template <typename T>
__global__ void stride_access(T *a, int s) {
    const int i = (blockDim.x * blockIdx.x + threadIdx.x) * s;
    a[i] = a[i] + 1;
}
template __global__ void offset_access<float>(float *, int);
template __global__ void offset_access<double>(double *, int);
template __global__ void stride_access<float>(float *, int);
template __global__ void stride_access<double>(double *, int);

// tiled transpose of uchar4 pixels: TILE_DIM x BLOCK_ROWS threads, each moves TILE_DIM/BLOCK_ROWS pixels,
// a padded tile against bank conflicts, ragged edges guarded
#define TILE_DIM 32
#define BLOCK_ROWS 8
__global__ void transpose_uchar4(const uchar4 *in, uchar4 *out, int rows, int cols) {
    __shared__ uchar4 tile[TILE_DIM][TILE_DIM + 1];
    int x = blockIdx.x * TILE_DIM + threadIdx.x;
    int y = blockIdx.y * TILE_DIM + threadIdx.y;
    for (int j = 0; j < TILE_DIM; j += BLOCK_ROWS)
        if (x < cols && y + j < rows) tile[threadIdx.y + j][threadIdx.x] = in[(y + j) * cols + x];
    __syncthreads();
    x = blockIdx.y * TILE_DIM + threadIdx.x;
    y = blockIdx.x * TILE_DIM + threadIdx.y;
    for (int j = 0; j < TILE_DIM; j += BLOCK_ROWS)
        if (x < rows && y + j < cols) out[(y + j) * rows + x] = tile[threadIdx.x][threadIdx.y + j];
}

// ===================================================================================== course style
// minimal flash attention forward: one block per (batch, head), one thread per query row of a tile,
// Q/K/V tiles in dynamic shared memory, online softmax with a running max m and sum l
__global__ void flash_attn_min(const float *Q, const float *K, const float *V, int N, int d, int Tc, int Tr, int Bc,
                               int Br, float softmax_scale, float *l, float *m, float *O) {
    const int tx = threadIdx.x;
    const int bx = blockIdx.x, by = blockIdx.y;
    const int qkv_offset = (bx * gridDim.y * N * d) + (by * N * d);
    const int lm_offset = (bx * gridDim.y * N) + (by * N);
    extern __shared__ float sram[];
    const int tile_size = Bc * d;
    float *Qi = sram;
    float *Kj = &sram[tile_size];
    float *Vj = &sram[tile_size * 2];
    float *S = &sram[tile_size * 3];
    for (int j = 0; j < Tc; j++) {
        for (int x = 0; x < d; x++) {
            Kj[(tx * d) + x] = K[qkv_offset + (tile_size * j) + (tx * d) + x];
            Vj[(tx * d) + x] = V[qkv_offset + (tile_size * j) + (tx * d) + x];
        }
        __syncthreads();
        for (int i = 0; i < Tr; i++) {
            for (int x = 0; x < d; x++) Qi[(tx * d) + x] = Q[qkv_offset + (tile_size * i) + (tx * d) + x];
            float row_m_prev = m[lm_offset + (Br * i) + tx];
            float row_l_prev = l[lm_offset + (Br * i) + tx];
            float row_m = -INFINITY;
            for (int y = 0; y < Bc; y++) {
                float sum = 0;
                for (int x = 0; x < d; x++) sum += Qi[(tx * d) + x] * Kj[(y * d) + x];
                sum *= softmax_scale;
                S[(Bc * tx) + y] = sum;
                if (sum > row_m) row_m = sum;
            }
            float row_l = 0;
            for (int y = 0; y < Bc; y++) {
                S[(Bc * tx) + y] = expf(S[(Bc * tx) + y] - row_m);
                row_l += S[(Bc * tx) + y];
            }
            float row_m_new = max(row_m_prev, row_m);
            float row_l_new = (expf(row_m_prev - row_m_new) * row_l_prev) + (expf(row_m - row_m_new) * row_l);
            for (int x = 0; x < d; x++) {
                float pv = 0;
                for (int y = 0; y < Bc; y++) pv += S[(Bc * tx) + y] * Vj[(y * d) + x];
                O[qkv_offset + (tile_size * i) + (tx * d) + x] =
                    (1 / row_l_new) * ((row_l_prev * expf(row_m_prev - row_m_new) * O[qkv_offset + (tile_size * i) + (tx * d) + x]) +
                                       (expf(row_m - row_m_new) * pv));
            }
            m[lm_offset + (Br * i) + tx] = row_m_new;
            l[lm_offset + (Br * i) + tx] = row_l_new;
        }
        __syncthreads();
    }
}

// layer norm, one block per row: two shared-memory tree reductions (mean, then variance), rsqrtf
__global__ void layernorm_rows(const float *x, const float *gamma, const float *beta, float *y, int cols, float eps) {
    extern __shared__ float red[];
    const float *xr = x + (size_t)blockIdx.x * cols;
    float *yr = y + (size_t)blockIdx.x * cols;
    float s = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) s += xr[c];
    red[threadIdx.x] = s;
    __syncthreads();
    for (int st = blockDim.x / 2; st > 0; st >>= 1) {
        if (threadIdx.x < st) red[threadIdx.x] += red[threadIdx.x + st];
        __syncthreads();
    }
    const float mean = red[0] / cols;
    __syncthreads();
    float v = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float dlt = xr[c] - mean;
        v += dlt * dlt;
    }
    red[threadIdx.x] = v;
    __syncthreads();
    for (int st = blockDim.x / 2; st > 0; st >>= 1) {
        if (threadIdx.x < st) red[threadIdx.x] += red[threadIdx.x + st];
        __syncthreads();
    }
    const float rstd = rsqrtf(red[0] / cols + eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) yr[c] = (xr[c] - mean) * rstd * gamma[c] + beta[c];
}

// colour to greyscale on interleaved RGB bytes
#define CHANNELS 3
__global__ void color_to_gray(unsigned char *gray, const unsigned char *rgb, int width, int height) {
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    const int row = blockIdx.y * blockDim.y + threadIdx.y;
    if (col < width && row < height) {
        int grayOffset = row * width + col;
        int rgbOffset = grayOffset * CHANNELS;
        unsigned char r = rgb[rgbOffset], g = rgb[rgbOffset + 1], b = rgb[rgbOffset + 2];
        gray[grayOffset] = 0.21f * r + 0.71f * g + 0.07f * b;
    }
}

// box blur: the mean of the in-bounds pixels of a (2*BLUR_SIZE+1)^2 patch, integer division
#define BLUR_SIZE 1
__global__ void blur_box(const unsigned char *in, unsigned char *out, int w, int h) {
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    const int row = blockIdx.y * blockDim.y + threadIdx.y;
    if (col < w && row < h) {
        int pixVal = 0, pixels = 0;
        for (int blurRow = -BLUR_SIZE; blurRow < BLUR_SIZE + 1; ++blurRow) {
            for (int blurCol = -BLUR_SIZE; blurCol < BLUR_SIZE + 1; ++blurCol) {
                int curRow = row + blurRow, curCol = col + blurCol;
                if (curRow >= 0 && curRow < h && curCol >= 0 && curCol < w) {
                    pixVal += in[curRow * w + curCol];
                    ++pixels;
                }
            }
        }
        out[row * w + col] = (unsigned char)(pixVal / pixels);
    }
}

// k-means assignment step: centroids staged in dynamic shared memory, nearest by squared distance,
// cluster sizes counted with atomics
__global__ void kmeans_assign(const float *points, const float *centroids, int n, int k, int dim, int *label,
                              int *counts) {
    extern __shared__ float sc[];
    for (int i = threadIdx.x; i < k * dim; i += blockDim.x) sc[i] = centroids[i];
    __syncthreads();
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= n) return;
    float best = FLT_MAX;
    int bestIdx = 0;
    for (int c = 0; c < k; ++c) {
        float dist = 0.0f;
        for (int j = 0; j < dim; ++j) {
            float t = points[p * dim + j] - sc[c * dim + j];
            dist += t * t;
        }
        if (dist < best) {
            best = dist;
            bestIdx = c;
        }
    }
    label[p] = bestIdx;
    atomicAdd(&counts[bestIdx], 1);
}

// ===================================================================================== second batch
// 7. warptiling: each warp owns a WM x WN tile of C, iterated as WMITER x WNITER sub-tiles of TM x TN per thread
template <int BM, int BN, int BK, int WM, int WN, int WNITER, int TM, int TN, int NUM_THREADS>
__global__ void __launch_bounds__(NUM_THREADS)
    sgemm_warptile(int M, int N, int K, float alpha, const float *A, const float *B, float beta, float *C) {
    const unsigned cRow = blockIdx.y, cCol = blockIdx.x;
    const unsigned warpIdx = threadIdx.x / 32;
    const unsigned warpCol = warpIdx % (BN / WN), warpRow = warpIdx / (BN / WN);
    constexpr unsigned WMITER = (WM * WN) / (32 * TM * TN * WNITER);
    constexpr unsigned WSUBM = WM / WMITER, WSUBN = WN / WNITER;
    const unsigned threadIdxInWarp = threadIdx.x % 32;
    const unsigned threadColInWarp = threadIdxInWarp % (WSUBN / TN);
    const unsigned threadRowInWarp = threadIdxInWarp / (WSUBN / TN);
    __shared__ __align__(16) float As[BM * BK];
    __shared__ __align__(16) float Bs[BK * BN];
    A += cRow * BM * K;
    B += cCol * BN;
    C += (cRow * BM + warpRow * WM) * N + cCol * BN + warpCol * WN;
    const unsigned innerRowA = threadIdx.x / (BK / 4), innerColA = threadIdx.x % (BK / 4);
    constexpr unsigned rowStrideA = (NUM_THREADS * 4) / BK;
    const unsigned innerRowB = threadIdx.x / (BN / 4), innerColB = threadIdx.x % (BN / 4);
    constexpr unsigned rowStrideB = NUM_THREADS / (BN / 4);
    float threadResults[WMITER * TM * WNITER * TN] = {0.0f};
    float regM[WMITER * TM] = {0.0f};
    float regN[WNITER * TN] = {0.0f};
    for (unsigned bkIdx = 0; bkIdx < K; bkIdx += BK) {
        for (unsigned off = 0; off + rowStrideA <= BM; off += rowStrideA) {
            const float4 tmp = reinterpret_cast<const float4 *>(&A[(innerRowA + off) * K + innerColA * 4])[0];
            As[(innerColA * 4 + 0) * BM + innerRowA + off] = tmp.x;
            As[(innerColA * 4 + 1) * BM + innerRowA + off] = tmp.y;
            As[(innerColA * 4 + 2) * BM + innerRowA + off] = tmp.z;
            As[(innerColA * 4 + 3) * BM + innerRowA + off] = tmp.w;
        }
        for (unsigned off = 0; off + rowStrideB <= BK; off += rowStrideB)
            reinterpret_cast<float4 *>(&Bs[(innerRowB + off) * BN + innerColB * 4])[0] =
                reinterpret_cast<const float4 *>(&B[(innerRowB + off) * N + innerColB * 4])[0];
        __syncthreads();
        for (unsigned dotIdx = 0; dotIdx < BK; ++dotIdx) {
            for (unsigned wSubRowIdx = 0; wSubRowIdx < WMITER; ++wSubRowIdx)
                for (unsigned i = 0; i < TM; ++i)
                    regM[wSubRowIdx * TM + i] =
                        As[dotIdx * BM + warpRow * WM + wSubRowIdx * WSUBM + threadRowInWarp * TM + i];
            for (unsigned wSubColIdx = 0; wSubColIdx < WNITER; ++wSubColIdx)
                for (unsigned i = 0; i < TN; ++i)
                    regN[wSubColIdx * TN + i] =
                        Bs[dotIdx * BN + warpCol * WN + wSubColIdx * WSUBN + threadColInWarp * TN + i];
            for (unsigned wSubRowIdx = 0; wSubRowIdx < WMITER; ++wSubRowIdx)
                for (unsigned wSubColIdx = 0; wSubColIdx < WNITER; ++wSubColIdx)
                    for (unsigned resIdxM = 0; resIdxM < TM; ++resIdxM)
                        for (unsigned resIdxN = 0; resIdxN < TN; ++resIdxN)
                            threadResults[(wSubRowIdx * TM + resIdxM) * (WNITER * TN) + (wSubColIdx * TN) + resIdxN] +=
                                regM[wSubRowIdx * TM + resIdxM] * regN[wSubColIdx * TN + resIdxN];
        }
        A += BK;
        B += BK * N;
        __syncthreads();
    }
    for (unsigned wSubRowIdx = 0; wSubRowIdx < WMITER; ++wSubRowIdx) {
        for (unsigned wSubColIdx = 0; wSubColIdx < WNITER; ++wSubColIdx) {
            float *C_interim = C + (wSubRowIdx * WSUBM) * N + wSubColIdx * WSUBN;
            for (unsigned resIdxM = 0; resIdxM < TM; resIdxM += 1) {
                for (unsigned resIdxN = 0; resIdxN < TN; resIdxN += 4) {
                    float4 tmp = reinterpret_cast<float4 *>(
                        &C_interim[(threadRowInWarp * TM + resIdxM) * N + threadColInWarp * TN + resIdxN])[0];
                    const int i = (wSubRowIdx * TM + resIdxM) * (WNITER * TN) + wSubColIdx * TN + resIdxN;
                    tmp.x = alpha * threadResults[i + 0] + beta * tmp.x;
                    tmp.y = alpha * threadResults[i + 1] + beta * tmp.y;
                    tmp.z = alpha * threadResults[i + 2] + beta * tmp.z;
                    tmp.w = alpha * threadResults[i + 3] + beta * tmp.w;
                    reinterpret_cast<float4 *>(
                        &C_interim[(threadRowInWarp * TM + resIdxM) * N + threadColInWarp * TN + resIdxN])[0] = tmp;
                }
            }
        }
    }
}
template __global__ void sgemm_warptile<64, 64, 8, 32, 32, 2, 4, 4, 128>(int, int, int, float, const float *,
                                                                       const float *, float, float *);

// radix sort, one bit per pass (PMPP style): a block-local split by a shared-memory exclusive scan of the bit,
// per-block zero/one counts; after the host scans the count table, a scatter to the global positions
__global__ void radix_local(const unsigned *keys, unsigned *localSorted, unsigned *counts, unsigned n, unsigned bit) {
    extern __shared__ unsigned bits_s[];
    const unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    const unsigned key = i < n ? keys[i] : 0u;
    const unsigned b = i < n ? (key >> bit) & 1u : 0u;
    bits_s[t] = b;
    __syncthreads();
    for (unsigned stride = 1; stride < blockDim.x; stride *= 2) {
        unsigned v = t >= stride ? bits_s[t - stride] : 0u;
        __syncthreads();
        bits_s[t] += v;
        __syncthreads();
    }
    const unsigned onesBefore = bits_s[t] - b;
    const unsigned totalOnes = bits_s[blockDim.x - 1];
    const unsigned valid = min(blockDim.x, n - blockIdx.x * blockDim.x);
    const unsigned totalZeros = valid - totalOnes;
    if (i < n) localSorted[blockIdx.x * blockDim.x + (b ? totalZeros + onesBefore : t - onesBefore)] = key;
    if (t == 0) {
        counts[blockIdx.x] = totalZeros;
        counts[gridDim.x + blockIdx.x] = totalOnes;
    }
}

__global__ void radix_scatter(const unsigned *localSorted, unsigned *out, const unsigned *offsets,
                              const unsigned *counts, unsigned n, unsigned bit) {
    const unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    if (i >= n) return;
    const unsigned key = localSorted[i];
    const unsigned b = (key >> bit) & 1u;
    const unsigned rank = b ? t - counts[blockIdx.x] : t;
    out[offsets[b * gridDim.x + blockIdx.x] + rank] = key;
}

// heat transfer without textures ("CUDA by Example" ch. 7): heaters held constant, then one blend step
__global__ void heat_copy_const(float *iptr, const float *cptr, int dim) {
    const int x = threadIdx.x + blockIdx.x * blockDim.x, y = threadIdx.y + blockIdx.y * blockDim.y;
    if (x >= dim || y >= dim) return;
    const int offset = x + y * dim;
    if (cptr[offset] != 0) iptr[offset] = cptr[offset];
}

__global__ void heat_blend(float *outSrc, const float *inSrc, int dim, float speed) {
    const int x = threadIdx.x + blockIdx.x * blockDim.x, y = threadIdx.y + blockIdx.y * blockDim.y;
    if (x >= dim || y >= dim) return;
    const int offset = x + y * dim;
    int left = offset - 1, right = offset + 1;
    if (x == 0) left++;
    if (x == dim - 1) right--;
    int top = offset - dim, bottom = offset + dim;
    if (y == 0) top += dim;
    if (y == dim - 1) bottom -= dim;
    outSrc[offset] =
        inSrc[offset] + speed * (inSrc[top] + inSrc[bottom] + inSrc[left] + inSrc[right] - inSrc[offset] * 4);
}

// ray tracing spheres from __constant__ memory: the nearest hit's colour scaled by the surface slope
#define RT_INF 2e10f
struct Sphere {
    float r, b, g;
    float radius;
    float x, y, z;
    __device__ float hit(float ox, float oy, float *n) const {
        float dx = ox - x, dy = oy - y;
        if (dx * dx + dy * dy < radius * radius) {
            float dz = sqrtf(radius * radius - dx * dx - dy * dy);
            *n = dz / sqrtf(radius * radius);
            return dz + z;
        }
        return -RT_INF;
    }
};
#define SPHERES 12
__constant__ Sphere spheres[SPHERES];

__global__ void ray_trace(unsigned char *ptr, int dim) {
    const int x = threadIdx.x + blockIdx.x * blockDim.x, y = threadIdx.y + blockIdx.y * blockDim.y;
    if (x >= dim || y >= dim) return;
    const int offset = x + y * dim;
    const float ox = x - dim / 2, oy = y - dim / 2;
    float r = 0, g = 0, b = 0;
    float maxz = -RT_INF;
    for (int i = 0; i < SPHERES; i++) {
        float n;
        float t = spheres[i].hit(ox, oy, &n);
        if (t > maxz) {
            float fscale = n;
            r = spheres[i].r * fscale;
            g = spheres[i].g * fscale;
            b = spheres[i].b * fscale;
            maxz = t;
        }
    }
    ptr[offset * 4 + 0] = (int)(r * 255);
    ptr[offset * 4 + 1] = (int)(g * 255);
    ptr[offset * 4 + 2] = (int)(b * 255);
    ptr[offset * 4 + 3] = 255;
}

// softmax, one block per row: a shared-memory max reduction, then a sum of expf, as courses write it
__global__ void softmax_block_row(const float *x, float *y, int cols) {
    extern __shared__ float sh[];
    const float *xr = x + (size_t)blockIdx.x * cols;
    float *yr = y + (size_t)blockIdx.x * cols;
    float m = -INFINITY;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, xr[c]);
    sh[threadIdx.x] = m;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    const float rowMax = sh[0];
    __syncthreads();
    float sum = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += expf(xr[c] - rowMax);
    sh[threadIdx.x] = sum;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    const float total = sh[0];
    for (int c = threadIdx.x; c < cols; c += blockDim.x) yr[c] = expf(xr[c] - rowMax) / total;
}

// GELU with the tanh approximation over a grid-stride loop
__global__ void gelu_tanh(const float *x, float *y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
    }
}

// ===================================================================================== third batch
// a struct of weights passed by value (8 KB of kernel parameters: CUDA 12.1+ allows up to 32 KB)
struct Weights {
    float w[2000];
    int n;
};
__global__ void big_param_fir(Weights p, const float *x, float *out, int m) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < m) {
        float s = 0.0f;
        for (int k = 0; k < p.n; ++k) s += p.w[k] * x[(i + k) % m];
        out[i] = s;
    }
}

// tiled 2-D convolution with halo cells: input tiles of IN_TILE_DIM^2 threads, only the inner
// OUT_TILE_DIM^2 compute, the mask in __constant__ memory
#define FILTER_RADIUS 2
#define IN_TILE_DIM 16
#define OUT_TILE_DIM ((IN_TILE_DIM) - 2 * (FILTER_RADIUS))
__constant__ float F_c[2 * FILTER_RADIUS + 1][2 * FILTER_RADIUS + 1];
__global__ void conv2d_tiled_halo(const float *N, float *P, int width, int height) {
    const int col = blockIdx.x * OUT_TILE_DIM + threadIdx.x - FILTER_RADIUS;
    const int row = blockIdx.y * OUT_TILE_DIM + threadIdx.y - FILTER_RADIUS;
    __shared__ float N_s[IN_TILE_DIM][IN_TILE_DIM];
    if (row >= 0 && row < height && col >= 0 && col < width) N_s[threadIdx.y][threadIdx.x] = N[row * width + col];
    else N_s[threadIdx.y][threadIdx.x] = 0.0f;
    __syncthreads();
    const int tileCol = threadIdx.x - FILTER_RADIUS, tileRow = threadIdx.y - FILTER_RADIUS;
    if (col >= 0 && col < width && row >= 0 && row < height) {
        if (tileCol >= 0 && tileCol < OUT_TILE_DIM && tileRow >= 0 && tileRow < OUT_TILE_DIM) {
            float Pvalue = 0.0f;
            for (int fRow = 0; fRow < 2 * FILTER_RADIUS + 1; fRow++)
                for (int fCol = 0; fCol < 2 * FILTER_RADIUS + 1; fCol++)
                    Pvalue += F_c[fRow][fCol] * N_s[tileRow + fRow][tileCol + fCol];
            P[row * width + col] = Pvalue;
        }
    }
}

// the streams tutorials' busy-wait kernel: spin on clock64() until a number of cycles passed
__global__ void clock_block(long long *done, long long clock_count) {
    const long long start = clock64();
    long long offset = 0;
    while (offset < clock_count) offset = clock64() - start;
    if (threadIdx.x == 0) done[blockIdx.x] = offset >= clock_count;
}

// Thrust's sequential algorithms inside a kernel: a per-thread scan, reduce and count_if over a small local
// array (these run), and a per-thread sort (thrust's merge sort takes a temporary buffer from the device
// heap: refused at decode time with that reason)
#include <thrust/count.h>
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/reduce.h>
#include <thrust/scan.h>
#include <thrust/sort.h>

struct IsNegative {
    __host__ __device__ bool operator()(int v) const { return v < 0; }
};

__global__ void thrust_seq_scan(const int *in, int *out, int *stats, int n) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t * 8 >= n) return;
    const int m = min(8, n - t * 8);
    int a[8];
    for (int i = 0; i < m; ++i) a[i] = in[t * 8 + i];
    thrust::inclusive_scan(thrust::seq, a, a + m, a);
    for (int i = 0; i < m; ++i) out[t * 8 + i] = a[i];
    stats[2 * t] = thrust::reduce(thrust::seq, in + t * 8, in + t * 8 + m, INT_MIN, thrust::maximum<int>());
    stats[2 * t + 1] = (int)thrust::count_if(thrust::seq, in + t * 8, in + t * 8 + m, IsNegative());
}

__global__ void thrust_seq_sort(const int *in, int *out, int n) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t * 8 >= n) return;
    const int m = min(8, n - t * 8);
    int a[8];
    for (int i = 0; i < m; ++i) a[i] = in[t * 8 + i];
    thrust::sort(thrust::seq, a, a + m, thrust::greater<int>());
    for (int i = 0; i < m; ++i) out[t * 8 + i] = a[i];
}
