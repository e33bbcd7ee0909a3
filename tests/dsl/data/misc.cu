#include <cstdio>
#include <cuda_fp16.h>
__global__ void pr(int* x) { printf("hi %d %f\n", x[threadIdx.x], 1.5); }
__global__ void loc(float* y, int k) { float a[16]; for (int i = 0; i < 16; ++i) a[i] = y[i] * i; y[threadIdx.x] = a[k & 15]; }
__global__ void dbl(double* y) { y[threadIdx.x] = sqrt(y[threadIdx.x]) + sin(y[threadIdx.x]); }
__global__ void h2(__half2* y) { y[threadIdx.x] = __hfma2(y[threadIdx.x], y[threadIdx.x], y[threadIdx.x]); }
__global__ void cas(int* p) { int old = *p, a; do { a = old; old = atomicCAS(p, a, a * 2 + 1); } while (old != a); }
__global__ void vote(int* p) { unsigned b = __ballot_sync(0xffffffff, p[threadIdx.x] > 0); if (__any_sync(0xffffffff, b)) p[0] = __popc(b) + __clz(b) + __brev(b); p[1] = __activemask(); }
__global__ void bits(unsigned* p) { p[0] = __byte_perm(p[1], p[2], 0x3210) + __funnelshift_l(p[1], p[2], 3) + __umulhi(p[1], p[2]) + __sad(p[1], p[2], 0u); p[3] = __fns(p[1], 0, 2); }
__global__ void fdiv(float* p) { p[0] = p[1] / p[2] + __fdividef(p[3], p[4]) + rsqrtf(p[5]) + powf(p[6], p[7]) + erff(p[8]) + tanhf(p[9]); }
