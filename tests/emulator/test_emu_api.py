"""emulate()'s contract: argument binding and type checks, decode-time errors, reports."""

from __future__ import annotations

import numpy as np
import pytest
from ptxkit import HEAD, committed_ptx, kernel

from sass_lab.emulator import EmulatorCheckError, Report, emulate
from sass_lab.errors import EmulatorError, SasmError

VECADD = committed_ptx("vecadd")
BODY_LINE = HEAD.count("\n") + 1  # the PTX line of a kernel() body


def _bufs(n=8):
    return [np.ones(n, np.float32), np.ones(n, np.float32), np.zeros(n, np.float32)]


@pytest.mark.parametrize("bad,expect", [
    (np.float32(3), "expected .u32, got np.float32"),
    (np.int64(3), "expected .u32, got np.int64"),
    (3.0, "expected .u32, got a Python float"),
    ("3", "expected .u32, got str"),
    (np.zeros(3, np.int32), "got a numpy array"),
    (2**40, "out of range"),
])
def test_scalar_type_mismatch_names_param(bad, expect):
    with pytest.raises(EmulatorError) as ei:
        emulate(VECADD, "vecadd", 1, 8, [*_bufs(), bad])
    msg = str(ei.value)
    assert "vecadd_param_3" in msg and expect in msg and not isinstance(ei.value, EmulatorCheckError)


@pytest.mark.parametrize("good", [np.int32(8), np.uint32(8), 8])
def test_scalar_types_accepted(good):
    a, b, c = _bufs()
    emulate(VECADD, "vecadd", 1, 8, [a, b, c, good])
    assert (c == 2).all()


def test_pointer_param_rejects_scalar_float():
    with pytest.raises(EmulatorError, match="vecadd_param_0"):
        emulate(VECADD, "vecadd", 1, 8, [np.float64(1.0), *_bufs()[1:], np.int32(8)])


def test_args_by_name_and_count_errors():
    a, b, c = _bufs()
    names = {f"vecadd_param_{i}": v for i, v in enumerate([a, b, c, np.int32(8)])}
    emulate(VECADD, "vecadd", 1, 8, names)
    assert (c == 2).all()
    with pytest.raises(EmulatorError, match="takes 4 argument"):
        emulate(VECADD, "vecadd", 1, 8, [a, b])
    with pytest.raises(EmulatorError, match="no parameter named nope"):
        emulate(VECADD, "vecadd", 1, 8, {**names, "nope": 1})


def test_unknown_kernel_and_bad_launch():
    with pytest.raises(EmulatorError, match="kernels: vecadd"):
        emulate(VECADD, "nope", 1, 8, [])
    with pytest.raises(EmulatorError, match="at most 1024"):
        emulate(VECADD, "vecadd", 1, (64, 32), [*_bufs(), np.int32(8)])
    with pytest.raises(EmulatorError, match="positive"):
        emulate(VECADD, "vecadd", 0, 8, [*_bufs(), np.int32(8)])


@pytest.mark.parametrize("instr,name", [
    ("tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [tex0, {%f1, %f1}];", "tex.2d.v4.f32.f32"),
    ("tensormap.replace.tile.global_address.global.b1024.b64 [%rd4], %rd4;", "tensormap.replace"),
    ("brx.idx.uni %r5, tbl;", "brx.idx.uni"),
    ("call.uni foo, (%r5);", "call.uni"),
    ("min.xorsign.abs.f32 %f1, %f2, %f3;", ".xorsign"),
    ("cvt.rn.relu.f32.f64 %f1, %fd1;", "cvt.rn.relu.f32.f64"),
    ("tcgen05.fence::before_thread_sync;", "tcgen05.fence::before_thread_sync"),
])
def test_unsupported_instruction_is_a_decode_error(instr, name):
    ptx = kernel("ld.global.u32 %r5, [%rd4];" + instr)
    with pytest.raises(EmulatorError) as ei:
        # the kernel would never reach it at runtime (n = 0 skips nothing): decode rejects it up front
        emulate(ptx, "k", 1, 1, [np.zeros(1, np.uint32), np.zeros(1, np.uint32), np.uint32(0)], max_steps=1)
    err = ei.value
    assert name in err.message and f"PTX line {BODY_LINE}" in err.message
    assert err.span is not None and err.span.line == BODY_LINE
    assert "max_steps" not in err.message


def test_syntax_error_has_line_and_caret():
    with pytest.raises(EmulatorError) as ei:
        emulate(kernel("add.u32 %r6, , 1;"), "k", 1, 1, [])
    assert ei.value.span.line == BODY_LINE and "syntax" in ei.value.message
    assert "^" in ei.value.render()


def test_unknown_register_and_label():
    with pytest.raises(EmulatorError, match="unknown name 'nope'"):
        emulate(kernel("add.u32 %r6, nope, 1;"), "k", 1, 1, [])
    with pytest.raises(EmulatorError, match="unknown label 'NOWHERE'"):
        emulate(kernel("bra NOWHERE;"), "k", 1, 1, [])


