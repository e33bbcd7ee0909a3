"""The occupancy model and cubin resources against the CUDA driver on a real GPU."""

from __future__ import annotations

import pytest

from sass_lab.hw.occupancy import occupancy
from sass_lab.toolchain.compile import compile_ptx
from sass_lab.toolchain.options import CompileOptions

pytestmark = pytest.mark.gpu

KB = 1024


def _kernel(live: int, static_shared: int, bars: int = 0) -> str:
    """``live`` values kept alive by volatile accesses (register pressure) + static shared memory."""
    regs = ", ".join(f"v{i}" for i in range(live))
    ld = "\n".join(f"\tld.volatile.global.f32 v{i}, [a+{4 * i}];" for i in range(live))
    st = "\n".join(f"\tst.volatile.global.f32 [a+{4 * i}], v{live - 1 - i};" for i in range(live))
    smem = (f"\t.shared .align 4 .b8 buf[{static_shared}];\n\tst.shared.f32 [buf], v0;\n"
            if static_shared else "")
    smem += "".join(f"\tbar.sync {b};\n" for b in range(bars))
    return f""".version 9.0
.target ARCH
.address_size 64

.visible .entry occ(.param .u64 A)
{{
\t.reg .u64 a;
\t.reg .f32 {regs};
\tld.param.u64 a, [A];
{ld}
{smem}{st}
\tret;
}}
"""


@pytest.fixture(scope="module")
def device():
    from cuda.bindings import driver as d

    def ok(res):
        err, *rest = res if isinstance(res, tuple) else (res,)
        assert int(err) == 0, err
        return rest[0] if len(rest) == 1 else rest

    ok(d.cuInit(0))
    dev = ok(d.cuDeviceGet(0))
    major = ok(d.cuDeviceGetAttribute(d.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev))
    minor = ok(d.cuDeviceGetAttribute(d.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev))
    ctx = ok(d.cuDevicePrimaryCtxRetain(dev))
    ok(d.cuCtxSetCurrent(ctx))
    yield d, ok, f"sm_{major}{minor}"
    d.cuDevicePrimaryCtxRelease(dev)


def _load(d, ok, cubin: bytes):
    mod = ok(d.cuModuleLoadData(cubin))
    return mod, ok(d.cuModuleGetFunction(mod, b"occ"))


@pytest.mark.parametrize("live, cap, static, bars", [
    (8, None, 0, 0), (40, 40, 0, 0), (64, 64, 0, 0), (100, 96, 0, 0), (200, 128, 0, 0), (250, 255, 0, 0),
    (16, None, 4 * KB, 0), (16, None, 20 * KB, 0), (32, 48, 40 * KB, 0),
    (8, None, 0, 4), (8, None, 0, 16), (8, None, 2 * KB, 3),
])
def test_model_matches_driver(device, live, cap, static, bars):
    d, ok, arch = device
    res = compile_ptx(_kernel(live, static, bars).replace("ARCH", arch), arch, options=CompileOptions(maxrregcount=cap))
    r = res.resources["occ"]
    mod, fn = _load(d, ok, res.cubin)
    try:
        A = d.CUfunction_attribute
        assert ok(d.cuFuncGetAttribute(A.CU_FUNC_ATTRIBUTE_NUM_REGS, fn)) == r.registers
        assert ok(d.cuFuncGetAttribute(A.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, fn)) == r.shared_static
        assert ok(d.cuFuncGetAttribute(A.CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, fn)) == r.stack_bytes
        optin = 200 * KB if arch.startswith("sm_9") else 60 * KB
        ok(d.cuFuncSetAttribute(fn, A.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, optin - static))
        mismatches = []
        for threads in (32, 64, 96, 128, 192, 256, 384, 512, 768, 1024):
            for dyn in (0, 1, 8 * KB, 30 * KB, 100 * KB):
                if static + dyn > optin:
                    continue
                got = ok(d.cuOccupancyMaxActiveBlocksPerMultiprocessor(fn, threads, dyn))
                want = occupancy(arch, threads, r.registers, static + dyn, barriers=r.barriers).blocks_per_sm
                if got != want:
                    mismatches.append((threads, dyn, got, want))
        assert not mismatches, f"regs={r.registers} static={static}: (threads, dyn, driver, model) {mismatches}"
    finally:
        d.cuModuleUnload(mod)
