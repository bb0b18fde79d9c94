#!/usr/bin/env bash
# Runs on the GPU machine (see tools/gpu/pack.sh, which must have run here first): unpacks the Vulkan
# loader and validation layer into a private prefix, lists the devices, runs the op and model tests on
# the GPU with validation on, then the benchmarks the speed issue asks for. Everything goes to $OUT
# (or ./gpu-out): devices.txt, tests.log, perplexity.jsonl (the shipped model's held-out perplexity,
# f16 / q8_0 / q4_0: lavapipe gives 38.761 / 38.761 / 38.830), bench.jsonl (one JSON object per test),
# bench.log (the same as text, with per-op GPU time), ops.log (kernel timings). The tests run the
# cooperative-matrix kernel where the device has VK_NV_cooperative_matrix; bench.jsonl's lines with
# "prefill_matmul": "coopmat" are prefill with it (DLVK_COOPMAT=1); those with "decode_matmul": "matvec" are
# decode with 4-byte loads (DLVK_GPU_MATVEC=words), the others "matvec_wide" (the default).
# Usage: bash tools/gpu/check.sh [quick]
#   quick: the S shape instead of 1.24B, fewer repetitions, 20 perplexity windows (to try the kit itself
#   on any machine).
# $DLVK_PYTHON: a Python with NumPy for the golden data (default: the first of python3, /usr/bin/python3
# that imports numpy).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
[ -d .gpu/bin ] || { echo "check.sh: no .gpu/ (run tools/gpu/pack.sh here first, then carry .gpu)" >&2; exit 1; }
prefix=/tmp/dlvk-gpu
rm -rf "$prefix" && mkdir -p "$prefix"
for f in .gpu/deb/*.deb; do dpkg -x "$f" "$prefix"; done
export LD_LIBRARY_PATH="$PWD/.gpu/lib:$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export VK_LAYER_PATH="$prefix/usr/share/vulkan/explicit_layer.d"
# NVIDIA's driver manifest where this workplace's machines keep it, unless the system has one.
nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$nv" ] && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; then
  export VK_DRIVER_FILES="$nv"
fi
bin=$PWD/.gpu/bin
quick=${1:-}
shape=1.24B; reps=3; pp=512; tg=128; windows=0
[ "$quick" = quick ] && { shape=S; reps=1; pp=64; tg=16; windows=20; }
{
  nvidia-smi --query-gpu=name,memory.total,clocks.max.memory --format=csv 2>/dev/null
  "$bin/dlvk" devices
} >"$out/devices.txt" 2>&1
cat "$out/devices.txt"

# Tests: the ctest environment by hand (no cmake there); golden data from the NumPy reference.
export DLVK_VALIDATION=1 DLVK_TEST_DATA=/tmp/dlvk-testdata DLVK_SOURCE_DIR=$PWD DLVK_BIN=$bin/dlvk
py=${DLVK_PYTHON:-}
if [ -z "$py" ]; then
  for c in python3 /usr/bin/python3; do "$c" -c "import numpy" 2>/dev/null && { py=$c; break; }; done
fi
"${py:-python3}" tools/reference/make_testdata.py "$DLVK_TEST_DATA" >/dev/null ||
  echo "check.sh: no golden data (a Python with NumPy: set DLVK_PYTHON); the model tests will fail" >&2
{
  start=$SECONDS
  timeout 240 "$bin/tests_ops"; echo "tests_ops exit $? ($((SECONDS - start)) s)"
  start=$SECONDS
  timeout 120 "$bin/tests_model"; echo "tests_model exit $? ($((SECONDS - start)) s)"
} >"$out/tests.log" 2>&1
unset DLVK_VALIDATION
grep -E "exit|test cases|assertions" "$out/tests.log"

# End to end on the GPU's kernels: the shipped model's held-out perplexity, as weights are stored and quantized.
: >"$out/perplexity.jsonl"
for q in none q8_0 q4_0; do
  quant=(); [ "$q" = none ] || quant=(--quant "$q" --kl-base models/default)
  timeout 60 "$bin/dlvk" perplexity --model models/default -f models/default/heldout.txt "${quant[@]}" --max-windows "$windows" --json \
    >>"$out/perplexity.jsonl" 2>&1
done
cat "$out/perplexity.jsonl"

# Speed: llama-bench's fields (pp512 / tg128) for f16 and q8_0, then per-op GPU time, then kernels.
# Peak memory bandwidth (GB/s, vendor figures) by board name, for the tg share of it (the issue's goal:
# 1.24B f16 decode at >= 70%).
peak=()
case "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)" in
  *H200*) peak=(--peak-gbps 4800) ;;
  *"H100 NVL"*) peak=(--peak-gbps 3900) ;;
  *"H100 PCIe"*) peak=(--peak-gbps 2000) ;;
  *H100*) peak=(--peak-gbps 3350) ;;  # SXM5, HBM3
esac
: >"$out/bench.jsonl"
for q in none q8_0; do
  quant=(); [ "$q" = none ] || quant=(--quant "$q")
  timeout 150 "$bin/dlvk" bench --synthetic "$shape" -p "$pp" -n "$tg" -r "$reps" "${quant[@]}" "${peak[@]}" --json >>"$out/bench.jsonl" 2>>"$out/bench.log"
done
# Prefill with cooperative matrices (DLVK_COOPMAT=1; off by default until measured here): pp only.
for q in none q8_0; do
  quant=(); [ "$q" = none ] || quant=(--quant "$q")
  DLVK_COOPMAT=1 timeout 100 "$bin/dlvk" bench --synthetic "$shape" -p "$pp" -n 0 -r "$reps" "${quant[@]}" --json >>"$out/bench.jsonl" 2>>"$out/bench.log"
done
# Decode with the 4-byte-load matvec (DLVK_GPU_MATVEC=words) against the default 16-byte one: tg only.
for q in none q8_0; do
  quant=(); [ "$q" = none ] || quant=(--quant "$q")
  DLVK_GPU_MATVEC=words timeout 100 "$bin/dlvk" bench --synthetic "$shape" -p 0 -n "$tg" -r "$reps" "${quant[@]}" "${peak[@]}" --json >>"$out/bench.jsonl" 2>>"$out/bench.log"
done
timeout 120 "$bin/dlvk" bench --synthetic "$shape" -p "$pp" -n "$tg" -r 1 --profile "${peak[@]}" >>"$out/bench.log" 2>&1
cat "$out/bench.jsonl"
# The prefill kernels side by side first (the full list may not finish in its time).
timeout 60 "$bin/dlvk" bench ops -r 10 --filter "matmul.coopmat" >"$out/ops.log" 2>&1
timeout 60 "$bin/dlvk" bench ops -r 10 --filter "matmul.tiled" >>"$out/ops.log" 2>&1
timeout 60 "$bin/dlvk" bench ops -r 10 --filter "matvec" >>"$out/ops.log" 2>&1
timeout 120 "$bin/dlvk" bench ops -r 10 >>"$out/ops.log" 2>&1
tail -n 5 "$out/ops.log"
