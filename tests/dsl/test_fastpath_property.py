"""Property: whenever the regex fast path accepts a line, it returns exactly what the grammar does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sass_lab.dsl import fastparse
from sass_lab.dsl.parse import parse_logical

ident = st.from_regex(r"[a-zA-Z_%$][a-zA-Z0-9_$]{0,6}", fullmatch=True).filter(lambda s: s != "_")
index = st.lists(st.integers(0, 20), max_size=2).map(lambda xs: "".join(f"[{x}]" for x in xs))
part = st.sampled_from(["", ".x", ".y", ".w"])
name = st.builds(lambda n, i, p: n + i + p, ident, index, part)
number = st.sampled_from(["0", "7", "-3", "0x1F", "017", "0b11", "1.5", "-2.5e3", "0f3F800000", "12U"])
mem = st.builds(lambda b, off: f"[{b}{off}]", name,
                st.sampled_from(["", "+4", "+-8", "-12", " + 16"])) | number.filter(
                    lambda n: "." not in n and "f" not in n and "e" not in n).map(lambda n: f"[{n}]")
vec = st.lists(name | st.just("_"), min_size=1, max_size=4).map(lambda xs: "{" + ", ".join(xs) + "}")
pair = st.builds(lambda a, b: f"{a}|{b}", name, name)
operand = name | number | mem | vec | pair
opcode = st.builds(lambda o, m: o + "".join("." + x for x in m),
                   st.sampled_from(["add", "fma", "ld", "st", "mov", "setp", "shfl", "bra", "ret", "cp"]),
                   st.lists(st.sampled_from(["rn", "f32", "global", "v4", "shared::cta", "L1::no_allocate",
                                             "sync", "down", "b32", "u64"]), max_size=4))
guard = st.sampled_from(["", "@p ", "@!p ", "@ok[2] ", "@!v.y "])


@settings(max_examples=200, deadline=None)
@given(guard, opcode, st.lists(operand, max_size=5), st.sampled_from(["", ";", " ;"]),
       st.sampled_from(["", "  ", "\t"]))
def test_fast_path_matches_grammar(g, op, ops, semi, lead):
    line = f"{lead}{g}{op} {', '.join(ops)}{semi}" if ops else f"{lead}{g}{op}{semi}"
    fast = fastparse._parse(line)
    if fast is None:
        return
    got = fastparse.parse_line(line, 5)
    assert parse_logical(line, 5) == [got]
