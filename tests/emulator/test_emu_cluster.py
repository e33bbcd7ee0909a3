"""Clusters on the emulator: special registers, mapa + distributed shared memory, remote mbarrier
arrive, barrier.cluster, launch checks, and the deadlock finding."""

from __future__ import annotations

import numpy as np
import pytest
from hopperkit import HEAD

from sass_lab.emulator import EmulatorCheckError, emulate
from sass_lab.errors import EmulatorError

SPECIALS = HEAD + """.visible .entry k(.param .u64 out)
{
    .reg .b32 %r<12>;
    .reg .b64 %rd<4>;
    ld.param.u64 %rd0, [out];
    mov.u32 %r0, %ctaid.x;
    mov.u32 %r1, %ctaid.y;
    mov.u32 %r2, %nctaid.x;
    mad.lo.u32 %r3, %r1, %r2, %r0;
    mul.wide.u32 %rd1, %r3, 32;
    add.s64 %rd2, %rd0, %rd1;
    mov.u32 %r4, %cluster_ctarank;
    mov.u32 %r5, %cluster_nctarank;
    mov.u32 %r6, %cluster_ctaid.x;
    mov.u32 %r7, %cluster_ctaid.y;
    mov.u32 %r8, %clusterid.x;
    mov.u32 %r9, %clusterid.y;
    mov.u32 %r10, %nclusterid.x;
    mov.u32 %r11, %is_explicit_cluster;
    st.global.v4.u32 [%rd2], {%r4, %r5, %r6, %r7};
    st.global.v4.u32 [%rd2+16], {%r8, %r9, %r10, %r11};
    ret;
}
"""


