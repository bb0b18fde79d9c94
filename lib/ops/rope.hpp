// Rotary position embedding (rotate-half layout) from a host-computed cos/sin table, applied in place
// (queries) or while writing keys (and, without rotation, values) into the KV cache at pos0 + t.
#pragma once
#include <span>
#include <vector>

#include "vk/recorder.hpp"

namespace dlvk::ops {

// cos/sin pairs [positions, d/2] for the angles pos * inv_freq[j], the angle formed in f32 exactly as
// HF does and cos/sin evaluated in double (accurate far beyond what GPU sin/cos guarantee).
std::vector<float> rope_table(std::span<const float> inv_freq, uint32_t positions);

// The q/k/v projection can store each q and k head's rows permuted so that a rotation pair (head
// elements j and j + d/2) are rows G apart in a group of 2G: matmul kernels then rotate their output
// as they store it (shaders/common/qkv_rope.glsl). G = 8 (the CPU rows kernel's column stride) where
// d % 16 == 0, else 0 (no permutation).
uint32_t rope_pair_group(uint32_t d);
// The row within its head where head element c (of d) is stored under pair group G.
uint32_t rope_stored_row(uint32_t c, uint32_t d, uint32_t G);

struct RopeArgs {
  vk::BufferSlice params;  // uint pos0 at offset 0 (host-written before each replay)
  vk::BufferSlice table;   // rope_table(...)
  vk::BufferSlice src;     // [T, ld_src], heads of size d from column 0
  uint32_t ld_src = 0;
  vk::BufferSlice dst;     // may equal src
  uint32_t ld_dst = 0;
  uint32_t T = 0, heads = 0, d = 0;
  bool dst_at_pos = false;  // destination row pos0 + t (KV cache) instead of t
  bool rotate = true;       // false: plain copy (values into the cache)
};

void record_rope(vk::Recorder& rec, const RopeArgs& a, std::string_view label);

// The per-layer form: rows t < T of a fused projection [q: H heads | k: Hkv heads | v: Hkv heads] (ld_qkv
// floats apart); queries rotated in place, keys rotated and values copied into the caches ([ctx, Hkv*d])
// at row pos0 + t. One dispatch.
// pair_group G > 0: the q/k heads are stored permuted (rope_stored_row), the pairs G apart.
struct RopeQkvArgs {
  vk::BufferSlice params, table;
  vk::BufferSlice qkv;
  uint32_t ld_qkv = 0;
  vk::BufferSlice k_cache, v_cache;
  uint32_t T = 0, H = 0, Hkv = 0, d = 0;
  uint32_t pair_group = 0;
};
void record_rope_qkv(vk::Recorder& rec, const RopeQkvArgs& a, std::string_view label);

}  // namespace dlvk::ops
