// Cooperative groups: cg::reduce (redux.sync for integers, shuffles for floats), a 4-thread tile's
// shfl_down, __reduce_max_sync, block.sync(), and half2 fma.
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
#include <cuda_fp16.h>
namespace cg = cooperative_groups;
extern "C" __global__ void cgred(const float* x, float* out, const unsigned* u, unsigned* uo, const __half2* h, __half2* ho, int n) {
    cg::thread_block block = cg::this_thread_block();
    cg::thread_block_tile<32> warp = cg::tiled_partition<32>(block);
    int i = block.group_index().x * block.size() + block.thread_rank();
    float v = i < n ? x[i] : 0.f;
    float s = cg::reduce(warp, v, cg::plus<float>());
    unsigned a = i < n ? u[i] : 0u;
    unsigned m = __reduce_max_sync(0xffffffffu, a);
    unsigned t = cg::reduce(warp, a, cg::plus<unsigned>());
    auto tile4 = cg::tiled_partition<4>(warp);
    float q = tile4.shfl_down(v, 1);
    block.sync();
    if (i < n) {
        atomicAdd(out, s);
        uo[i] = m + t;
        ho[i] = __hfma2(h[i], h[i], __floats2half2_rn(q, 1.0f));
    }
}
