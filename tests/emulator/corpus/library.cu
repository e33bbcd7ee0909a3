// sass_lab's own corpus: the CUDA math library as nvcc inlines it, the fast-math intrinsics, integer
// intrinsics, 64-bit division, conversions in every rounding mode, min/max edge cases.
// Built by tools/build_corpus.py for sm_80 and sm_90, and once more with --use_fast_math (library.*.fast.ptx);
// checked in tests/emulator/test_emu_library.py.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cstdint>

#define GRID_STRIDE(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += gridDim.x * blockDim.x)

// single-precision library functions, one output row per function (out[k * n + i])
extern "C" __global__ void math_f32(const float* __restrict__ x, const float* __restrict__ y, float* __restrict__ out,
                                    int n) {
  GRID_STRIDE(i, n) {
    float a = x[i], b = y[i];
    float* o = out + i;
    o[0 * n] = sinf(a);
    o[1 * n] = cosf(a);
    o[2 * n] = tanf(a);
    o[3 * n] = expf(b);
    o[4 * n] = logf(fabsf(a));
    o[5 * n] = powf(fabsf(a), b);
    o[6 * n] = erff(b);
    o[7 * n] = erfcf(b);
    o[8 * n] = normcdff(b);
    o[9 * n] = sqrtf(fabsf(a));
    o[10 * n] = rsqrtf(fabsf(a));
    o[11 * n] = cbrtf(a);
    o[12 * n] = fmodf(a, b);
    o[13 * n] = remainderf(a, b);
    o[14 * n] = hypotf(a, b);
    o[15 * n] = atan2f(b, a);
    o[16 * n] = tanhf(b);
    o[17 * n] = log1pf(fabsf(b));
    o[18 * n] = expm1f(b);
    o[19 * n] = a / b;
    o[20 * n] = exp2f(b) + log2f(fabsf(a));
    o[21 * n] = sinpif(b);
  }
}

// double-precision library functions (the slow paths are calls nvcc does not inline)
extern "C" __global__ void math_f64(const double* __restrict__ x, const double* __restrict__ y, double* __restrict__ out,
                                    int n) {
  GRID_STRIDE(i, n) {
    double a = x[i], b = y[i];
    double* o = out + i;
    o[0 * n] = sin(a);
    o[1 * n] = cos(a);
    o[2 * n] = exp(b);
    o[3 * n] = log(fabs(a));
    o[4 * n] = pow(fabs(a), b);
    o[5 * n] = sqrt(fabs(a));
    o[6 * n] = cbrt(a);
    o[7 * n] = erf(b);
    o[8 * n] = atan2(b, a);
    o[9 * n] = fmod(a, b);
    o[10 * n] = a / b;
    o[11 * n] = rsqrt(fabs(a));
  }
}

// the fast intrinsics (sin.approx, ex2.approx, lg2.approx, div.approx, rcp/rsqrt/sqrt approximations)
extern "C" __global__ void intrinsics_f32(const float* __restrict__ x, const float* __restrict__ y,
                                          float* __restrict__ out, int n) {
  GRID_STRIDE(i, n) {
    float a = x[i], b = y[i];
    float* o = out + i;
    o[0 * n] = __sinf(a);
    o[1 * n] = __cosf(a);
    o[2 * n] = __expf(b);
    o[3 * n] = __logf(fabsf(a));
    o[4 * n] = __fdividef(a, b);
    o[5 * n] = __saturatef(b);
    o[6 * n] = __powf(fabsf(a), b);
    o[7 * n] = __frsqrt_rn(fabsf(a));
    o[8 * n] = __fsqrt_rd(fabsf(a));
    o[9 * n] = __exp10f(b);
    o[10 * n] = __log2f(fabsf(a));
    o[11 * n] = __tanf(a);
    o[12 * n] = __frcp_rn(b);
    o[13 * n] = __fmul_rz(a, b);
  }
}

