// Our own kernels for hand-offs inside a block and module-scope variables as codebases write them: a
// __managed__ counter, an initialised __device__ table, warps that wait for each other through a volatile
// shared flag or a block-scope cuda::atomic_ref, and printf of a string from global memory.
#include <cuda/atomic>
#include <cstdio>
__managed__ int mcount;
__device__ int dtable[4] = {1, 2, 3, 4};
// warp 1 produces into shared memory and raises a volatile flag; warp 0 spins on it
__global__ void intra_block_flag(const int* x, int* y) {
  __shared__ int data[32];
  __shared__ volatile int flag;
  if (threadIdx.x == 0) flag = 0;
  __syncthreads();
  int lane = threadIdx.x & 31;
  if (threadIdx.x < 32) {
    while (flag == 0) { }
    __threadfence_block();
    y[lane] = data[lane] + dtable[lane & 3];
  } else {
    data[lane] = 2 * x[lane];
    __threadfence_block();
    if (lane == 0) flag = 1;
  }
  if (threadIdx.x == 0) atomicAdd(&mcount, 1);
}
// the same handoff with cuda::atomic_ref at block scope
__global__ void intra_block_atomic(const int* x, int* y) {
  __shared__ int data[32];
  __shared__ int flag;
  if (threadIdx.x == 0) flag = 0;
  __syncthreads();
  int lane = threadIdx.x & 31;
  cuda::atomic_ref<int, cuda::thread_scope_block> f(flag);
  if (threadIdx.x < 32) {
    while (f.load(cuda::memory_order_acquire) == 0) { }
    y[lane] = data[lane] + 1;
  } else {
    data[lane] = 2 * x[lane];
    if (lane == 31) f.store(1, cuda::memory_order_release);
  }
}
__global__ void show_string(const char* s, int n) { if (threadIdx.x < n) printf("[%s] %d %.3s|\n", s, threadIdx.x, s); }