def test_cluster_special_registers():
    out = np.zeros((4, 6, 8), np.uint32)  # grid (6, 4) in clusters of (2, 2)
    emulate(SPECIALS, "k", (6, 4), 32, [out], cluster=(2, 2, 1))
    for y in range(4):
        for x in range(6):
            assert out[y, x].tolist() == [x % 2 + 2 * (y % 2), 4, x % 2, y % 2, x // 2, y // 2, 3, 1]
    emulate(SPECIALS, "k", (6, 4), 32, [out])  # no cluster: every CTA is a cluster of one
    assert out[3, 5].tolist() == [0, 1, 0, 0, 5, 3, 6, 0]


DSMEM = HEAD + """.visible .entry k(.param .u64 out)
{
    .reg .pred %p<4>;
    .reg .b32 %r<16>;
    .reg .b64 %rd<8>;
    .shared .align 8 .b64 bar;
    .shared .align 4 .b32 box[32];
    mov.u32 %r0, %tid.x;
    mov.u32 %r1, %cluster_ctarank;
    mov.u32 %r2, %cluster_nctarank;
    mov.u32 %r3, bar;
    setp.ne.u32 %p0, %r0, 0;
    @%p0 bra INIT;
    mbarrier.init.shared::cta.b64 [%r3], 32;
INIT:
    barrier.cluster.arrive.release.aligned;
    barrier.cluster.wait.acquire.aligned;
    // write my rank*100 + tid into the next CTA's box[tid], then arrive on its barrier
    add.u32 %r4, %r1, 1;
    rem.u32 %r4, %r4, %r2;
    mov.u32 %r5, box;
    shl.b32 %r6, %r0, 2;
    add.u32 %r5, %r5, %r6;
    mapa.shared::cluster.u32 %r7, %r5, %r4;
    mad.lo.u32 %r8, %r1, 100, %r0;
    st.shared::cluster.u32 [%r7], %r8;
    mapa.shared::cluster.u32 %r9, %r3, %r4;
    mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%r9];
WAIT:
    mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 %p1, [%r3], 0;
    @!%p1 bra WAIT;
    ld.shared.u32 %r10, [%r5];
    getctarank.shared::cluster.u32 %r11, %r7;
    ld.param.u64 %rd0, [out];
    mov.u32 %r12, %ctaid.x;
    mad.lo.u32 %r13, %r12, 32, %r0;
    mul.wide.u32 %rd1, %r13, 8;
    add.s64 %rd2, %rd0, %rd1;
    st.global.v2.u32 [%rd2], {%r10, %r11};
    barrier.cluster.arrive.release.aligned;
    barrier.cluster.wait.acquire.aligned;
    ret;
}
"""


@pytest.mark.parametrize("cluster", [2, 4])
def test_distributed_shared_memory_and_remote_arrive(cluster):
    out = np.zeros((8, 32, 2), np.uint32)
    emulate(DSMEM, "k", 8, 32, [out], cluster=(cluster, 1, 1))
    for b in range(8):
        rank = b % cluster
        prev = (rank - 1) % cluster
        assert out[b, :, 0].tolist() == [prev * 100 + t for t in range(32)]
        assert (out[b, :, 1] == (rank + 1) % cluster).all()


def test_a_cluster_barrier_someone_never_reaches_is_a_deadlock_finding():
    """Rank 1 waits at a named barrier for 64 threads it does not have; rank 0 waits at the cluster
    barrier for rank 1: the cluster deadlock is reported (and the named barrier), never a hang."""
    bad = DSMEM.replace("    barrier.cluster.arrive.release.aligned;\n    barrier.cluster.wait.acquire.aligned;\n    ret;",
                        "    setp.ne.u32 %p2, %r1, 0;\n    @%p2 bar.sync 1, 64;\n"
                        "    barrier.cluster.arrive.release.aligned;\n    barrier.cluster.wait.acquire.aligned;\n    ret;")
    with pytest.raises(EmulatorCheckError) as e:
        emulate(bad, "k", 2, 32, [np.zeros((2, 32, 2), np.uint32)], cluster=(2, 1, 1))
    f = next(f for f in e.value.findings if f.kind == "cluster-deadlock")
    assert "only 32 of the cluster's 64 live threads arrived" in f.message and "hang" in f.message
    assert f.block == (0, 0, 0)


def test_launch_checks_for_clusters():
    with pytest.raises(EmulatorError, match="not a multiple of the cluster"):
        emulate(SPECIALS, "k", 5, 32, [np.zeros(5 * 8, np.uint32)], cluster=(2, 1, 1))
    with pytest.raises(EmulatorError, match="at most 16"):
        emulate(SPECIALS, "k", 32, 32, [np.zeros(32 * 8, np.uint32)], cluster=(32, 1, 1))
    req = SPECIALS.replace(".visible .entry k(.param .u64 out)", ".visible .entry k(.param .u64 out) .reqnctapercluster 2, 1, 1")
    with pytest.raises(EmulatorError, match="reqnctapercluster 2,1,1"):
        emulate(req, "k", 4, 32, [np.zeros(4 * 8, np.uint32)], cluster=(4, 1, 1))
    out = np.zeros((4, 8), np.uint32)
    emulate(req, "k", 4, 32, [out])  # the PTX's shape applies when cluster= is left out
    assert out[:, 0].tolist() == [0, 1, 0, 1] and out[0, 1] == 2


def test_mapa_to_a_rank_outside_the_cluster_is_a_finding():
    bad = DSMEM.replace("    rem.u32 %r4, %r4, %r2;\n", "")
    with pytest.raises(EmulatorCheckError) as e:
        emulate(bad, "k", 2, 32, [np.zeros((2, 32, 2), np.uint32)], cluster=(2, 1, 1), max_steps=20000)
    assert any(f.kind == "cluster" and "rank 2" in f.message for f in e.value.findings)


STASYNC = HEAD + """.visible .entry k(.param .u64 out)
{
    .reg .pred %p<4>;
    .reg .b32 %r<16>;
    .reg .b64 %rd<8>;
    .shared .align 8 .b64 bar;
    .shared .align 8 .b32 box[64];
    .shared .align 4 .b32 count;
    mov.u32 %r0, %tid.x;
    mov.u32 %r1, %cluster_ctarank;
    mov.u32 %r3, bar;
    setp.ne.u32 %p0, %r0, 0;
    @%p0 bra INIT;
    mbarrier.init.shared::cta.b64 [%r3], 1;
    mov.u32 %r2, 0;
    st.shared.u32 [count], %r2;
INIT:
    barrier.cluster.arrive.release.aligned;
    barrier.cluster.wait.acquire.aligned;
    @%p0 bra SEND;
    mbarrier.arrive.expect_tx.shared::cta.b64 %rd1, [%r3], 256;   // 32 threads x 2 words x 4 bytes
SEND:
    xor.b32 %r4, %r1, 1;
    mov.u32 %r5, box;
    shl.b32 %r6, %r0, 3;
    add.u32 %r5, %r5, %r6;
    mapa.shared::cluster.u32 %r7, %r5, %r4;
    mapa.shared::cluster.u32 %r8, %r3, %r4;
    mad.lo.u32 %r9, %r1, 1000, %r0;
    add.u32 %r10, %r9, 500;
    st.async.shared::cluster.mbarrier::complete_tx::bytes.v2.b32 [%r7], {%r9, %r10}, [%r8];
    mov.u32 %r11, count;
    mapa.shared::cluster.u32 %r11, %r11, 0;
    atom.shared::cluster.add.u32 %r12, [%r11], 1;
WAIT:
    mbarrier.try_wait.parity.shared::cta.b64 %p1, [%r3], 0;
    @!%p1 bra WAIT;
    barrier.cluster.arrive.release.aligned;
    barrier.cluster.wait.acquire.aligned;
    ld.shared.v2.u32 {%r13, %r14}, [%r5];
    ld.shared.u32 %r15, [count];
    ld.param.u64 %rd0, [out];
    mov.u32 %r2, %ctaid.x;
    mad.lo.u32 %r2, %r2, 32, %r0;
    mul.wide.u32 %rd2, %r2, 12;
    add.s64 %rd3, %rd0, %rd2;
    st.global.u32 [%rd3], %r13;
    st.global.u32 [%rd3+4], %r14;
    st.global.u32 [%rd3+8], %r15;
    barrier.cluster.arrive.release.aligned;
    barrier.cluster.wait.acquire.aligned;
    ret;
}
"""


def test_st_async_completes_on_the_peer_barrier_and_cluster_atomics():
    out = np.zeros((4, 32, 3), np.uint32)
    emulate(STASYNC, "k", 4, 32, [out], cluster=(2, 1, 1))
    for b in range(4):
        peer = (b % 2) ^ 1
        assert out[b, :, 0].tolist() == [peer * 1000 + t for t in range(32)]
        assert out[b, :, 1].tolist() == [peer * 1000 + t + 500 for t in range(32)]
        assert (out[b, :, 2] == (64 if b % 2 == 0 else 0)).all()  # both CTAs' 32 threads counted on rank 0