// flush-to-zero: with --use_fast_math every f32 instruction is .ftz, inputs included
extern "C" __global__ void denormals(const float* __restrict__ x, float* __restrict__ out, int n) {
  GRID_STRIDE(i, n) {
    float a = x[i];
    float* o = out + i;
    o[0 * n] = a * 1099511627776.0f;  // 2^40: a subnormal input scales to a normal result
    o[1 * n] = a + a;
    o[2 * n] = fmaf(a, 8388608.0f, 1.0f);
    o[3 * n] = a > 0.0f ? 1.0f : 0.0f;
    o[4 * n] = sqrtf(fabsf(a));
    o[5 * n] = 1.0f / a;
    o[6 * n] = fminf(a, 0.0f);
    o[7 * n] = (float)(a != 0.0f);
  }
}

// integer intrinsics, bit fields the way cub writes them (inline asm), data-dependent shift counts
extern "C" __global__ void int_intrinsics(const unsigned* __restrict__ a, const unsigned* __restrict__ b,
                                          const unsigned long long* __restrict__ c, unsigned* __restrict__ o32,
                                          unsigned long long* __restrict__ o64, int n) {
  GRID_STRIDE(i, n) {
    unsigned x = a[i], y = b[i];
    unsigned long long w = c[i], v = c[n + i];
    unsigned* o = o32 + i;
    o[0 * n] = __brev(x);
    o[1 * n] = __clz(x >> (y & 31));
    o[2 * n] = __ffs(x & y);
    o[3 * n] = __popcll(w);
    o[4 * n] = __byte_perm(x, y, y >> 16);
    o[5 * n] = __funnelshift_l(x, y, y >> 8);
    o[6 * n] = __funnelshift_r(x, y, y >> 8);
    o[7 * n] = __funnelshift_rc(x, y, y >> 8);
    o[8 * n] = __mulhi((int)x, (int)y);
    o[9 * n] = __umulhi(x, y);
    o[10 * n] = __sad((int)x, (int)y, y >> 20);
    o[11 * n] = __vabsdiffs4(x, y);
    o[12 * n] = __vadd2(x, y) ^ __vsubss4(x, y);
    o[13 * n] = __vcmpgtu4(x, y) | __vmaxs2(x, y);
    unsigned bf, bi;
    unsigned pos = y & 63, len = (y >> 6) & 63;
    asm("bfe.u32 %0, %1, %2, %3;" : "=r"(bf) : "r"(x), "r"(pos), "r"(len));
    o[14 * n] = bf;
    asm("bfe.s32 %0, %1, %2, %3;" : "=r"(bf) : "r"(x), "r"(pos), "r"(len));
    o[15 * n] = bf;
    asm("bfi.b32 %0, %1, %2, %3, %4;" : "=r"(bi) : "r"(y), "r"(x), "r"(pos), "r"(len));
    o[16 * n] = bi;
    unsigned sh;
    asm("shl.b32 %0, %1, %2;" : "=r"(sh) : "r"(x), "r"(y & 63));
    o[17 * n] = sh;
    asm("shr.s32 %0, %1, %2;" : "=r"(sh) : "r"(x), "r"(y & 63));
    o[18 * n] = sh;
    unsigned long long* q = o64 + i;
    q[0 * n] = __umul64hi(w, v);
    q[1 * n] = (unsigned long long)__mul64hi((long long)w, (long long)v);
    q[2 * n] = __brevll(w);
    q[3 * n] = (unsigned long long)__clzll((long long)(w >> (y & 63)));
    q[4 * n] = (unsigned long long)__ffsll((long long)(w & v));
    q[5 * n] = w << (y & 63) | v >> (63 - (y & 63));
    q[6 * n] = (unsigned long long)((long long)w >> (y & 63));
  }
}

