// The CUDA C++ Programming Guide's TMA pattern ("Using the Tensor Memory Accelerator"), written for
// sass_lab with libcu++'s cuda::barrier and cuda::device::experimental wrappers (no inline PTX):
// each block loads a 32x32 int32 tile by TMA, adds one in shared memory, fences the async proxy and
// stores the tile back by TMA. nvcc 13.0, sm_90a (regen.sh); run in test_emu_hopper_nvcc.py.
#include <cuda.h>
#include <cuda/barrier>
#include <utility>

using barrier = cuda::barrier<cuda::thread_scope_block>;
namespace cde = cuda::device::experimental;

__global__ void add_one_tile(const __grid_constant__ CUtensorMap tensor_map) {
  __shared__ alignas(128) int tile[32 * 32];
#pragma nv_diag_suppress static_var_with_dynamic_init
  __shared__ barrier bar;
  const int x = blockIdx.x * 32, y = blockIdx.y * 32;
  if (threadIdx.x == 0) {
    init(&bar, blockDim.x);
    cde::fence_proxy_async_shared_cta();
  }
  __syncthreads();
  barrier::arrival_token token;
  if (threadIdx.x == 0) {
    cde::cp_async_bulk_tensor_2d_global_to_shared(&tile, &tensor_map, x, y, bar);
    token = cuda::device::barrier_arrive_tx(bar, 1, sizeof(tile));
  } else {
    token = bar.arrive();
  }
  bar.wait(std::move(token));
  for (int i = threadIdx.x; i < 32 * 32; i += blockDim.x) tile[i] += 1;
  cde::fence_proxy_async_shared_cta();
  __syncthreads();
  if (threadIdx.x == 0) {
    cde::cp_async_bulk_tensor_2d_shared_to_global(&tensor_map, x, y, &tile);
    cde::cp_async_bulk_commit_group();
    cde::cp_async_bulk_wait_group_read<0>();
    (&bar)->~barrier();
  }
}
