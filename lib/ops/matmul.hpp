// Matrix products Y[M, N] (+)= X[M, K] . W[N, K]^T (+ bias): a tiled shared-memory kernel for M > 1
// (prefill) and a matrix-vector kernel for decode. Variants (tile sizes, subgroup reduction) are chosen
// from the device's Capabilities only.
#pragma once
#include <string_view>

#include "ops/weights.hpp"
#include "vk/recorder.hpp"

namespace dlvk::ops {

// tiled: shared-memory tiles (GPUs, M > 2); matvec: invocations split K and reduce (GPUs, decode);
// rows: each invocation streams a block of weight rows against a block of X rows (CPU devices, prefill;
// any device: no subgroup operations); subgroup_k: a subgroup's lanes split K for a block of columns
// (CPU devices, decode; falls back to rows where it cannot run).
enum class MatmulVariant { automatic, tiled, matvec, subgroup_k, rows };

struct MatmulArgs {
  vk::BufferSlice x;        // f32 [M, ldx]
  uint32_t ldx = 0;
  const WeightMatrix* w = nullptr;  // [N, K]
  vk::BufferSlice bias;     // optional f32 [N]
  vk::BufferSlice y;        // f32 [M, ldy]
  uint32_t ldy = 0;
  uint32_t M = 0;
  bool accumulate = false;  // Y += result (fused residual add)
  // Optional RMSNorm of the X rows inside the product: Y = W . (g * x / sqrt(mean(x^2) + eps)), g f32 [K].
  // Only the CPU-device kernels (rows, subgroup_k) fuse it: check matmul_fuses_norm first.
  vk::BufferSlice norm_weight;
  float norm_eps = 0;
  MatmulVariant variant = MatmulVariant::automatic;
};

// The variant record_matmul runs for these arguments: `automatic` resolved from the device, and
// subgroup_k replaced by rows where it cannot run (no subgroup arithmetic, no texel buffers, K % 8 != 0).
MatmulVariant resolve_matmul_variant(const vk::Capabilities& caps, const MatmulArgs& a);

// Whether record_matmul can apply args.norm_weight itself (the resolved variant is rows or subgroup_k).
bool matmul_fuses_norm(const vk::Capabilities& caps, const MatmulArgs& a);

void record_matmul(vk::Recorder& rec, const MatmulArgs& a, std::string_view label);

}  // namespace dlvk::ops
