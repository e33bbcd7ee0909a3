"""mbarrier semantics on hand-written PTX: tokens, parities, counts, transactions, waiting, findings."""

from __future__ import annotations

import numpy as np
import pytest
from ptxkit import kernel

from sass_lab.emulator import EmulatorCheckError, emulate
from sass_lab.errors import EmulatorError

# thread 0 initialises mb with count %r20, then a barrier; %r21 = address of mb
INIT = """
    .shared .align 8 .b64 mb;
    mov.u32 %r21, mb;
    setp.eq.u32 %p7, %r0, 0;
    @%p7 mbarrier.init.shared.b64 [%r21], {count};
    bar.sync 0;
"""


def run(body: str, threads: int = 32, count: int | str = 32, check: bool = True, out_dtype=np.uint32, **kw):
    out = np.full(threads, 0xEEEEEEEE, out_dtype)
    inp = np.arange(threads, dtype=np.uint32)
    rep = emulate(kernel(INIT.format(count=count) + body), "k", 1, threads, [out, inp, np.uint32(threads)],
                  check=check, **kw)
    return out, rep


def findings(body: str, threads: int = 32, count: int | str = 32):
    with pytest.raises(EmulatorCheckError) as e:
        run(body, threads, count)
    return e.value.findings


def test_arrive_tokens_pending_count_and_test_wait():
    out, _ = run("""
    mbarrier.arrive.shared.b64 %rd10, [%r21];
    mbarrier.pending_count.b64 %r22, %rd10;
    mbarrier.test_wait.shared.b64 %p1, [%r21], %rd10;
    selp.u32 %r23, 1000, 0, %p1;
    add.u32 %r22, %r22, %r23;
    st.global.u32 [%rd3], %r22;""", threads=64, count=64)
    # arrivals apply in thread order: thread i leaves 63 - i pending; every token's phase completed
    np.testing.assert_array_equal(out, 1000 + 63 - np.arange(64))


def test_parity_of_a_fresh_barrier_and_after_one_phase():
    out, _ = run("""
    mbarrier.test_wait.parity.shared.b64 %p1, [%r21], 1;
    mbarrier.arrive.shared::cta.b64 _, [%r21], 1;
    mbarrier.try_wait.parity.shared::cta.b64 %p2, [%r21], 0;
    mbarrier.test_wait.parity.shared.b64 %p3, [%r21], 1;
    selp.u32 %r22, 1, 0, %p1;
    selp.u32 %r23, 2, 0, %p2;
    selp.u32 %r24, 4, 0, %p3;
    or.b32 %r22, %r22, %r23;
    or.b32 %r22, %r22, %r24;
    st.global.u32 [%rd3], %r22;""")
    # parity 1 (the phase before the first) counts as complete; after phase 0 completes, parity 0 is
    # complete and parity 1 (the current phase 1) is not
    assert (out == 3).all()


def test_arrive_drop_lowers_the_expected_count_of_later_phases():
    out, _ = run("""
    setp.lt.u32 %p1, %r0, 16;
    @%p1 mbarrier.arrive_drop.shared.b64 %rd10, [%r21];
    @!%p1 mbarrier.arrive.shared.b64 %rd10, [%r21];
    @!%p1 mbarrier.arrive.shared.b64 %rd11, [%r21];
    @!%p1 mbarrier.test_wait.shared.b64 %p2, [%r21], %rd11;
    @%p1 mov.pred %p2, 1;
    selp.u32 %r22, 1, 0, %p2;
    st.global.u32 [%rd3], %r22;""")
    assert (out == 1).all()  # phase 1 needed only the 16 threads that did not drop out


def test_expect_tx_and_complete_tx_hold_the_phase_until_the_bytes_arrive():
    out, _ = run("""
    mbarrier.arrive.expect_tx.shared::cta.b64 %rd10, [%r21], 100;
    mbarrier.test_wait.shared.b64 %p1, [%r21], %rd10;
    mbarrier.complete_tx.shared::cta.b64 [%r21], 60;
    mbarrier.test_wait.shared.b64 %p2, [%r21], %rd10;
    mbarrier.complete_tx.shared::cta.b64 [%r21], 40;
    mbarrier.test_wait.shared.b64 %p3, [%r21], %rd10;
    selp.u32 %r22, 1, 0, %p1;
    selp.u32 %r23, 2, 0, %p2;
    selp.u32 %r24, 4, 0, %p3;
    or.b32 %r22, %r22, %r23;
    or.b32 %r22, %r22, %r24;
    st.global.u32 [%rd3], %r22;""", threads=1, count=1)
    assert out[0] == 4


