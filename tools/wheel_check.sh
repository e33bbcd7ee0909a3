#!/usr/bin/env bash
# Installable as users install it: build the wheel, install it into a clean virtual environment, and
# run --version, assemble and an emulated verify from there, in a folder outside the checkout, with
# the kernel read from the installed package's own data. Used by .ci/run; run it by hand the same way.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { echo "wheel_check: $*"; }
export XDG_CACHE_HOME="$work/cache" XDG_DATA_HOME="$work/data"  # no cache or database of the user's
unset SASS_LAB_CACHE SASS_LAB_DB

step "building the wheel"
python3 -m pip wheel -q --no-deps -w "$work/dist" "$repo"
whl=$(ls "$work"/dist/sass_lab-*.whl)
step "$(basename "$whl"): $(python3 -m zipfile -l "$whl" | grep -cE '\.lark|\.sasm|\.json') data files"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$whl"
cd "$work"  # nothing below may come from the checkout
sl="$work/venv/bin/sass_lab"
kernels=$("$work/venv/bin/python" -c "from sass_lab.paths import KERNELS; print(KERNELS)")
case "$kernels" in "$work"/venv/*) ;; *) echo "wheel_check: kernels not from the wheel: $kernels"; exit 1;; esac
step "$("$sl" --version), kernels at ${kernels#"$work"/}"
"$sl" assemble "$kernels/saxpy.sasm" "$kernels/reduce.sasm" -o out
ls out
"$sl" verify "$kernels/saxpy.sasm" --emulate
step "SASS listing round trip (the learned encodings ship in the wheel)"
"$sl" sass out/saxpy.cubin --edit -o out/saxpy.sass
"$sl" assemble out/saxpy.sass -o out/saxpy_again.cubin
cmp out/saxpy.cubin out/saxpy_again.cubin
step "ok"
