"""Every front-end check: message, exact file:line:col, caret and hint; errors pickle."""

from __future__ import annotations

import pickle

import pytest

from sass_lab.dsl import frontend
from sass_lab.errors import SourceError

HEAD = """\
.kernel k(.u64 p, .f32 alpha)
.reg .f32 x, y, acc[8][8]
.reg .u32 i, j
.reg .s32 s
.reg .b32 b
.reg .u64 a64
.reg .f16 h
.reg .v4 .f32 q
.reg .pred pr
.reg .b32 %r<4>
"""
N = HEAD.count("\n") + 1  # line number of the first body line


def fail(body: str) -> SourceError:
    with pytest.raises(SourceError) as e:
        frontend(HEAD + body, "k.sasm", {})
    return e.value


@pytest.mark.parametrize("body, msg, col, end", [
    ("    add.f32 x, y, zz\n", "'zz' is not declared", 19, 21),
    ("    add.f32 x, y, acx[0][0]\n", "'acx[0][0]' is not declared", 19, 28),
    ("    fma.rn.f32 acc[8][0], x, y, acc[8][0]\n", "register 'acc[8][0]' is out of range: acc is 8x8", 16, 25),
    ("    mov.f32 x, acc[1]\n", "'acc' is a 8x8 array: give 2 indices, got 1", 16, 22),
    ("    mov.f32 x, y[0]\n", "'y' is not an array", 16, 20),
    ("    mov.f32 x, acc\n", "'acc' is a 8x8 array: give 2 indices, got 0", 16, 19),
    ("    mov.f32 x, q.v\n", "no part '.v' in a .v4 register", 16, 19),
    ("    mov.f32 x, y.x\n", "'y' is not a vector register", 16, 19),
    ("    mov.f32 x, q[4]\n", "q has 4 parts", 16, 20),
    ("    mov.f32 x, %r4\n", "register '%r4' is out of range: %r<4>", 16, 19),
    ("    fma.rn.f32 x, y, x\n", "'fma.rn.f32' takes 4 operands, got 3", 5, 23),
    ("    ret x\n", "'ret' takes 0 operands, got 1", 5, 10),
    ("    add.f32 x, y, i\n", "type mismatch: 'i' is .u32, 'add.f32' expects .f32 here", 19, 20),
    ("    add.u32 i, x, j\n", "type mismatch: 'x' is .f32, 'add.u32' expects .u32 here", 16, 17),
    ("    add.f32 x, h, y\n", "type mismatch: 'h' is .f16", 16, 17),
    ("    add.u64 i, a64, a64\n", "type mismatch: 'i' is .u32, 'add.u64' expects .u64", 13, 14),
    ("    mul.wide.u32 i, i, j\n", "'i' is .u32, 'mul.wide.u32' expects .u64", 18, 19),
    ("    setp.lt.f32 x, x, y\n", "'x' is .f32, 'setp.lt.f32' needs a predicate here", 17, 18),
    ("    selp.f32 x, x, y, i\n", "'i' is .u32, 'selp.f32' needs a predicate here", 23, 24),
    ("    cvt.rn.f32.s32 x, y\n", "type mismatch: 'y' is .f32, 'cvt.rn.f32.s32' expects .s32", 23, 24),
    ("    ld.global.u64 i, [p]\n", "type mismatch: 'i' is .u32, 'ld.global.u64' expects .u64", 19, 20),
    ("    ld.global.f32 x, [y]\n", "address register 'y' is .f32", 23, 24),
    ("    ld.global.L2::cache_hint.f32 x, [p], i\n", "'i' is .u32 (32 bits), 'ld.global.L2::cache_hint.f32' moves 64",
     42, 43),
    ("    mov.u64 i, a64\n", "'i' is .u32 (32 bits), 'mov.u64' moves 64 bits", 13, 14),
    ("    add.u32 i, i, 1.5\n", "float immediate '1.5' in integer instruction 'add.u32'", 19, 22),
    ("    bra nowhere\n", "undefined label 'nowhere'", 9, 16),
    ("@x  bra done\ndone:\n", "guard 'x' is not a predicate (it is .f32)", 2, 3),
    ("    fmaa.rn.f32 x, x, x, x\n", "unknown instruction 'fmaa'", 5, 27),
    ("    fma.rn.f23 x, x, x, x\n", "unknown type '.f23' in 'fma.rn.f23'", 5, 26),
    ("    setp.lt.and.f32 pr, x, y, !x\n", "'!x' negates a predicate, but 'x' is .f32", 31, 33),
    (".end\n", "'.end' without '.schedule'", 1, 5),
    ("    .reg .f32 x\n", "duplicate name 'x'", 15, 16),
    ("    .reg .f32 alpha\n", "duplicate name 'alpha'", 15, 20),
    ("    .reg .f32 acc_1_1\n", "register 'acc_1_1' (from 'acc_1_1') clashes", 15, 22),
    ("    mov.f32 x, acc[i][0]\n", "index 'i' of 'acc' is not a constant", 16, 25),
    ("    ld.global.f32 x, p\n", "operand 2 of 'ld.global.f32' must be a memory operand [...], not a register",
     22, 23),
    ("    add.u32 i, [p], 1\n", "operand 2 of 'add.u32' must be a scalar register, immediate or symbol, not a memory",
     16, 19),
    ("    mov.u32 %tid.x, i\n", "operand 1 of 'mov.u32' must be a destination register or brace list, not a special", 13, 19),
    ("    add.u32 1, i, i\n", "operand 1 of 'add.u32' must be a destination register, not an immediate",
     13, 14),
    ("    st.global.f32 x, [p]\n", "operand 1 of 'st.global.f32' must be a memory operand", 19, 20),
    ("    add.f32 x, q, y\n", "operand 2 of 'add.f32' must be a scalar register, immediate or symbol, not a brace",
     16, 17),
])
def test_check_reports_exact_location(body, msg, col, end):
    err = fail(body)
    assert msg in err.message
    assert (err.span.file, err.span.line, err.span.col, err.span.end_col) == ("k.sasm", N, col, end)
    assert err.span.source == body.split("\n")[0]
    assert "^" in err.render()