def test_generic_addresses_and_cp_async_noinc():
    out, _ = run("""
    cvt.u64.u32 %rd13, %r21;
    cvta.shared.u64 %rd12, %rd13;
    st.shared.u32 [%r4], 0;
    cp.async.ca.shared.global [%r4], [%rd4], 4;
    cp.async.mbarrier.arrive.noinc.shared.b64 [%r21];
    mbarrier.arrive.b64 %rd10, [%rd12];
    mbarrier.test_wait.b64 %p1, [%rd12], %rd10;
    ld.shared.u32 %r22, [%r4];
    @%p1 st.global.u32 [%rd3], %r22;""", count=64)
    np.testing.assert_array_equal(out, np.arange(32))


def test_a_spinning_warp_lets_the_producer_warp_run():
    # warp 1 spins on try_wait.parity at lower PCs than warp 0, which writes the data and arrives
    out, rep = run("""
    setp.lt.u32 %p1, %r0, 32;
    @%p1 bra PRODUCE;
SPIN:
    mbarrier.try_wait.parity.shared.b64 %p2, [%r21], 0;
    @!%p2 bra SPIN;
    sub.u32 %r22, %r4, 128;
    ld.shared.u32 %r23, [%r22];
    st.global.u32 [%rd3], %r23;
    bra DONE;
PRODUCE:
    mul.lo.u32 %r22, %r0, 3;
    st.shared.u32 [%r4], %r22;
    mbarrier.arrive.release.cta.shared::cta.b64 _, [%r21];
DONE:""", threads=64)
    np.testing.assert_array_equal(out[32:], 3 * np.arange(32))
    assert rep.findings == ()


def test_a_wait_that_never_completes_is_a_finding_not_a_hang():
    fs = findings("""
    mbarrier.arrive.shared.b64 %rd10, [%r21];
WAIT:
    mbarrier.try_wait.shared.b64 %p1, [%r21], %rd10;
    @!%p1 bra WAIT;
    st.global.u32 [%rd3], %r0;""", count=33)
    (f,) = fs
    assert f.kind == "mbarrier-deadlock" and f.count == 32 and f.block == (0, 0, 0)
    assert "'mb'+0x0 of block (0, 0, 0) in phase 0 (parity 0): 1 of 33 arrivals pending, tx-count 0" in f.message
    out, rep = run("""
    mbarrier.arrive.shared.b64 %rd10, [%r21];
WAIT:
    mbarrier.try_wait.shared.b64 %p1, [%r21], %rd10;
    @!%p1 bra WAIT;
    st.global.u32 [%rd3], %r0;""", count=33, check=False)
    assert [f.kind for f in rep.findings] == ["mbarrier-deadlock"] and (out == 0xEEEEEEEE).all()


def test_a_failed_test_wait_may_take_another_path():
    # test_wait is non-blocking: threads that see it incomplete go on (no deadlock when they never retry)
    out, rep = run("""
    mbarrier.test_wait.parity.shared.b64 %p1, [%r21], 0;
    selp.u32 %r22, 7, 9, %p1;
    st.global.u32 [%rd3], %r22;""")
    assert (out == 9).all() and rep.findings == ()


@pytest.mark.parametrize("body, message", [
    ("mbarrier.arrive.shared.b64 %rd10, [%r4];", "never initialised"),
    ("@%p7 mbarrier.inval.shared.b64 [%r21]; bar.sync 0; mbarrier.arrive.shared.b64 %rd10, [%r21];",
     "invalidated"),
    ("mbarrier.arrive.noComplete.shared.b64 %rd10, [%r21], 1;", "noComplete makes the pending count reach zero"),
    ("mbarrier.init.shared.b64 [%r21], 0;", "count must be in [1, 1048575]"),
    ("mbarrier.arrive.shared.b64 %rd10, [%r2+4];", "not 8-byte aligned"),
])
def test_misuse_is_reported(body, message):
    fs = findings(body)
    assert any(message in f.message for f in fs), [f.message for f in fs]


