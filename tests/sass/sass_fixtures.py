"""Cubins for the SASS tests: CUDA C fixtures (PTX committed under data/) and the shipped kernels."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]
ARCHS = ("sm_80", "sm_90")
# PTX file -> archs it is compiled for (wgmma and the TMA/mbarrier fixture need sm_90a).
FIXTURES = {"sgemm": ARCHS, "misc": ARCHS, "mma": ARCHS, "wgmma": ("sm_90a",), "hopper": ("sm_90a",)}


def _nvjitlink(ptx: str, arch: str) -> bytes:
    from cuda.bindings import nvjitlink as nj

    h = nj.create(1, [f"-arch={arch}"])
    try:
        data = ptx.encode()
        nj.add_data(h, nj.InputType.PTX, data, len(data), "fixture.ptx")
        nj.complete(h)
        buf = bytearray(nj.get_linked_cubin_size(h))
        nj.get_linked_cubin(h, buf)
        return bytes(buf)
    finally:
        nj.destroy(h)


@functools.cache
def compile_fixture(name: str, arch: str) -> bytes:
    ptx = (DATA / f"{name}.ptx").read_text()
    try:
        from sass_lab.toolchain.compile import compile_ptx
    except ImportError:
        return _nvjitlink(ptx, arch)
    return compile_ptx(ptx, arch).cubin


FIXTURE_IDS = [(n, a) for n, archs in FIXTURES.items() for a in archs]


@functools.lru_cache(maxsize=1)
def shipped_modules() -> tuple:
    """(file, arch, sass_lab Module) for every kernels_asm/*.sasm that assembles, sm_80 and sm_90."""
    out = []
    for path in sorted((ROOT / "kernels_asm").glob("*.sasm")):
        for arch in ARCHS:
            try:
                import sass_lab

                mod = sass_lab.assemble_file(path, arch)
            except Exception:  # noqa: BLE001 - not assembling yet (another issue's work)
                continue
            out.append((path.name, arch, mod))
    return tuple(out)


def shipped_cubins() -> tuple[tuple[str, str, bytes], ...]:
    """(file, arch, cubin) for every shipped kernel that assembles."""
    return tuple((f, a, m.cubin) for f, a, m in shipped_modules())


def all_cubins() -> list[tuple[str, str, bytes]]:
    return [(f"{n}.ptx", a, compile_fixture(n, a)) for n, a in FIXTURE_IDS] + list(shipped_cubins())


@pytest.fixture(scope="session")
def sgemm90() -> bytes:
    return compile_fixture("sgemm", "sm_90")


def make_instrs(lines: list[str], **ctrl) -> list:
    """Synthetic SassInstr from listing-like lines: ``"LABEL:"`` lines label the next instruction;
    an instruction line may end with ``|stall,yield,reuse`` (e.g. ``|1,0,2``) to set those fields."""
    from sass_lab.sass.control import Control, encode
    from sass_lab.sass.disasm import RawInstr, build

    raws, labels, addr = [], [], 0
    for line in lines:
        if line.endswith(":"):
            labels.append(line[:-1])
            continue
        text, _, extra = line.partition("|")
        stall, yld, reuse = (int(x) for x in extra.split(",")) if extra else (1, 0, 0)
        c = Control(stall=stall, yield_=bool(yld), write_barrier=None, read_barrier=None, wait_mask=0,
                    reuse=reuse)
        word = encode(c, 0)
        text = text.strip() if text.strip().endswith(";") else text.strip() + " ;"
        raws.append(RawInstr(addr, text, word & ((1 << 64) - 1), word >> 64, tuple(labels)))
        labels = []
        addr += 16
    return build("synthetic", raws)
