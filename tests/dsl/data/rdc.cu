#include <cooperative_groups.h>
namespace cg = cooperative_groups;
__managed__ int counter;
__device__ int ext_val;
struct P { float a; float b; int n; };
__device__ float helper(float x) { return x * 3.f + ext_val; }
extern "C" __global__ void gc(const __grid_constant__ P p, float* o) { o[threadIdx.x] = p.a * helper(p.b) + p.n + counter; }
extern "C" __global__ void __cluster_dims__(2, 1, 1) cl(int* o) {
    cg::cluster_group c = cg::this_cluster();
    o[blockIdx.x] = c.block_rank();
    c.sync();
}
extern "C" __global__ void __launch_bounds__(128, 4) lb(float* o) { o[threadIdx.x] = 1.f; }
