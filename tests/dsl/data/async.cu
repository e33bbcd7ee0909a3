#include <cuda_pipeline.h>
#include <cooperative_groups.h>
#include <mma.h>
#include <cuda_fp16.h>
namespace cg = cooperative_groups;
__global__ void cpasync(const float4* g, float* o) {
    __shared__ float4 s[128];
    __pipeline_memcpy_async(&s[threadIdx.x], &g[threadIdx.x], 16);
    __pipeline_commit(); __pipeline_wait_prior(0); __syncthreads();
    o[threadIdx.x] = s[127 - threadIdx.x].x;
}
__global__ void wm(const half* a, const half* b, float* c) {
    using namespace nvcuda;
    wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
    wmma::fill_fragment(fc, 0.f); wmma::load_matrix_sync(fa, a, 16); wmma::load_matrix_sync(fb, b, 16);
    wmma::mma_sync(fc, fa, fb, fc); wmma::store_matrix_sync(c, fc, 16, wmma::mem_row_major);
}
__global__ void red(int* p) { int v = __reduce_add_sync(0xffffffff, p[threadIdx.x]); __shared__ int s; if (threadIdx.x == 0) s = 0; __syncthreads(); atomicAdd(&s, v); atomicMax(p + 1, v); __syncthreads(); if (threadIdx.x == 0) p[0] = s; }
__global__ void inl(int* p) {
    int r;
    asm volatile("{\n\t.reg .pred q;\n\tsetp.ne.s32 q, %1, 0;\n\tselp.s32 %0, 1, 2, q;\n}" : "=r"(r) : "r"(p[threadIdx.x]));
    asm volatile("{\n\t.reg .pred q;\n\tsetp.eq.s32 q, %1, 0;\n\tselp.s32 %0, 3, 4, q;\n}" : "=r"(r) : "r"(r));
    unsigned long long t; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    p[threadIdx.x] = r + (int)t + (int)clock64();
}
__global__ void ldm(const half* a, float* o) {
    __shared__ half s[256];
    s[threadIdx.x] = a[threadIdx.x]; __syncthreads();
    unsigned r0, r1, r2, r3;
    unsigned addr = (unsigned)__cvta_generic_to_shared(&s[(threadIdx.x % 16) * 16]);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];" : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
    o[threadIdx.x] = __half2float(__ushort_as_half((unsigned short)(r0 ^ r1 ^ r2 ^ r3)));
}
