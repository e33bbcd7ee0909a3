"""The shipped SGEMM with a reordered main loop and computed control codes (docs/SASS.md).

Without a GPU: the edited cubin passes the hazard checker, nvdisasm reads it back as the listing,
and the deliberately broken listing is refused with its hazards. With a GPU (``-m gpu``): it computes
the same C as the ptxas build, within the kernel's own tolerance against float64 numpy, and both are
timed (median of event-timed runs; ``SASS_LAB_BENCH_OUT=file.json`` keeps the figures).
"""

from __future__ import annotations

import json
import os
import statistics
from types import SimpleNamespace

import numpy as np
import pytest
import sgemm_edit

from sass_lab.errors import SourceError
from sass_lab.sass import assembler, sassfile
from sass_lab.sass.sched import check_hazards

pytestmark = pytest.mark.slow


def test_edited_sgemm_is_checked_and_reads_back():
    e = sgemm_edit.edited()
    assert e.moved > 20
    lst = sassfile.read(e.edited_text, "sgemm_edited.sass")
    out = assembler.assemble(lst, e.module.cubin, auto_control=True)
    assert out.cubin == e.cubin
    fr = out.functions[e.name]
    assert fr.hazards == () and check_hazards(list(fr.instrs)) == []
    assembler.readback(out, lst)
    ptxas = assembler.assemble(sassfile.read(e.text, "sgemm.sass"), e.module.cubin)
    assert ptxas.cubin == e.module.cubin  # the unedited listing is the ptxas cubin, byte for byte
    assert [i.opcode for i in fr.instrs] != [i.opcode for i in ptxas.functions[e.name].instrs]


def test_broken_sgemm_hazards_are_reported():
    text = sgemm_edit.broken()
    mod, _name, _ = sgemm_edit.shipped()
    with pytest.raises(SourceError) as err:
        assembler.assemble(sassfile.read(text, "sgemm_broken.sass"), mod.cubin)
    assert err.value.message.startswith("hazard: ") and "LDS" in err.value.message
    out = assembler.assemble(sassfile.read(text, "sgemm_broken.sass"), mod.cubin, check=False)
    (fr,) = out.functions.values()
    assert len(fr.hazards) > 10 and {h.kind for h in fr.hazards} >= {"RAW"}


def _run(kernel, cubin: bytes, spec, s: dict, host: dict, reps: int = 0):
    from cuda.bindings import driver as cu

    from sass_lab.lab.verify import order_args
    from sass_lab.runtime.launch import prepare

    shim = SimpleNamespace(name=kernel.name, arch=kernel.arch, params=kernel.params, resources=kernel.resources,
                           cubin=cubin)
    args = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in host.items()}
    prep = prepare(shim, spec.grid(s), spec.block(s), *order_args(kernel, args))
    times = []
    try:
        prep.enqueue()
        prep.finish()
        ev = [cu.cuEventCreate(0)[1] for _ in range(2)]
        for _ in range(reps):
            cu.cuEventRecord(ev[0], 0)
            prep.enqueue()
            cu.cuEventRecord(ev[1], 0)
            cu.cuEventSynchronize(ev[1])
            times.append(cu.cuEventElapsedTime(ev[0], ev[1])[1])
    finally:
        prep.free()
    return args, times


@pytest.mark.gpu
def test_edited_sgemm_on_the_gpu():
    import sass_lab.runtime as rt
    from sass_lab.lab.spec import load_spec
    from sass_lab.lab.verify import compare
    from sass_lab.paths import KERNELS

    if not rt.available():
        pytest.skip("no GPU")
    e = sgemm_edit.edited()
    kernel = e.module[e.name]
    spec = load_spec(KERNELS / "sgemm.sasm")
    rng = np.random.default_rng(7)
    rows = []
    for s in [*spec.test_sizes, *spec.bench_sizes]:
        host = spec.inputs(s, rng)
        ref = spec.reference(host, s)
        reps = 20 if s in spec.bench_sizes else 0
        results = {}
        for label, cubin in (("ptxas", e.module.cubin), ("edited", e.cubin)):
            got, times = _run(kernel, cubin, spec, s, host, reps)
            checks = compare({"C": got["C"]}, ref, spec.tolerance(s), spec.scale(host, s))
            assert all(c.ok for c in checks), (label, s, [c.to_dict() for c in checks])
            results[label] = (got["C"], times)
        if reps:
            ms = {k: statistics.median(t) for k, (_c, t) in results.items()}
            flops = spec.flops(s)
            rows.append({"size": s, **{f"{k}_ms": v for k, v in ms.items()},
                         **{f"{k}_tflops": flops / v / 1e9 for k, v in ms.items()},
                         "edited_vs_ptxas": ms["ptxas"] / ms["edited"]})
    for r in rows:
        print(f"sgemm {r['size']['M']}^3: ptxas {r['ptxas_ms']:.3f} ms ({r['ptxas_tflops']:.1f} TFLOP/s), "
              f"edited {r['edited_ms']:.3f} ms ({r['edited_tflops']:.1f} TFLOP/s), speed ratio {r['edited_vs_ptxas']:.3f}")
    out = os.environ.get("SASS_LAB_BENCH_OUT")
    if out:
        with open(out, "w") as fh:
            json.dump({"device": rt.device_info(), "moved": e.moved, "results": rows}, fh, indent=1, default=str)
