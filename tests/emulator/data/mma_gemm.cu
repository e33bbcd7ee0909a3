#include <cuda_fp16.h>
// One warp per 16x8 output tile: C[M,N] (f32) = A[M,K] (f16, row-major) * B[N,K]^T (f16, B stored N x K).
// M % 16 == 0, N % 8 == 0, K % 16 == 0. A tile goes through shared memory and ldmatrix.x4.
extern "C" __global__ void mma_gemm(const half* A, const half* B, float* C, int M, int N, int K) {
    __shared__ __align__(16) half As[16][16];
    int lane = threadIdx.x;
    int m0 = blockIdx.y * 16, n0 = blockIdx.x * 8;
    float d0 = 0.f, d1 = 0.f, d2 = 0.f, d3 = 0.f;
    int g = lane >> 2, t = lane & 3;
    for (int k0 = 0; k0 < K; k0 += 16) {
        for (int i = lane; i < 256; i += 32) As[i / 16][i % 16] = A[(m0 + i / 16) * K + k0 + i % 16];
        __syncwarp();
        unsigned a0, a1, a2, a3;
        unsigned saddr = (unsigned)__cvta_generic_to_shared(&As[lane % 16][(lane / 16) * 8]);
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                     : "=r"(a0), "=r"(a1), "=r"(a2), "=r"(a3) : "r"(saddr));
        const half* bp = B + (n0 + g) * K + k0 + t * 2;
        unsigned b0 = *(const unsigned*)bp;
        unsigned b1 = *(const unsigned*)(bp + 8);
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
                     "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                     : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                     : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
        __syncwarp();
    }
    C[(m0 + g) * N + n0 + t * 2] = d0;
    C[(m0 + g) * N + n0 + t * 2 + 1] = d1;
    C[(m0 + g + 8) * N + n0 + t * 2] = d2;
    C[(m0 + g + 8) * N + n0 + t * 2 + 1] = d3;
}
