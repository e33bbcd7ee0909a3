"""Resource limits: every hostile input ends with exit 1, a location, the limit's name and the option that
raises it, within seconds and bounded memory (each case is a fresh ``sass_lab assemble`` process; its
wall time and peak RSS are measured with ``wait4``). Also: the limits leave every real kernel alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sass_lab.dsl.limits import Limits, parse_limits
from sass_lab.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
K = ".kernel k(.u64 p)\n.reg .f32 a\n.reg .u64 x\n    ld.param.u64 x, [p]\n{body}\n    st.global.f32 [x], a\n    ret\n"


def _bomb(d: Path) -> None:
    """21 files of ~40 bytes, each including the next twice: 2^21 inclusions if nothing stops it."""
    for i in range(21):
        (d / f"b{i}.sasm").write_text(f'.include "b{i + 1}.sasm"\n.include "b{i + 1}.sasm"\n')
    (d / "b21.sasm").write_text("    mov.f32 a, 0f00000000\n")


def _chain(d: Path) -> None:
    for i in range(40):
        (d / f"c{i}.sasm").write_text(f'.include "c{i + 1}.sasm"\n')
    (d / "c40.sasm").write_text("\n")


def _fifo(d: Path) -> None:
    os.mkfifo(d / "pipe.sasm")


CASES = {  # name: (body, setup, extra argv, what stderr must say)
    "while-body": ("% while True:\n    mov.f32 a, 0f00000000\n% end", None, (),
                   ("k.sasm:6", "more than 500,000 lines", "--limit lines=")),
    "busy-loop": ("% while True:\n%     pass\n% end", None, ("--limit", "seconds=1"),
                  ("k.sasm:5", "longer than 1 s", "--limit seconds=")),
    "huge-line": ("    // ${'x' * 40_000_000}", None, (), ("k.sasm:5", "more than 33,554,432 bytes", "--limit bytes=")),
    "include-bomb": ('.include "b0.sasm"', _bomb, (), ("k.sasm:5", "include_bytes", "--limit include_bytes=")),
    "include-depth": ('.include "c0.sasm"', _chain, (), ("nested more than 32", "--limit include_depth=")),
    "include-dev-zero": ('.include "/dev/zero"', None, (), ("k.sasm:5", "character device")),
    "include-fifo": ('.include "pipe.sasm"', _fifo, (), ("k.sasm:5", "FIFO")),
    "include-nul": ('.include "a\0b.sasm"', None, (), ("k.sasm", "binary")),  # a NUL byte: not text
    "reg-array": (".reg .f32 q[10000000]", None, (), ("k.sasm:5", "10,000,000", "--limit reg_array=")),
    "shared-1TiB": (".shared .align 16 .b8 s[1099511627776]", None, (), ("k.sasm:5", "48 KB")),
    "shared-4GiB+4": (".shared .align 16 .b8 s[4294967300]", None, (), ("k.sasm:5", "48 KB")),
    "utf8-comment": ("    // caf\xe9 \udcff", None, (), ("k.sasm:5", "invalid UTF-8")),
    "utf8-include": ('.include "bad.sasm"', lambda d: (d / "bad.sasm").write_bytes(b"// \xff\n"), (),
                     ("bad.sasm:1", "invalid UTF-8", "included from k.sasm:5")),
    "nan-offset": ("    ld.global.f32 a, [x+0f7FC00000]", None, (), ("k.sasm:5", "not an integer")),
    "inf-offset": ("    ld.global.f32 a, [x+1e999]", None, (), ("k.sasm:5", "not an integer")),
    "4400-digit-index": (".reg .f32 r[4]\n    mov.f32 r[" + "9" * 4400 + "], a", None, (), ("k.sasm:6", "4,300 digits")),
    "200k-term-expr": ("    mov.f32 a, ${" + "+".join(["1"] * 200_000) + "}", None, (),
                       ("k.sasm:5", "Python cannot compile")),
    "system-exit": ("% raise SystemExit(0)", None, (), ("k.sasm:5", "cannot end the tool")),
    "keyboard-interrupt": ("% raise KeyboardInterrupt", None, (), ("k.sasm:5", "cannot end the tool")),
}


def _run(tmp: Path, argv: list[str]) -> tuple[int, str, float, float]:
    """(exit code, stderr, seconds, peak RSS in MB) of one ``sass_lab`` process."""
    err = tmp / "stderr.txt"
    with open(err, "w") as f:
        t0 = time.monotonic()
        p = subprocess.Popen([sys.executable, "-m", "sass_lab.cli.main", *argv], cwd=tmp, stdout=subprocess.DEVNULL,
                             stderr=f, env={**os.environ, "SASS_LAB_LIMITS": ""})
        _, status, usage = os.wait4(p.pid, 0)
        seconds = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, err.read_text(errors="replace"), seconds, usage.ru_maxrss / 1024


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_ends_with_exit_1(name, tmp_path):
    body, setup, extra, needles = CASES[name]
    if setup is not None:
        setup(tmp_path)
    (tmp_path / "k.sasm").write_text(K.format(body=body), errors="surrogateescape")
    rc, err, seconds, rss = _run(tmp_path, ["assemble", "k.sasm", *extra])
    flat = " ".join(err.split())
    assert rc == 1, err
    assert "Traceback" not in err and "internal error" not in err
    for needle in needles:
        assert needle in flat, f"{needle!r} not in {err[:2000]}"
    assert seconds < 30, f"{name} took {seconds:.1f} s"  # a few seconds on an idle machine
    assert rss < 700, f"{name} peaked at {rss:.0f} MB"
    print(f"{name}: exit 1 in {seconds:.2f} s, peak RSS {rss:.0f} MB")


@pytest.mark.parametrize("path", ["/dev/zero", "pipe.sasm"])
def test_a_device_or_fifo_as_the_main_file(path, tmp_path):
    if path == "pipe.sasm":
        _fifo(tmp_path)
    rc, err, seconds, _ = _run(tmp_path, ["assemble", path])
    assert rc == 1 and path in err and seconds < 30


def test_nul_in_an_include_path_through_the_api():
    from sass_lab.api import assemble
    from sass_lab.errors import SourceError

    with pytest.raises(SourceError) as e:
        assemble(K.format(body='.include "a\0b.sasm"'), file="k.sasm")
    assert (e.value.span.file, e.value.span.line) == ("k.sasm", 5) and "NUL" in e.value.message


def test_limits_parse_and_refuse_nonsense():
    assert parse_limits("lines=2e6, seconds=1.5") == {"lines": 2_000_000, "seconds": 1.5}
    for bad in ("nope=1", "lines=0", "lines=-3", "seconds=nan", "lines=x"):
        with pytest.raises(UsageError):
            parse_limits(bad)


def test_the_cli_option_raises_a_limit(tmp_path, capsys):
    from sass_lab.cli.main import main

    f = tmp_path / "k.sasm"
    f.write_text(K.format(body="% for i in range(300):\n    mov.f32 a, 0f00000000\n% end"))
    assert main(["assemble", str(f), "--limit", "lines=200"]) == 1
    assert "more than 200 lines" in capsys.readouterr().err
    assert main(["assemble", str(f), "--limit", "lines=400"]) == 0
    assert main(["assemble", str(f), "--limit", "bogus=1"]) == 1


def test_defaults_leave_every_real_kernel_alone():
    """The shipped kernels and nvcc's PTX (the largest test file, and a 30,000-line module) pass."""
    from sass_lab.dsl.expand import expand

    d = Limits()
    biggest = 0
    for p in [*(ROOT / "kernels_asm").glob("*.sasm"), *(ROOT / "tests").glob("*/data/*.ptx")]:
        ex, _ = expand(p.read_text(), str(p))
        biggest = max(biggest, len(ex.lines))
    assert biggest * 10 < d.lines
    nvcc = (ROOT / "tests/dsl/data/sgemm.ptx").read_text().splitlines()
    body = [ln for ln in nvcc if ln.strip().startswith(("fma", "ld.", "st.", "mov", "add", "mul"))]
    big = "\n".join(body * (30_000 // len(body) + 1))
    assert len(big.splitlines()) >= 30_000 and len(big) < d.bytes // 10
