#include "ops/diff_attention.hpp"

#include <algorithm>
#include <cmath>

#include "vk/device.hpp"

namespace dlvk::ops {

namespace {
struct Push {
  uint32_t T, H, Hkv, ldq, ldo, n_split;
  float lambda, out_scale, eps, sm_scale;
};

}  // namespace

AttentionConfig attention_config(const vk::Capabilities& caps) {
  uint32_t wg = std::min<uint32_t>(64, caps.max_workgroup_invocations);
  return {wg, std::min<uint32_t>(32, wg)};
}

uint32_t attention_rows_workgroup(const vk::Capabilities& caps, uint32_t d) {
  if (!caps.cpu_quirks || d % 4) return 0;
  return std::clamp<uint32_t>(caps.subgroup_size, 1, std::min<uint32_t>(64, caps.max_workgroup_invocations));
}

bool attention_rows_texel(const vk::Capabilities& caps, const vk::BufferSlice& q, uint32_t ldq,
                          const vk::BufferSlice& k_cache, const vk::BufferSlice& v_cache) {
  return ldq % 4 == 0 && vk::texel_bindable(caps, q) && vk::texel_bindable(caps, k_cache) &&
         vk::texel_bindable(caps, v_cache);
}

uint64_t diff_attention_partial_floats(uint32_t T, uint32_t H, uint32_t d, uint32_t n_split) {
  return uint64_t(T) * (H / 2) * n_split * (4 + 4 * d);
}

bool diff_attention_supported(const vk::Capabilities& caps, uint32_t d) {
  AttentionConfig c = attention_config(caps);
  uint64_t shared = (2ull * d + 4ull * c.kb + c.wg) * 4;
  return d % 2 == 0 && d >= 2 && shared <= caps.max_shared_memory;
}

void record_diff_attention(vk::Recorder& rec, const DiffAttentionArgs& a, std::string_view label) {
  const auto& caps = rec.device().caps();
  if (!diff_attention_supported(caps, a.d))
    fail(Status::unsupported, "{}: head_dim {} does not fit this device's shared memory ({} bytes)", label, a.d,
         caps.max_shared_memory);
  if (a.H % 2 || a.Hkv == 0 || a.H % a.Hkv)
    fail(Status::internal, "{}: {} heads / {} kv heads", label, a.H, a.Hkv);
  AttentionConfig c = attention_config(caps);
  Push p{a.T, a.H, a.Hkv, a.ldq, a.ldo, std::max<uint32_t>(1, a.n_split), a.lambda, 1.0f - a.lambda_init, a.eps,
         float(1.0 / std::sqrt(double(a.d)))};
  vk::BufferSlice part = p.n_split > 1 ? a.partials : a.out;
  if (p.n_split > 1 && part.size < diff_attention_partial_floats(a.T, a.H, a.d, p.n_split) * 4)
    fail(Status::internal, "{}: partials buffer too small", label);
  const std::vector<vk::Binding> bindings{vk::in(a.params), vk::in(a.q),   vk::in(a.k_cache),
                                          vk::in(a.v_cache), vk::out(a.out), vk::out(part)};
  if (uint32_t rw = attention_rows_workgroup(caps, a.d)) {
    const bool texel = attention_rows_texel(caps, a.q, a.ldq, a.k_cache, a.v_cache);
    const auto& k = rec.device().kernel({texel ? "diff_attention_rows_texel" : "diff_attention_rows", {rw, a.d, c.kb}, 6,
                                         sizeof(Push), 0, texel ? 0xeu : 0u});
    rec.dispatch(k, bindings, p, (a.H / 2 * p.n_split + rw - 1) / rw, a.T, 1, label);
  } else {
    const auto& k = rec.device().kernel({"diff_attention", {c.wg, a.d, c.kb}, 6, sizeof(Push)});
    rec.dispatch(k, bindings, p, a.T, a.H / 2, p.n_split, label);
  }
  if (p.n_split > 1) {
    const auto& r = rec.device().kernel({"diff_attention_reduce", {c.wg, a.d, c.kb}, 2, sizeof(Push)});
    rec.dispatch(r, {vk::in(a.partials), vk::out(a.out)}, p, a.T, a.H / 2, 1, label);
  }
}

}  // namespace dlvk::ops
