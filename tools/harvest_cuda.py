"""Generated CUDA C kernels for the SASS encoding harvest: the math library, integer and half
intrinsics, atomics, warp functions and memory patterns as nvcc compiles them (tools/harvest_sass.py
turns each into PTX with nvcc, plain and with -use_fast_math)."""

from __future__ import annotations

F1 = ("sinf cosf tanf asinf acosf atanf sinhf coshf tanhf asinhf acoshf atanhf expf exp2f exp10f expm1f "
      "logf log2f log10f log1pf sqrtf rsqrtf cbrtf rcbrtf erff erfcf erfinvf erfcinvf lgammaf tgammaf "
      "floorf ceilf truncf roundf rintf nearbyintf fabsf logbf j0f j1f y0f y1f normcdff normcdfinvf "
      "sinpif cospif __sinf __cosf __expf __logf __frcp_rn __fsqrt_rn __fsqrt_rz __frsqrt_rn __saturatef").split()
F2 = ("powf atan2f fmodf remainderf hypotf fminf fmaxf fdimf copysignf nextafterf __fdividef __fdiv_rn "
      "__fdiv_rz __fadd_rd __fadd_ru __fmul_rz __fmul_rd __fsub_rn").split()
D1 = ("sin cos tan asin acos atan sinh cosh tanh exp exp2 exp10 expm1 log log2 log10 log1p sqrt rsqrt cbrt "
      "erf erfc lgamma tgamma floor ceil trunc round rint fabs logb j0 y0 normcdf sinpi __drcp_rn "
      "__dsqrt_rn __dsqrt_rz").split()
D2 = "pow atan2 fmod remainder hypot fmin fmax fdim copysign nextafter __ddiv_rn __dadd_rz __dmul_ru".split()
I1 = ("__popc __clz __brev __ffs abs __popcll(x) __clzll(x) __ffsll(x) __brevll(x)").split()
I2 = ("__mulhi __umulhi __mul24 __umul24 __hadd __uhadd __rhadd __urhadd __vabsdiffu4 __vadd4 __vsub2 "
      "__vmaxs4 __vminu2 __vcmpeq4 __vcmpgtu2 __vsads4 __sad __usad max min umax umin").split()


def _math_kernel(name: str, fns: list[str], t: str, arity: int) -> str:
    body = []
    for k, f in enumerate(fns):
        args = ", ".join(["a", "b", "c"][:arity])
        body.append(f"  o[{k} * n + i] = {f}({args});")
    params = ", ".join(f"{t} {v} = x[{j} * n + i]" for j, v in enumerate("abc"[:arity]))
    return (f'extern "C" __global__ void {name}(const {t}* x, {t}* o, int n) {{\n'
            f"  int i = blockIdx.x * blockDim.x + threadIdx.x; if (i >= n) return;\n"
            f"  {params.replace(', ' + t, '; ' + t)};\n" + "\n".join(body) + "\n}\n")


def _int_kernel() -> str:
    lines = []
    k = 0
    for f in I1:
        if f.endswith("(x)"):
            lines.append(f"  o[{k} * n + i] = (int){f[:-3]}((long long)a * b);")
        else:
            lines.append(f"  o[{k} * n + i] = {f}(a);")
        k += 1
    for f in I2:
        if f in ("umax", "umin", "__umulhi", "__umul24", "__uhadd", "__urhadd", "__usad"):
            args = "(unsigned)a, (unsigned)b" + (", (unsigned)c" if f == "__usad" else "")
        elif f in ("__sad",):
            args = "a, b, (unsigned)c"
        elif f.startswith("__v"):
            args = "(unsigned)a, (unsigned)b" + (", 0" if False else "")
        else:
            args = "a, b"
        lines.append(f"  o[{k} * n + i] = (int){f}({args});")
        k += 1
    for op in ("+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^"):
        for rhs in ("b", "7", "c", "-3", "0x1000"):
            if op in ("<<", ">>") and rhs in ("-3",):
                continue
            lines.append(f"  o[{k} * n + i] = a {op} {rhs};")
            lines.append(f"  ou[{k} * n + i] = (unsigned)a {op} (unsigned){rhs};")
            lines.append(f"  ol[{k} * n + i] = (long long)a * c {op} (long long){rhs};")
            k += 1
    return ('extern "C" __global__ void ints(const int* x, int* o, unsigned* ou, long long* ol, int n) {\n'
            "  int i = blockIdx.x * blockDim.x + threadIdx.x; if (i >= n) return;\n"
            "  int a = x[i], b = x[n + i], c = x[2 * n + i];\n" + "\n".join(lines) + "\n}\n")


