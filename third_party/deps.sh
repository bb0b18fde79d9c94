#!/usr/bin/env bash
# Installs everything dlvk needs from Debian 12 packages. Idempotent: when every package is present it
# only runs dpkg-query and exits (well under a second). Run as root (or with sudo available).
set -euo pipefail

# Each package and why we need it (this list is the single source of truth).
packages=(
  cmake g++ make pkg-config      # build (make: cmake only recommends it)
  libvulkan-dev                  # Vulkan headers (+ loader for tests; the library loads it at run time)
  libvulkan-volk-dev             # volk: Vulkan meta-loader, so libdlvk does not link libvulkan
  glslc glslang-tools spirv-tools  # GLSL -> SPIR-V compiler, spirv-val
  mesa-vulkan-drivers            # lavapipe: the CPU Vulkan driver CI and GPU-less machines use
  vulkan-validationlayers        # Khronos validation layer, on in every test
  vulkan-tools                   # vulkaninfo (diagnostics only)
  libfmt-dev                     # formatting
  doctest-dev                    # unit tests
  nlohmann-json3-dev             # config.json, safetensors headers, tokenizer.json
  libcli11-dev                   # CLI parsing for apps/dlvk
  libpcre2-dev                   # tokenizer pre-tokenizer regexes (UTF + UCP + JIT)
  libutf8proc-dev                # Unicode normalization for tokenizers
  python3-numpy                  # reference implementation, golden outputs
  python3-torch                  # reference implementation cross-check, default-model training
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
