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
struct RopeQkvArgs {
  vk::BufferSlice params, table;
  vk::BufferSlice qkv;
  uint32_t ld_qkv = 0;
  vk::BufferSlice k_cache, v_cache;
  uint32_t T = 0, H = 0, Hkv = 0, d = 0;
};
void record_rope_qkv(vk::Recorder& rec, const RopeQkvArgs& a, std::string_view label);

}  // namespace dlvk::ops
