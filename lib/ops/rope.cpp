#include "ops/rope.hpp"

#include <cmath>

namespace dlvk::ops {

std::vector<float> rope_table(std::span<const float> inv_freq, uint32_t positions) {
  std::vector<float> t(size_t(positions) * inv_freq.size() * 2);
  for (uint32_t pos = 0; pos < positions; ++pos)
    for (size_t j = 0; j < inv_freq.size(); ++j) {
      float angle = float(pos) * inv_freq[j];  // f32 product, as HF's (inv_freq @ position_ids) in f32
      t[(size_t(pos) * inv_freq.size() + j) * 2] = float(std::cos(double(angle)));
      t[(size_t(pos) * inv_freq.size() + j) * 2 + 1] = float(std::sin(double(angle)));
    }
  return t;
}

uint32_t rope_pair_group(uint32_t d) { return d % 16 == 0 ? 8u : 0u; }

uint32_t rope_stored_row(uint32_t c, uint32_t d, uint32_t G) {
  if (G == 0) return c;
  const uint32_t half = d / 2, j = c % half;  // frequency index; the pair's second element when c >= half
  return (j / G) * 2 * G + j % G + (c >= half ? G : 0);
}

void record_rope(vk::Recorder& rec, const RopeArgs& a, std::string_view label) {
  struct Push {
    uint32_t T, heads, d, ld_src, ld_dst, dst_at_pos;
  } p{a.T, a.heads, a.d, a.ld_src, a.ld_dst, a.dst_at_pos};
  const uint32_t wg = 64;
  const auto& k = rec.device().kernel({"rope", {wg, a.rotate}, 4, sizeof(Push)});
  bool in_place = a.src.buffer == a.dst.buffer && a.src.offset == a.dst.offset;
  uint32_t total = a.T * a.heads * (a.d / 2);
  rec.dispatch(k, {vk::in(a.params), vk::in(a.table), vk::in(a.src), in_place ? vk::inout(a.dst) : vk::out(a.dst)}, p,
               (total + wg - 1) / wg, 1, 1, label);
}

void record_rope_qkv(vk::Recorder& rec, const RopeQkvArgs& a, std::string_view label) {
  struct Push {
    uint32_t T, H, Hkv, d, ld_qkv, pair_group;
  } p{a.T, a.H, a.Hkv, a.d, a.ld_qkv, a.pair_group};
  const uint32_t wg = 64;
  const auto& k = rec.device().kernel({"rope_qkv", {wg}, 5, sizeof(Push)});
  uint32_t total = a.T * (a.H + 2 * a.Hkv) * (a.d / 2);
  rec.dispatch(k, {vk::in(a.params), vk::in(a.table), vk::inout(a.qkv), vk::out(a.k_cache), vk::out(a.v_cache)}, p,
               (total + wg - 1) / wg, 1, 1, label);
}

}  // namespace dlvk::ops
