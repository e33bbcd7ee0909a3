#define BM 64
#define BN 64
#define BK 8
#define TM 4
#define TN 4
extern "C" __global__ void __launch_bounds__(256) sgemm(int M, int N, int K, float alpha, const float* __restrict__ A,
                                                         const float* __restrict__ B, float beta, float* C) {
    __shared__ float As[BK][BM];
    __shared__ float Bs[BK][BN];
    int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
    float acc[TM][TN] = {};
    for (int k0 = 0; k0 < K; k0 += BK) {
        for (int l = threadIdx.x; l < BM * BK; l += 256) {
            int r = l / BK, c = l % BK;
            As[c][r] = (blockIdx.y * BM + r < M && k0 + c < K) ? A[(blockIdx.y * BM + r) * K + k0 + c] : 0.f;
            int rb = l / BN, cb = l % BN;
            Bs[rb][cb] = (k0 + rb < K && blockIdx.x * BN + cb < N) ? B[(k0 + rb) * N + blockIdx.x * BN + cb] : 0.f;
        }
        __syncthreads();
        #pragma unroll
        for (int k = 0; k < BK; ++k)
            #pragma unroll
            for (int i = 0; i < TM; ++i)
                #pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] += As[k][ty * TM + i] * Bs[k][tx * TN + j];
        __syncthreads();
    }
    for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) {
            int r = blockIdx.y * BM + ty * TM + i, c = blockIdx.x * BN + tx * TN + j;
            if (r < M && c < N) C[r * N + c] = alpha * acc[i][j] + beta * C[r * N + c];
        }
}
