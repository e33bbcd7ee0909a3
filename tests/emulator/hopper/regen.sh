#!/usr/bin/env bash
# Regenerate the committed PTX of the Hopper kernels (nvcc 13.0, sm_90a: wgmma and setmaxnreg need it).
set -euo pipefail
cd "$(dirname "$0")"
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
for f in hopper_kernels tma_guide; do
  "$NVCC" -ptx -std=c++17 -gencode=arch=compute_90a,code=sm_90a "$f.cu" -o "$f.sm_90a.ptx"
  echo "$f.sm_90a.ptx: $(wc -l < "$f.sm_90a.ptx") lines"
done