def test_report_stats_and_render():
    a, b, c = _bufs(100)
    rep = emulate(VECADD, "vecadd", (2, 1, 1), (64,), [a, b, c, np.int32(100)])
    assert isinstance(rep, Report) and rep.ok and rep.grid == (2, 1, 1) and rep.block == (64, 1, 1)
    assert rep.stats.steps > 10 and rep.stats.thread_instructions > 100 * 10 and rep.stats.waves == 1
    assert "vecadd" in rep.render()
    rep = emulate(VECADD, "vecadd", 4, 64, [*_bufs(256), np.int32(256)], wave_lanes=64)
    assert rep.stats.waves == 4


def test_errors_are_sasm_errors():
    assert issubclass(EmulatorCheckError, EmulatorError) and issubclass(EmulatorError, SasmError)


ASSEMBLER_STYLE = """//
.version 9.0
.target sm_90
.address_size 64

.visible .entry scale(
    .param .u64 X_param,
    .param .u64 Y_param,
    .param .f32 alpha_param,
    .param .u32 n_param
)
.maxntid 128, 1, 1
{
    .reg .pred p_tail;
    .reg .b32 tid, n; .reg .b32 idx;
    .reg .f32 acc_0_0, acc_0_1;
    .reg .f32 alpha;
    .reg .b64 x_ptr, y_ptr, off;
    mov.u32 tid, %tid.x;
    mov.u32 idx, %ctaid.x;
    mad.lo.s32 idx, idx, 128, tid;
    ld.param.u32 n, [n_param];
    setp.ge.u32 p_tail, idx, n;
    @p_tail bra done;
    ld.param.u64 x_ptr, [X_param];
    ld.param.u64 y_ptr, [Y_param];
    ld.param.f32 alpha, [alpha_param];
    mul.wide.u32 off, idx, 4;
    add.s64 x_ptr, x_ptr, off;
    add.s64 y_ptr, y_ptr, off;
    ld.global.f32 acc_0_0, [x_ptr];
    mul.f32 acc_0_1, acc_0_0, alpha;
    st.global.f32 [y_ptr], acc_0_1;
done:
    ret;
}
"""


def test_assembler_style_ptx_with_readable_names():
    x = np.arange(300, dtype=np.float32)
    y = np.full(300, np.nan, np.float32)
    emulate(ASSEMBLER_STYLE, "scale", 3, 128, [x, y, np.float32(0.5), np.uint32(300)])
    np.testing.assert_array_equal(y, x * 0.5)
    with pytest.raises(EmulatorError, match="alpha_param.*expected .f32, got np.float64"):
        emulate(ASSEMBLER_STYLE, "scale", 3, 128, [x, y, np.float64(0.5), np.uint32(300)])


def test_aliased_buffers_share_memory():
    # c = a + b with c passed as the same array as a: an in-place add
    a = np.arange(8, dtype=np.float32)
    b = np.ones(8, np.float32)
    emulate(VECADD, "vecadd", 1, 8, [a, b, a, np.int32(8)])
    np.testing.assert_array_equal(a, np.arange(8) + 1)
    base = np.zeros(16, np.float32)
    with pytest.raises(EmulatorError, match="same memory"):
        emulate(VECADD, "vecadd", 1, 8, [base[:8], b, base[4:12], np.int32(8)])


