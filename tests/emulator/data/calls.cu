// Calls nvcc keeps: the double-precision sin/cos slow path, and a __noinline__ device function.
extern "C" __global__ void dsin(const double* x, double* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = sin(x[i]) + cos(x[i] * 0.5);
}
__device__ __noinline__ float twice(float v, int k) { return v * 2.0f + k; }
extern "C" __global__ void noinl(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = twice(x[i], i) + twice(1.0f, 2);
}
