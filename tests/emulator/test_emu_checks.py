"""Each check catches its planted bug, names the place, and stays quiet on correct kernels."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from ptxkit import committed_ptx, kernel

from sass_lab.emulator import EmulatorCheckError, emulate
from sass_lab.errors import EmulatorError, Span

BUGS = {
    "oob-shared": ("st.shared.u32 [%r4+256], %r0;", 32),
    "uninit-shared": ("ld.shared.u32 %r5, [%r4]; st.global.u32 [%rd3], %r5;", 32),
    # thread t writes sA[t] and reads sA[t^1] with no barrier between
    "race-shared": ("st.shared.u32 [%r4], %r0; xor.b32 %r5, %r3, 4; add.s32 %r6, %r2, %r5;"
                    "ld.shared.u32 %r7, [%r6]; st.global.u32 [%rd3], %r7;", 64),
    # write after read: read the neighbour, then overwrite own slot, same epoch
    "race-war": ("st.shared.u32 [%r4], %r0; bar.sync 0; xor.b32 %r5, %r3, 4; add.s32 %r6, %r2, %r5;"
                 "ld.shared.u32 %r7, [%r6]; st.shared.u32 [%r4], %r7; st.global.u32 [%rd3], %r7;", 64),
    # the read is logged, a write elsewhere leaves it logged, the later write to the read word races
    "race-war-late": ("st.shared.u32 [%r4], %r0; st.shared.u32 [%r4+128], %r0; bar.sync 0; xor.b32 %r5, %r3, 4;"
                      "add.s32 %r6, %r2, %r5; ld.shared.u32 %r7, [%r6]; ld.shared.u32 %r8, [%r4+128];"
                      "st.shared.u32 [%r4+128], %r7; st.shared.u32 [%r4], %r8; st.global.u32 [%rd3], %r7;", 32),
    # two threads write the same word
    "race-waw": ("shr.u32 %r5, %r0, 1; shl.b32 %r5, %r5, 2; add.s32 %r6, %r2, %r5; st.shared.u32 [%r6], %r0;", 64),
    # half the block skips the barrier
    "barrier-divergence": ("setp.lt.u32 %p1, %r0, 16; @%p1 bra DONE; bar.sync 0; DONE:", 64),
    # threads past n exit before the barrier
    "barrier-exit": ("setp.ge.u32 %p1, %r0, %r1; @%p1 ret; bar.sync 0;", 64),
    "oob-global": ("add.s32 %r5, %r0, 1; mul.wide.u32 %rd5, %r5, 4; add.s64 %rd6, %rd1, %rd5;"
                   "ld.global.u32 %r6, [%rd6]; st.global.u32 [%rd3], %r6;", 64),
}
WARP_REDUCE = ("st.shared.u32 [%r4], %r0; bar.sync 0; setp.ge.u32 %p1, %r0, 32; @%p1 bra DONE; mov.u32 %r10, 32;"
               "LOOP: shl.b32 %r11, %r10, 2; add.s32 %r12, %r4, %r11; ld.shared.u32 %r13, [%r4];"
               "ld.shared.u32 %r14, [%r12]; add.u32 %r13, %r13, %r14; SYNC st.shared.u32 [%r4], %r13; SYNC"
               "shr.u32 %r10, %r10, 1; setp.ne.u32 %p2, %r10, 0; @%p2 bra LOOP;"
               "setp.eq.u32 %p3, %r0, 0; @%p3 st.global.u32 [%rd3], %r13; DONE:")
BUGS["race-no-syncwarp"] = (WARP_REDUCE.replace("SYNC", ""), 64)
# thread 0 resets a word with a plain store while the others update it atomically, no barrier between
BUGS["race-atomic-store"] = ("setp.eq.u32 %p1, %r0, 0; @%p1 st.shared.u32 [sA], 0; bar.sync 0; setp.eq.u32 %p2, %r0, 5;"
                             "@%p2 st.shared.u32 [sA], 7; atom.shared.add.u32 %r5, [sA], 1;", 64)
KIND = {"race-atomic-store": "race-shared", "race-no-syncwarp": "race-shared", "race-war": "race-shared", "race-war-late": "race-shared", "race-waw": "race-shared", "barrier-exit": "barrier-divergence"}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_planted_bug_is_caught(bug):
    body, threads = BUGS[bug]
    out = np.zeros(threads, np.uint32)
    inp = np.arange(threads, dtype=np.uint32)
    with pytest.raises(EmulatorCheckError) as ei:
        emulate(kernel(body), "k", 1, threads, [out, inp, np.uint32(40)])
    err = ei.value
    kinds = {f.kind for f in err.findings}
    assert KIND.get(bug, bug) in kinds
    f = next(f for f in err.findings if f.kind == KIND.get(bug, bug))
    assert f.kernel == "k" and f.ptx_line > 20 and f.instruction
    assert f.block == (0, 0, 0) and 0 <= f.thread[0] < threads
    if f.kind in ("race-shared", "uninit-shared"):
        assert f.buffer == "sA" and "'sA'+0x" in f.message  # named by its shared variable
    text = err.render()
    assert "PTX line" in text and f.instruction in text
    # check=False does not raise; bounds and barrier findings stay in the report, the shared-memory
    # race/initialisation tracking is off
    rep = emulate(kernel(body), "k", 1, threads, [out, inp, np.uint32(40)], check=False)
    assert {x.kind for x in rep.findings} == kinds - {"race-shared", "uninit-shared"}


def test_oob_global_names_buffer_and_address():
    body, threads = BUGS["oob-global"]
    rep = emulate(kernel(body), "k", 1, threads, [np.zeros(64, np.uint32), np.zeros(64, np.uint32),
                                                  np.uint32(0)], check=False)
    (f,) = rep.findings
    assert f.buffer == "in_param" and f.count == 1 and f.thread == (63, 0, 0)
    assert "past the end of 'in_param': byte offset 256 of a 256-byte buffer" in f.message


def test_nvcc_vecadd_oob_names_param():
    n = 100
    a, b, c = (np.zeros(n, np.float32) for _ in range(3))
    with pytest.raises(EmulatorCheckError) as ei:
        emulate(committed_ptx("vecadd"), "vecadd", 2, 64, [a, b, c, np.int32(n + 3)])
    bufs = {f.buffer for f in ei.value.findings}
    assert bufs == {"vecadd_param_0", "vecadd_param_1", "vecadd_param_2"}
    assert all(f.count == 3 for f in ei.value.findings)


def test_line_map_names_sasm_span():
    body, threads = BUGS["uninit-shared"]
    ptx = kernel(body)
    lines = ptx.splitlines()
    line_no = next(i for i, t in enumerate(lines) if "ld.shared" in t) + 1
    span = Span("kernels_asm/k.sasm", 7, 5, 9, "    x = smem[tid]")
    lmap = tuple(span if i == line_no - 1 else None for i in range(len(lines)))
    with pytest.raises(EmulatorCheckError) as ei:
        emulate(ptx, "k", 1, threads, [np.zeros(32, np.uint32), np.zeros(32, np.uint32), np.uint32(0)],
                line_map=lmap)
    f = ei.value.findings[0]
    assert f.span == span and f.ptx_line == line_no
    assert "kernels_asm/k.sasm:7:5" in ei.value.render()
    again = pickle.loads(pickle.dumps(ei.value))
    assert again.findings == ei.value.findings


CLEAN = {
    # many threads read the same word after a barrier
    "broadcast": "st.shared.u32 [%r4], %r0; bar.sync 0; ld.shared.u32 %r5, [sA]; st.global.u32 [%rd3], %r5;",
    # a thread rewrites its own word, reads it back, no barrier needed
    "own-word": "st.shared.u32 [%r4], %r0; ld.shared.u32 %r5, [%r4]; add.s32 %r5, %r5, 1;"
                "st.shared.u32 [%r4], %r5; st.global.u32 [%rd3], %r5;",
    # shared atomics by every thread on one word, read after a barrier
    "atomics": "setp.eq.u32 %p1, %r0, 0; @%p1 st.shared.u32 [sA], 0; bar.sync 0; atom.shared.add.u32 %r5, [sA], 1;"
               "bar.sync 0; ld.shared.u32 %r6, [sA]; st.global.u32 [%rd3], %r6;",
    # a CAS loop's first guess: a plain read of a word the other threads update atomically (the CUDA guide's
    # atomicAdd-by-atomicCAS; the read observes one of the values, the CAS checks it), then a plain read after
    # the barrier
    "cas-guess": "setp.eq.u32 %p1, %r0, 0; @%p1 st.shared.u32 [sA], 0; bar.sync 0; ld.shared.u32 %r5, [sA];"
                 "CAS: add.u32 %r6, %r5, 1; atom.shared.cas.b32 %r7, [sA], %r5, %r6; setp.ne.u32 %p2, %r7, %r5;"
                 "mov.u32 %r5, %r7; @%p2 bra CAS; ld.shared.u32 %r8, [sA]; bar.sync 0; ld.shared.u32 %r6, [sA];"
                 "st.global.u32 [%rd3], %r6;",
    # barrier inside a loop, after divergent code that reconverges
    "loop-barrier": "mov.u32 %r10, 0; st.shared.u32 [%r4], 0; LOOP: setp.lt.u32 %p2, %r0, 7; @%p2 bra SKIP;"
                    "add.s32 %r10, %r10, 1; SKIP: bar.sync 0; ld.shared.u32 %r11, [%r4]; add.s32 %r11, %r11, %r10;"
                    "bar.sync 0; st.shared.u32 [%r4], %r11; add.s32 %r1, %r1, -1; setp.ne.u32 %p3, %r1, 0;"
                    "@%p3 bra LOOP; st.global.u32 [%rd3], %r11;",
    # warp-synchronous tail of a reduction in a two-warp block, ordered by __syncwarp
    "syncwarp-reduce": WARP_REDUCE.replace("SYNC", "bar.warp.sync -1;"),
}


# %rd3 = &out[blockIdx.x * blockDim.x + tid]: each block writes its own row (two blocks writing the same
# global word would be a race between blocks)
OWN_ROW = ("mov.u32 %r30, %ctaid.x; mov.u32 %r32, %ntid.x; mad.lo.u32 %r31, %r30, %r32, %r0;"
           "mul.wide.u32 %rd19, %r31, 4; add.s64 %rd3, %rd0, %rd19;")


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_no_false_reports(name):
    threads = 64
    rows = np.zeros(2 * threads, np.uint32)
    rep = emulate(kernel(OWN_ROW + CLEAN[name]), "k", 2, threads, [rows, np.zeros(threads, np.uint32), np.uint32(3)])
    assert rep.findings == ()
    np.testing.assert_array_equal(rows[:threads], rows[threads:])
    out = rows[:threads]
    if name in ("atomics", "cas-guess"):
        assert (out == threads).all()
    if name == "syncwarp-reduce":
        assert out[0] == sum(range(threads))
    if name == "loop-barrier":
        t = np.arange(threads)
        np.testing.assert_array_equal(out, np.where(t < 7, 0, 1 + 2 + 3))


def test_step_limit_stops_endless_loop():
    with pytest.raises(EmulatorError, match="max_steps"):
        emulate(kernel("SPIN: bra SPIN;"), "k", 1, 32, [np.zeros(32, np.uint32), np.zeros(32, np.uint32),
                                                        np.uint32(0)], max_steps=500)


def test_generic_shared_accesses_are_race_checked():
    # sA[t] through a generic pointer, then the neighbour's byte with no barrier
    body = ("cvt.u64.u32 %rd10, %r2; cvta.shared.u64 %rd11, %rd10; cvt.u64.u32 %rd12, %r0; add.s64 %rd13, %rd11, %rd12;"
            "cvt.u16.u32 %h1, %r0; st.u8 [%rd13], %h1; xor.b32 %r5, %r0, 1; cvt.u64.u32 %rd14, %r5;"
            "add.s64 %rd15, %rd11, %rd14; ld.u8 %h2, [%rd15];")
    with pytest.raises(EmulatorCheckError) as ei:
        emulate(kernel(body), "k", 1, 64, [np.zeros(64, np.uint32), np.zeros(64, np.uint32), np.uint32(0)])
    assert {f.kind for f in ei.value.findings} == {"race-shared"}
    clean = body.replace("ld.u8 %h2, [%rd15];", "bar.sync 0; ld.u8 %h2, [%rd15];")
    assert emulate(kernel(clean), "k", 1, 64, [np.zeros(64, np.uint32), np.zeros(64, np.uint32),
                                                np.uint32(0)]).findings == ()


def test_oob_before_a_buffer_names_that_buffer():
    # in[t - 1]: thread 0 reads 4 bytes before the start of in_param
    body = ("add.s64 %rd6, %rd4, -4; ld.global.u32 %r6, [%rd6]; st.global.u32 [%rd3], %r6;")
    rep = emulate(kernel(body), "k", 1, 8, [np.zeros(8, np.uint32), np.zeros(8, np.uint32), np.uint32(0)],
                  check=False)
    (f,) = rep.findings
    assert f.buffer == "in_param" and "before the start of 'in_param': byte offset -4" in f.message
    assert f.thread == (0, 0, 0) and f.count == 1


def test_raw_pointer_without_buffers():
    body = "mov.u64 %rd9, 4096; ld.global.u32 %r6, [%rd9];"
    rep = emulate(kernel(body), "k", 1, 4, [np.uint64(0), np.uint64(0), np.uint32(0)], check=False)
    assert [f.kind for f in rep.findings] == ["oob-global"] and "no global buffers" in rep.findings[0].message


PRODUCER_CONSUMER = ("setp.ge.u32 %p1, %r0, 32; @%p1 bra PRODUCER;"
                     "bar.sync 1, 64; ld.shared.u32 %r6, [%r4]; st.global.u32 [%rd3], %r6; bra.uni DONE;"
                     "PRODUCER: sub.u32 %r7, %r4, 128; mul.lo.u32 %r8, %r0, 3; st.shared.u32 [%r7], %r8;"
                     "bar.arrive 1, 64; DONE:")


def test_named_barrier_producer_consumer_waits():
    # the consumer warp reaches bar.sync first (lower PC) and must wait for the producer's bar.arrive
    out = np.zeros(128, np.uint32)
    rep = emulate(kernel(OWN_ROW + PRODUCER_CONSUMER), "k", 2, 64, [out, np.zeros(64, np.uint32), np.uint32(0)])
    assert rep.findings == ()
    np.testing.assert_array_equal(out[:32], 3 * (np.arange(32) + 32))
    np.testing.assert_array_equal(out[64:96], out[:32])


def test_named_barrier_that_never_completes_is_reported_not_hung():
    body = PRODUCER_CONSUMER.replace("bar.arrive 1, 64;", "")
    rep = emulate(kernel(body), "k", 1, 64, [np.zeros(64, np.uint32), np.zeros(64, np.uint32), np.uint32(0)],
                  check=False, max_steps=10_000)
    kinds = [f.kind for f in rep.findings]
    assert "barrier-divergence" in kinds
    f = next(f for f in rep.findings if f.kind == "barrier-divergence")
    assert "named barrier 1" in f.message and f.instruction.startswith("bar.sync 1, 64")


@pytest.mark.parametrize("instr", [
    "shfl.sync.bfly.b32 %r6, %r0, 1, 0x1f, -1;",
    "vote.sync.any.pred %p2, %p1, -1;",
    "redux.sync.add.u32 %r6, %r0, -1;",
])
def test_warp_sync_instruction_in_divergent_code(instr):
    # odd lanes branch around the instruction although the member mask names them (and go on to
    # another warp sync: lanes on their way to exit are not waited for)
    body = f"and.b32 %r9, %r0, 1; setp.ne.u32 %p1, %r9, 0; @%p1 bra SKIP; {instr} SKIP: bar.warp.sync -1;"
    args = [np.zeros(64, np.uint32), np.zeros(64, np.uint32), np.uint32(0)]
    rep = emulate(kernel(body), "k", 1, 64, args, check=False)
    (f,) = rep.findings
    assert f.kind == "warp-divergence" and f.thread == (1, 0, 0) and f.count == 32
    assert f.instruction == instr
    # naming only the lanes that do execute it is fine (a shuffle then reads one of them: xor 2, not 1)
    ok = instr.replace("-1;", "0x55555555;").replace(", 1, 0x1f", ", 2, 0x1f")
    assert emulate(kernel(body.replace(instr, ok)), "k", 1, 64, args).findings == ()


@pytest.mark.parametrize("body, reader, source, count", [
    # lanes 20-31 have exited: lanes 4-15 read them (lanes 0-3 read live lanes, 16-19 are out of range)
    ("setp.ge.u32 %p0, %r0, 20; @%p0 bra DONE; shfl.sync.down.b32 %r6, %r0, 16, 31, -1; DONE:", 4, 20, 12),
    # the even lanes name only themselves and read their odd neighbour, which the mask leaves out
    ("and.b32 %r9, %r0, 1; setp.ne.u32 %p1, %r9, 0; @%p1 bra DONE; shfl.sync.bfly.b32 %r6, %r0, 1, 0x1f, "
     "0x55555555; DONE:", 0, 1, 32),
])
def test_shuffle_from_an_exited_or_unnamed_lane_is_a_finding(body, reader, source, count):
    args = [np.zeros(64, np.uint32), np.zeros(64, np.uint32), np.uint32(0)]
    rep = emulate(kernel(body), "k", 1, 64, args, check=False)
    (f,) = rep.findings
    assert f.kind == "shfl-source" and f.thread == (reader, 0, 0) and f.count == count
    assert f"reads lane {source} of its warp, which takes no part in this shuffle" in f.message


# ------------------------------------------------------------------------------ guard zones, global races


@pytest.mark.parametrize("body, buf, where", [
    # out has 64 words: out[i + 128] would land inside `in` on a packed heap
    ("st.global.u32 [%rd3+512], %r0;", "out_param", "past the end of 'out_param': byte offset 512"),
    ("ld.global.u32 %r5, [%rd4+-512]; st.global.u32 [%rd3], %r5;", "in_param",
     "before the start of 'in_param': byte offset -512"),
])
def test_overflow_into_a_neighbour_lands_in_a_guard_zone(body, buf, where):
    out, inp = np.zeros(64, np.uint32), np.arange(64, dtype=np.uint32)
    with pytest.raises(EmulatorCheckError) as e:
        emulate(kernel(body), "k", 1, 64, [out, inp, np.uint32(0)])
    (f,) = e.value.findings
    assert f.kind == "oob-global" and f.buffer == buf and f.count == 64 and where in f.message
    assert "in the guard zone between 'out_param' and 'in_param'" in f.message
    np.testing.assert_array_equal(inp, np.arange(64))  # the neighbour is untouched


LAST_BLOCK = """
    setp.ne.u32 %p1, %r0, 0;
    @%p1 bra DONE;
    mov.u32 %r20, %ctaid.x;
    add.u32 %r21, %r20, 1;
    mul.wide.u32 %rd10, %r20, 4;
    add.s64 %rd11, %rd1, %rd10;
    st.global.u32 [%rd11], %r21;
    FENCE
    atom.global.add.u32 %r22, [%rd0+4], 1;
    mov.u32 %r23, %nctaid.x;
    sub.u32 %r24, %r23, 1;
    setp.ne.u32 %p2, %r22, %r24;
    @%p2 bra DONE;
    mov.u32 %r25, 0;
    mov.u32 %r26, 0;
