"""Expansion: defines, splices, %-lines, %% blocks, includes, lab blocks and the source map."""

from __future__ import annotations

import pickle

import pytest

from sass_lab.dsl.expand import coerce_define, expand
from sass_lab.errors import SourceError


def lines(text: str, **defines) -> list[str]:
    ex, _ = expand(text, "t.sasm", defines)
    return [x.strip() for x in ex.lines if x.strip()]


@pytest.mark.parametrize("defines, want", [
    ({}, {"A": 1, "B": 2, "C": 3}),
    ({"A": 10}, {"A": 10, "B": 2, "C": 12}),
    ({"B": "7"}, {"A": 1, "B": 7, "C": 8}),          # -D values arrive as strings
    ({"A": "0x10"}, {"A": 16, "B": 2, "C": 18}),
])
def test_defines_defaults_and_overrides(defines, want):
    _, d = expand(".define A = 1, B = 2\n.define C = A + B  // derived\n", "t.sasm", defines)
    assert d == want


def test_unknown_define_is_an_error_at_the_define_line():
    with pytest.raises(SourceError) as e:
        expand("add.u32 r, r, 1\n.define BM = 64\n", "t.sasm", {"BN": 3})
    assert "unknown define 'BN'" in e.value.message
    assert (e.value.span.line, e.value.span.col) == (2, 1)
    assert "BM" in e.value.hint


@pytest.mark.parametrize("value, want", [("64", 64), ("1.5", 1.5), ("nchw", "nchw"), (3, 3), ("(1, 2)", (1, 2))])
def test_coerce_define(value, want):
    assert coerce_define(value) == want


def test_splice_keeps_vector_braces_and_nested_python_braces():
    out = lines(".define N = 4\nmov.b64 {lo, hi}, x${N * 2}_${ {'a': 5}['a'] }\n")
    assert out == ["mov.b64 {lo, hi}, x8_5"]


def test_for_if_else_end():
    src = """\
% for k in range(4):
%   if k % 2 == 0:
    even ${k}
%   elif k == 1:
    one
%   else:
    odd ${k}
%   end
% end
"""
    assert lines(src) == ["even 0", "one", "even 2", "odd 3"]


def test_while_def_and_python_block_with_emit():
    src = """\
%%
def row(i):
    emit(f"row {i}", "next")
%%
% def twice(x):
    twice ${x}
% end
% i = 0
% while i < 2:
%   row(i)
%   twice(i * 10)
%   i += 1
% end
"""
    assert lines(src) == ["row 0", "next", "twice 0", "row 1", "next", "twice 10"]


def test_empty_block_body_is_allowed():
    assert lines("% for i in range(3):\n% end\nret\n") == ["ret"]


def test_lab_block_is_skipped_not_executed():
    src = "ret\n%% lab\nraise RuntimeError('must not run')\n%%\nexit\n"
    ex, _ = expand(src, "t.sasm", {})
    assert [x.strip() for x in ex.lines] == ["ret", "exit"]
    assert [ex.sources[o].line for o in ex.origins] == [1, 5]


def test_source_map_include_and_loop_chain(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "body.sasm").write_text("% for j in range(2):\n    add ${j}\n% end\n")
    main = tmp_path / "main.sasm"
    main.write_text(".define K = 2\n% for k in range(K):\n.include \"inc/body.sasm\"\n% end\n    ret\n")
    ex, _ = expand(main.read_text(), str(main), {})
    assert [x.strip() for x in ex.lines] == ["add 0", "add 1", "add 0", "add 1", "ret"]
    assert ex.where(3).endswith("body.sasm:2")
    assert ex.chain(3) == ("in loop j=1 at body.sasm:1", "in loop k=1 at main.sasm:2",
                           "included from main.sasm:3")
    assert ex.chain(4) == ()
    span = ex.span(3, 5, 8)
    assert (span.line, span.col, span.end_col, span.source.strip()) == (2, 5, 8, "add 1")


def test_loop_with_tuple_targets_and_while_iterations():
    ex, _ = expand("% for i, j in [(1, 2)]:\n a\n% end\n% n = 0\n% while n < 2:\n b\n%   n += 1\n% end\n",
                   "t.sasm", {})
    assert ex.chain(0) == ("in loop i, j=(1, 2) at t.sasm:1",)
    assert ex.chain(2) == ("in loop iteration 2 at t.sasm:5",)


