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
    if t in ("s8", "u8"):
        return rng.integers(0, 256, shape).astype(np.uint8)  # every bit pattern: s8 -128..127, u8 0..255
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


def tma_load_kernel(rank: int, box_bytes: int, smem: int, by_pointer: bool = False, multicast: bool = False,
                    expect: int | None = None, fence_init: bool = True, dump: int | None = None) -> str:
    """k(tmap, out, coords...): thread 0 of each block arms its mbarrier (expect_tx ``expect`` bytes,
    default the box) and issues one tensor load at ``coords`` (rank 0 of a cluster multicasts to every
    CTA with ``multicast``); every thread waits for phase 0, then the block dumps its shared memory to
    out[block * smem ...]."""
    expect = box_bytes if expect is None else expect
    dump = box_bytes if dump is None else dump
    cs = ", ".join(f"%c{i}" for i in range(rank))
    cparams = "".join(f",\n    .param .u32 c{i}" for i in range(rank))
    cloads = "\n".join(f"    ld.param.u32 %c{i}, [c{i}];" for i in range(rank))
    mparam = ".param .u64 tmap" if by_pointer else ".param .align 128 .b8 tmap[128]"
    maddr = "    ld.param.u64 %rd1, [tmap];" if by_pointer else "    mov.b64 %rd1, tmap;\n    cvta.param.u64 %rd1, %rd1;"
    if multicast:
        issue = f"""    mov.u32 %r9, %cluster_ctarank;
    setp.ne.u32 %p2, %r9, 0;
    @%p2 bra ISSUED;
    mov.b16 %m0, 3;
    cp.async.bulk.tensor.{rank}d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster [%r2], [%rd1, {{{cs}}}], [%r3], %m0;
ISSUED:"""
        sync = "    barrier.cluster.arrive.release.aligned;\n    barrier.cluster.wait.acquire.aligned;"
    else:
        issue = f"    cp.async.bulk.tensor.{rank}d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%r2], [%rd1, {{{cs}}}], [%r3];"
        sync = "    bar.sync 0;"
    return HEAD + f""".visible .entry k({mparam},
    .param .u64 out{cparams}
)
{{
    .reg .pred %p<4>;
    .reg .b16 %m<2>;
    .reg .b32 %r<16>;
    .reg .b32 %c<6>;
    .reg .b64 %rd<12>;
    .shared .align 1024 .b8 sm[{smem}];
    .shared .align 8 .b64 bar;
    mov.u32 %r0, %tid.x;
{maddr}
{cloads}
    mov.u32 %r2, sm;
    mov.u32 %r3, bar;
    setp.ne.u32 %p0, %r0, 0;
    @%p0 bra ARMED;
    mbarrier.init.shared::cta.b64 [%r3], 1;
{"    fence.mbarrier_init.release.cluster;" if fence_init else ""}
ARMED:
{sync}
    @%p0 bra WAIT;
    mbarrier.arrive.expect_tx.shared::cta.b64 %rd2, [%r3], {expect};
{issue}
WAIT:
    mbarrier.try_wait.parity.shared::cta.b64 %p1, [%r3], 0;
    @!%p1 bra WAIT;
    ld.param.u64 %rd3, [out];
    mov.u32 %r4, %ctaid.x;
    mul.wide.u32 %rd4, %r4, {smem};
    add.s64 %rd3, %rd3, %rd4;
    mov.u32 %r5, %r0;
DUMP:
    setp.ge.u32 %p3, %r5, {dump // 4};
    @%p3 bra END;
    shl.b32 %r6, %r5, 2;
    add.u32 %r7, %r2, %r6;
    ld.shared.u32 %r8, [%r7];
    mul.wide.u32 %rd5, %r5, 4;
    add.s64 %rd6, %rd3, %rd5;
    st.global.u32 [%rd6], %r8;
    add.u32 %r5, %r5, %ntid.x;
    bra DUMP;
END:
{"    barrier.cluster.arrive.release.aligned;" + chr(10) + "    barrier.cluster.wait.acquire.aligned;" if multicast else ""}
    ret;
}}
"""


def tma_store_kernel(rank: int, smem: int, reduce: str | None = None, fence: bool = True) -> str:
    """k(tmap, src, coords...): the block copies src (smem bytes) into shared memory with ordinary
    stores, fences (optionally) and thread 0 stores (or reduces) the box at coords."""
    cs = ", ".join(f"%c{i}" for i in range(rank))
    cparams = "".join(f",\n    .param .u32 c{i}" for i in range(rank))
    cloads = "\n".join(f"    ld.param.u32 %c{i}, [c{i}];" for i in range(rank))
    op = (f"cp.reduce.async.bulk.tensor.{rank}d.global.shared::cta.{reduce}.tile.bulk_group" if reduce else
          f"cp.async.bulk.tensor.{rank}d.global.shared::cta.tile.bulk_group")
    return HEAD + f""".visible .entry k(.param .align 128 .b8 tmap[128],
    .param .u64 src{cparams}
)
{{
    .reg .pred %p<4>;
    .reg .b32 %r<16>;
    .reg .b32 %c<6>;
    .reg .b64 %rd<12>;
    .shared .align 1024 .b8 sm[{smem}];
    mov.u32 %r0, %tid.x;
    mov.b64 %rd1, tmap;
    cvta.param.u64 %rd1, %rd1;
{cloads}
    ld.param.u64 %rd3, [src];
    mov.u32 %r2, sm;
    mov.u32 %r5, %r0;
FILL:
    setp.ge.u32 %p3, %r5, {smem // 4};
    @%p3 bra FILLED;
    mul.wide.u32 %rd5, %r5, 4;
    add.s64 %rd6, %rd3, %rd5;
    ld.global.u32 %r8, [%rd6];
    shl.b32 %r6, %r5, 2;
    add.u32 %r7, %r2, %r6;
    st.shared.u32 [%r7], %r8;
    add.u32 %r5, %r5, %ntid.x;
    bra FILL;
FILLED:
{"    fence.proxy.async.shared::cta;" if fence else ""}
    bar.sync 0;
    setp.ne.u32 %p0, %r0, 0;
    @%p0 bra END;
    {op} [%rd1, {{{cs}}}], [%r2];
    cp.async.bulk.commit_group;
    cp.async.bulk.wait_group.read 0;
END:
    ret;
}}
"""
