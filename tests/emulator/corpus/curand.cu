// sass_lab's own corpus: the cuRAND device API as sample code uses it (XORWOW with curand_init's sequence
// skip-ahead through the library's precomputed __device__ tables, Philox-4x32-10 with an offset, Box-Muller
// normals). Built by tools/build_corpus.py for sm_80 and sm_90 (needs cuRAND's headers: the nvidia-curand
// wheel, or CURAND_INCLUDE); checked in tests/emulator/test_emu_training.py.
#include <curand_kernel.h>

extern "C" __global__ void curand_xorwow(unsigned long long seed, unsigned* raw, float* uniform, float2* normal,
                                         int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  curandState s;
  curand_init(seed, i, 0, &s);  // subsequence i: 2^67 draws apart
  raw[i] = curand(&s);
  uniform[i] = curand_uniform(&s);
  float a = curand_normal(&s), b = curand_normal(&s);  // one Box-Muller pair
  normal[i] = make_float2(a, b);
}

extern "C" __global__ void curand_philox(unsigned long long seed, uint4* raw, float4* normal, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  curandStatePhilox4_32_10_t s;
  curand_init(seed, i, 7, &s);  // offset 7: starts inside a block of four
  raw[i] = curand4(&s);
  normal[i] = curand_normal4(&s);
}
