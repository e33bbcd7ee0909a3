#!/usr/bin/env bash
# Everything that needs a GPU, in one command, for the device machine (no network there).
#
#   run(command="bash tools/gpu_check.sh", carry=[".whl"])        # the device tool; see docs/GPU.md
#   bash tools/gpu_check.sh [--tests-only | --bench-only] [pytest -k EXPR]
#
# 1. installs the carried wheels (.whl/, made by tools/fetch_gpu_wheels.sh) into /tmp/site;
# 2. puts the repository and /tmp/site on PYTHONPATH (no install of the project, no network);
# 3. runs `pytest -m gpu` (JUnit XML and log);
# 4. benchmarks every shipped kernel and its peer (tools/bench_all.py): bench.md and bench.json;
# 5. the block-fusion comparison (tools/bench_blocks.py): blocks.md and blocks.json.
# Results go to $OUT (the device tool's folder that comes back), else ./out.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1
MODE="${1:-all}"
[[ "$MODE" == --* ]] && shift || MODE=all
K_EXPR="${1:-}"

log() { echo "== $*" | tee -a "$OUT/gpu_check.log"; }

log "gpu_check $(date -u +%FT%TZ) on $(hostname)"
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || true; } \
  | tee -a "$OUT/gpu_check.log"

if compgen -G ".whl/*.whl" >/dev/null; then
  log "installing carried wheels into /tmp/site"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl 2>&1 | tee -a "$OUT/gpu_check.log" || { log "wheel install failed"; exit 1; }
else
  log "no .whl/ folder: relying on the machine's packages (run tools/fetch_gpu_wheels.sh and carry .whl)"
fi
export PYTHONPATH="$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"

"$PY" - <<'EOF' 2>&1 | tee -a "$OUT/gpu_check.log"
import sys
from importlib import metadata
print("python", sys.version.split()[0])
for n in ("numpy", "cuda-bindings", "cuda-core", "nvidia-nvjitlink", "torch", "cupy-cuda13x", "lark",
          "pyelftools", "textual", "rich", "pytest", "hypothesis", "nvidia-cuda-nvdisasm"):
    try:
        print(f"{n} {metadata.version(n)}")
    except metadata.PackageNotFoundError:
        print(f"{n} (missing)")
import sass_lab.runtime as rt
print("device:", rt.device_info() if rt.available() else "NONE")
EOF

status=0
if [[ "$MODE" != "--bench-only" ]]; then
  log "pytest -m gpu"
  args=(-m gpu -q -rfEs -p no:cacheprovider --continue-on-collection-errors --junitxml="$OUT/gpu_tests.xml" tests)
  "$PY" -c "import pytest_timeout" 2>/dev/null && args+=(--timeout "${TEST_TIMEOUT_S:-240}")
  [[ -n "$K_EXPR" ]] && args+=(-k "$K_EXPR")
  "$PY" -m pytest "${args[@]}" 2>&1 | tee "$OUT/gpu_tests.log"
  rc=${PIPESTATUS[0]}
  log "pytest exit $rc"
  [[ $rc -ne 0 ]] && status=1
fi

if [[ "$MODE" != "--tests-only" ]]; then
  log "benchmarks"
  "$PY" tools/bench_all.py --out "$OUT" --budget-s "${BENCH_BUDGET_S:-300}" 2>&1 | tee "$OUT/bench.log"
  rc=${PIPESTATUS[0]}
  log "bench_all exit $rc"
  [[ $rc -ne 0 ]] && status=1
fi
if [[ "$MODE" != "--tests-only" ]]; then
  # issue 16: fused vs unfused DSL vs PyTorch (and torch.compile) for ConvFirst and MBConv, N = 1, 8, 32,
  # C = 64, 128, 56x56 and 28x28: blocks.md and blocks.json (tools/bench_blocks.py; skips what the
  # budget leaves out)
  log "block fusion comparison"
  "$PY" tools/bench_blocks.py --out "$OUT" --budget-s "${BLOCKS_BUDGET_S:-240}" 2>&1 | tee "$OUT/blocks.log"
  rc=${PIPESTATUS[0]}
  log "bench_blocks exit $rc"
  [[ $rc -ne 0 ]] && status=1
fi
log "done, status $status"
exit $status