// 64-bit division and remainder as nvcc lowers them (and 32-bit division by constants: multiply-high)
extern "C" __global__ void int_division(const long long* __restrict__ a, const long long* __restrict__ b,
                                        long long* __restrict__ out, int n) {
  GRID_STRIDE(i, n) {
    long long x = a[i], y = b[i];
    unsigned long long ux = (unsigned long long)x, uy = (unsigned long long)y;
    long long* o = out + i;
    o[0 * n] = x / y;
    o[1 * n] = x % y;
    o[2 * n] = (long long)(ux / uy);
    o[3 * n] = (long long)(ux % uy);
    o[4 * n] = x / 1000000007LL;
    o[5 * n] = (long long)(ux % 10ULL);
    o[6 * n] = (int)x / 7 + (int)x % 13;
    o[7 * n] = (long long)((unsigned)x / 641u);
    o[8 * n] = (long long)((int)x / (int)(y | 1));
  }
}

// conversions in every rounding mode, saturation and NaN
extern "C" __global__ void conversions(const float* __restrict__ f, const double* __restrict__ d,
                                       const long long* __restrict__ w, int* __restrict__ oi,
                                       long long* __restrict__ ol, float* __restrict__ of,
                                       unsigned short* __restrict__ oh, int n) {
  GRID_STRIDE(i, n) {
    float x = f[i];
    double p = d[i];
    long long q = w[i];
    int* a = oi + i;
    a[0 * n] = __float2int_rn(x);
    a[1 * n] = __float2int_rz(x);
    a[2 * n] = __float2int_rd(x);
    a[3 * n] = __float2int_ru(x);
    a[4 * n] = (int)__float2uint_rd(x);
    a[5 * n] = __double2int_rd(p);
    a[6 * n] = (int)__double2uint_ru(p);
    a[7 * n] = (int)x;
    a[8 * n] = (int)(unsigned)p;
    a[9 * n] = (int)(signed char)__float2int_rn(x);
    long long* l = ol + i;
    l[0 * n] = __float2ll_ru(x);
    l[1 * n] = __double2ll_rz(p);
    l[2 * n] = (long long)__double2ull_rn(p);
    l[3 * n] = (long long)llrintf(x);
    l[4 * n] = (long long)p;
    float* g = of + i;
    g[0 * n] = __double2float_rd(p);
    g[1 * n] = __double2float_ru(p);
    g[2 * n] = __double2float_rz(p);
    g[3 * n] = (float)p;
    g[4 * n] = __int2float_rd((int)q);
    g[5 * n] = __uint2float_ru((unsigned)q);
    g[6 * n] = __ll2float_ru(q);
    g[7 * n] = __ull2float_rd((unsigned long long)q);
    g[8 * n] = rintf(x) + truncf(x * 0.5f);
    g[9 * n] = roundf(x) - floorf(x) + ceilf(x);
    unsigned short* h = oh + i;
    h[0 * n] = __half_as_ushort(__float2half_rz(x));
    h[1 * n] = __half_as_ushort(__float2half_rd(x));
    h[2 * n] = __half_as_ushort(__float2half_ru(x));
    h[3 * n] = __half_as_ushort(__float2half_rn(x));
    h[4 * n] = __bfloat16_as_ushort(__float2bfloat16_rz(x));
    h[5 * n] = __bfloat16_as_ushort(__float2bfloat16_rd(x));
    h[6 * n] = __bfloat16_as_ushort(__float2bfloat16_ru(x));
    h[7 * n] = __bfloat16_as_ushort(__double2bfloat16(p));
    h[8 * n] = (unsigned short)__half2short_rz(__float2half_rn(x));
    h[9 * n] = __half_as_ushort(__double2half(p));
  }
}

// min/max with signed zeros and NaN, copysign, fused and unfused multiply-add
extern "C" __global__ void minmax(const float* __restrict__ x, const float* __restrict__ y, float* __restrict__ out,
                                  double* __restrict__ od, int n) {
  GRID_STRIDE(i, n) {
    float a = x[i], b = y[i];
    float* o = out + i;
    o[0 * n] = fminf(a, b);
    o[1 * n] = fmaxf(a, b);
    o[2 * n] = copysignf(a, b);
    o[3 * n] = fmaf(a, b, -a * b);  // the rounding error of a * b
    o[4 * n] = __fmul_rn(a, b) + a;   // never contracted
    o[5 * n] = fdimf(a, b);
    od[i] = fmin((double)a, (double)b);
    od[n + i] = fmax((double)a, (double)b);
  }
}

