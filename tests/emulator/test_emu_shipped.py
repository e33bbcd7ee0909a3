"""The assembler's own PTX: every shipped kernel (kernels_asm/*.sasm) through Kernel.emulate.

Inputs, launch shape and reference come from each file's ``%% lab`` block; checks are on, so any
out-of-bounds access, race or barrier problem in a shipped kernel fails here too.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from test_emu_ptxread import same

from sass_lab.paths import KERNELS

FILES = sorted(p.name for p in Path(KERNELS).glob("*.sasm"))


@pytest.mark.parametrize("name", FILES)
def test_shipped_kernel_matches_reference(name):
    from sass_lab.api import assemble_file
    from sass_lab.lab.spec import load_spec
    from sass_lab.lab.verify import output_values

    path = Path(KERNELS) / name
    s = load_spec(path).test_sizes[-1]
    spec, _ = load_spec(path).for_size(s)  # a size may fix defines (the fused blocks' C)
    mod = assemble_file(path, defines=spec.defines)
    kern = mod[spec.kernel_name(list(mod.kernels))]
    same(mod.ptx)  # the fast PTX reader builds the IR Lark builds from the assembler's PTX
    a = spec.inputs(s, np.random.default_rng(0))
    ref = spec.reference(copy.deepcopy(a), s)
    by_param = {f"{k}_param": v for k, v in a.items()}
    rep = kern.emulate(spec.grid(s), spec.block(s), *[by_param[p.name] for p in kern.params],
                       dynamic_shared=spec.shared(s))
    assert rep.ok and rep.stats.thread_instructions > 0
    norm = spec.scale(a, s) or {}
    for out, want in ref.items():
        got = np.asarray(spec.decode({out: output_values(a[out])}, s)[out], np.float64)  # a TensorMap: its tensor
        den = np.asarray(norm.get(out, np.max(np.abs(want)) or 1.0))
        err = float(np.max(np.abs(got - want) / den))
        assert err <= spec.tolerance(s), f"{out}: relative error {err:.3g} > {spec.tolerance(s):.3g}"
