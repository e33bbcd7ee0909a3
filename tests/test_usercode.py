"""User code is contained: exits become located errors, interpreter state is put back, time is bounded."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

from sass_lab.api import assemble
from sass_lab.cli.main import main
from sass_lab.errors import SourceError
from sass_lab.lab.spec import load_spec
from sass_lab.usercode import OverBudget, contained

KERNEL = ".kernel k(.u64 p)\n{body}\n    ret\n"


@pytest.mark.parametrize("body, line", [
    ("% raise SystemExit(0)", 2),
    ("% raise SystemExit(3)", 2),
    ("% raise KeyboardInterrupt", 2),
    ("% import sys; sys.exit()", 2),
    ("%%\ndef f():\n    raise SystemExit(0)\nf()\n%%", 4),
    ("    mov.u32 %r1, ${exit(0)}", 2),
    ("% raise GeneratorExit", 2),
])
def test_exits_are_errors_at_their_line(body, line):
    with pytest.raises(SourceError) as e:
        assemble(KERNEL.format(body=body), file="u.sasm")
    assert e.value.span.file == "u.sasm" and e.value.span.line == line
    assert "cannot end the tool" in e.value.hint


def test_exit_from_a_kernel_is_exit_1_on_the_command_line(tmp_path, capsys):
    f = tmp_path / "x.sasm"
    f.write_text(KERNEL.format(body="% raise SystemExit(0)"))
    assert main(["assemble", str(f)]) == 1
    assert "x.sasm:2" in capsys.readouterr().err


STATE = """\
% import sys, os, warnings, builtins, signal, gc
% sys.setrecursionlimit(70)
% os.chdir("/")
% sys.path.insert(0, "/nonexistent")
% os.environ["SASS_LAB_CACHE"] = "off"
% import numpy; numpy.seterr(all="raise")
% warnings.simplefilter("error")
% builtins.print = None
% sys.set_int_max_str_digits(640)
% signal.signal(signal.SIGINT, signal.SIG_IGN)
% gc.disable()
% sys.stdout = None
"""


def test_interpreter_state_is_put_back():
    before = (sys.getrecursionlimit(), os.getcwd(), list(sys.path), dict(os.environ), np.geterr(),
              print, sys.get_int_max_str_digits(), gc_enabled(), sys.stdout)
    import signal

    sigint = signal.getsignal(signal.SIGINT)
    assemble(KERNEL.format(body=STATE), file="s.sasm")
    after = (sys.getrecursionlimit(), os.getcwd(), list(sys.path), dict(os.environ), np.geterr(),
             print, sys.get_int_max_str_digits(), gc_enabled(), sys.stdout)
    assert after == before and signal.getsignal(signal.SIGINT) is sigint
    assemble(KERNEL.format(body=""), file="next.sasm")  # the next kernel is unaffected


def gc_enabled():
    import gc

    return gc.isenabled()


LAB = """\
.kernel k(.u64 p)
    ret
%% lab
import sys
SIZE = dict(n=1)
def grid(s, d):
    sys.setrecursionlimit(60)
    return (1, 1, 1)
def block(s, d):
    raise SystemExit(0)
{extra}
%%
"""


def test_lab_block_and_its_functions_are_contained(tmp_path):
    f = tmp_path / "lab.sasm"
    f.write_text(LAB.format(extra=""))
    spec = load_spec(f)
    limit = sys.getrecursionlimit()
    assert spec.grid({"n": 1}) == (1, 1, 1) and sys.getrecursionlimit() == limit
    with pytest.raises(SourceError) as e:
        spec.block({"n": 1})
    assert e.value.span.line == 10 and "SystemExit" in e.value.message
    f.write_text(LAB.format(extra="raise KeyboardInterrupt"))
    with pytest.raises(SourceError) as e:
        load_spec(f)
    assert e.value.span.line == 11


def test_budget_ends_a_busy_loop(monkeypatch):
    monkeypatch.setenv("SASS_LAB_LIMITS", "seconds=0.5")
    t0 = time.monotonic()
    with pytest.raises(SourceError) as e:
        assemble(KERNEL.format(body="% while True:\n%     try:\n%         pass\n%     except Exception:\n%         pass\n%     end\n% end"),
                 file="spin.sasm")
    assert time.monotonic() - t0 < 5
    assert "longer than 0.5 s" in e.value.message and "--limit seconds=" in e.value.hint
    assert e.value.span.file == "spin.sasm"


def test_budget_alarm_never_fires_after_the_block():
    with contained(budget=0.05):
        pass
    time.sleep(0.3)  # an alarm left armed would raise OverBudget here
    with pytest.raises(OverBudget), contained(budget=0.05):
        while True:
            pass
    time.sleep(0.3)


PROFILED = """
import cProfile, threading
from sass_lab.api import assemble
from sass_lab.usercode import contained
profile = cProfile.Profile()
profile.enable()
with contained(budget=60):
    pass
assemble({kernel!r})
t = threading.Thread(target=print, args=("thread",))
t.start()
t.join()
profile.disable()
print("done")
"""


def test_code_runs_under_a_profiler():
    """cProfile around an assembly finishes: leaving a budget block that never fired touches no
    async-exception state (clearing one that was never raised left CPython's signal set, and under
    a profiler every later lock operation spun forever)."""
    import subprocess

    kernel = KERNEL.format(body="% x = 1")
    out = subprocess.run([sys.executable, "-c", PROFILED.format(kernel=kernel)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.split() == ["thread", "done"], out.stderr


def test_real_ctrl_c_stays_a_ctrl_c():
    import signal
    import threading

    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        assemble(KERNEL.format(body="% import time\n% time.sleep(3)"), file="c.sasm")


@pytest.mark.parametrize("where", ["before", "after", "body"])
def test_ctrl_c_outside_the_box_stays_a_ctrl_c(where):
    """A KeyboardInterrupt that did not end the ``with`` body (a Ctrl-C landing before the box took
    SIGINT over, or after it handed SIGINT back) is a real interruption, not the user's exit; one the
    body raised itself is the user's."""
    from sass_lab.usercode import is_user_exit

    box = contained()
    try:
        if where == "before":
            raise KeyboardInterrupt
        with box:
            if where == "body":
                raise KeyboardInterrupt
        raise KeyboardInterrupt
    except KeyboardInterrupt as e:
        assert is_user_exit(e, box) is (where == "body")
