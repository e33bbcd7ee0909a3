"""Generated PTX instruction matrices for the SASS encoding harvest (tools/harvest_sass.py).

Each *snippet* is one PTX instruction pattern over typed inputs (``{a}``, ``{b}``, ``{c}``: registers
loaded from global memory, so ptxas cannot fold them; ``{pa}``…: kernel parameters, which ptxas
turns into constant-bank operands) writing typed outputs (``{d}``, ``{e}``). Snippets are expanded over
types, modifiers and operand kinds (register, immediate, parameter), packed into kernels whose
inputs stay live together (so registers spread over the file), and every output is stored.
``kernels()`` yields ``(name, ptx, arch)``; a kernel ptxas rejects is split until the bad snippet is
isolated and dropped by the harvester.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

# type -> (register class, declaration type, load/store type)
TYPES = {
    "s16": ("h", "b16", "u16"), "u16": ("h", "b16", "u16"), "b16": ("h", "b16", "u16"),
    "f16": ("h", "b16", "u16"), "bf16": ("h", "b16", "u16"),
    "s32": ("r", "b32", "u32"), "u32": ("r", "b32", "u32"), "b32": ("r", "b32", "u32"),
    "f16x2": ("r", "b32", "u32"), "bf16x2": ("r", "b32", "u32"),
    "s64": ("rd", "b64", "u64"), "u64": ("rd", "b64", "u64"), "b64": ("rd", "b64", "u64"),
    "f32": ("f", "f32", "f32"), "f64": ("fd", "f64", "f64"), "pred": ("p", "pred", None),
}
INTS = ("s16", "u16", "s32", "u32", "s64", "u64")
INT32 = ("s32", "u32")
FLOATS = ("f32", "f64")
IMM = {"s16": ("7", "-3", "0x7fff"), "u16": ("5", "0xffff"), "s32": ("1", "-1", "123456", "0x7fffffff", "-65536"),
       "u32": ("3", "0xffffffff", "0x80000000", "4096", "255"),
       "s64": ("1", "-1", "0x100000000", "-4294967296"), "u64": ("7", "0xffffffffffffffff", "0x123456789"),
       "b32": ("0xff00ff00", "1", "0"), "b64": ("0xff", "0xffffffff00000000"), "b16": ("0xff",),
       "f32": ("0f3F800000", "0f40490FDB", "0fBF000000", "0f7F800000", "0f00000000", "0f47000000",
               "0f3DCCCCCD", "0fC2C80000"),
       "f64": ("0d3FF0000000000000", "0d4000000000000000", "0dBFE0000000000000", "0d3FB999999999999A",
               "0d7FF0000000000000")}


@dataclass(frozen=True)
class Snippet:
    """``text`` with ``{d}``/``{e}`` outputs of ``out`` types and ``{a}``,``{b}``,``{c}`` inputs (``{pa}`` …
    for parameters) of ``ins`` types; ``arch`` is sm_90 or sm_90a."""

    text: str
    out: tuple[str, ...]
    ins: tuple[str, ...]
    arch: str = "sm_90"


def _operand_forms(ins: tuple[str, ...], rng: random.Random) -> list[tuple[str, ...]]:
    """Operand kinds for the inputs: all registers, each one immediate, each one a parameter."""
    forms = [("reg",) * len(ins)]
    for i, t in enumerate(ins):
        if t in IMM and t != "pred":
            forms.append(tuple("imm:" + rng.choice(IMM[t]) if j == i else "reg" for j in range(len(ins))))
            forms.append(tuple("imm:" + rng.choice(IMM[t]) if j == i else "reg" for j in range(len(ins))))
        if TYPES[t][2] is not None:
            forms.append(tuple("par" if j == i else "reg" for j in range(len(ins))))
    return forms


def _s(text, out, ins, arch="sm_90"):
    return Snippet(text, tuple(out), tuple(ins), arch)


def snippets() -> list[tuple[str, Snippet]]:
    """(group, snippet) pairs: the instruction matrix."""
    out: list[tuple[str, Snippet]] = []

    def add(group, text, o, i, arch="sm_90"):
        out.append((group, _s(text, o, i, arch)))

    for t in INTS + ("f32", "f64"):
        for op in ("add", "sub", "min", "max"):
            add(f"arith_{t}", f"{op}.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
        add(f"arith_{t}", f"abs.{t} {{d}}, {{a}};", [t], [t])
        add(f"arith_{t}", f"neg.{t} {{d}}, {{a}};", [t], [t])
    for t in INTS:
        for op in ("mul.lo", "mul.hi", "mad.lo", "mad.hi", "div", "rem"):
            if op.startswith("mad"):
                add(f"mul_{t}", f"{op}.{t} {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, t])
            else:
                add(f"mul_{t}", f"{op}.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
        if t in ("s16", "u16", "s32", "u32"):
            wide = {"s16": "s32", "u16": "u32", "s32": "s64", "u32": "u64"}[t]
            add(f"mul_{t}", f"mul.wide.{t} {{d}}, {{a}}, {{b}};", [wide], [t, t])
            add(f"mul_{t}", f"mad.wide.{t} {{d}}, {{a}}, {{b}}, {{c}};", [wide], [t, t, wide])
    for t in ("s32", "u32"):
        add("sat", "add.sat.s32 {d}, {a}, {b};", ["s32"], ["s32", "s32"])
        add("sat", "sub.sat.s32 {d}, {a}, {b};", ["s32"], ["s32", "s32"])
        add("mul24", f"mul24.lo.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
        add("mul24", f"mul24.hi.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
        add("mul24", f"mad24.lo.{t} {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, t])
        add("sad", f"sad.{t} {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, t])
        add("carry", f"add.cc.{t} {{d}}, {{a}}, {{b}};\naddc.cc.{t} {{e}}, {{a}}, {{c}};", [t, t], [t, t, t])
        add("carry", f"sub.cc.{t} {{d}}, {{a}}, {{b}};\nsubc.{t} {{e}}, {{a}}, {{c}};", [t, t], [t, t, t])
        add("carry", f"mad.lo.cc.{t} {{d}}, {{a}}, {{b}}, {{c}};\nmadc.hi.{t} {{e}}, {{a}}, {{b}}, {{c}};",
            [t, t], [t, t, t])
        add("dp", f"dp4a.{t}.{t} {{d}}, {{a}}, {{b}}, {{c}};", ["s32" if t == "s32" else "u32"], [t, t, t])
        add("dp", f"dp2a.lo.{t}.{t} {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, t])
        add("dp", f"dp2a.hi.{t}.{t} {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, t])
    for t in ("b16", "b32", "b64"):
        for op in ("and", "or", "xor"):
            add(f"logic_{t}", f"{op}.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
        add(f"logic_{t}", f"not.{t} {{d}}, {{a}};", [t], [t])
        add(f"logic_{t}", f"cnot.{t} {{d}}, {{a}};", [t], [t])
        add(f"shift_{t}", f"shl.{t} {{d}}, {{a}}, {{b}};", [t], [t, "u32"])
    for t in ("s16", "u16", "s32", "u32", "s64", "u64"):
        add(f"shift_{t}", f"shr.{t} {{d}}, {{a}}, {{b}};", [t], [t, "u32"])
    for lut in ("0x96", "0xe8", "0xfe", "0x80", "0x3c", "0xf0", "0x1e"):
        add("lop3", f"lop3.b32 {{d}}, {{a}}, {{b}}, {{c}}, {lut};", ["b32"], ["b32", "b32", "b32"])
    for t in ("b32", "b64"):
        add("bits", f"popc.{t} {{d}}, {{a}};", ["u32"], [t])
        add("bits", f"clz.{t} {{d}}, {{a}};", ["u32"], [t])
        add("bits", f"brev.{t} {{d}}, {{a}};", [t], [t])
    for t in ("s32", "u32", "s64", "u64"):
        add("bits", f"bfind.{t} {{d}}, {{a}};", ["u32"], [t])
        add("bits", f"bfind.shiftamt.{t} {{d}}, {{a}};", ["u32"], [t])
        add("bits", f"bfe.{t} {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, "u32", "u32"])
    for t in ("b32", "b64"):
        add("bits", f"bfi.{t} {{d}}, {{a}}, {{b}}, {{c}}, {{e2}};".replace(", {e2}", ", 5"), [t], [t, t, "u32"])
    for mode in ("", ".f4e", ".b4e", ".rc8", ".ecl", ".ecr", ".rc16"):
        add("prmt", f"prmt.b32{mode} {{d}}, {{a}}, {{b}}, {{c}};", ["b32"], ["b32", "b32", "b32"])
    for d in ("l", "r"):
        for m in ("clamp", "wrap"):
            add("shf", f"shf.{d}.{m}.b32 {{d}}, {{a}}, {{b}}, {{c}};", ["b32"], ["b32", "b32", "u32"])
    # floating point
    for t in FLOATS:
        for rnd in (".rn", ".rz", ".rm", ".rp"):
            ftz = [".ftz", ""] if t == "f32" else [""]
            for f in ftz:
                add(f"fp_{t}", f"add{rnd}{f}.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
                add(f"fp_{t}", f"mul{rnd}{f}.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
                add(f"fp_{t}", f"fma{rnd}{f}.{t} {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, t])
                add(f"fp_{t}", f"div{rnd}{f}.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
                add(f"fp_{t}", f"sqrt{rnd}{f}.{t} {{d}}, {{a}};", [t], [t])
                add(f"fp_{t}", f"rcp{rnd}{f}.{t} {{d}}, {{a}};", [t], [t])
        add(f"fp_{t}", f"min.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
        add(f"fp_{t}", f"copysign.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
        for tp in ("finite", "infinite", "number", "notanumber", "normal", "subnormal"):
            add(f"testp_{t}", f"testp.{tp}.{t} {{d}}, {{a}};", ["pred"], [t])
    for f in ("", ".ftz"):
        add("fp_sat", f"add.rn{f}.sat.f32 {{d}}, {{a}}, {{b}};", ["f32"], ["f32", "f32"])
        add("fp_sat", f"fma.rn{f}.sat.f32 {{d}}, {{a}}, {{b}}, {{c}};", ["f32"], ["f32", "f32", "f32"])
        add("fp_sat", f"mul.rn{f}.sat.f32 {{d}}, {{a}}, {{b}};", ["f32"], ["f32", "f32"])
        add("fp_nan", f"min{f}.NaN.f32 {{d}}, {{a}}, {{b}};", ["f32"], ["f32", "f32"])
        add("fp_nan", f"max{f}.NaN.f32 {{d}}, {{a}}, {{b}};", ["f32"], ["f32", "f32"])
        for op in ("sin", "cos", "lg2", "ex2", "rsqrt", "sqrt", "rcp"):
            add("sfu", f"{op}.approx{f}.f32 {{d}}, {{a}};", ["f32"], ["f32"])
        add("sfu", f"div.approx{f}.f32 {{d}}, {{a}}, {{b}};", ["f32"], ["f32", "f32"])
        add("sfu", f"div.full{f}.f32 {{d}}, {{a}}, {{b}};", ["f32"], ["f32", "f32"])
    add("sfu", "tanh.approx.f32 {d}, {a};", ["f32"], ["f32"])
    add("sfu", "ex2.approx.ftz.bf16x2 {d}, {a};", ["bf16x2"], ["bf16x2"])
    add("sfu", "rcp.approx.ftz.f64 {d}, {a};", ["f64"], ["f64"])
    add("sfu", "rsqrt.approx.f64 {d}, {a};", ["f64"], ["f64"])
    for t in ("f16", "f16x2", "bf16", "bf16x2"):
        for op in ("add", "sub", "mul"):
            rn = [".rn", ""] if True else [""]
            for r in rn:
                ftzs = [".ftz", ""] if t.startswith("f16") else [""]
                for f in ftzs:
                    add(f"half_{t}", f"{op}{r}{f}.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
        add(f"half_{t}", f"fma.rn.{t} {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, t])
        add(f"half_{t}", f"fma.rn.relu.{t} {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, t])
        add(f"half_{t}", f"min.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
        add(f"half_{t}", f"max.NaN.{t} {{d}}, {{a}}, {{b}};", [t], [t, t])
        add(f"half_{t}", f"neg.{t} {{d}}, {{a}};", [t], [t])
        add(f"half_{t}", f"abs.{t} {{d}}, {{a}};", [t], [t])
        if t.startswith("f16"):
            add(f"half_{t}", f"fma.rn.sat.{t} {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, t])
            add(f"half_{t}", f"ex2.approx.{t} {{d}}, {{a}};", [t], [t])
            add(f"half_{t}", f"tanh.approx.{t} {{d}}, {{a}};", [t], [t])
    # comparisons
    cmps_i = ("eq", "ne", "lt", "le", "gt", "ge")
    cmps_u = ("lo", "ls", "hi", "hs")
    cmps_f = ("eq", "ne", "lt", "le", "gt", "ge", "equ", "neu", "ltu", "leu", "gtu", "geu", "num", "nan")
    for t in INTS + ("b16", "b32", "b64") + FLOATS + ("f16", "f16x2", "bf16", "bf16x2"):
        cmps = cmps_f if t[0] in "fb" and t not in ("b16", "b32", "b64") else cmps_i + (cmps_u if t[0] == "u" else ())
        for c in cmps:
            if t.endswith("x2"):
                add(f"setp_{t}", f"setp.{c}.{t} {{d}}|{{e}}, {{a}}, {{b}};", ["pred", "pred"], [t, t])
                continue
            if t[0] == "b" and c not in ("eq", "ne"):
                continue
            add(f"setp_{t}", f"setp.{c}.{t} {{d}}, {{a}}, {{b}};", ["pred"], [t, t])
        for bop in ("and", "or", "xor"):
            c = cmps[2]
            if t.endswith("x2") or t[0] == "b":
                continue
            add(f"setp_{t}", f"setp.{c}.{bop}.{t} {{d}}, {{a}}, {{b}}, {{c}};", ["pred"], [t, t, "pred"])
            add(f"setp_{t}", f"setp.{c}.{bop}.{t} {{d}}|{{e}}, {{a}}, {{b}}, !{{c}};", ["pred", "pred"], [t, t, "pred"])
        if t in ("s32", "u32", "f32", "s64", "f64"):
            add(f"set_{t}", f"set.{cmps[3]}.u32.{t} {{d}}, {{a}}, {{b}};", ["u32"], [t, t])
            add(f"set_{t}", f"set.{cmps[0]}.f32.{t} {{d}}, {{a}}, {{b}};", ["f32"], [t, t])
            add(f"set_{t}", f"slct.{t}.s32 {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, "s32"])
            add(f"set_{t}", f"slct.{t}.f32 {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, "f32"])
        if t not in ("f16x2", "bf16x2", "bf16"):
            add(f"selp_{t}", f"selp.{'b' + t[1:] if t[0] in 'su' else t} {{d}}, {{a}}, {{b}}, {{c}};", [t], [t, t, "pred"])
    for bop in ("and", "or", "xor"):
        add("pred", f"{bop}.pred {{d}}, {{a}}, {{b}};", ["pred"], ["pred", "pred"])
    add("pred", "not.pred {d}, {a};", ["pred"], ["pred"])
    # conversions
    conv = ("s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64", "f16", "bf16", "f32", "f64")
    for dt, st in itertools.product(conv, conv):
        if dt == st:
            continue
        dreg = {"s8": "s16", "u8": "u16"}.get(dt, dt)
        sreg = {"s8": "s16", "u8": "u16"}.get(st, st)
        fdst, fsrc = dt[0] == "f" or dt == "bf16", st[0] == "f" or st == "bf16"
        rnds = [""]
        if fdst and fsrc:
            rnds = [".rn", ".rz"] if conv.index(dt) < conv.index(st) else [""]
            if conv.index(dt) < conv.index(st):
                rnds += [".rm", ".rp"] if dt in ("f32",) else []
        elif fdst:
            rnds = [".rn", ".rz", ".rm", ".rp"]
        elif fsrc:
            rnds = [".rni", ".rzi", ".rmi", ".rpi"]
        for r in rnds:
            add(f"cvt_{st}", f"cvt{r}.{dt}.{st} {{d}}, {{a}};", [dreg], [sreg])
        if fdst and dt == "f32":
            add(f"cvt_{st}", f"cvt{rnds[0]}.sat.{dt}.{st} {{d}}, {{a}};", [dreg], [sreg])
        if not fdst and fsrc:
            add(f"cvt_{st}", f"cvt.rzi.sat.{dt}.{st} {{d}}, {{a}};", [dreg], [sreg])
    for t in ("f32", "f64"):
        for r in (".rni", ".rzi", ".rmi", ".rpi"):
            add("cvt_round", f"cvt{r}.{t}.{t} {{d}}, {{a}};", [t], [t])
    add("cvt_pack", "cvt.rn.f16x2.f32 {d}, {a}, {b};", ["f16x2"], ["f32", "f32"])
    add("cvt_pack", "cvt.rn.bf16x2.f32 {d}, {a}, {b};", ["bf16x2"], ["f32", "f32"])
    add("cvt_pack", "cvt.rn.relu.bf16x2.f32 {d}, {a}, {b};", ["bf16x2"], ["f32", "f32"])
    add("cvt_pack", "cvt.rna.tf32.f32 {d}, {a};", ["b32"], ["f32"])
    add("cvt_pack", "cvt.rn.satfinite.e4m3x2.f32 {d}, {a}, {b};", ["b16"], ["f32", "f32"])
    add("cvt_pack", "cvt.rn.satfinite.e5m2x2.f32 {d}, {a}, {b};", ["b16"], ["f32", "f32"])
    add("cvt_pack", "cvt.rn.f16x2.e4m3x2 {d}, {a};", ["f16x2"], ["b16"])
    add("mov", "mov.b64 {d}, {{{a}, {b}}};", ["b64"], ["b32", "b32"])
    add("mov", "mov.b64 {{{d}, {e}}}, {a};", ["b32", "b32"], ["b64"])
    add("mov", "mov.b32 {d}, {{{a}, {b}}};", ["b32"], ["b16", "b16"])
    # warp-level
    for m in ("up", "down", "bfly", "idx"):
        add("shfl", f"shfl.sync.{m}.b32 {{d}}, {{a}}, {{b}}, 0x1f, 0xffffffff;", ["b32"], ["b32", "u32"])
        add("shfl", f"shfl.sync.{m}.b32 {{d}}|{{e}}, {{a}}, 3, {{b}}, 0xffffffff;", ["b32", "pred"], ["b32", "u32"])
        add("shfl", f"shfl.sync.{m}.b32 {{d}}, {{a}}, {{b}}, {{c}}, 0xffffffff;", ["b32"], ["b32", "u32", "u32"])
    for m in ("all", "any", "uni"):
        add("vote", f"vote.sync.{m}.pred {{d}}, {{a}}, 0xffffffff;", ["pred"], ["pred"])
    add("vote", "vote.sync.ballot.b32 {d}, {a}, 0xffffffff;", ["b32"], ["pred"])
    add("vote", "vote.sync.ballot.b32 {d}, !{a}, 0xffffffff;", ["b32"], ["pred"])
    add("vote", "match.any.sync.b32 {d}, {a}, 0xffffffff;", ["b32"], ["b32"])
    add("vote", "match.all.sync.b32 {d}|{e}, {a}, 0xffffffff;", ["b32", "pred"], ["b32"])
    add("vote", "match.any.sync.b64 {d}, {a}, 0xffffffff;", ["b32"], ["b64"])
    for op in ("add", "min", "max"):
        for t in ("u32", "s32"):
            add("redux", f"redux.sync.{op}.{t} {{d}}, {{a}}, 0xffffffff;", [t], [t])
    for op in ("and", "or", "xor"):
        add("redux", f"redux.sync.{op}.b32 {{d}}, {{a}}, 0xffffffff;", ["b32"], ["b32"])
    add("elect", "elect.sync {d}|{e}, 0xffffffff;", ["b32", "pred"], [])
    add("misc", "activemask.b32 {d};", ["b32"], [])
    for sreg in ("%tid.x", "%tid.y", "%tid.z", "%ntid.x", "%ntid.y", "%ctaid.x", "%ctaid.y", "%ctaid.z",
                 "%nctaid.x", "%laneid", "%warpid", "%nwarpid", "%smid", "%nsmid", "%lanemask_lt",
                 "%lanemask_ge", "%clock", "%gridid", "%clusterid.x", "%cluster_ctarank", "%cluster_nctarank",
                 "%is_explicit_cluster", "%dynamic_smem_size", "%total_smem_size"):
        add("sreg", f"mov.u32 {{d}}, {sreg};", ["u32"], [])
    for sreg in ("%clock64", "%globaltimer", "%gridid"):
        add("sreg", f"mov.u64 {{d}}, {sreg};", ["u64"], [])
    return out


def memory_snippets() -> list[tuple[str, Snippet]]:
    """(group, snippet) pairs of memory instructions: shared (thread, uniform and constant addresses),
    global, generic and local loads/stores over widths, vectors and cache operators, atomics and
    reductions, barriers, fences, cp.async and ldmatrix. ``smem``/``lmem`` are the kernel's shared and
    local arrays; outputs past the loaded values are address temporaries."""
    out: list[tuple[str, Snippet]] = []

    def add(group, text, o, i):
        out.append((group, _s(text, o, i)))

    def addr(x: str, base: str) -> str:  # a thread-dependent (or, from a parameter, uniform) shared address
        return f"and.b32 {{{x}}}, {{a}}, 0xff0; mov.u32 {{{base}}}, smem; add.u32 {{{x}}}, {{{x}}}, {{{base}}}; "

    scalars = (("u8", "u32"), ("s8", "s32"), ("u16", "u32"), ("s16", "s32"), ("u32", "u32"), ("b32", "b32"),
               ("f32", "f32"), ("u64", "u64"), ("f64", "f64"))
    vectors = (("v2.u32", "u32", 2), ("v4.u32", "u32", 4), ("v2.f32", "f32", 2), ("v4.f32", "f32", 4),
               ("v2.u64", "u64", 2), ("v2.f64", "f64", 2))
    letters = "defgh"
    for off in (0, 16, 0x400):
        for ty, dt in scalars:
            add("mem_lds", addr("e", "f") + f"ld.shared.{ty} {{d}}, [{{e}}+{off}];", [dt, "u32", "u32"], ["u32"])
            add("mem_lds", f"ld.shared.{ty} {{d}}, [smem+{off + 32}];", [dt], [])
            add("mem_sts", addr("d", "e") + f"st.shared.{ty} [{{d}}+{off}], {{b}};", ["u32", "u32"], ["u32", dt])
            add("mem_sts", f"st.shared.{ty} [smem+{off + 48}], {{a}};", [], [dt])
        for ty, dt, n in vectors:
            vals = ", ".join(f"{{{c}}}" for c in letters[:n])
            x, b = "ij"[0], "ij"[1]
            add("mem_lds", addr(x, b) + f"ld.shared.{ty} {{{{{vals}}}}}, [{{{x}}}+{off}];",
                [dt] * n + ["u32", "u32"], ["u32"])
            srcs = ", ".join(["{b}"] * n)
            add("mem_sts", addr("d", "e") + f"st.shared.{ty} [{{d}}+{off}], {{{{{srcs}}}}};", ["u32", "u32"], ["u32", dt])
    for cop in ("", ".ca", ".cg", ".cs", ".lu", ".nc", ".volatile"):
        space = ".global" if cop != ".volatile" else ".volatile.global"
        for ty, dt in scalars:
            c = "" if cop == ".volatile" else cop
            ld = f"ld.global.nc{'' if c == '.nc' else c}" if c == ".nc" else f"ld{space}{c}"
            add("mem_ldg", f"{ld}.{ty} {{d}}, [%rd1003+{0x40 + len(ty)}];", [dt], [])
        for ty, dt, n in vectors:
            vals = ", ".join(f"{{{c}}}" for c in letters[:n])
            c = "" if cop == ".volatile" else cop
            ld = "ld.global.nc" if c == ".nc" else f"ld{space}{c}"
            add("mem_ldg", f"{ld}.{ty} {{{{{vals}}}}}, [%rd1003+0x80];", [dt] * n, [])
    for cop in ("", ".wb", ".cg", ".cs", ".wt"):
        for ty, dt in scalars:
            add("mem_stg", f"st.global{cop}.{ty} [%rd1004+{0x100 + len(ty)}], {{a}};", [], [dt])
        for ty, dt, n in vectors:
            srcs = ", ".join(["{a}"] * n)
            add("mem_stg", f"st.global{cop}.{ty} [%rd1004+0x200], {{{{{srcs}}}}};", [], [dt])
    for ty, dt in scalars:
        add("mem_generic", f"ld.{ty} {{d}}, [%rd1003+0x20];", [dt], [])
        add("mem_generic", f"st.{ty} [%rd1004+0x20], {{a}};", [], [dt])
        add("mem_local", f"and.b32 {{e}}, {{a}}, 0xf0; mov.u32 {{f}}, lmem; add.u32 {{e}}, {{e}}, {{f}}; "
                         f"st.local.{ty} [{{e}}], {{b}}; ld.local.{ty} {{d}}, [{{e}}+8];", [dt, "u32", "u32"], ["u32", dt])
    atoms = (("add.u32", "u32"), ("add.s32", "s32"), ("min.s32", "s32"), ("max.u32", "u32"), ("inc.u32", "u32"),
             ("dec.u32", "u32"), ("and.b32", "b32"), ("or.b32", "b32"), ("xor.b32", "b32"), ("exch.b32", "b32"),
             ("add.f32", "f32"), ("add.u64", "u64"), ("exch.b64", "b64"), ("min.u64", "u64"), ("max.s64", "s64"),
             ("add.f64", "f64"))
    for op, dt in atoms:
        add("mem_atoms", addr("e", "f") + f"atom.shared.{op} {{d}}, [{{e}}], {{b}};", [dt, "u32", "u32"], ["u32", dt])
        add("mem_atoms", f"atom.shared.{op} {{d}}, [smem+0x10], {{a}};", [dt], [dt])
        if not op.startswith("exch"):
            add("mem_atoms", addr("d", "e") + f"red.shared.{op} [{{d}}+8], {{b}};", ["u32", "u32"], ["u32", dt])
        for sem in ("", ".relaxed.gpu", ".acq_rel.gpu", ".sys"):
            add("mem_atomg", f"atom.global{sem}.{op} {{d}}, [%rd1004+0x300], {{a}};", [dt], [dt])
        if not op.startswith("exch"):
            add("mem_atomg", f"red.global.{op} [%rd1004+0x308], {{a}};", [], [dt])
        add("mem_atomg", f"atom.{op} {{d}}, [%rd1004+0x310], {{a}};", [dt], [dt])
    for ty in ("b32", "b64"):
        add("mem_atoms", f"atom.shared.cas.{ty} {{d}}, [smem+0x18], {{a}}, {{b}};", [ty], [ty, ty])
        add("mem_atomg", f"atom.global.cas.{ty} {{d}}, [%rd1004+0x318], {{a}}, {{b}};", [ty], [ty, ty])
    add("mem_atoms", "atom.shared.add.u32 {d}, [smem+0x20], 1;", ["u32"], [])
    add("mem_atoms", "red.shared.add.u32 [smem+0x24], 1;", [], [])
    add("mem_atomg", "atom.global.add.u32 {d}, [%rd1004+0x320], 1;", ["u32"], [])
    add("mem_atomg", "atom.global.add.noftz.f16x2 {d}, [%rd1004+0x324], {a};", ["f16x2"], ["f16x2"])
    add("mem_atomg", "atom.global.add.noftz.bf16x2 {d}, [%rd1004+0x328], {a};", ["bf16x2"], ["bf16x2"])
    for s in ("bar.sync 0;", "bar.sync 1, 64;", "barrier.sync.aligned 2;", "bar.arrive 3, 64;", "membar.cta;",
              "membar.gl;", "membar.sys;", "fence.sc.gpu;", "fence.acq_rel.cta;", "fence.acq_rel.sys;",
              "fence.proxy.async;"):
        add("mem_sync", s, [], [])
    add("mem_sync", "bar.red.popc.u32 {d}, 0, {a};", ["u32"], ["pred"])
    add("mem_sync", "bar.red.and.pred {d}, 0, {a};", ["pred"], ["pred"])
    add("mem_sync", "bar.sync 4, 128;", [], [])
    for n in (4, 8, 16):
        add("mem_async", f"cp.async.ca.shared.global [smem+0x{0x100 + n:x}], [%rd1003+0x{0x40 + n:x}], {n}; "
                         "cp.async.commit_group; cp.async.wait_group 0;", [], [])
    add("mem_async", "cp.async.cg.shared.global [smem+0x200], [%rd1003+0x80], 16; cp.async.wait_all;", [], [])
    for x, n in (("x1", 1), ("x2", 2), ("x4", 4)):
        vals = ", ".join(f"{{{c}}}" for c in letters[:n])
        add("mem_ldsm", addr("i", "j") + f"ldmatrix.sync.aligned.m8n8.{x}.shared.b16 {{{{{vals}}}}}, [{{i}}];",
            ["b32"] * n + ["u32", "u32"], ["u32"])
        add("mem_ldsm", addr("i", "j") + f"ldmatrix.sync.aligned.m8n8.{x}.trans.shared.b16 {{{{{vals}}}}}, [{{i}}];",
            ["b32"] * n + ["u32", "u32"], ["u32"])
    return out


# --------------------------------------------------------------------------- kernels


def _reg(cls: str, n: int) -> str:
    return f"%{cls}{n}"


class _Alloc:
    def __init__(self):
        self.count = {c: 0 for c in ("h", "r", "rd", "f", "fd", "p")}

    def new(self, t: str) -> str:
        cls = TYPES[t][0]
        self.count[cls] += 1
        return _reg(cls, self.count[cls])


def _out_names(s: Snippet) -> str:
    """Placeholder letters of a snippet's outputs: d, e, … in order, with ``i``/``j`` (address
    temporaries after a vector of values) where the text uses them."""
    n = len(s.out)
    if "{i}" in s.text:
        return "defgh"[:n - 2] + "ij"
    return "defgh"[:n]


def _store_val(t: str, reg: str, al: _Alloc, lines: list[str], outp: str, off: int) -> int:
    cls, _decl, st = TYPES[t]
    if t == "pred":
        r = al.new("u32")
        lines.append(f"selp.u32 {r}, 1, 0, {reg};")
        reg, st = r, "u32"
    lines.append(f"st.global.{st} [{outp}+{off}], {reg};")
    return off + 8


def kernel(name: str, items: list[Snippet], rng: random.Random, live: int = 8, arch: str = "sm_90",
           uniform: bool = False) -> str:
    """One kernel: ``live`` copies of each snippet's inputs loaded up front, then every snippet over
    every operand form on those copies, then every output stored. ``uniform`` inputs are kernel
    parameters, the same in every thread, so ptxas computes on the uniform datapath (U* ops)."""
    al = _Alloc()
    body: list[str] = []
    params = [".param .u64 p_in", ".param .u64 p_out"]
    ptypes = sorted({t for s in items for t in s.ins if TYPES[t][2] is not None})
    for t in ptypes:
        params.append(f".param .{TYPES[t][2]} p_{t}")
    body += ["mov.u32 %r1000, %tid.x;", "mov.u32 %r1001, %ctaid.x;", "mad.lo.u32 %r1000, %r1001, 256, %r1000;",
             "ld.param.u64 %rd1000, [p_in];", "ld.param.u64 %rd1001, [p_out];",
             "cvta.to.global.u64 %rd1000, %rd1000;", "cvta.to.global.u64 %rd1001, %rd1001;",
             "mul.wide.u32 %rd1002, %r1000, 4096;", "add.u64 %rd1003, %rd1000, %rd1002;",
             "add.u64 %rd1004, %rd1001, %rd1002;"]
    par = {}
    for t in ptypes:
        r = al.new(t)
        body.append(f"ld.param.{TYPES[t][2]} {r}, [p_{t}];")
        par[t] = r
    pools: dict[str, list[str]] = {}
    off = 0
    needed = sorted({t for s in items for t in s.ins})
    for t in needed:
        pools[t] = []
        for _ in range(live):
            r = al.new(t)
            if t == "pred":
                src = al.new("u32")
                if uniform:
                    params.append(f".param .u32 q_{off}")
                    body.append(f"ld.param.u32 {src}, [q_{off}];")
                else:
                    body.append(f"ld.global.u32 {src}, [%rd1003+{off}];")
                body.append(f"setp.ne.u32 {r}, {src}, {rng.randint(0, 9)};")
            elif uniform:
                params.append(f".param .{TYPES[t][2]} q_{off}")
                body.append(f"ld.param.{TYPES[t][2]} {r}, [q_{off}];")
            else:
                body.append(f"ld.global.{TYPES[t][2]} {r}, [%rd1003+{off}];")
            off += 8
            pools[t].append(r)
    outs: list[tuple[str, str]] = []
    for s in items:
        for form in _operand_forms(s.ins, rng):
            vals = {}
            for j, (t, kind) in enumerate(zip(s.ins, form)):
                key = "abc"[j]
                if kind == "reg":
                    vals[key] = rng.choice(pools[t])
                elif kind == "par":
                    vals[key] = par[t]
                else:
                    v = kind[4:]
                    vals[key] = v
            ds = {}
            names = _out_names(s)
            for j, t in enumerate(s.out):
                r = al.new(t)
                ds[names[j]] = r
                outs.append((t, r))
            body.append(s.text.format(**vals, **ds))
    o = 0
    for t, r in outs:
        o = _store_val(t, r, al, body, "%rd1004", o)
    decl = [f".reg .{d} %{c}<{al.count[c] + 1100}>;" for c, d in
            (("h", "b16"), ("r", "b32"), ("rd", "b64"), ("f", "f32"), ("fd", "f64"), ("p", "pred"))]
    if any("lmem" in s.text for s in items):
        decl.append(".local .align 16 .b8 lmem[256];")
    glob = [".shared .align 16 .b8 smem[8192];"] if any("smem" in s.text for s in items) else []
    return "\n".join([".version 9.0", f".target {arch}", ".address_size 64", "", *glob,
                      f".visible .entry {name}({', '.join(params)})", "{", *decl, *body, "ret;", "}", ""])


def kernels(seed: int = 1) -> list[tuple[str, list[Snippet], str]]:
    """``(name, snippets, arch)`` per kernel: one per group and register-pressure level."""
    rng = random.Random(seed)
    groups: dict[str, list[Snippet]] = {}
    for g, s in snippets():
        groups.setdefault(g, []).append(s)
    out = []
    for g, items in sorted(groups.items()):
        arch = "sm_90a" if any(s.arch == "sm_90a" for s in items) else "sm_90"
        for live in (4, 24, -6):  # negative: uniform inputs
            out.append((f"gen_{g}_{live if live > 0 else 'u' + str(-live)}", items, arch, live, rng.randint(0, 1 << 30)))
    # the memory matrix draws from its own generator, so the kernels above stay as they were
    mrng = random.Random(seed + 1)
    mgroups: dict[str, list[Snippet]] = {}
    for g, s in memory_snippets():
        mgroups.setdefault(g, []).append(s)
    for g, items in sorted(mgroups.items()):
        for live in (4, -4):
            out.append((f"gen_{g}_{live if live > 0 else 'u' + str(-live)}", items, "sm_90", live,
                        mrng.randint(0, 1 << 30)))
    # SFU instructions on immediates: random finite bit patterns, so that the immediate's placement is
    # learned bit by bit (the fixed IMM values above vary together in too few bits). ptxas folds
    # rcp/ex2/sin/cos of a constant and rsqrt/sqrt/lg2 of a positive one: those get negative inputs.
    srng = random.Random(seed + 2)
    items = []
    for op, sign in (("rsqrt", 1), ("sqrt", 1), ("lg2", 1), ("tanh", None)):
        for _ in range(24):
            s = srng.getrandbits(1) if sign is None else sign
            bits = s << 31 | srng.randint(1, 254) << 23 | srng.getrandbits(23)
            items.append(_s(f"{op}.approx.f32 {{d}}, 0f{bits:08X};", ["f32"], []))
    for op in ("rsqrt.approx", "rcp.approx.ftz"):
        for _ in range(12):
            hi = srng.getrandbits(1) << 31 | srng.randint(1, 2046) << 20 | srng.getrandbits(20)
            items.append(_s(f"{op}.f64 {{d}}, 0d{hi:08X}00000000;", ["f64"], []))
    out.append(("gen_sfu_imm_4", items, "sm_90", 4, srng.randint(0, 1 << 30)))
    return out


def render(name: str, items: list[Snippet], arch: str, live: int, seed: int) -> str:
    return kernel(name, items, random.Random(seed), live=abs(live), arch=arch, uniform=live < 0)
