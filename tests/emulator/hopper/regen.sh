#!/usr/bin/env bash
# Regenerate the committed PTX of the Hopper kernels (nvcc 13.0, sm_90a: wgmma and setmaxnreg need it).
set -euo pipefail
cd "$(dirname "$0")"
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
"$NVCC" -ptx -std=c++17 -gencode=arch=compute_90a,code=sm_90a hopper_kernels.cu -o hopper_kernels.sm_90a.ptx
echo "hopper_kernels.sm_90a.ptx: $(wc -l < hopper_kernels.sm_90a.ptx) lines"