def test_init_must_be_ordered_before_other_threads_use_it():
    with pytest.raises(EmulatorCheckError) as e:
        emulate(kernel("""
    .shared .align 8 .b64 mb2;
    mov.u32 %r21, mb2;
    setp.eq.u32 %p7, %r0, 0;
    @%p7 mbarrier.init.shared.b64 [%r21], 32;
    mbarrier.arrive.shared.b64 %rd10, [%r21];"""), "k", 1, 32, [np.zeros(32, np.uint32), np.zeros(32, np.uint32),
                                                               np.uint32(32)])
    assert any(f.kind == "race-shared" and f.buffer == "mb2" for f in e.value.findings)


def test_unsupported_forms_are_refused_at_decode_time():
    with pytest.raises(EmulatorError, match="not supported"):
        run("mbarrier.arrive.shared.b64 %rd10, [%r21]; mbarrier.frobnicate.shared.b64 [%r21];")
    with pytest.raises(EmulatorError, match="'.im2col' .* not supported"):  # TMA: tile mode only
        run("cp.async.bulk.tensor.3d.shared::cluster.global.im2col.mbarrier::complete_tx::bytes [%r4], "
            "[%rd4, {%r0, %r0, %r0}], [%r21], {%rs1};")
    with pytest.raises(EmulatorError, match="only global → shared with mbarrier::complete_tx::bytes"):
        run("cp.async.bulk.global.shared::cluster.mbarrier::complete_tx::bytes [%rd4], [%r4], 16, [%r21];")


@pytest.mark.parametrize("wait, bad", [
    ("cp.async.wait_all;", False),
    ("cp.async.wait_group 0;", False),
    ("cp.async.wait_group 1;", True),  # the newest group is still in flight
    ("cp.async.wait_group 20;", False),  # further back than the tracker's ring: counted as complete
])
def test_cp_async_groups_in_flight(wait, bad):
    body = f"""
    cp.async.ca.shared.global [%r4], [%rd4], 4;
    cp.async.commit_group;
    cp.async.ca.shared.global [%r4+128], [%rd4], 4;
    cp.async.commit_group;
    {wait}
    ld.shared.u32 %r22, [%r4+128];
    st.global.u32 [%rd3], %r22;"""
    if bad:
        (f,) = findings(body)
        assert f.kind == "async-in-flight" and "sA'+0x80" in f.message
    else:
        out, _ = run(body)
        np.testing.assert_array_equal(out, np.arange(32))


@pytest.mark.parametrize("early_read", [False, True])
def test_copies_tracked_by_an_mbarrier_complete_with_its_phase(early_read):
    body = f"""
    cp.async.ca.shared.global [%r4], [%rd4], 4;
    cp.async.mbarrier.arrive.shared.b64 [%r21];
    {"ld.shared.u32 %r23, [%r4];" if early_read else ""}
    mbarrier.arrive.shared.b64 %rd10, [%r21];
WAIT:
    mbarrier.try_wait.shared.b64 %p1, [%r21], %rd10;
    @!%p1 bra WAIT;
    ld.shared.u32 %r22, [%r4];
    st.global.u32 [%rd3], %r22;"""
    if early_read:  # before the phase that tracks the copy completed
        (f,) = findings(body)
        assert f.kind == "async-in-flight" and f.message.startswith("reads")
    else:
        out, _ = run(body)
        np.testing.assert_array_equal(out, np.arange(32))


def test_bulk_copy_in_flight_until_its_transactions_complete():
    body = """
    @%p7 mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r21], 128;
    @%p7 cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r2], [%rd1], 128, [%r21];
    READ
    setp.eq.u32 %p6, %r0, 1;
    @%p6 mbarrier.arrive.shared.b64 _, [%r21];
WAIT:
    mbarrier.try_wait.parity.shared.b64 %p1, [%r21], 0;
    @!%p1 bra WAIT;
    ld.shared.u32 %r22, [%r4];
    st.global.u32 [%rd3], %r22;"""
    out, _ = run(body.replace("READ", ""), count=2)
    np.testing.assert_array_equal(out, np.arange(32))
    fs = findings(body.replace("READ", "ld.shared.u32 %r23, [%r4];"), count=2)  # also a race with thread 0
    assert any(f.kind == "async-in-flight" and f.message.startswith("reads") and f.count == 32 for f in fs)