def test_3d_grid_and_block_coordinates():
    body = ("mov.u32 %r10, %tid.y; mov.u32 %r11, %tid.z; mov.u32 %r12, %ntid.x; mov.u32 %r13, %ntid.y;"
            "mad.lo.u32 %r14, %r11, %r13, %r10; mad.lo.u32 %r14, %r14, %r12, %r0;"  # linear tid
            "mov.u32 %r15, %ctaid.x; mov.u32 %r16, %ctaid.y; mov.u32 %r17, %ctaid.z; mov.u32 %r18, %nctaid.x;"
            "mov.u32 %r19, %nctaid.y; mad.lo.u32 %r20, %r17, %r19, %r16; mad.lo.u32 %r20, %r20, %r18, %r15;"
            "mul.lo.u32 %r21, %r12, %r13; mov.u32 %r22, %ntid.z; mul.lo.u32 %r21, %r21, %r22;"  # threads/block
            "mad.lo.u32 %r23, %r20, %r21, %r14; mul.wide.u32 %rd10, %r23, 4; add.s64 %rd11, %rd0, %rd10;"
            "shl.b32 %r24, %r20, 16; or.b32 %r24, %r24, %r14; st.global.u32 [%rd11], %r24;")
    grid, block = (3, 2, 2), (4, 2, 3)
    n = 12 * 24
    out = np.zeros(n, np.uint32)
    emulate(kernel(body), "k", grid, block, [out, np.zeros(1, np.uint32), np.uint32(0)])
    ids = np.arange(n)
    np.testing.assert_array_equal(out, ((ids // 24) << 16) | (ids % 24))


def test_trap_is_a_runtime_error_naming_the_thread():
    ptx = kernel("setp.eq.u32 %p1, %r0, 5; @%p1 trap;")
    with pytest.raises(EmulatorError, match=r"trap executed by block \(0, 0, 0\) thread \(5, 0, 0\)"):
        emulate(ptx, "k", 1, 32, [np.zeros(32, np.uint32), np.zeros(32, np.uint32), np.uint32(0)])
    emulate(ptx, "k", 1, 4, [np.zeros(4, np.uint32), np.zeros(4, np.uint32), np.uint32(0)])  # no thread 5


def test_isspacep():
    body = ("cvt.u64.u32 %rd10, %r4; cvta.shared.u64 %rd11, %rd10; isspacep.shared %p1, %rd11; isspacep.global %p2, %rd3;"
            "isspacep.shared %p3, %rd3; selp.u32 %r6, 1, 0, %p1; selp.u32 %r7, 2, 0, %p2; selp.u32 %r8, 4, 0, %p3;"
            "or.b32 %r6, %r6, %r7; or.b32 %r6, %r6, %r8; st.global.u32 [%rd3], %r6;")
    out = np.zeros(8, np.uint32)
    emulate(kernel(body), "k", 1, 8, [out, np.zeros(8, np.uint32), np.uint32(0)])
    assert (out == 3).all()


def test_short_param_names_for_assembler_kernels():
    x = np.arange(10, dtype=np.float32)
    y = np.zeros(10, np.float32)
    emulate(ASSEMBLER_STYLE, "scale", 1, 128, {"X": x, "Y": y, "alpha": np.float32(2), "n": np.uint32(10)})
    np.testing.assert_array_equal(y, 2 * x)


@pytest.mark.parametrize("call", [
    lambda: emulate(b"ptx", "vecadd", 1, 8, []),
    lambda: emulate(VECADD, "vecadd", 1, 8, [*_bufs(), np.int32(8)], dynamic_shared=-1),
    lambda: emulate(VECADD, "vecadd", 1, 8, [np.array([object()] * 8), *_bufs()[1:], np.int32(8)]),
    lambda: emulate(VECADD, "vecadd", 1, 8, [[1.0] * 8, *_bufs()[1:], np.int32(8)]),
    lambda: emulate(VECADD, "vecadd", "x", 8, [*_bufs(), np.int32(8)]),
])
def test_bad_calls_are_emulator_errors(call):
    with pytest.raises(EmulatorError):
        call()


@pytest.mark.parametrize("instr", ["tex.1d.v4.f32.s32 {%f1, %f2, %f3, %f4}, [%rd4, {%r5}];",
                                   "suld.b.2d.b32.trap {%r6}, [%rd4, {%r5, %r5}];",
                                   "sust.b.2d.b32.trap [%rd4, {%r5, %r5}], {%r6};", "txq.width.b32 %r6, [%rd4];",
                                   "tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}|%p1, [%rd4, {%f5, %f5}];"])  # sparse fetch
def test_textures_and_surfaces_are_refused_saying_why(instr):
    with pytest.raises(EmulatorError) as ei:
        emulate(kernel(instr), "k", 1, 1, [np.zeros(1, np.uint32), np.zeros(1, np.uint32), np.uint32(0)])
    assert "textures and surfaces are not supported" in ei.value.message
    assert "no texture or surface objects" in ei.value.hint and "ld.global" in ei.value.hint


STRUCT_PTX = """.version 8.0
.target sm_80
.address_size 64
.visible .entry k(.param .align 8 .b8 s[24], .param .u64 out_param)
{
 .reg .b64 %rd<4>; .reg .f32 %f<4>;
 ld.param.u64 %rd0, [out_param];
 ld.param.f32 %f0, [s];
 ld.param.f32 %f1, [s+4];
 ld.param.u64 %rd1, [s+8];
 add.f32 %f2, %f0, %f1;
 ld.global.f32 %f3, [%rd1];
 add.f32 %f2, %f2, %f3;
 st.global.f32 [%rd0], %f2;
 ret;
}
"""


def test_an_array_where_the_struct_holds_values_is_refused_not_passed_as_a_pointer():
    """struct {float w[2]; float* p;}: a numpy array stands for a pointer member; given for w (read as two
    f32 at offsets 0 and 4) it would have put an address there: wrong numbers. Now an error that says so."""
    out = np.zeros(1, np.float32)
    emulate(STRUCT_PTX, "k", 1, 1, [{0: np.float32(1), 4: np.float32(2), 8: np.array([4.0], np.float32)}, out])
    assert out[0] == 7
    with pytest.raises(EmulatorError) as e:
        emulate(STRUCT_PTX, "k", 1, 1, [{0: np.array([1, 2], np.float32), 8: np.array([4], np.float32)}, out])
    assert "the numpy array at offset 0 stands for a pointer member, but the kernel reads 4 byte(s) at offset 0" \
        in e.value.message and "element by element" in e.value.hint
