"""The console's model: every question the screens ask, answered through the Python API.

The textual app holds no domain logic; tests can swap this object for a fake. Each method returns
plain data or text, and turns errors into text the screen shows (never a traceback): a file that
cannot be read, a kernel that does not assemble and a broken lab block all come back as words.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import NoGPUError, SasmError


@dataclass
class KernelRef:
    file: str
    name: str

    @property
    def label(self) -> str:
        stem = Path(self.file).stem
        return self.name if self.name.startswith(stem) else f"{stem}:{self.name}"


@dataclass
class ConsoleModel:
    files: list[str]
    arch: str = "sm_90"
    db: str | None = None
    defines: dict[str, dict[str, Any]] = field(default_factory=dict)  # per file overrides
    _modules: dict[str, Any] = field(default_factory=dict, repr=False)
    _errors: dict[str, str] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ assembling
    def _key(self, file: str) -> str:
        return f"{file}|{sorted(self.defines.get(file, {}).items())}"

    def module(self, file: str):
        """The assembled module (cached per file and define set), or None with the error kept."""
        key = self._key(file)
        if key not in self._modules:
            from ...api import assemble_file
            from ...toolchain.options import CompileOptions

            try:  # -lineinfo leaves the SASS byte-identical and names each instruction's .sasm line
                self._modules[key] = assemble_file(file, self.arch, defines=self.defines.get(file, {}),
                                                   options=CompileOptions(lineinfo=True))
            except SasmError as e:
                self._modules[key] = None
                self._errors[key] = e.render()
        return self._modules[key]

    def error(self, file: str) -> str | None:
        return self._errors.get(self._key(file))

    def kernels(self) -> list[KernelRef]:
        out = []
        for f in self.files:
            mod = self.module(f)
            if mod is None:
                out.append(KernelRef(f, "(error)"))
            else:
                out.extend(KernelRef(f, k.name) for k in mod)
        return out

    def kernel(self, ref: KernelRef):
        mod = self.module(ref.file)
        return None if mod is None or ref.name not in mod.kernels else mod[ref.name]

    # ------------------------------------------------------------------ views
    def source(self, ref: KernelRef) -> str:
        try:
            return Path(ref.file).read_text()
        except (OSError, UnicodeDecodeError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else "it is not UTF-8 text"
            return f"cannot read {ref.file}: {why}"

    def ptx(self, ref: KernelRef) -> str:
        mod = self.module(ref.file)
        return mod.ptx if mod is not None else (self.error(ref.file) or "")

    def sass(self, ref: KernelRef) -> str:
        k = self.kernel(ref)
        if k is None:
            return self.error(ref.file) or ""
        from ...sass.render import listing_text

        try:
            return listing_text(k.sass, where=source_lines(k))
        except SasmError as e:
            return e.render()

    def resources(self, ref: KernelRef) -> dict[str, Any]:
        k = self.kernel(ref)
        if k is None:
            return {"error": self.error(ref.file)}
        occ = k.occupancy()
        d = {"compiler": k.module.compiler, **k.resources.to_dict(), "pressure_peak": getattr(k.pressure, "peak", None),
             "occupancy": occ.to_dict()}
        return d

    def occupancy_curves(self, ref: KernelRef) -> dict[str, list[tuple[int, int]]]:
        """Blocks/SM against registers, shared bytes and block size (the CUDA calculator's curves)."""
        from ...hw.arch import arch_info
        from ...hw.occupancy import occupancy

        k = self.kernel(ref)
        if k is None:
            return {}
        r = k.resources
        info = arch_info(self.arch)
        threads = k.occupancy().block
        regs = [(x, occupancy(self.arch, threads, x, r.shared_static).blocks_per_sm)
                for x in range(8, info.max_regs_per_thread + 1, 8)]
        smem = [(x, occupancy(self.arch, threads, r.registers, x).blocks_per_sm)
                for x in range(0, info.shared_per_sm + 1, 4096)]
        block = [(x, occupancy(self.arch, x, r.registers, r.shared_static).blocks_per_sm)
                 for x in range(info.warp_size, info.max_threads_per_block + 1, info.warp_size)]
        return {f"registers (now {r.registers})": regs, f"shared bytes (now {r.shared_static})": smem,
                f"block size (now {threads})": block}

    # ------------------------------------------------------------------ efficiency
    def summary(self, ref: KernelRef):
        """The kernel's ``lab.report.KernelSummary`` (occupancy, static and measured efficiency, peer
        ratio, limiter), or None when its file does not assemble."""
        from ...lab.report import lab_spec, summarize_module

        mod = self.module(ref.file)
        if mod is None:
            return None
        rows = summarize_module(mod, lab_spec(ref.file, mod), self._best(), self.arch)
        return next((r for r in rows if r.kernel == ref.name), None)

    def gap(self, ref: KernelRef):
        """The kernel's efficiency gap (``lab.report.Gap``) over its BENCH_SIZES, or None."""
        from ...lab.report import kernel_gap, lab_spec

        s = self.summary(ref)
        if s is None:
            return None
        return kernel_gap(s, lab_spec(ref.file, self.module(ref.file)), self._best())

    def _best(self) -> list:
        from ...lab.report import stored_best

        try:
            return stored_best(self.db)
        except Exception:  # noqa: BLE001 - an unreadable database leaves the measured columns empty
            return []

    # ------------------------------------------------------------------ runs
    @property
    def db_path(self) -> str:
        """The results database the tune tab writes and the results tab reads."""
        from ...lab.store import default_db_path

        return str(self.db or default_db_path())

    def verify(self, ref: KernelRef, emulate: bool = True) -> str:
        """Verification at the lab block's first test size on the emulator, or at SIZE on the GPU
        (both through ``device.device``: one call)."""
        from ...lab.spec import lab_source

        try:
            text = Path(ref.file).read_text()
        except (OSError, UnicodeDecodeError):
            return self.source(ref)
        if not lab_source(text):
            return "this file has no %% lab block, so it cannot verify itself"
        try:
            from rich.console import Console

            from ...device import device
            from ...lab.verify import verify
            from ..verify import verify_table

            res = verify(ref.file, defines=self.defines.get(ref.file) or None, on=device(emulate))
            con = Console(width=110, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
            con.print(verify_table(res))
            return con.export_text()
        except SasmError as e:
            return e.render()

    def gpu_status(self) -> tuple[bool, str]:
        """(available, reason) — GPU actions are disabled with the reason shown."""
        try:
            from ...runtime import require_gpu

            require_gpu()
            return True, "GPU available"
        except NoGPUError as e:
            return False, e.message
        except Exception as e:  # noqa: BLE001
            return False, f"GPU runtime unavailable: {e}"

    def tune(self, ref: KernelRef) -> list[dict]:
        """A compile-only sweep written to :attr:`db_path` (the CLI's full sweep is the place for timings)."""
        from ...lab.tune import describe, tune

        return [describe(o) for o in tune(ref.file, self.arch, compile_only=True, db=self.db, jobs=1)]

    def results(self, ref: KernelRef) -> list[dict]:
        """Stored rows of this kernel, newest first (none, without creating it, when there is no database)."""
        from ...lab.store import Store

        if not Path(self.db_path).exists():
            return []
        with Store(self.db_path, write=False) as st:
            rows = st.rows()
        names = {ref.name, Path(ref.file).stem}
        return [r.to_dict() for r in rows if r.kernel in names]

    def set_define(self, file: str, name: str, value: Any) -> None:
        self.defines.setdefault(file, {})[name] = value


def source_lines(k) -> dict[int, str]:
    """SASS address -> ``file:line`` of the .sasm statement it came from (the cubin's line table)."""
    import bisect

    from ...toolchain.lineinfo import sass_spans

    spans = sass_spans(k.cubin, k.module.line_map).get(k.name, {})
    keys = sorted(spans)
    out = {}
    for ins in k.sass:
        i = bisect.bisect_right(keys, ins.address) - 1
        if i >= 0:
            sp = spans[keys[i]]
            out[ins.address] = f"{Path(sp.file).name}:{sp.line}"
    return out
