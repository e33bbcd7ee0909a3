// Texture and surface objects, as vendor samples use them (fetches, filtered 2-D/3-D/layered/cubemap reads,
// explicit LOD and gradients, gathers, a sparse fetch with its residency, surface loads and stores). The assembler accepts them
// (tests/dsl/test_nvcc.py: every instruction round-trips and the cubin builds); the emulator refuses them at
// decode time saying why (tests/emulator/test_emu_asmstyle.py).
#include <cuda_runtime.h>

__global__ void texture_gather(cudaTextureObject_t tex, const int* idx, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = tex1Dfetch<float>(tex, idx[i]);
}

__global__ void surface_fill(cudaSurfaceObject_t surf, int w, int h) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
  if (x < w && y < h) surf2Dwrite((float)(x + y), surf, x * 4, y);
}

// bilinear resampling with normalised coordinates (image scaling, rotation samples)
extern "C" __global__ void texture_resample(cudaTextureObject_t tex, float4* out, int w, int h, float angle) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= w || y >= h) return;
  float u = x / (float)w - 0.5f, v = y / (float)h - 0.5f;
  float tu = u * cosf(angle) - v * sinf(angle) + 0.5f, tv = v * cosf(angle) + u * sinf(angle) + 0.5f;
  out[y * w + x] = tex2D<float4>(tex, tu, tv);
}

// uchar4 image read as normalised floats, a 3x3 box filter, LOD and gradient reads
extern "C" __global__ void texture_box_lod_grad(cudaTextureObject_t img, cudaTextureObject_t mip, float* out, int w,
                                                int h) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
  if (x >= w || y >= h) return;
  float s = 0.f;
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx) {
      float4 p = tex2D<float4>(img, x + dx + 0.5f, y + dy + 0.5f);
      s += 0.299f * p.x + 0.587f * p.y + 0.114f * p.z;
    }
  float lod = tex2DLod<float>(mip, x / (float)w, y / (float)h, 1.5f);
  float grad = tex2DGrad<float>(mip, x / (float)w, y / (float)h, make_float2(1.f / w, 0.f), make_float2(0.f, 1.f / h));
  out[y * w + x] = s / 9.f + lod + grad;
}

// volume rendering's inner loop: 3-D texture samples along a ray, front-to-back compositing
extern "C" __global__ void texture_volume_march(cudaTextureObject_t vol, float* out, int w, int h, int steps) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
  if (x >= w || y >= h) return;
  float acc = 0.f, alpha = 0.f;
  for (int i = 0; i < steps && alpha < 0.95f; ++i) {
    float d = tex3D<float>(vol, (x + 0.5f) / w, (y + 0.5f) / h, (i + 0.5f) / steps);
    acc += (1.f - alpha) * d * 0.1f;
    alpha += (1.f - alpha) * d * 0.05f;
  }
  out[y * w + x] = acc;
}

// layered and cubemap textures, a gather of four texels, and a sparse read that reports residency
extern "C" __global__ void texture_layers_cube_gather(cudaTextureObject_t layered, cudaTextureObject_t cube,
                                                      cudaTextureObject_t tex, float* out, int* resident, int n,
                                                      int layers) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float u = (i + 0.5f) / n;
  float a = tex2DLayered<float>(layered, u, 0.5f, i % layers);
  float b = tex1DLayered<float>(layered, u, (i + 1) % layers);
  float c = texCubemap<float>(cube, u - 0.5f, 0.25f, 1.f);
  float4 g = tex2Dgather<float4>(tex, u, 0.5f, 1);
  bool res = false;
  float s = tex2D<float>(tex, u, 0.25f, &res);
  out[i] = a + b + c + g.x + g.y + g.z + g.w + s;
  resident[i] = res;
}

// surfaces: read-modify-write of a 2-D surface (a ping-pong stencil step), 3-D and layered writes
extern "C" __global__ void surface_stencil(cudaSurfaceObject_t src, cudaSurfaceObject_t dst, cudaSurfaceObject_t vol,
                                           cudaSurfaceObject_t layers, int w, int h) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
  if (x >= w || y >= h) return;
  float c = surf2Dread<float>(src, x * 4, y);
  float l = surf2Dread<float>(src, max(x - 1, 0) * 4, y, cudaBoundaryModeClamp);
  float r = surf2Dread<float>(src, (x + 1) * 4, y, cudaBoundaryModeZero);
  uchar4 px = surf2Dread<uchar4>(src, x * 4, y, cudaBoundaryModeClamp);
  surf2Dwrite(0.25f * (l + r) + 0.5f * c + px.w, dst, x * 4, y);
  surf3Dwrite(make_float2(c, l), vol, x * 8, y, 1);
  surf2DLayeredwrite(make_ushort4(x, y, 0, 1), layers, x * 8, y, 2);
}