LOOP:
    mul.wide.u32 %rd12, %r26, 4;
    add.s64 %rd13, %rd1, %rd12;
    ld.global.u32 %r27, [%rd13];
    add.u32 %r25, %r25, %r27;
    add.u32 %r26, %r26, 1;
    setp.lt.u32 %p3, %r26, %r23;
    @%p3 bra LOOP;
    st.global.u32 [%rd0], %r25;
DONE:"""


@pytest.mark.parametrize("fence", ["membar.gl;", "fence.sc.gpu;", "fence.acq_rel.gpu;"])
def test_last_block_pattern_with_a_fence_is_not_a_race(fence):
    # threadfence reduction: each block publishes a partial, fences, counts itself in; the last one sums
    out, part = np.zeros(2, np.uint32), np.zeros(4, np.uint32)
    rep = emulate(kernel(LAST_BLOCK.replace("FENCE", fence)), "k", 4, 32, [out, part, np.uint32(0)])
    assert rep.findings == () and out[0] == 1 + 2 + 3 + 4


def test_global_races_between_blocks():
    # no fence: the last block's reads of the other partials race with their writes
    with pytest.raises(EmulatorCheckError) as e:
        emulate(kernel(LAST_BLOCK.replace("FENCE", "")), "k", 4, 32, [np.zeros(2, np.uint32), np.zeros(4, np.uint32),
                                                                       np.uint32(0)])
    (f,) = e.value.findings
    assert f.kind == "race-global" and f.buffer == "in_param" and f.count == 3
    assert f.message.startswith("read/write race on global 'in_param' byte offset 0 (and 2 more 4-byte words): "
                                "block (0, 0, 0) writes it and block (3, 0, 0) reads it")
    assert f.instruction == "st.global.u32 [%rd11], %r21;" and f.thread == (0, 0, 0)
    # every block writes out[tid]
    with pytest.raises(EmulatorCheckError) as e:
        emulate(kernel("st.global.u32 [%rd3], %r0;"), "k", 3, 64, [np.zeros(64, np.uint32), np.zeros(1, np.uint32),
                                                                  np.uint32(0)])
    (f,) = e.value.findings
    assert f.kind == "race-global" and f.count == 64 and f.message.startswith("write/write race on global 'out_param'")
    # reads of another block's row (an in-place stencil across the block boundary)
    body = OWN_ROW + ("st.global.u32 [%rd3], %r0; mov.u32 %r33, %nctaid.x; add.u32 %r34, %r30, 1;"
                      "rem.u32 %r34, %r34, %r33; mad.lo.u32 %r35, %r34, %r32, %r0; mul.wide.u32 %rd18, %r35, 4;"
                      "add.s64 %rd18, %rd0, %rd18; ld.global.u32 %r36, [%rd18]; st.global.u32 [%rd4], %r36;")
    with pytest.raises(EmulatorCheckError) as e:
        emulate(kernel(body), "k", 2, 32, [np.zeros(64, np.uint32), np.zeros(32, np.uint32), np.uint32(0)])
    kinds = sorted((f.kind, f.message.split(" race")[0], f.buffer) for f in e.value.findings)
    assert kinds == [("race-global", "read/write", "out_param"), ("race-global", "write/write", "in_param")]


def test_atomics_from_every_block_are_not_races():
    rep = emulate(kernel("atom.global.add.u32 %r5, [%rd1], 1; red.global.add.u32 [%rd1+4], %r0;"
                         "st.global.u32 [%rd3], 0;"), "k", 1, 64,
                  [np.zeros(64, np.uint32), np.zeros(2, np.uint32), np.uint32(0)])
    assert rep.findings == ()
    buf = np.zeros(2, np.uint32)
    rep = emulate(kernel("atom.global.add.u32 %r5, [%rd1], 1;"), "k", 5, 64, [np.zeros(64, np.uint32), buf, np.uint32(0)])
    assert rep.findings == () and buf[0] == 5 * 64


# __syncwarp at two call sites: even lanes store their value and sync at the first, odd lanes sync at the
# second, then every lane reads its neighbour's value (lane ^ 1). On sm_70+ the two bar.warp.sync meet
# (same member mask), so the odd lanes read what the even lanes stored: no finding, exact values.
TWO_SITES = ("and.b32 %r9, %r0, 1; setp.ne.u32 %p1, %r9, 0; @%p1 bra ODD; st.shared.u32 [%r4], %r0; "
             "bar.warp.sync -1; bra.uni JOIN; ODD: st.shared.u32 [%r4], %r0; bar.warp.sync -1; JOIN: "
             "xor.b32 %r10, %r0, 1; shl.b32 %r11, %r10, 2; add.s32 %r12, %r2, %r11; ld.shared.u32 %r13, [%r12]; "
             "st.global.u32 [%rd3], %r13;")


@pytest.mark.parametrize("block", [32, 64, 48])
def test_syncwarp_at_two_call_sites_meets_on_sm70(block):
    out = np.full(64, 0xDEADBEEF, np.uint32)
    rep = emulate(kernel(TWO_SITES), "k", 1, block, [out, np.zeros(64, np.uint32), np.uint32(0)])
    assert rep.findings == ()
    np.testing.assert_array_equal(out[:block], np.arange(block, dtype=np.uint32) ^ 1)
    assert (out[block:] == 0xDEADBEEF).all()


def test_syncwarp_whose_partners_exited_completes():
    # odd lanes exit; the even lanes' __syncwarp does not wait for them (sm_70+)
    body = ("and.b32 %r9, %r0, 1; setp.ne.u32 %p1, %r9, 0; @%p1 bra OUT; st.shared.u32 [%r4], %r0; "
            "bar.warp.sync -1; ld.shared.u32 %r13, [%r4]; st.global.u32 [%rd3], %r13; OUT: ret;")
    out = np.zeros(32, np.uint32)
    rep = emulate(kernel(body), "k", 1, 32, [out, np.zeros(32, np.uint32), np.uint32(0)])
    assert rep.findings == ()
    np.testing.assert_array_equal(out[::2], np.arange(0, 32, 2))


def test_syncwarp_whose_partners_wait_at_a_block_barrier_is_divergence():
    # odd lanes go to a block barrier first: the even lanes' __syncwarp would wait for them forever
    body = ("and.b32 %r9, %r0, 1; setp.ne.u32 %p1, %r9, 0; @%p1 bra ODD; bar.warp.sync -1; bra.uni JOIN; "
            "ODD: bar.sync 0; JOIN: st.global.u32 [%rd3], %r0;")
    rep = emulate(kernel(body), "k", 1, 32, [np.zeros(32, np.uint32), np.zeros(32, np.uint32), np.uint32(0)],
                  check=False)
    assert {f.kind for f in rep.findings} & {"warp-divergence", "barrier-divergence"}
