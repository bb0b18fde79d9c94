// Matrix products Y[M, N] (+)= X[M, K] . W[N, K]^T (+ bias): a tiled shared-memory kernel for M > 1
// (prefill) and a matrix-vector kernel for decode. Variants (tile sizes, subgroup reduction) are chosen
// from the device's Capabilities only.
#pragma once
#include <string_view>

#include "ops/weights.hpp"
#include "vk/recorder.hpp"

namespace dlvk::ops {

// tiled: shared-memory tiles (GPUs, M > 2); matvec: invocations split K and reduce (GPUs, decode);
// rows: one invocation per output column streaming whole weight rows (CPU implementations).
enum class MatmulVariant { automatic, tiled, matvec, rows };

struct MatmulArgs {
  vk::BufferSlice x;        // f32 [M, ldx]
  uint32_t ldx = 0;
  const WeightMatrix* w = nullptr;  // [N, K]
  vk::BufferSlice bias;     // optional f32 [N]
  vk::BufferSlice y;        // f32 [M, ldy]
  uint32_t ldy = 0;
  uint32_t M = 0;
  bool accumulate = false;  // Y += result (fused residual add)
  MatmulVariant variant = MatmulVariant::automatic;
};

void record_matmul(vk::Recorder& rec, const MatmulArgs& a, std::string_view label);

}  // namespace dlvk::ops
