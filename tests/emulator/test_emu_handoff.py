"""corpus/handoff.cu against numpy: a ``__managed__`` variable (PTX ``.attribute(.managed)``, a syntax error
before), warps of one block handing data over through a volatile shared flag or a block-scope
``cuda::atomic_ref`` (exact with check=False; with check=True the spin stops at max_steps with the true
reason: the shared race checker orders accesses by barriers and warp syncs only), and printf of a string."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ptxkit import run_mangled as run

from sass_lab.errors import EmulatorError

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(params=["sm_80", "sm_90"])
def ptx(request):
    return (CORPUS / f"handoff.{request.param}.ptx").read_text()


@pytest.mark.parametrize("name, extra", [("intra_block_flag", np.array([1, 2, 3, 4])), ("intra_block_atomic", 1)])
def test_warps_handing_over_through_a_shared_flag(ptx, name, extra):
    x = np.random.default_rng(1).integers(-1000, 1000, 32).astype(np.int32)
    y = np.full(32, -7, np.int32)
    count = np.array([5], np.int32)
    rep = run(ptx, name, 1, 64, [x, y], check=False, symbols={"mcount": count})
    extra = extra[np.arange(32) & 3] if isinstance(extra, np.ndarray) else extra
    np.testing.assert_array_equal(y, 2 * x + extra)
    assert rep.findings == () and count[0] == (6 if name == "intra_block_flag" else 5)


@pytest.mark.parametrize("name", ["intra_block_flag", "intra_block_atomic"])
def test_a_handoff_inside_a_block_with_checks_on_says_why_it_cannot_run(ptx, name):
    x = np.zeros(32, np.int32)
    with pytest.raises(EmulatorError, match=r"ran past max_steps=20000") as e:
        run(ptx, name, 1, 64, [x, x.copy()], max_steps=20_000)
    assert "shared-memory race checker orders accesses by barriers and warp syncs only" in e.value.hint
    assert "check=False" in e.value.hint


def test_printf_of_a_string_in_global_memory(ptx):
    s = np.frombuffer(b"hello\0", np.uint8).copy()
    rep = run(ptx, "show_string", 1, 32, [s, np.int32(2)])
    assert sorted(rep.output.splitlines()) == ["[hello] 0 hel|", "[hello] 1 hel|"]
