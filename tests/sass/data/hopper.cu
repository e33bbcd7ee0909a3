// Hopper fixture (sm_90a): mbarrier + bulk copy (TMA engine), cp.async, ldmatrix/stmatrix, cluster
// barriers, setmaxnreg, redux/match/atomics, half2/bf16 math, 64-bit integer and conversion ops.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda_pipeline.h>

extern "C" __global__ void __cluster_dims__(2, 1, 1) hopper_mix(const float4* __restrict__ g, float* out,
                                                              unsigned long long* cnt, int n) {
    __shared__ __align__(128) float4 buf[256];
    __shared__ __align__(8) unsigned long long bar;
    __shared__ __align__(16) half tile[16 * 16];
    unsigned sbar = (unsigned)__cvta_generic_to_shared(&bar);
    unsigned sbuf = (unsigned)__cvta_generic_to_shared(buf);
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.init.shared.b64 [%0], 1;" :: "r"(sbar));
        asm volatile("fence.proxy.async.shared::cta;");
        asm volatile("mbarrier.arrive.expect_tx.shared.b64 _, [%0], 4096;" :: "r"(sbar));
        asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], 4096, [%2];"
                     :: "r"(sbuf), "l"(g), "r"(sbar) : "memory");
    }
    __syncthreads();
    asm volatile("{\n .reg .pred p;\n W: mbarrier.try_wait.parity.shared.b64 p, [%0], 0;\n @!p bra W;\n}" :: "r"(sbar));
    __pipeline_memcpy_async(&buf[threadIdx.x % 128], &g[threadIdx.x + 256], sizeof(float4));
    __pipeline_commit();
    __pipeline_wait_prior(0);
    __syncthreads();
    float4 v = buf[threadIdx.x % 256];
    half2 h = __floats2half2_rn(v.x, v.y);
    h = __hfma2(h, h, __float2half2_rn(1.5f));
    __nv_bfloat162 b = __floats2bfloat162_rn(v.z, v.w);
    b = __hmul2(b, b);
    tile[threadIdx.x % 256] = __low2half(h);
    __syncwarp();
    unsigned r0, r1, r2, r3;
    unsigned taddr = (unsigned)__cvta_generic_to_shared(&tile[(threadIdx.x % 16) * 16]);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(taddr));
    asm volatile("stmatrix.sync.aligned.m8n8.x2.shared.b16 [%0], {%1,%2};" :: "r"(taddr), "r"(r0), "r"(r1));
    unsigned sum = __reduce_add_sync(0xffffffff, r2 ^ r3);
    unsigned m = __match_any_sync(0xffffffff, sum & 7);
    long long big = (long long)sum * (long long)n + __popc(m) + __brev(m) + __clz(m);
    double d = (double)big / 3.0 + __ll2double_rn(big);
    float f = __low2float(h) + __bfloat162float(b.x) + (float)d + __fdividef(v.x, v.y + 2.f);
    f += __shfl_down_sync(0xffffffff, f, 1);
    if (big > 100) atomicAdd(cnt, 1ull);
    atomicCAS((unsigned*)&tile[0], 0u, sum);
    __nanosleep(32);
    asm volatile("barrier.cluster.arrive;\nbarrier.cluster.wait;" ::: "memory");
    unsigned rank;
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
    out[blockIdx.x * blockDim.x + threadIdx.x] = f + rank + __funnelshift_l(m, sum, 3) + __byte_perm(m, sum, 0x5410);
}

extern "C" __global__ void __launch_bounds__(384, 1) setmaxnreg_k(float* out) {
    if (threadIdx.x < 128) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;");
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;");
    }
    out[threadIdx.x] = threadIdx.x * 2.0f;
}
