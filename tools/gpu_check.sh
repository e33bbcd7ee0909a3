#!/usr/bin/env bash
# Everything that needs a GPU, in one command, for the device machine (no network there). docs/GPU.md.
#
#   run(command="bash tools/gpu_check.sh", carry=[".whl"], timeout_s=300)     # the device tool
#   bash tools/gpu_check.sh [--tests-only | --bench-only] [-k EXPR] [--group NAME] [--only KERNEL]
#   bash tools/gpu_check.sh --rehearse [...]    # here, without a GPU: the stand-in driver (tests/standin)
#   SASS_LAB_FAKE_GPU=1 bash tools/gpu_check.sh # the same
#
# 1. installs the carried wheels (.whl/, made by tools/fetch_gpu_wheels.sh) into a fresh /tmp folder;
# 2. puts the repository and that folder on PYTHONPATH (no install of the project, no network);
# 3. runs tools/gpu_check.py: versions, the test groups and the benchmarks of tools/gpu_check.plan,
#    each phase logged with its elapsed time, results written to $OUT as each part ends.
# Results go to $OUT (the device tool's folder that comes back), else ./out. Budget: GPU_CHECK_BUDGET_S
# (240). The last line says what passed, failed, timed out and was skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
export OUT="${OUT:-$PWD/out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1
T0=$(date +%s)

args=()
for a in "$@"; do
  if [[ "$a" == "--rehearse" ]]; then export SASS_LAB_FAKE_GPU=1; else args+=("$a"); fi
done

log() { echo "[$(printf '%6.1f' "$(( $(date +%s) - T0 ))") s] $*" | tee -a "$OUT/gpu_check.log"; }

log "gpu_check.sh on $(hostname) $(date -u +%FT%TZ)${SASS_LAB_FAKE_GPU:+ (rehearsal: stand-in driver)}"
site=""
if compgen -G ".whl/*.whl" >/dev/null; then
  site=$(mktemp -d /tmp/gpu_check_site.XXXXXX)  # a fresh one per run: two rehearsals never share it
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
    .whl/*.whl >>"$OUT/gpu_check.log" 2>&1 || { log "wheel install failed (see above); gpu_check FAILED"; exit 1; }
  log "phase setup done: carried wheels installed into $site ($(ls .whl/*.whl | wc -l) wheels)"
else
  log "phase setup done: no .whl/ folder, the machine's packages only (tools/fetch_gpu_wheels.sh, carry .whl)"
fi
pp="$PWD${site:+:$site}"
[[ "${SASS_LAB_FAKE_GPU:-}" == "1" ]] && pp="$PWD/tests/standin:$pp"
export PYTHONPATH="$pp${PYTHONPATH:+:$PYTHONPATH}"
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-/tmp/gpu_check_cache}" XDG_DATA_HOME="${XDG_DATA_HOME:-/tmp/gpu_check_data}"
budget="${GPU_CHECK_BUDGET_S:-240}"
export GPU_CHECK_BUDGET_S=$(( budget - ($(date +%s) - T0) )) GPU_CHECK_T0=$T0
"$PY" tools/gpu_check.py ${args[@]+"${args[@]}"}
rc=$?
[[ -n "$site" ]] && rm -rf "$site"
exit $rc
