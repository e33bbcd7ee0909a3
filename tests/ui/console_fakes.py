"""A fake console model (fixed answers) for the app's tests and snapshots."""

from __future__ import annotations

from sass_lab.lab.report import Gap, GapPoint, KernelSummary
from sass_lab.ui.console.model import KernelRef


class FakeModel:
    """The console's model with fixed answers (no assembling, no files, no database)."""

    db_path = "results.db"

    def __init__(self, gpu=False, measured=True):
        self.gpu = gpu
        self.measured = measured
        self.defines = {}
        self.tuned = 0

    def kernels(self):
        return [KernelRef("a.sasm", "saxpy"), KernelRef("b.sasm", "sgemm")]

    def source(self, ref):
        return f"// source of {ref.name}"

    def ptx(self, ref):
        return f".entry {ref.name}"

    def sass(self, ref):
        return f"FFMA R1, R2, R3, R4 ;  // {ref.name}"

    def resources(self, ref):
        return {"registers": 40, "occupancy": {"block": 256, "blocks_per_sm": 6, "percent": 75.0,
                                               "limiters": ["registers"]}}

    def occupancy_curves(self, ref):
        return {"registers": [(8, 8), (64, 4), (128, 2)]}

    def verify(self, ref):
        return f"PASS {ref.name} max rel err 1e-7"

    def gpu_status(self):
        return (True, "ok") if self.gpu else (False, "no CUDA driver on this machine")

    def tune(self, ref):
        self.tuned += 1
        return [{"defines": {"BM": 64}, "status": "ok", "registers": 40, "shared_bytes": 1024,
                 "occupancy": 50.0, "ffma_share": 0.9, "score": 0.9, "reason": ""}]

    def results(self, ref):
        if not self.measured:
            return []
        return [{"kind": "static", "status": "ok", "size": {"M": 1}, "defines": {}, "median_s": None,
                 "flop_s": None, "device": "static"}]

    def summary(self, ref):
        if ref.name == "saxpy":
            return KernelSummary(ref.file, ref.name, "sm_90", 18, 0, 0, 256, 100.0, ("warps",), 0.07, "SASS",
                                 0.86, "memory", 0.17, 1.2e-4, 1.4e11, 0.83 if self.measured else None)
        return KernelSummary(ref.file, ref.name, "sm_90", 125, 16384, 0, 256, 25.0, ("registers",), 0.912,
                             "SASS", 0.11, "compute", 170.0, 2.3e-3 if self.measured else None, 59e12,
                             0.88 if self.measured else None, 0.97 if self.measured else None)

    def gap(self, ref):
        pts = tuple(GapPoint({"M": n, "N": n, "K": n}, 2.0 * n ** 3, 12.0 * n * n, 2.0 * n ** 3 / 66.9e12,
                             max(2.0 * n ** 3 / 66.9e12, 12.0 * n * n / 4.8e12), 2.0 * n ** 3 / 66.9e12 / 0.912,
                             2.0 * n ** 3 / 66.9e12 / 0.8 if self.measured else None,
                             2.0 * n ** 3 / 66.9e12 / 0.78 if self.measured else None)
                    for n in (1024, 2048, 4096, 8192))
        return Gap(ref.name, "H200 (datasheet)", 66.9e12, 4.8e12, pts)

    def set_define(self, file, k, v):
        self.defines.setdefault(file, {})[k] = v
