"""ptxas never outlives the process that started it, whichever way that process dies.

``ptxas.spawn`` starts the compiler under ``setpriv --pdeathsig KILL`` and a parent check (or, without
setpriv, a ``preexec_fn``); here a stand-in ptxas records its pid and hangs, the process compiling
with it is killed with SIGKILL mid-compile, and the stand-in must be gone within seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from procs import alive

from sass_lab.toolchain import ptxas

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG")

HANG = "#!/bin/sh\necho $$ > {pidfile}\nexec sleep 60\n"

WORKER = textwrap.dedent("""
    import sys
    from sass_lab.toolchain import ptxas
    if sys.argv[1] == "fallback":
        ptxas.spawn_helper = lambda: None
    ptxas.run_ptxas(".version 9.0\\n", "sm_90", [], timeout=120)
""")


@pytest.mark.parametrize("how", ["setpriv", "fallback"])
def test_a_killed_caller_leaves_no_ptxas_running(tmp_path, how):
    if how == "setpriv" and ptxas.spawn_helper() is None:
        pytest.skip("util-linux setpriv with --pdeathsig is not installed")
    pidfile = tmp_path / "pid"
    fake = tmp_path / "ptxas"
    fake.write_text(HANG.format(pidfile=pidfile))
    fake.chmod(0o755)
    env = {**os.environ, "SASS_LAB_PTXAS": str(fake)}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, how], env=env)
    try:
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            assert worker.poll() is None, "the compiling process ended early"
            time.sleep(0.02)
        pid = int(pidfile.read_text())
        assert alive(pid)
        worker.send_signal(signal.SIGKILL)  # mid-compile: no cleanup code runs in the caller
        worker.wait()
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        survived = alive(pid)
    finally:
        worker.kill()
    if survived:
        os.kill(pid, signal.SIGKILL)
    assert not survived, "ptxas outlived the process that started it"


def test_the_guard_refuses_when_the_caller_is_already_gone(tmp_path):
    """setpriv asks for the signal only once it runs: if the caller died before that, the guard
    (its parent is no longer the caller) stops before ptxas starts."""
    if ptxas.spawn_helper() is None:
        pytest.skip("util-linux setpriv with --pdeathsig is not installed")
    ran = tmp_path / "ran"
    out = subprocess.run(["/bin/sh", "-c", ptxas.GUARD, "1", "touch", str(ran)], capture_output=True)
    assert out.returncode == 125 and not ran.exists()
    out = subprocess.run(["/bin/sh", "-c", ptxas.GUARD, str(os.getpid()), "touch", str(ran)], capture_output=True)
    assert out.returncode == 0 and ran.exists()


def test_a_ptxas_that_cannot_be_executed_is_a_toolchain_error(tmp_path, monkeypatch):
    from sass_lab.errors import ToolchainError

    fake = tmp_path / "ptxas"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o644)
    monkeypatch.setenv("SASS_LAB_PTXAS", str(fake))
    with pytest.raises(ToolchainError, match="cannot run ptxas"):
        ptxas.run_ptxas(".version 9.0\n", "sm_90", [], timeout=30)


RECORD = "#!/bin/sh\nprintf '%s' \"${{GLIBC_TUNABLES-unset}}\" > {out}\necho 'ptxas fatal : stand-in' >&2\nexit 1\n"


@pytest.mark.parametrize("callers", [None, "", "glibc.malloc.check=0"])
def test_ptxas_runs_with_the_heap_tunables_unless_the_caller_set_its_own(tmp_path, monkeypatch, callers):
    out = tmp_path / "seen"
    fake = tmp_path / "ptxas"
    fake.write_text(RECORD.format(out=out))
    fake.chmod(0o755)
    monkeypatch.setenv("SASS_LAB_PTXAS", str(fake))
    if callers is None:
        monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    else:
        monkeypatch.setenv("GLIBC_TUNABLES", callers)
    cubin, _, err = ptxas.run_ptxas(".version 9.0\n", "sm_90", [], timeout=30)
    assert cubin is None and "stand-in" in err
    assert out.read_text() == (ptxas.HEAP_TUNABLES if callers is None else callers)


def test_the_heap_tunables_change_no_cubin_byte(monkeypatch):
    """Same PTX, ptxas with and without the tunables: the same bytes (SGEMM, the heaviest compile,
    and a small kernel)."""
    from pathlib import Path

    from sass_lab.api import assemble_file

    monkeypatch.delenv("SASS_LAB_PTXAS", raising=False)
    kernels = Path(__file__).resolve().parents[2] / "sass_lab" / "kernels_asm"
    for name in ("sgemm.sasm", "saxpy.sasm"):
        ptx = assemble_file(kernels / name, "sm_90").ptx
        monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
        tuned = ptxas.run_ptxas(ptx, "sm_90", [], timeout=120)[0]
        monkeypatch.setenv("GLIBC_TUNABLES", "")
        plain = ptxas.run_ptxas(ptx, "sm_90", [], timeout=120)[0]
        assert tuned is not None and tuned == plain, name
