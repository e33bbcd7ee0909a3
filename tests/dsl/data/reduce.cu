extern "C" __global__ void reduce_sum(const float* in, float* out, int n) {
    extern __shared__ float warp_sums[];
    float s = 0.f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) s += in[i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffff, s, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_sums[warp] = s;
    __syncthreads();
    if (warp == 0) {
        s = lane < (blockDim.x >> 5) ? warp_sums[lane] : 0.f;
        for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffff, s, o);
        if (lane == 0) atomicAdd(out, s);
    }
}
__device__ unsigned int counter;
__constant__ float scale_table[4] = {1.0f, 0.5f, 0.25f, 0.125f};
extern "C" __global__ void count_hits(const int* flags, int n, float* scaled) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && flags[i]) { atomicAdd(&counter, 1u); scaled[i] = scale_table[i & 3] * (float)clock(); }
}
