"""Hand-written PTX kernels exercising one resource each (``ARCH`` is replaced by the target)."""

from __future__ import annotations

HEAD = ".version 9.0\n.target ARCH\n.address_size 64\n\n"


def spill(n: int = 64) -> str:
    """n volatile loads, then n volatile stores in reverse: all n values live at once."""
    regs = ", ".join(f"v{i}" for i in range(n))
    ld = "\n".join(f"\tld.volatile.global.f32 v{i}, [a+{4 * i}];" for i in range(n))
    st = "\n".join(f"\tst.volatile.global.f32 [a+{4 * i}], v{n - 1 - i};" for i in range(n))
    return HEAD + f""".visible .entry spill(.param .u64 A)
{{
\t.reg .u64 a;
\t.reg .f32 {regs};
\tld.param.u64 a, [A];
{ld}
{st}
\tret;
}}
"""


def shared(nbytes: int = 4000) -> str:
    return HEAD + f""".visible .entry shared(.param .u64 A)
{{
\t.reg .u64 a;
\t.reg .u32 t, o, b;
\t.reg .f32 x;
\t.shared .align 4 .b8 buf[{nbytes}];
\tld.param.u64 a, [A];
\tmov.u32 t, %tid.x;
\tshl.b32 o, t, 2;
\tld.global.f32 x, [a];
\tmov.u32 b, buf;
\tadd.u32 o, o, b;
\tst.shared.f32 [o], x;
\tbar.sync 0;
\tld.shared.f32 x, [buf+{nbytes - 4}];
\tst.global.f32 [a], x;
\tret;
}}
"""


def ntid(directive: str = ".reqntid 64, 2, 1") -> str:
    return HEAD + f""".visible .entry ntid(.param .u64 A)
{directive}
{{
\t.reg .u64 a;
\t.reg .u32 t;
\tld.param.u64 a, [A];
\tmov.u32 t, %tid.x;
\tst.global.u32 [a], t;
\tret;
}}
"""


def barriers(n: int = 4) -> str:
    bars = "\n".join(f"\tbar.sync {i};" for i in range(n))
    return HEAD + f""".visible .entry barriers(.param .u64 A)
{{
\t.reg .u64 a;
\t.reg .u32 t;
\tld.param.u64 a, [A];
\tmov.u32 t, %tid.x;
{bars}
\tst.global.u32 [a], t;
\tret;
}}
"""


def local(n: int = 32) -> str:
    """A dynamically indexed .local array: a stack frame without spills."""
    return HEAD + f""".visible .entry local(.param .u64 A)
{{
\t.reg .u64 a, p;
\t.reg .u32 t, i;
\t.reg .f32 x;
\t.local .align 4 .b8 buf[{4 * n}];
\tld.param.u64 a, [A];
\tmov.u32 t, %tid.x;
\tand.b32 i, t, {n - 1};
\tshl.b32 i, i, 2;
\tcvt.u64.u32 p, i;
\tmov.u64 a, buf;
\tadd.u64 p, p, a;
\tld.param.u64 a, [A];
\tld.global.f32 x, [a];
\tst.local.f32 [p], x;
\tld.local.f32 x, [buf+8];
\tst.global.f32 [a], x;
\tret;
}}
"""


def two_kernels() -> str:
    return shared(256) + barriers(2)[len(HEAD):]
