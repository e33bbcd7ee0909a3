#include <cuda_fp16.h>
#include <cuda_bf16.h>
// Library math, integer intrinsics, warp votes and atomics as nvcc compiles them (libdevice inlined:
// sinf's Payne-Hanek path for huge arguments uses local memory and carry chains).
extern "C" __global__ void intrinsics(const float* x, float* y, const unsigned* ui, unsigned* u, double* d,
                                      int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i];
    y[i * 8 + 0] = sinf(v) + cosf(v);
    y[i * 8 + 1] = expf(v * 1e-5f) + logf(fabsf(v) + 1.f);
    y[i * 8 + 2] = powf(fabsf(v), 1.5f) + sqrtf(fabsf(v)) + rsqrtf(fabsf(v) + 1.f);
    y[i * 8 + 3] = v / (v + 3.f) + tanhf(v) + erff(v);
    unsigned a = ui[i];  // read from its own buffer: u[i] is another block's output
    u[i * 4 + 0] = __popc(a) + __clz(a) + __brev(a) + __byte_perm(a, a * 3, 0x5140);
    u[i * 4 + 1] = __funnelshift_l(a, a * 7, i) ^ __funnelshift_r(a, ~a, i & 7) ^ (a / 7u) ^ (unsigned)((int)a % 13);
    u[i * 4 + 2] = __ballot_sync(__activemask(), a & 1) + __any_sync(__activemask(), a > 5)
                   + __match_any_sync(__activemask(), a & 3);
    __half h = __float2half_rn(v * 1e-3f);
    __nv_bfloat16 b = __float2bfloat16(v);
    y[i * 8 + 4] = __half2float(__hfma(h, h, h)) + __bfloat162float(__hmul(b, b));
    double dv = d[i];
    d[i] = exp(dv * 1e-3) / (dv + 2.0) + sqrt(fabs(dv)) + (double)(long long)(dv * 1e6);
    y[i * 8 + 5] = __saturatef(v) + __fmaf_rn(v, v, 1.f) + fminf(v, 0.f) + truncf(v) + roundf(v);
    y[i * 8 + 6] = (float)(a * 0x9E3779B97F4A7C15ull >> 40) + (float)__umulhi(a, a) + (float)__mul24(a, 3);
    atomicMin((int*)u + n * 4, (int)a);
    atomicCAS(u + n * 4 + 1, 0u, a);
    atomicInc(u + n * 4 + 2, 17u);
    atomicExch(u + n * 4 + 3, a);
}
