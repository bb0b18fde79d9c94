#!/usr/bin/env bash
# Debian 12's python3-torch links the reference (netlib) BLAS through the libblas.so.3
# alternative: ~3 GFLOPS on one core, ~20x slower than OpenBLAS. This fetches OpenBLAS with
# `apt-get download` and unpacks it under WORK (no system change, no root needed to use it), then
# prints the environment to run the training tools with it:
#
#   eval "$(tools/train/openblas_env.sh [WORK])"      # WORK defaults to /tmp/dlvk_train
#
# (Alternatively `apt-get install libopenblas0-pthread` switches the system alternative.)
set -euo pipefail
work="${1:-/tmp/dlvk_train}"
dir="$work/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread"
if [[ ! -f "$dir/libblas.so.3" ]]; then
  mkdir -p "$work/debs"
  (cd "$work/debs" && apt-get download libopenblas0-pthread >&2)
  dpkg-deb -x "$work"/debs/libopenblas0-pthread_*.deb "$work/openblas"
fi
echo "export LD_LIBRARY_PATH=$dir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} OPENBLAS_NUM_THREADS=1"
