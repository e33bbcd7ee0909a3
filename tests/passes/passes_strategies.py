"""Hypothesis strategies shared by the scheduler tests: random straight-line programs and tables."""

from __future__ import annotations

from hypothesis import strategies as st

from sass_lab.passes.latency import DEFAULT_LATENCIES

R = ["a", "b", "c", "d", "e"]
REG = st.sampled_from(R)
OPS = st.one_of(
    st.tuples(st.sampled_from(["add", "sub", "mul", "xor"]), REG, REG, REG).map(
        lambda t: f"{t[0]}.u32 {t[1]}, {t[2]}, {t[3]}"),
    st.tuples(REG, st.integers(0, 9)).map(lambda t: f"mov.u32 {t[0]}, {t[1]}"),
    st.tuples(st.sampled_from(["shared", "global", "generic"]), REG, st.integers(0, 3)).map(
        lambda t: f"ld{'' if t[0] == 'generic' else '.' + t[0]}.u32 {t[1]}, [{4 * t[2]}]"),
    st.tuples(st.sampled_from(["shared", "global", "generic"]), REG, st.integers(0, 3)).map(
        lambda t: f"st{'' if t[0] == 'generic' else '.' + t[0]}.u32 [{4 * t[2]}], {t[1]}"),
    st.tuples(REG, REG).map(lambda t: f"setp.lt.u32 p, {t[0]}, {t[1]}"),
    st.tuples(REG, REG, REG).map(lambda t: f"@p add.u32 {t[0]}, {t[1]}, {t[2]}"),
    st.tuples(REG, REG, REG).map(lambda t: f"selp.u32 {t[0]}, {t[1]}, {t[2]}, p"),
    st.tuples(REG, REG).map(lambda t: f"ex2.approx.u32 {t[0]}, {t[1]}"),  # interpreter: unused
)
TABLES = st.dictionaries(st.sampled_from(sorted(DEFAULT_LATENCIES)), st.integers(0, 500), max_size=6)


def program(ops: list[str]) -> str:
    """Registers initialised, ``ops`` inside one ``.schedule`` region, every register stored after."""
    init = [f"mov.u32 {r}, {i + 3}" for i, r in enumerate(R)] + ["setp.lt.u32 p, a, b"]
    body = [o for o in ops if not o.startswith("ex2")]
    dump = [f"st.global.u32 [{100 + 4 * i}], {r}" for i, r in enumerate(R)]
    return ".reg .u32 a, b, c, d, e\n.reg .pred p\n" + "\n".join(
        init + [".schedule"] + body + [".end"] + dump)
