"""Harvest sm_90/sm_90a SASS encodings: compile a PTX corpus, disassemble, learn, verify, ship.

    python tools/harvest_sass.py [--work DIR] [--out sass_lab/sass/data/sm_90.json.gz] [--size quick|medium|full]

Corpus (every source for both -O levels and register caps listed in OPTIONS):

* every PTX file under tests/ and the PTX nvcc writes for every .cu under tests/ (plain and
  ``-use_fast_math``);
* every shipped kernel (kernels_asm/*.sasm) at its defaults and at up to TUNE_POINTS points of its
  tuning space;
* the generated instruction matrices (tools/harvest_ptx.py) and CUDA C math/intrinsic kernels
  (tools/harvest_cuda.py).

Kernels in HELD_OUT (by file stem, in every form) never enter the corpus: tools/harvest_sass.py
``--held-out`` encodes them with the learned data and counts exact, refused and wrong encodings.
After learning, every harvested instruction is re-encoded from its text with the data as written to
disk (and every cubin's ``.text`` rebuilt from its listing) — the figures go into the data's
``corpus`` record and ``--report``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import gzip
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from sass_lab.sass.control import CTRL_MASK, join_words  # noqa: E402
from sass_lab.sass.disasm import listing as nvdisasm_listing  # noqa: E402
from sass_lab.sass.disasm import nvdisasm_path, scan  # noqa: E402
from sass_lab.sass.fields import FieldError, split  # noqa: E402
from sass_lab.sass.learn import Sample, learn  # noqa: E402

HELD_OUT = ("conv_direct", "winograd_2x2_3x3", "histogram", "softmax", "transpose")
# (compiler, options): the ptxas CLI at every -O level and three register caps, and nvJitLink (the
# compiler sass_lab uses by default: it keeps device functions in sections of their own).
OPTIONS = (("ptxas", ("-O3",)), ("ptxas", ("-O0",)), ("ptxas", ("-O1",)), ("ptxas", ("-O2",)),
           ("ptxas", ("-O3", "--maxrregcount=32")), ("ptxas", ("-O3", "--maxrregcount=64")),
           ("ptxas", ("-O3", "--maxrregcount=128")), ("nvjitlink", ()), ("nvjitlink", ("-O0",)),
           ("nvjitlink", ("-maxrregcount=40",)))
QUICK_OPTIONS = (("ptxas", ("-O3",)), ("ptxas", ("-O0",)), ("nvjitlink", ()))
MEDIUM_OPTIONS = (("ptxas", ("-O3",)), ("ptxas", ("-O0",)), ("ptxas", ("-O3", "--maxrregcount=32")),
                  ("nvjitlink", ()))
TUNE_POINTS = 4
DEFAULT_OUT = ROOT / "sass_lab" / "sass" / "data" / "sm_90.json.gz"


def ptxas() -> str:
    for p in ("/usr/local/cuda/bin/ptxas", os.environ.get("SASS_LAB_PTXAS", "")):
        if p and Path(p).exists():
            return p
    from sass_lab.toolchain.compile import find_ptxas

    found = find_ptxas("sm_90")
    if not found:
        sys.exit("harvest: no ptxas (install the CUDA toolkit or the nvidia-cuda-nvcc wheel)")
    return found


def nvcc() -> str | None:
    p = Path("/usr/local/cuda/bin/nvcc")
    return str(p) if p.exists() else None


# --------------------------------------------------------------------------- sources


def is_held_out(name: str) -> bool:
    stem = Path(name).name.split(".")[0]
    return stem in HELD_OUT


def _arch_of(ptx: str) -> str:
    m = re.search(r"^\s*\.target\s+(sm_\w+)", ptx, re.M)
    t = m.group(1) if m else "sm_90"
    return "sm_90a" if t.endswith("a") or "wgmma" in ptx or "setmaxnreg" in ptx else "sm_90"


def _retarget(ptx: str, arch: str) -> str:
    return re.sub(r"^(\s*\.target\s+)sm_\w+", rf"\g<1>{arch}", ptx, count=1, flags=re.M)


def test_ptx(include_held_out: bool = False) -> list[tuple[str, str]]:
    out = []
    for p in sorted((ROOT / "tests").rglob("*.ptx")):
        if is_held_out(p.name) != include_held_out:
            continue
        out.append((str(p.relative_to(ROOT)), p.read_text()))
    return out


def cuda_sources(include_held_out: bool = False) -> list[tuple[str, str]]:
    """(name, CUDA C text): every .cu under tests/ and the generated math kernels."""
    out = []
    for p in sorted((ROOT / "tests").rglob("*.cu")):
        if is_held_out(p.name) == include_held_out:
            out.append((str(p.relative_to(ROOT)), p.read_text()))
    if not include_held_out:
        import harvest_cuda

        out += harvest_cuda.sources()
    return out


def nvcc_ptx(name: str, src: str, flags: tuple[str, ...], work: Path) -> str | None:
    exe = nvcc()
    if exe is None:
        return None
    h = hashlib.sha1((src + repr(flags)).encode()).hexdigest()[:16]
    cached = work / "nvcc" / f"{h}.ptx"
    if cached.exists():
        return cached.read_text() or None
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cu = Path(tmp, Path(name).name if name.endswith(".cu") else "k.cu")
        cu.write_text(src)
        inc = [f"-I{ROOT / 'tests'}"]
        proc = subprocess.run([exe, "-ptx", "-arch=sm_90", *flags, *inc, str(cu), "-o", str(Path(tmp, "k.ptx"))],
                              capture_output=True, text=True, timeout=600)
        text = Path(tmp, "k.ptx").read_text() if proc.returncode == 0 else ""
    if not text:
        print(f"  nvcc failed on {name} {flags}: {proc.stderr.strip()[:300]}", file=sys.stderr)
    cached.write_text(text)
    return text or None


def shipped_ptx(include_held_out: bool = False, points: int = TUNE_POINTS) -> list[tuple[str, str]]:
    """PTX of every kernels_asm/*.sasm at its defaults and at ``points`` tuning points."""
    from sass_lab.backend.ptx import emit
    from sass_lab.dsl import frontend
    from sass_lab.ir import Module
    from sass_lab.lab.spec import load_spec
    from sass_lab.passes import run_passes
    from sass_lab.paths import KERNELS

    out = []
    for path in sorted(KERNELS.glob("*.sasm")):
        if is_held_out(path.name) != include_held_out:
            continue
        choices: list[dict] = [{}]
        try:
            spec = load_spec(path)
            keys = list(spec.tune)
            grid = [dict(zip(keys, vals)) for vals in __import__("itertools").product(*spec.tune.values())]
            grid = [d for d in grid if spec.valid({**spec.defines, **d})]
            random.Random(path.name).shuffle(grid)
            choices += grid[:points]
        except Exception:  # noqa: BLE001 - no lab block: defaults only
            pass
        if include_held_out:
            choices = [{}]
        for d in choices:
            try:
                front = frontend(path.read_text(), str(path), d)
                ks = tuple(run_passes(k)[0] for k in front.module.kernels)
                mod = Module(kernels=ks, vars=front.module.vars, raw=front.module.raw, file=front.module.file)
                ptx = emit(mod, "sm_90").text
            except Exception as e:  # noqa: BLE001 - a point that does not build is skipped
                print(f"  skip {path.name} {d}: {type(e).__name__}: {str(e)[:120]}", file=sys.stderr)
                continue
            tag = ",".join(f"{k}={v}" for k, v in d.items())
            out.append((f"kernels_asm/{path.name}[{tag}]", ptx))
    if not out and not include_held_out:
        sys.exit("harvest: no shipped kernel builds (the PTX front end failed on every one)")
    return out


def generated_ptx() -> list[tuple[str, str]]:
    import harvest_ptx

    return [(f"gen/{name}", harvest_ptx.render(name, items, arch, live, seed))
            for name, items, arch, live, seed in harvest_ptx.kernels()]


# --------------------------------------------------------------------------- compile


def _nvjitlink(ptx: str, arch: str, opts: tuple[str, ...]) -> tuple[bytes | None, str]:
    from cuda.bindings import nvjitlink as nj

    h = nj.create(1 + len(opts), [f"-arch={arch}", *opts])
    try:
        data = ptx.encode()
        nj.add_data(h, nj.InputType.PTX, data, len(data), "k.ptx")
        nj.complete(h)
        buf = bytearray(nj.get_linked_cubin_size(h))
        nj.get_linked_cubin(h, buf)
        return bytes(buf), ""
    except Exception as e:  # noqa: BLE001 - a rejected kernel
        return None, str(e)
    finally:
        nj.destroy(h)


def compile_one(ptx: str, arch: str, opts: tuple[str, ...], work: Path, tool: str = "ptxas") -> tuple[bytes | None, str]:
    h = hashlib.sha1((ptx + arch + repr(opts) + ("" if tool == "ptxas" else tool)).encode()).hexdigest()[:20]
    out = work / "cubin" / f"{h}.cubin"
    err = work / "cubin" / f"{h}.err"
    if out.exists():
        return out.read_bytes(), ""
    if err.exists():
        return None, err.read_text()
    out.parent.mkdir(parents=True, exist_ok=True)
    if tool == "nvjitlink":
        data, msg = _nvjitlink(ptx, arch, opts)
        if data is None:
            err.write_text(msg)
            return None, msg
        out.write_bytes(data)
        return data, ""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "k.ptx")
        src.write_text(ptx)
        proc = subprocess.run([ptxas(), f"-arch={arch}", *opts, str(src), "-o", str(Path(tmp, "k.cubin"))],
                              capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            err.write_text(proc.stderr)
            return None, proc.stderr
        data = Path(tmp, "k.cubin").read_bytes()
    out.write_bytes(data)
    return data, ""


def _gen_fallback(name: str, work: Path, opts: tuple[str, ...], tool: str) -> list[bytes]:
    """A generated kernel ptxas rejects: split its snippets in halves until the parts build (a bad
    snippet alone is dropped), so a few bad snippets cost a few extra kernels, not one per snippet."""
    import harvest_ptx

    spec = {n: (items, arch, live, seed) for n, items, arch, live, seed in harvest_ptx.kernels()}
    items, arch, live, seed = spec[name.removeprefix("gen/")]
    out: list[bytes] = []

    def build(part: list, tag: str) -> None:
        ptx = harvest_ptx.render(f"{name.removeprefix('gen/')}_{tag}", part, arch, live, seed + len(tag))
        cub, _ = compile_one(ptx, arch, opts, work, tool)
        if cub is not None:
            out.append(cub)
        elif len(part) > 1:
            half = len(part) // 2
            build(part[:half], tag + "a")
            build(part[half:], tag + "b")

    half = len(items) // 2
    build(items[:half], "a")
    build(items[half:], "b")
    return out


def compile_corpus(sources: list[tuple[str, str]], options, work: Path, jobs: int) -> list[tuple[str, bytes]]:
    tasks = [(name, ptx, tool, opts) for name, ptx in sources for tool, opts in options]
    results: list[tuple[str, bytes]] = []
    failed = Counter()

    def run(task):
        name, ptx, tool, opts = task
        arch = _arch_of(ptx)
        tag = f"{tool} {' '.join(opts)}".strip()
        cub, err = compile_one(_retarget(ptx, arch), arch, opts, work, tool)
        if cub is not None:
            return [(f"{name} [{tag}]", cub)]
        if name.startswith("gen/"):
            return [(f"{name}#{i} [{tag}]", c) for i, c in enumerate(_gen_fallback(name, work, opts, tool))]
        failed[name] += 1
        return []

    with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
        for i, r in enumerate(ex.map(run, tasks)):
            results += r
            if (i + 1) % 100 == 0:
                print(f"  compiled {i + 1}/{len(tasks)}", file=sys.stderr)
    for name, n in failed.items():
        print(f"  ptxas rejected {name} ({n} option sets)", file=sys.stderr)
    return results


# --------------------------------------------------------------------------- samples


def listing(cubin: bytes, work: Path) -> str:
    h = hashlib.sha1(cubin).hexdigest()[:20]
    cached = work / "lst" / f"{h}.lst.gz"
    if cached.exists():
        return gzip.decompress(cached.read_bytes()).decode()
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        text = subprocess.run([nvdisasm_path(), "-c", "-hex", "-ndf", f.name], capture_output=True,
                              text=True, check=True, timeout=600).stdout
    cached.write_bytes(gzip.compress(text.encode()))
    return text


def samples_of(text: str) -> tuple[list[Sample], list[str], list[Sample]]:
    """Samples of one listing, the instruction texts ``fields.split`` could not read, and the samples
    whose immediate is a NaN (its text names no payload: ``nan_samples`` reads it from the word)."""
    out, bad, nans = [], [], []
    for _name, raws in scan(text).items():
        labels = {lab: r.address for r in raws for lab in r.labels}
        for r in raws:
            try:
                sp = split(r.text, labels)
            except FieldError:
                bad.append(r.text)
                continue
            atoms = tuple((k, (labels[v], r.address)) if k == "L" else (k, v) for k, v in sp.atoms)
            if any(k == "L" and not isinstance(v, tuple) for k, v in atoms):
                bad.append(r.text)
                continue
            sample = Sample(sp.key, sp.family, atoms, join_words(r.lo, r.hi) & ~CTRL_MASK)
            if any(k == "N" and _is_nan(v) for k, v in sp.atoms):
                nans.append(sample)  # the listing writes its bits; learning needs them read first
                continue
            out.append(sample)
    return out, bad, nans


def _is_nan(tok) -> bool:
    return "NAN" in str(tok).upper()


def _family(key: str) -> str:
    """A variant's family key (``fields.split``: the opcode without its modifiers)."""
    gk = "@U" if key.startswith("@U") else ""
    op, _, shape = key[len(gk):].partition(" ")
    return f"{gk}{op.split('.')[0]} {shape}".rstrip()


NAN_MODES = {"f": (32, 23, 8), "d": (32, 20, 11), "h": (16, 10, 5), "b": (16, 7, 8)}  # width, exponent at, bits


def _placements(field: dict, mode: str, k: int) -> list[int]:
    runs = field.get(mode, [[], "0"])[0]
    return [p + k - v for v, p, n in runs if v <= k < v + n]


def nan_samples(nans: list[Sample], models: dict) -> list[Sample]:
    """NaN immediates read from their words through learned placements: each value bit from the
    word bits the variant places it at (when they agree), else from the one word bit every sibling
    variant of the family (same opcode and operands) places it at. The bits must spell a NaN of the
    printed sign; a sample with any bit left undetermined is dropped (its variant then refuses it)."""
    siblings: dict[str, list[str]] = {}
    for key in models:
        siblings.setdefault(_family(key), []).append(key)
    out = []
    for smp in nans:
        m = models.get(smp.key)
        if m is None or "x" in m:
            continue
        atoms = list(smp.atoms)
        for a, (kind, tok) in enumerate(smp.atoms):
            if kind != "N" or not _is_nan(tok):
                continue
            field = m["f"][a]
            mode = next((md for md in NAN_MODES if md in field), None)
            if mode is None:
                break
            width, e0, ne = NAN_MODES[mode]
            sibs = [models[k]["f"][a] for k in siblings.get(_family(smp.key), []) if k != smp.key
                    and "x" not in models[k] and len(models[k]["f"]) > a and mode in models[k]["f"][a]]
            value = 0
            for k in range(width):
                own = {(smp.word >> p) & 1 for p in _placements(field, mode, k)}
                if len(own) != 1:
                    places = {tuple(_placements(f, mode, k)) for f in sibs}
                    places.discard(())
                    if len(places) != 1 or len(next(iter(places))) != 1:
                        break
                    own = {(smp.word >> next(iter(places))[0]) & 1}
                value |= own.pop() << k
            else:
                exp = (value >> e0) & ((1 << ne) - 1)
                if exp == (1 << ne) - 1 and value & ((1 << e0) - 1) and (value >> (width - 1)) == tok.startswith("-"):
                    atoms[a] = ("N", f"0x{value:x}")
                    continue
            break
        else:
            out.append(Sample(smp.key, smp.family, tuple(atoms), smp.word))
    return out


def harvest(cubins: list[tuple[str, bytes]], work: Path, jobs: int):
    uniq: dict[tuple, Sample] = {}
    nans: dict[tuple, Sample] = {}
    total = 0
    bad: Counter = Counter()
    seen = set()
    todo = []
    for name, cub in cubins:
        h = hashlib.sha1(cub).digest()
        if h not in seen:
            seen.add(h)
            todo.append((name, cub))
    with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
        for i, text in enumerate(ex.map(lambda t: listing(t[1], work), todo)):
            ss, b, ns = samples_of(text)
            total += len(ss) + len(ns)
            bad.update(b)
            for s in ss:
                uniq.setdefault((s.key, s.atoms, s.word), s)
            for s in ns:
                nans.setdefault((s.key, s.atoms, s.word), s)
            if (i + 1) % 200 == 0:
                print(f"  disassembled {i + 1}/{len(todo)}", file=sys.stderr)
    return list(uniq.values()), total, bad, todo, list(nans.values())


# --------------------------------------------------------------------------- verify


def _init_worker(work: str) -> None:
    """A worker reads nvdisasm listings of harvested cubins from the harvest's cache (``listing``)
    instead of running nvdisasm again; anything else (a new cubin) still goes to nvdisasm."""
    from sass_lab.sass import assembler, disasm, sassfile

    if os.environ.get("SASS_LAB_ENCODINGS"):  # the data under check, loaded once per worker
        from sass_lab.sass import encoding

        encoding._encoder.cache_clear()
    run = disasm.listing

    def cached(cubin: bytes) -> str:
        p = Path(work) / "lst" / f"{hashlib.sha1(bytes(cubin)).hexdigest()[:20]}.lst.gz"
        return gzip.decompress(p.read_bytes()).decode() if p.exists() else run(cubin)

    disasm.listing = sassfile.nvdisasm_listing = assembler.nvdisasm_listing = cached


def _verify_one(args) -> dict:
    """Listing → cubin for one harvested cubin with the data at ``data_path``: the editable listing
    is written, read back and assembled into the cubin itself as skeleton; the result must be the
    same bytes. Also: how many instructions re-encode exactly, and what the hazard checker says."""
    name, cub, data_path = args
    from sass_lab.errors import SasmError
    from sass_lab.sass import assembler, encoding, sassfile
    from sass_lab.sass.sched import check_hazards

    if os.environ.get("SASS_LAB_ENCODINGS") != str(data_path):  # set before the workers start (verify)
        os.environ["SASS_LAB_ENCODINGS"] = str(data_path)
        encoding._encoder.cache_clear()
    text = sassfile.write(cub, "skeleton.cubin", hashlib.sha1(cub).hexdigest())
    lst = sassfile.read(text, name)
    n = sum(len(f.instructions) for f in lst.functions)
    try:
        out = assembler.assemble(lst, cub, check=False)
    except SasmError as e:
        return {"name": name, "instructions": n, "identical": False, "error": e.message[:200], "hazards": 0}
    hz = sum(len(check_hazards(list(r.instrs))) for r in out.functions.values())
    return {"name": name, "instructions": n, "identical": out.cubin == cub, "hazards": hz}


def verify(data_path: Path, cubins: list[tuple[str, bytes]], jobs: int, work: Path) -> dict:
    """Round trip of every harvested cubin (``_verify_one``) in ``jobs`` processes."""
    results = []
    os.environ["SASS_LAB_ENCODINGS"] = str(data_path)  # inherited by the workers: loaded once in each
    with cf.ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(str(work),)) as ex:
        for i, r in enumerate(ex.map(_verify_one, [(n, c, data_path) for n, c in cubins], chunksize=4)):
            results.append(r)
            if (i + 1) % 200 == 0:
                print(f"  verified {i + 1}/{len(cubins)}", file=sys.stderr)
    bad = [r for r in results if not r["identical"]]
    errors = Counter(r.get("error", "bytes differ") for r in bad)
    return {"cubins": len(results), "cubins_identical": len(results) - len(bad),
            "instructions": sum(r["instructions"] for r in results),
            "instructions_in_identical": sum(r["instructions"] for r in results if r["identical"]),
            "hazards_reported_on_ptxas_code": sum(r["hazards"] for r in results),
            "kernels_with_hazards": [r["name"] for r in results if r["hazards"]][:20],
            "failures": errors.most_common(20), "bad_cubins": [r["name"] for r in bad][:20]}


# --------------------------------------------------------------------------- scheduling facts


def _collect_one(cub: bytes) -> dict:
    from sass_lab.sass.disasm import disassemble
    from sass_lab.sass.latency import collect

    return collect(list(disassemble(cub).values()))


def _bounds_one(args) -> tuple[dict, list[str], list[tuple[str, str, int]]]:
    """The unbarriered bounds ptxas relies on in one cubin; the functions with other hazards under
    ``table``; and its unbarriered hazards as (function, bound key, age), which the corpus-wide
    bounds settle (``measure_sched``)."""
    cub, table = args
    from sass_lab.sass.disasm import disassemble
    from sass_lab.sass.latency import from_measured
    from sass_lab.sass.sched import bound_key, check_hazards, unbarriered_bounds

    tab = from_measured(table)
    fns = disassemble(cub)
    bounds = unbarriered_bounds(list(fns.values()), tab)
    other, unbarred = [], []
    for name, instrs in fns.items():
        for h in check_hazards(instrs, tab):
            if h.kind in ("RAW", "WAW") and h.barrier is None and h.age is not None:
                unbarred.append((name, bound_key(instrs[h.producer].op, h.reg), h.age))
            else:
                other.append(name)
    return bounds, other, unbarred


def measure_sched(cubins: list[tuple[str, bytes]], jobs: int, work: Path) -> dict:
    """Latencies, scoreboard classes, stall floors and barrier setup measured over every harvested
    function; then the unbarriered bounds under that table (``sched.unbarriered_bounds``) and how
    many hazards the checker still reports on ptxas's own code."""
    from functools import reduce

    from sass_lab.sass.latency import finish, merge

    with cf.ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(str(work),)) as ex:
        raws = list(ex.map(_collect_one, [c for _n, c in cubins], chunksize=8))
        table = finish(reduce(merge, raws))
        bounds, left = {}, []
        for (name, _c), (b, other, unbarred) in zip(cubins, ex.map(_bounds_one, [(c, table) for _n, c in cubins],
                                                                  chunksize=8)):
            for key, v in b.items():
                bounds[key] = min(bounds.get(key, v), v)
            left.append((name, other, unbarred))
    hazards = [f"{name}: {f}" for name, other, unbarred in left
               for f in other + [f for f, key, age in unbarred if age < bounds.get(key, age + 1)]]
    where = list(dict.fromkeys(hazards))
    table["bound"] = dict(sorted(bounds.items()))
    table["hazards_on_ptxas_code"] = {"hazards": len(hazards), "functions": len(where), "first": where[:20]}
    return table


# --------------------------------------------------------------------------- held out


def held_out_sources() -> list[tuple[str, str]]:
    out = test_ptx(include_held_out=True) + shipped_ptx(include_held_out=True)
    for name, src in cuda_sources(include_held_out=True):
        ptx = nvcc_ptx(name, src, (), Path(os.environ.get("HARVEST_WORK", ROOT / ".harvest")))
        if ptx:
            out.append((name, ptx))
    return out


def encode_listing(cub: bytes, enc) -> Counter:
    """Encode every instruction of ``cub`` from its editable-listing text: exact / wrong / refused
    (by category)."""
    from sass_lab.sass import encoding
    from sass_lab.sass.sassfile import lossless_text, nan_bits

    c: Counter = Counter()
    fix = nan_bits("sm_90")
    for _name, raws in scan(nvdisasm_listing(cub)).items():
        labels = {lab: r.address for r in raws for lab in r.labels}
        for r in raws:
            word = join_words(r.lo, r.hi)
            text = lossless_text(r.text, word, fix)
            try:
                w = enc.encode(text, r.address, labels)
            except encoding.Refused as e:
                c[f"refused:{e.category}"] += 1
                c[f"why:{e.message[:90]}"] += 1
                continue
            c["exact" if w == word & ~CTRL_MASK else "wrong"] += 1
            if w != word & ~CTRL_MASK:
                c[f"WRONG:{r.text.strip()}"] += 1
    return c


def evaluate_held_out(data_path: Path, work: Path) -> dict:
    """Encode the held-out kernels (never in the corpus), compiled as sass_lab compiles them
    (nvJitLink) and with ptxas -O3."""
    from sass_lab.sass import encoding

    enc = encoding.load(data_path)
    per: dict[str, dict] = {}
    total: Counter = Counter()
    for name, ptx in held_out_sources():
        arch = _arch_of(ptx)
        for tool, opts in (("nvjitlink", ()), ("ptxas", ("-O3",))):
            cub, _err = compile_one(_retarget(ptx, arch), arch, opts, work, tool)
            if cub is None:
                continue
            c = encode_listing(cub, enc)
            key = f"{name} [{tool}]"
            per[key] = {k: v for k, v in c.items() if not k.startswith(("why:", "WRONG:"))}
            total.update(c)
    n = total["exact"] + total["wrong"] + sum(v for k, v in total.items() if k.startswith("refused:"))
    return {"kernels": per, "instructions": n, "exact": total["exact"], "wrong": total["wrong"],
            "refused": n - total["exact"] - total["wrong"],
            "encoded_share": round(total["exact"] / n, 4) if n else 0.0,
            "refusals": [(k[4:], v) for k, v in total.most_common() if k.startswith("why:")][:25],
            "wrong_examples": [(k[6:], v) for k, v in total.most_common() if k.startswith("WRONG:")][:20]}


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(ROOT / ".harvest"), help="cache of PTX, cubins and listings")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--size", choices=("quick", "medium", "full"), default="full",
                    help="option sets and tuning points: quick (3 sets, defaults only), medium (4 sets, 2 "
                         "tuning points), full (10 sets, 4 points)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--report", help="write the figures as JSON here")
    ap.add_argument("--check-only", action="store_true",
                    help="keep the encodings and scheduling table at --out; only rerun the round trip and "
                         "held-out checks over the same corpus and record their figures")
    ap.add_argument("--sched-only", action="store_true",
                    help="keep the encodings at --out; only measure the scheduling table again over the same "
                         "corpus (latencies, barrier setup, unbarriered bounds) and write it")
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    options = {"quick": QUICK_OPTIONS, "medium": MEDIUM_OPTIONS, "full": OPTIONS}[args.size]
    points = {"quick": 0, "medium": 2, "full": TUNE_POINTS}[args.size]
    sources = test_ptx() + shipped_ptx(points=points) + generated_ptx()
    for name, src in cuda_sources():
        for flags in ((), ("-use_fast_math",)):
            ptx = nvcc_ptx(name, src, flags, work)
            if ptx:
                sources.append((f"{name}{' ' + flags[0] if flags else ''}", ptx))
    print(f"harvest: {len(sources)} PTX sources x {len(options)} option sets", file=sys.stderr)
    cubins = compile_corpus(sources, options, work, args.jobs)
    print(f"harvest: {len(cubins)} cubins ({time.time() - t0:.0f} s)", file=sys.stderr)
    samples, total, bad, uniq_cubins, nans = harvest(cubins, work, args.jobs)
    print(f"harvest: {total} instructions, {len(samples)} distinct, {sum(bad.values())} unreadable "
          f"({time.time() - t0:.0f} s)", file=sys.stderr)
    for t, c in bad.most_common(10):
        print(f"  unreadable x{c}: {t}", file=sys.stderr)
    out = Path(args.out)
    if args.sched_only:
        sched_out = out.parent / "sm_90.sched.json"
        sched = measure_sched(uniq_cubins, args.jobs, work)
        sched_out.write_text(json.dumps(sched, separators=(",", ":"), sort_keys=True) + "\n")
        print(f"sched: {len(sched['fixed'])} fixed-latency opcodes, {len(sched['variable'])} variable, setup "
              f"{sched['setup']} {sched['setup_exceptions']}, {len(sched['bound'])} unbarriered bounds; "
              f"{sched['hazards_on_ptxas_code']['hazards']} hazards left on ptxas code -> {sched_out} "
              f"({time.time() - t0:.0f} s)", file=sys.stderr)
        for key, v in sched["bound"].items():
            print(f"  bound {key}: {v} cycles", file=sys.stderr)
        for f in sched["hazards_on_ptxas_code"]["first"]:
            print(f"  hazards in {f}", file=sys.stderr)
        return 0
    if args.check_only:  # the data and its scheduling table as written by an earlier run
        with gzip.open(out, "rt") as f:
            models = json.load(f)["variants"]
    else:
        models = learn(samples)
        read = nan_samples(nans, models)
        print(f"harvest: {len(read)}/{len(nans)} distinct NaN-immediate samples read through learned placements "
              f"({time.time() - t0:.0f} s)", file=sys.stderr)
        if read:
            samples = samples + read
            models = learn(samples)
    unlearnable = {k: m["x"] for k, m in models.items() if "x" in m}
    corpus = {"sources": len(sources), "option_sets": [f"{t} {' '.join(o)}".strip() for t, o in options],
              "cubins": len(uniq_cubins),
              "instructions": total, "distinct_instructions": len(samples), "variants": len(models),
              "unlearnable_variants": len(unlearnable), "held_out": list(HELD_OUT),
              "ptxas": subprocess.run([ptxas(), "--version"], capture_output=True, text=True).stdout.strip()
              .splitlines()[-1]}
    data = {"arch": "sm_90", "format": 1, "corpus": corpus, "variants": models}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with gzip.open(tmp, "wt", compresslevel=9) as f:
        json.dump(data, f, separators=(",", ":"), sort_keys=True)
    os.replace(tmp, out)
    print(f"harvest: {len(models)} variants ({len(unlearnable)} unlearnable) -> {out} "
          f"({out.stat().st_size / 1e6:.2f} MB, {time.time() - t0:.0f} s)", file=sys.stderr)
    for k, why in list(unlearnable.items())[:15]:
        print(f"  unlearnable {k}: {why}", file=sys.stderr)
    sched_out = out.parent / "sm_90.sched.json"
    if args.check_only:
        sched = json.loads(sched_out.read_text())
    else:
        sched = measure_sched(uniq_cubins, args.jobs, work)
        sched_out.write_text(json.dumps(sched, separators=(",", ":"), sort_keys=True) + "\n")
    os.environ["SASS_LAB_SCHED"] = str(sched_out)
    print(f"sched: {len(sched['fixed'])} fixed-latency opcodes, {len(sched['variable'])} variable "
          f"({time.time() - t0:.0f} s)", file=sys.stderr)
    check = verify(out, uniq_cubins, args.jobs, work)
    corpus["verify"] = {k: check[k] for k in ("cubins", "cubins_identical", "instructions",
                                              "instructions_in_identical", "hazards_reported_on_ptxas_code")}
    with gzip.open(tmp, "wt", compresslevel=9) as f:
        json.dump(data, f, separators=(",", ":"), sort_keys=True)
    os.replace(tmp, out)
    print(f"verify: {check['cubins_identical']}/{check['cubins']} cubins rebuilt byte for byte from their "
          f"listings ({check['instructions_in_identical']}/{check['instructions']} instructions); "
          f"{check['hazards_reported_on_ptxas_code']} hazards reported on ptxas code ({time.time() - t0:.0f} s)",
          file=sys.stderr)
    for msg, c in check["failures"]:
        print(f"  x{c}: {msg}", file=sys.stderr)
    os.environ["HARVEST_WORK"] = str(work)
    ho = evaluate_held_out(out, work)
    corpus["held_out_result"] = {k: ho[k] for k in ("instructions", "exact", "wrong", "refused", "encoded_share")}
    with gzip.open(tmp, "wt", compresslevel=9) as f:
        json.dump(data, f, separators=(",", ":"), sort_keys=True)
    os.replace(tmp, out)
    print(f"held out: {ho['exact']}/{ho['instructions']} encoded exactly ({100 * ho['encoded_share']:.1f} %), "
          f"{ho['wrong']} wrong, {ho['refused']} refused", file=sys.stderr)
    for why, c in ho["refusals"][:12]:
        print(f"  refused x{c}: {why}", file=sys.stderr)
    for t, c in ho["wrong_examples"]:
        print(f"  WRONG x{c}: {t}", file=sys.stderr)
    if args.report:
        Path(args.report).write_text(json.dumps({"corpus": corpus, "verify": check, "held_out": ho,
                                                 "sched": sched}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
