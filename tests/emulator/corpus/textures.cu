// Texture and surface objects, as vendor samples use them: the emulator refuses them at decode time and the
// assembler rejects them, each saying why (tests/emulator/test_emu_asmstyle.py, tests/dsl/test_nvcc.py).
#include <cuda_runtime.h>

__global__ void texture_gather(cudaTextureObject_t tex, const int* idx, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = tex1Dfetch<float>(tex, idx[i]);
}

__global__ void surface_fill(cudaSurfaceObject_t surf, int w, int h) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
  if (x < w && y < h) surf2Dwrite((float)(x + y), surf, x * 4, y);
}

