#!/usr/bin/env bash
# The whole test suite: installs dependencies (idempotent), configures, builds (Release) and runs ctest.
# Tests run on whatever Vulkan device is best (Mesa lavapipe on machines without a GPU), with the
# Khronos validation layer on; any validation message fails the run.
set -euo pipefail
cd "$(dirname "$0")"
bash third_party/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
