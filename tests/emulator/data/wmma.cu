#include <mma.h>
using namespace nvcuda;
// One warp per 16x16 tile: C = alpha * A(MxK, row-major f16) * B^T (B stored NxK: col-major KxN) + C.
// The accumulator is loaded from C, scaled element-wise (fragment layout is opaque), and stored back.
extern "C" __global__ void wmma_gemm(const half* A, const half* B, float* C, int M, int N, int K, float alpha) {
    int tm = blockIdx.y * 16, tn = blockIdx.x * 16;
    wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> a;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> b;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc, c;
    wmma::fill_fragment(acc, 0.0f);
    for (int k = 0; k < K; k += 16) {
        wmma::load_matrix_sync(a, A + tm * K + k, K);
        wmma::load_matrix_sync(b, B + tn * K + k, K);
        wmma::mma_sync(acc, a, b, acc);
    }
    wmma::load_matrix_sync(c, C + tm * N + tn, N, wmma::mem_row_major);
    for (int i = 0; i < acc.num_elements; ++i) c.x[i] += alpha * acc.x[i];
    wmma::store_matrix_sync(C + tm * N + tn, c, N, wmma::mem_row_major);
}

// bf16 through shared memory: the warp stages A and B tiles in shared memory, multiplies with
// wmma, stores the f32 tile to shared memory and copies it out (exercises the race checker too).
#include <cuda_bf16.h>
extern "C" __global__ void wmma_bf16_shared(const __nv_bfloat16* A, const __nv_bfloat16* B, float* C) {
    __shared__ __align__(32) __nv_bfloat16 sa[16 * 16], sb[16 * 16];
    __shared__ __align__(32) float sc[16 * 16];
    for (int i = threadIdx.x; i < 256; i += 32) { sa[i] = A[i]; sb[i] = B[i]; }
    __syncwarp();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> b;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 1.0f);
    wmma::load_matrix_sync(a, sa, 16);
    wmma::load_matrix_sync(b, sb, 16);
    wmma::mma_sync(acc, a, b, acc);
    wmma::store_matrix_sync(sc, acc, 16, wmma::mem_col_major);
    __syncwarp();
    for (int i = threadIdx.x; i < 256; i += 32) C[i] = sc[i];
}