HALF = r'''
#include <cuda_fp16.h>
#include <cuda_bf16.h>
extern "C" __global__ void halves(const __half2* x, __half2* o, const __nv_bfloat162* y, __nv_bfloat162* p,
                                  float* f, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x; if (i >= n) return;
  __half2 a = x[i], b = x[n + i], c = x[2 * n + i];
  o[i] = __hfma2(a, b, c); o[n + i] = __hmul2(a, b); o[2 * n + i] = __hadd2_sat(a, b);
  o[3 * n + i] = __hmax2(a, b); o[4 * n + i] = h2exp(a); o[5 * n + i] = h2sqrt(b); o[6 * n + i] = __h2div(a, b);
  o[7 * n + i] = __hneg2(c); o[8 * n + i] = __habs2(c); o[9 * n + i] = __hfma2_relu(a, b, c);
  o[10 * n + i] = __floats2half2_rn(__low2float(a) * 3.f, __high2float(b)); o[11 * n + i] = h2rcp(a);
  __half h = __low2half(a), g = __high2half(b);
  f[i] = __half2float(__hdiv(h, g)) + (__hlt(h, g) ? 1.f : 2.f) + __half2float(hsin(h)) + __half2float(hlog(g));
  __nv_bfloat162 u = y[i], v = y[n + i], w = y[2 * n + i];
  p[i] = __hfma2(u, v, w); p[n + i] = __hmul2(u, v); p[2 * n + i] = __hmax2(u, v); p[3 * n + i] = __hsub2(u, w);
  p[4 * n + i] = __floats2bfloat162_rn(__low2float(u), __high2float(v) * 2.f); p[5 * n + i] = h2exp(u);
  f[n + i] = __bfloat162float(__hdiv(__low2bfloat16(u), __high2bfloat16(v)));
  f[2 * n + i] = (float)__half2int_rn(h) + (float)__half2uint_rz(g) + __half2float(__int2half_rn(i))
               + __bfloat162float(__float2bfloat16_rz(f[i])) + (float)__bfloat162int_rd(__low2bfloat16(w));
}
'''