def test_include_cycle(tmp_path):
    (tmp_path / "a.sasm").write_text('.include "b.sasm"\n')
    (tmp_path / "b.sasm").write_text('ret\n.include "a.sasm"\n')
    with pytest.raises(SourceError) as e:
        expand((tmp_path / "a.sasm").read_text(), str(tmp_path / "a.sasm"), {})
    assert "include cycle: a.sasm -> b.sasm -> a.sasm" in e.value.message
    assert e.value.span.line == 2 and e.value.span.file.endswith("b.sasm")
    assert e.value.span.chain == ("included from a.sasm:1",)


def test_missing_include(tmp_path):
    with pytest.raises(SourceError) as e:
        expand('ret\n  .include "nope.sasm"\n', str(tmp_path / "m.sasm"), {})
    assert "cannot include 'nope.sasm'" in e.value.message
    assert (e.value.span.line, e.value.span.col) == (2, 12)


@pytest.mark.parametrize("src, msg, line, col, chain", [
    ("% for i in range(3):\n  add ${4 // (2 - i)}\n% end\n", "ZeroDivisionError", 2, 7,
     ("in loop i=2 at t.sasm:1",)),
    ("ret\n  mov ${undefined_name}\n", "NameError", 2, 7, ()),
    ("% for i in range(3):\n  add ${i} ${4 // (2 - i)}\n% end\n", "ZeroDivisionError", 2, 12,
     ("in loop i=2 at t.sasm:1",)),
    ("  mov ${1} ${2 +* 3}\n", "Python syntax error", 1, 12, ()),
    ("%%\ndef f():\n    return 1 / 0\n%%\n% f()\n", "ZeroDivisionError", 3, 1, ()),
    ("% for i in range(:\n% end\n", "Python syntax error", 1, 1, ()),
    ("% for i in range(3):\nret\n", "is not closed", 1, 1, ()),
    ("ret\n% end\n", "'%end' without an open block", 2, 1, ()),
    ("%%\nx = 1\n", "'%%' block is not closed", 1, 1, ()),
    ("ret\n  mov ${1 + \n", "unterminated '${'", 2, 7, ()),
    ("  mov ${}\n", "empty '${}'", 1, 7, ()),
    (".define = 3\n", "bad define name", 1, 1, ()),
    (".define X\n", "has no value", 1, 9, ()),
])
def test_expansion_errors_point_at_the_sasm_line(src, msg, line, col, chain):
    with pytest.raises(SourceError) as e:
        expand(src, "t.sasm", {})
    err = e.value
    assert msg in err.message
    assert (err.span.file, err.span.line, err.span.col) == ("t.sasm", line, col)
    assert err.span.chain == chain
    assert err.hint is None or isinstance(err.hint, str)


def test_errors_pickle_with_span_and_chain():
    with pytest.raises(SourceError) as e:
        expand("% for i in range(2):\n  x ${1 // i}\n% end\n", "t.sasm", {})
    back = pickle.loads(pickle.dumps(e.value))
    assert type(back) is SourceError
    assert back.span == e.value.span and back.render() == e.value.render()


def test_define_strings_keep_slashes_and_crlf_is_accepted():
    ex, d = expand('.define URL = "a//b"  // comment\r\n% for i in range(2):\r\n  x ${i}\r\n% end\r\n', "t.sasm", {})
    assert d == {"URL": "a//b"}
    assert list(ex.lines) == ["  x 0", "  x 1"]


def test_expanded_text_with_annotations():
    ex, _ = expand("% for i in range(2):\n  add ${i}\n% end\nret\n", "dir/t.sasm", {})
    assert ex.text() == "  add 0\n  add 1\nret\n"
    lines = ex.text(annotate=True).splitlines()
    assert lines[1].endswith("// t.sasm:2 (in loop i=1 at t.sasm:1)") and lines[2].endswith("// t.sasm:4")


@pytest.mark.parametrize("expr, text", [("f32(1.0)", "0f3F800000"), ("f32(-2)", "0fC0000000"),
                                        ("f32(1/3)", "0f3EAAAAAB"), ("f64(0.5)", "0d3FE0000000000000")])
def test_float_literal_helpers(expr, text):
    assert lines(f"mov.f32 x, ${{{expr}}}") == [f"mov.f32 x, {text}"]
