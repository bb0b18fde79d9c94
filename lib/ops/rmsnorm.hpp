// RMSNorm over rows: out = weight * x / sqrt(mean(x^2) + eps); optional weight; optional fused
// residual add (x += res first, written back).
#pragma once
#include "vk/recorder.hpp"

namespace dlvk::ops {

struct RmsNormArgs {
  vk::BufferSlice x;         // [rows, ldx] (read-write with a residual)
  uint32_t ldx = 0;
  vk::BufferSlice residual;  // optional, same layout as x
  vk::BufferSlice weight;    // optional f32 [n]
  vk::BufferSlice out;       // [rows, ldo]
  uint32_t ldo = 0;
  uint32_t rows = 0, n = 0;
  float eps = 1e-5f;
};

void record_rmsnorm(vk::Recorder& rec, const RmsNormArgs& a, std::string_view label);

}  // namespace dlvk::ops
