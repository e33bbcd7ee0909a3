"""Hand-built sm_90a PTX for the Hopper emulator tests (wgmma, TMA, mbarrier, clusters).

Fragment layouts are written out here independently of :mod:`sass_lab.hw.wgmma` (the PTX ISA's
figures as formulas), so the tests compare two statements of the same fact.
"""

from __future__ import annotations

import numpy as np

from sass_lab.hw.wgmma import E4M3, E5M2

HEAD = ".version 9.0\n.target sm_90a\n.address_size 64\n"


def acc_rc(t: int, i: int) -> tuple[int, int]:
    """(row, col) of accumulator element i of warpgroup thread t (PTX ISA, wgmma D fragment)."""
    return 16 * (t // 32) + (t % 32) // 4 + 8 * ((i // 2) % 2), 8 * (i // 4) + 2 * (t % 4) + i % 2


def a_rc(t: int, j: int, h: int, eb: int) -> tuple[int, int]:
    """(row, col) of sub-element h of A register j of thread t."""
    row = 16 * (t // 32) + (t % 32) // 4 + 8 * (j % 2)
    q = t % 4
    if eb == 2:
        return row, 2 * q + h + 8 * (j // 2)
    if eb == 4:
        return row, q + 4 * (j // 2)
    return row, 4 * q + h + 16 * (j // 2)


def random_bits(rng, shape, t: str) -> np.ndarray:
    """Random element bit patterns of type t with values near N(0, 1)."""
    x = rng.standard_normal(shape)
    if t == "f16":
        return x.astype(np.float16).view(np.uint16)
    if t == "bf16":
        return (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    if t == "tf32":
        return x.astype(np.float32).view(np.uint32)
    table = E4M3 if t == "e4m3" else E5M2
    fin = np.flatnonzero(np.isfinite(table) & (np.abs(table) < 8))
    return rng.choice(fin, size=shape).astype(np.uint8)


def wgmma_kernel(mma: str, nacc: int, img_bytes: int, regs_a: bool, fence_proxy: bool = True,
                 fence_wgmma: bool = True, read_early: bool = False, f16acc: bool = False) -> str:
    """k(img, out, dA, dB, afrag, sd): copy img into shared memory with ordinary stores, then one
    warpgroup runs ``mma`` (the instruction text after the operands are filled in) on accumulators
    loaded from ``out`` (thread t's registers at out[t*nacc ...]) and stores them back."""
    acc = ", ".join(f"%d{i}" for i in range(nacc))
    areg = "{%a0, %a1, %a2, %a3}" if regs_a else "%rd6"
    nch = img_bytes // 16
    ld_acc = "\n".join(f"    ld.global.b32 %d{i}, [%rd11+{4 * i}];" for i in range(nacc))
    st_acc = "\n".join(f"    st.global.b32 [%rd11+{4 * i}], %d{i};" for i in range(nacc))
    early = "    st.global.b32 [%rd11], %d0;\n" if read_early else ""
    return HEAD + f""".visible .entry k(.param .u64 img, .param .u64 out, .param .u64 dA, .param .u64 dB,
    .param .u64 afrag, .param .u32 sd)
{{
    .reg .pred %p<4>;
    .reg .b32 %r<16>;
    .reg .b32 %a<4>;
    .reg .b32 %d<{nacc}>;
    .reg .b64 %rd<16>;
    .shared .align 1024 .b8 sm[{img_bytes}];
    mov.u32 %r0, %tid.x;
    ld.param.u64 %rd0, [img];
    ld.param.u64 %rd1, [out];
    mov.u32 %r1, %r0;
CP:
    setp.ge.u32 %p0, %r1, {nch};
    @%p0 bra DONE;
    mul.wide.u32 %rd2, %r1, 16;
    add.s64 %rd3, %rd0, %rd2;
    ld.global.v4.u32 {{%r2, %r3, %r4, %r5}}, [%rd3];
    mov.u32 %r6, sm;
    shl.b32 %r7, %r1, 4;
    add.u32 %r6, %r6, %r7;
    st.shared.v4.u32 [%r6], {{%r2, %r3, %r4, %r5}};
    add.u32 %r1, %r1, 128;
    bra CP;
DONE:
{"    fence.proxy.async.shared::cta;" if fence_proxy else ""}
    bar.sync 0;
    mov.u32 %r8, sm;
    cvt.u64.u32 %rd5, %r8;
    shr.u64 %rd5, %rd5, 4;
    ld.param.u64 %rd6, [dA];
    add.s64 %rd6, %rd6, %rd5;
    ld.param.u64 %rd7, [dB];
    add.s64 %rd7, %rd7, %rd5;
    ld.param.u64 %rd8, [afrag];
    mul.wide.u32 %rd9, %r0, 16;
    add.s64 %rd9, %rd8, %rd9;
    ld.global.v4.b32 {{%a0, %a1, %a2, %a3}}, [%rd9];
    mul.wide.u32 %rd10, %r0, {4 * nacc};
    add.s64 %rd11, %rd1, %rd10;
{ld_acc}
    ld.param.u32 %r9, [sd];
    setp.ne.u32 %p1, %r9, 0;
{"    wgmma.fence.sync.aligned;" if fence_wgmma else ""}
    {mma.format(acc="{" + acc + "}", a=areg, b="%rd7", sd="%p1")};
    wgmma.commit_group.sync.aligned;
{early}    wgmma.wait_group.sync.aligned 0;
{st_acc}
    ret;
}}
"""
