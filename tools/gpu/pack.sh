#!/usr/bin/env bash
# Packs what tools/gpu/check.sh needs on a GPU machine that has no build tools, no Debian packages and no
# network (this workplace's lent NVIDIA machine): the Release binaries built here, the shared libraries
# they load that such a machine may lack, and the Vulkan loader and validation layer as Debian packages.
# Writes .gpu/ (git-ignored); pass `.gpu` as a carried path and run `bash tools/gpu/check.sh` there.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash third_party/deps.sh
[ -f build/Makefile ] || [ -f build/build.ninja ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target dlvk_cli tests_ops tests_model >/dev/null
rm -rf .gpu
mkdir -p .gpu/bin .gpu/lib .gpu/deb
cp build/bin/dlvk build/bin/tests_ops build/bin/tests_model .gpu/bin/
# Libraries beyond glibc and the C++ runtime (those are newer on the GPU machine's image).
ldd .gpu/bin/* | awk '/=> \// {print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libgcc_s.so*|libstdc++.so*|libdl.so*|libpthread.so*|librt.so*) ;;
    *) cp -L "$lib" .gpu/lib/ ;;
  esac
done
# The loader (volk opens libvulkan.so.1 at run time) and the Khronos validation layer the tests turn on.
lists=/tmp/dlvk-gpu-apt
mkdir -p "$lists/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
apt-get $o update -qq
(cd .gpu/deb && apt-get $o download -qq libvulkan1 vulkan-validationlayers)
du -sh .gpu