@pytest.mark.parametrize("body, msg, line", [
    ("done:\n    ret\ndone:\n", "duplicate label 'done'", N + 2),
    (".schedule\n    ret\n", "'.schedule' region is not closed", N),
    (".schedule\n.schedule\n.end\n.end\n", "'.schedule' inside a '.schedule' region", N + 1),
    ("    ret\n}\n", "unmatched '}'", N + 1),
    ("{\n.reg .f32 t\n.reg .f32 t\n}\n", "duplicate name 't' in this scope", N + 2),
    ("$L_t: .branchtargets done, nope\ndone:\n", "undefined label 'nope'", N),
    (".reg .f32 z[0]\n", "register array 'z' needs positive sizes", N),
    (".reg .f32 w[2]\n.reg .b32 w_1\n", "register 'w_1' (from 'w_1') clashes with an earlier declaration", N + 1),
    ("    ret\n.kernel k()\n    ret\n", "duplicate kernel 'k'", N + 1),
])
def test_structure_errors(body, msg, line):
    err = fail(body)
    assert msg in err.message
    assert err.span.line == line


@pytest.mark.parametrize("src, msg, line, col", [
    ("    add.f32 x, y, z\n", "instruction outside a kernel", 1, 5),
    (".reg .f32 x\n", "registers are declared inside a kernel", 1, 6),
    (".kernel k(.f32 a, .u32 a)\n    ret\n", "duplicate parameter 'a'", 1, 24),
    (".entry k()\n    ret;\n", "expected '{' to start the body of 'k'", 1, 8),
    (".kernel k()\n{\n    ret\n", "'{' is not closed", 2, 1),
    (".shared .f32 s[0]\n", "'s' has an empty dimension", 1, 14),
    (".global .f32 g\n.global .f32 g\n", "duplicate variable 'g'", 2, 14),
])
def test_module_level_errors(src, msg, line, col):
    with pytest.raises(SourceError) as e:
        frontend(src, "m.sasm", {})
    assert msg in e.value.message
    assert (e.value.span.line, e.value.span.col) == (line, col)


@pytest.mark.parametrize("body", [
    "    add.s32 i, i, j\n",              # u/s interchangeable
    "    and.b32 i, s, b\n",              # b matches any 32-bit
    "    mov.b32 i, x\n",                 # mov checks sizes only
    "    mov.b32 b, {h, h}\n",            # mov packs
    "    ld.global.u8 i, [p+3]\n",        # ld may widen integers
    "    st.global.v4.f32 [p], q\n",
    "    cvt.u32.u16 i, %r1\n",
    "    setp.lt.and.f32 pr, x, y, pr\n",
    "    mul.wide.s32 a64, s, 4\n",
    "    shl.b64 a64, a64, i\n",
    "@!pr bra done\ndone:\n",
    "    mov.u64 a64, p\n",
    "    add.f32 x, x, alpha\n",
])
def test_valid_operands_pass(body):
    frontend(HEAD + body, "k.sasm", {})


def test_error_hint_and_chain_inside_a_loop():
    err = fail("% for i in range(9):\n    mov.f32 acc[${i}][0], x\n% end\n")
    assert err.span.chain == ("in loop i=8 at k.sasm:11",)
    assert err.span.source.strip() == "mov.f32 acc[8][0], x"
    assert err.hint == "index 0 must be below 8"


def test_did_you_mean():
    assert fail("    add.f32 x, yy, x\n").hint == "did you mean 'y'?"


def test_errors_are_picklable():
    err = fail("    add.f32 x, y, i\n")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is SourceError and back.span == err.span and back.hint == err.hint


def test_cache_policy_operand_is_64_bits_whatever_the_access_type():
    ok = "    ld.global.L2::cache_hint.f32 x, [p], a64\n    st.global.L2::cache_hint.f32 [p], x, a64\n"
    frontend(HEAD + ok, "k.sasm", {})
