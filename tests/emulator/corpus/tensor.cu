// Tensor-core GEMM tiles through the wmma API: f16 with f32 or f16 accumulators, bf16, tf32 and
// 8-bit integers; tiles are staged through shared memory by every warp of the block, and only
// the first two warps of block 0 compute (the rest of the grid idles), as a ragged edge does.
#include <mma.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
using namespace nvcuda;

template <typename In, typename Acc, int M, int N, int K, typename Frag>
__device__ void tile_gemm(const In* a, const In* b, Acc* c, In* sa, In* sb) {
    int warp = threadIdx.x / 32;
    for (int i = threadIdx.x; i < 2 * M * K; i += blockDim.x) sa[i] = a[blockIdx.x * 2 * M * K + i];
    for (int i = threadIdx.x; i < 2 * K * N; i += blockDim.x) sb[i] = b[blockIdx.x * 2 * K * N + i];
    __syncthreads();
    if (blockIdx.x == 0 && warp < 2) {
        wmma::fragment<wmma::matrix_a, M, N, K, Frag, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, M, N, K, Frag, wmma::col_major> fb;
        wmma::fragment<wmma::accumulator, M, N, K, Acc> fc;
        wmma::fill_fragment(fc, Acc(1));
        wmma::load_matrix_sync(fa, sa + warp * M * K, K);
        wmma::load_matrix_sync(fb, sb + warp * K * N, K);
        wmma::mma_sync(fc, fa, fb, fc);
        wmma::store_matrix_sync(c + warp * M * N, fc, N, wmma::mem_row_major);
    }
}

extern "C" __global__ void wmma_f16_f32(const half* a, const half* b, float* c) {
    __shared__ half sa[512], sb[512];
    tile_gemm<half, float, 16, 16, 16, half>(a, b, c, sa, sb);
}

extern "C" __global__ void wmma_f16_f16(const half* a, const half* b, half* c) {
    __shared__ half sa[512], sb[512];
    tile_gemm<half, half, 16, 16, 16, half>(a, b, c, sa, sb);
}

extern "C" __global__ void wmma_bf16(const __nv_bfloat16* a, const __nv_bfloat16* b, float* c) {
    __shared__ __nv_bfloat16 sa[512], sb[512];
    tile_gemm<__nv_bfloat16, float, 16, 16, 16, __nv_bfloat16>(a, b, c, sa, sb);
}

extern "C" __global__ void wmma_u8(const unsigned char* a, const unsigned char* b, int* c) {
    __shared__ unsigned char sa[512], sb[512];
    tile_gemm<unsigned char, int, 16, 16, 16, unsigned char>(a, b, c, sa, sb);
}

extern "C" __global__ void wmma_s8(const signed char* a, const signed char* b, int* c) {
    __shared__ signed char sa[512], sb[512];
    tile_gemm<signed char, int, 16, 16, 16, signed char>(a, b, c, sa, sb);
}

extern "C" __global__ void wmma_tf32(const float* a, const float* b, float* c) {
    __shared__ float sa[256], sb[256];
    int warp = threadIdx.x / 32;
    for (int i = threadIdx.x; i < 256; i += blockDim.x) { sa[i] = a[blockIdx.x * 256 + i]; sb[i] = b[blockIdx.x * 256 + i]; }
    __syncthreads();
    if (blockIdx.x == 0 && warp < 2) {
        wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fb;
        wmma::fragment<wmma::accumulator, 16, 16, 8, float> fc;
        wmma::fill_fragment(fc, 1.0f);
        wmma::load_matrix_sync(fa, sa + warp * 128, 8);
        wmma::load_matrix_sync(fb, sb + warp * 128, 8);
        for (int t = 0; t < fa.num_elements; t++) fa.x[t] = wmma::__float_to_tf32(fa.x[t]);
        for (int t = 0; t < fb.num_elements; t++) fb.x[t] = wmma::__float_to_tf32(fb.x[t]);
        wmma::mma_sync(fc, fa, fb, fc);
        wmma::store_matrix_sync(c + warp * 256, fc, 16, wmma::mem_row_major);
    }
}