// half and bfloat16 math functions (cuda_fp16/cuda_bf16: f32 approximations, then per-value fix-ups selected
// with packed half compares)
extern "C" __global__ void half_math(const __half* __restrict__ x, __half* __restrict__ o,
                                     const __nv_bfloat16* __restrict__ y, __nv_bfloat16* __restrict__ ob, int n) {
  GRID_STRIDE(i, n) {
    __half a = x[i];
    o[0 * n + i] = hexp(a);
    o[1 * n + i] = hlog(__habs(a));
    o[2 * n + i] = hsin(a);
    o[3 * n + i] = hcos(a);
    o[4 * n + i] = hsqrt(__habs(a));
    o[5 * n + i] = hrsqrt(__habs(a));
    o[6 * n + i] = hrcp(a);
    o[7 * n + i] = hexp2(a);
    o[8 * n + i] = htanh(a);
    o[9 * n + i] = __hmax_nan(a, __float2half(0.5f));
    o[10 * n + i] = __hfma_relu(a, a, __float2half(-1.f));
    o[11 * n + i] = hlog2(__habs(a));
    o[12 * n + i] = hexp10(a);
    o[13 * n + i] = __hdiv(a, __float2half(3.f));
    __half2 h2 = h2sqrt(__habs2(h2exp(__halves2half2(a, __hneg(a)))));
    o[14 * n + i] = __low2half(h2);
    o[15 * n + i] = __high2half(h2);
    o[16 * n + i] = __hlt(a, __float2half(0.25f)) ? __float2half(1.f) : __float2half(0.f);
    __nv_bfloat16 b = y[i];
    ob[0 * n + i] = hexp(b);
    ob[1 * n + i] = hlog(__habs(b));
    ob[2 * n + i] = hsin(b);
    ob[3 * n + i] = hsqrt(__habs(b));
    ob[4 * n + i] = hrcp(b);
    ob[5 * n + i] = htanh(b);
    ob[6 * n + i] = __hdiv(b, __float2bfloat16(3.f));
  }
}

// double precision with directed rounding (interval arithmetic style)
extern "C" __global__ void double_directed(const double* __restrict__ x, const double* __restrict__ y,
                                           double* __restrict__ out, int n) {
  GRID_STRIDE(i, n) {
    double a = x[i], b = y[i];
    double* o = out + i;
    o[0 * n] = __fma_rd(a, b, -a);
    o[1 * n] = __fma_ru(a, b, 1.0);
    o[2 * n] = __fma_rz(a, a, -b);
    o[3 * n] = __dmul_rd(a, b) + 0.0;
    o[4 * n] = __dsqrt_ru(fabs(a));
    o[5 * n] = __drcp_rd(b);
    o[6 * n] = __fma_rn(a, b, a);
  }
}

// fp8 conversions through cuda_fp8.h: software bit manipulation on sm_80, cvt.rn.satfinite.e4m3x2 /
// e5m2x2 and cvt.rn.f16x2.e4m3x2 on sm_90; both builds must agree bit for bit
#include <cuda_fp8.h>
extern "C" __global__ void fp8_roundtrip(const float* __restrict__ x, unsigned char* __restrict__ e4,
                                         unsigned char* __restrict__ e5, float* __restrict__ back, int n) {
  GRID_STRIDE(i, n) {
    __nv_fp8_e4m3 a(x[i]);
    __nv_fp8_e5m2 b(x[i]);
    e4[i] = a.__x;
    e5[i] = b.__x;
    back[i] = float(a);
    back[n + i] = float(b);
    __nv_fp8x2_e4m3 p(make_float2(x[i], -2.f * x[i]));
    back[2 * n + i] = __half2float(__half(__nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t)(p.__x >> 8), __NV_E4M3)));
  }
}
