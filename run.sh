#!/usr/bin/env bash
# One command from a fresh clone: installs dependencies (idempotent), builds dlvk in Release (a no-op
# when up to date), then generates text with the model shipped in models/default. Options are passed
# to `dlvk run`, e.g. ./run.sh --prompt "And God said" -n 64 --seed 7
set -euo pipefail
cd "$(dirname "$0")"
bash third_party/deps.sh
if [ ! -f build/Makefile ] && [ ! -f build/build.ninja ]; then  # configured and generated (a failed configure leaves only CMakeCache.txt)
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build -j"$(nproc)" --target dlvk_cli >/dev/null
if [ ! -f models/default/config.json ]; then
  echo "models/default is missing; showing the Vulkan devices instead" >&2
  exec build/bin/dlvk devices
fi
# A default prompt unless the options bring their own (--prompt/-p, --file/-f, --ids, -i).
has_prompt=0
for a in "$@"; do
  case "$a" in -p|--prompt|--prompt=*|-f|--file|--file=*|--ids|--ids=*|-i|--interactive) has_prompt=1 ;; esac
done
if [ $has_prompt -eq 0 ]; then
  set -- --prompt "In the beginning" "$@"
fi
exec build/bin/dlvk run --model models/default "$@"