MEM = r'''
#include <cooperative_groups.h>
namespace cg = cooperative_groups;
extern "C" __global__ void mem(const float4* x, float4* y, double* d, unsigned long long* u, int* c, int n) {
  __shared__ float4 s[256];
  __shared__ double sd[64];
  __shared__ unsigned su[32];
  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  float4 v = i < n ? __ldg(x + i) : make_float4(0, 0, 0, 0);
  s[t] = v;
  if (t < 64) sd[t] = d[i];
  if (t < 32) su[t] = 0;
  __syncthreads();
  float4 w = s[(t + 5) & 255];
  atomicAdd(&su[t & 31], (unsigned)w.x);
  atomicMax((int*)&su[(t + 1) & 31], (int)w.y);
  atomicAdd(&sd[t & 63], (double)w.z);
  atomicOr(&su[t & 7], 1u << (t & 31));
  atomicCAS(&su[3], 0u, (unsigned)t);
  __syncthreads();
  float r = w.x * v.y + w.y * v.x + __shfl_xor_sync(0xffffffff, w.z, 1) + __shfl_up_sync(0xffffffff, w.w, 3);
  r += __shfl_down_sync(0xffffffff, r, 16) + __shfl_sync(0xffffffff, r, t & 7);
  unsigned b = __ballot_sync(0xffffffff, r > 0.f);
  r += __reduce_add_sync(0xffffffff, (unsigned)b) + __reduce_max_sync(0xffffffff, (int)t);
  if (i < n) {
    y[i] = make_float4(r, w.y, (float)sd[t & 63], (float)su[t & 31]);
    atomicAdd(d + (i & 15), (double)r);
    atomicAdd(u + (i & 7), 1ull);
    atomicMin(c + (i & 3), (int)r);
    atomicExch(c + 8, i);
    atomicInc((unsigned*)c + 9, 100u);
    atomicAdd((float*)c + 10, r);
    __stcs(y + n + i, w);
    __stwt(y + 2 * n + i, v);
    y[3 * n + i] = __ldcs(x + n + i);
    y[4 * n + i] = __ldlu(x + 2 * n + i);
    y[5 * n + i] = __ldcv(x + 3 * n + i);
  }
  cg::thread_block tb = cg::this_thread_block();
  cg::thread_block_tile<8> tile = cg::tiled_partition<8>(tb);
  int sum = cg::reduce(tile, i, cg::plus<int>());
  if (tile.thread_rank() == 0 && i < n) c[16 + (i >> 3)] = sum;
  __threadfence();
  __threadfence_block();
  if (t == 0) { __nanosleep(100); c[12] = (int)clock64(); c[13] = __activemask(); }
}
'''

LOCAL = r'''
extern "C" __global__ void local(const float* x, float* y, int n, int k) {
  float buf[64];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  for (int j = 0; j < 64; ++j) buf[j] = x[(i + j * 7) % n] * j;
  float acc = 0.f;
  for (int j = 0; j < k; ++j) acc += buf[(j * 13 + i) & 63] * buf[(j + i) & 63];
  double dacc = 0;
  for (int j = 0; j < k; ++j) dacc = fma(dacc, 1.0001, (double)buf[j & 63]);
  long long q = 0;
  for (int j = 0; j < k; ++j) q += (long long)buf[j & 63] * (j + 1);
  if (i < n) y[i] = acc + (float)dacc + (float)q;
  switch (i & 7) { case 0: y[n + i] = sinf(acc); break; case 1: y[n + i] = acc / 3.f; break;
    case 2: y[n + i] = sqrtf(acc); break; case 3: y[n + i] = (float)(q / 7); break;
    case 4: y[n + i] = (float)(dacc / 3.0); break; default: y[n + i] = -acc; }
}
'''


def sources() -> list[tuple[str, str]]:
    out = [("cuda/math_f1.cu", _math_kernel("mf1", F1, "float", 1)),
           ("cuda/math_f2.cu", _math_kernel("mf2", F2, "float", 2)),
           ("cuda/math_f3.cu", _math_kernel("mf3", ["fmaf", "__fmaf_rz", "__fmaf_rd", "__fmaf_ru"], "float", 3)),
           ("cuda/math_d1.cu", _math_kernel("md1", D1, "double", 1)),
           ("cuda/math_d2.cu", _math_kernel("md2", D2, "double", 2)),
           ("cuda/math_d3.cu", _math_kernel("md3", ["fma", "__fma_rz", "__fma_rd", "__fma_ru"], "double", 3)),
           ("cuda/ints.cu", _int_kernel()), ("cuda/halves.cu", HALF), ("cuda/mem.cu", MEM),
           ("cuda/local.cu", LOCAL)]
    # one kernel per function too: small kernels are scheduled and allocated differently
    for fns, t, ar, tag in ((F1, "float", 1, "f1"), (D1, "double", 1, "d1"), (F2, "float", 2, "f2"),
                            (D2, "double", 2, "d2")):
        for j in range(0, len(fns), 6):
            out.append((f"cuda/{tag}_{j}.cu", _math_kernel(f"k{tag}_{j}", fns[j:j + 6], t, ar)))
    return out
