#!/usr/bin/env bash
# Download the wheels the GPU machine lacks into .whl/ (git-ignored), for its CPython 3.12 on x86-64.
#
# The device machine has no network. Its python3 (3.12) already holds numpy, torch, cupy, cuda-bindings,
# cuda-core, nvidia-nvjitlink, rich, pytest and hypothesis; sass_lab also needs lark, pyelftools,
# textual (and the parts of its dependency tree that image lacks) and the nvdisasm wheel.
# Run this here (with network), then call the device tool with carry=[".whl"] (see docs/GPU.md).
#
#   bash tools/fetch_gpu_wheels.sh            # the default set below
#   EXTRA="foo==1.2" bash tools/fetch_gpu_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEST=.whl
mkdir -p "$DEST"

# One version of each: pip install refuses a folder with two versions of one project.
WHEELS=(
  "lark==1.3.1"
  "pyelftools==0.33"
  "textual==8.2.8"
  "rich==15.0.0"
  "markdown-it-py==4.3.0"
  "platformdirs==4.14.7"
  "mdit-py-plugins==0.7.0"
  "linkify-it-py==2.2.0"
  "nvidia-cuda-nvdisasm==13.5.37"
)
# shellcheck disable=SC2206
WHEELS+=(${EXTRA:-})

PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64
           manylinux1_x86_64 manylinux_2_24_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64 any)
args=()
for p in "${PLATFORMS[@]}"; do args+=(--platform "$p"); done

for w in "${WHEELS[@]}"; do
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${args[@]}" -d "$DEST" "$w"
done
echo "wheels in $DEST:"
ls -l "$DEST"
du -sh "$DEST"
