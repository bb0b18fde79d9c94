#include "ops/attention_two_pass.hpp"

#include <algorithm>
#include <cmath>

#include "ops/diff_attention.hpp"
#include "vk/device.hpp"

namespace dlvk::ops {

namespace {
struct AttnPush {
  uint32_t T, H, Hkv, ldq, ldo, n_split, q_head0;
  float sm_scale;
};
struct CombinePush {
  uint32_t ldi, ldo;
  float lambda, out_scale, eps;
  uint32_t pairs;  // diff_combine_rows only
};


struct Layout {
  uint64_t o_bytes = 0, part_bytes = 0;  // one map's output / partials, each aligned
  uint64_t o1 = 0, o2 = 0, p1 = 0, p2 = 0, total = 0;
};
Layout layout(const vk::Capabilities& caps, uint32_t T, uint32_t H, uint32_t d, uint32_t n_split) {
  const uint64_t align = std::max<uint64_t>(16, caps.min_storage_buffer_offset_alignment);
  auto up = [&](uint64_t b) { return (b + align - 1) / align * align; };
  Layout l;
  l.o_bytes = uint64_t(T) * H * d * 4;  // H/2 heads x 2d
  l.part_bytes = n_split > 1 ? uint64_t(T) * (H / 2) * n_split * (2 + 2ull * d) * 4 : 0;
  l.o1 = 0;
  l.o2 = up(l.o_bytes);
  l.p1 = l.o2 + up(l.o_bytes);
  l.p2 = l.p1 + up(l.part_bytes);
  l.total = l.p2 + up(l.part_bytes);
  return l;
}
}  // namespace

uint64_t two_pass_attention_scratch_bytes(const vk::Capabilities& caps, uint32_t T, uint32_t H, uint32_t d,
                                          uint32_t n_split) {
  return layout(caps, T, H, d, std::max<uint32_t>(1, n_split)).total;
}

bool two_pass_attention_supported(const vk::Capabilities& caps, uint32_t d) {
  AttentionConfig c = attention_config(caps);
  uint64_t shared = (uint64_t(d) + 2ull * c.kb) * 4;
  return d >= 1 && shared <= caps.max_shared_memory && (c.wg & (c.wg - 1)) == 0;
}

void record_two_pass_attention(vk::Recorder& rec, const TwoPassAttentionArgs& a, std::string_view label) {
  const auto& caps = rec.device().caps();
  if (!two_pass_attention_supported(caps, a.d))
    fail(Status::unsupported, "{}: head_dim {} does not fit this device's shared memory ({} bytes)", label, a.d,
         caps.max_shared_memory);
  if (a.H % 2 || a.Hkv == 0 || a.H % a.Hkv)
    fail(Status::internal, "{}: {} heads / {} kv heads", label, a.H, a.Hkv);
  const uint32_t n_split = std::max<uint32_t>(1, a.n_split);
  const Layout l = layout(caps, a.T, a.H, a.d, n_split);
  if (a.scratch.size < l.total) fail(Status::internal, "{}: scratch buffer too small", label);
  AttentionConfig c = attention_config(caps);
  const uint32_t ldi = a.H * a.d;  // row stride of each map's output: H/2 heads x 2d
  const uint32_t rw = attention_rows_workgroup(caps, a.d);
  const bool texel = rw && attention_rows_texel(caps, a.q, a.ldq, a.k_cache, a.v_cache);
  // Heads per invocation: as the fused kernel's on the same shape (the two differ only in fusion).
  uint32_t P = 1;
  if (rw) {
    const AttentionShape shape{a.T, a.H, a.Hkv, a.d, n_split, kv_cache_rows(a.k_cache, a.Hkv, a.d, label)};
    P = attention_pairs_per_invocation(caps, shape, diff_attention_kernel(caps, shape));
  }
  const auto& attn = rw ? rec.device().kernel({texel ? "softmax_attention_rows_texel" : "softmax_attention_rows",
                                               {rw, a.d, c.kb, P}, 6, sizeof(AttnPush), 0, texel ? 0xeu : 0u})
                        : rec.device().kernel({"softmax_attention", {c.wg, a.d, c.kb}, 6, sizeof(AttnPush)});
  const auto& reduce = rec.device().kernel({"softmax_attention_reduce", {c.wg, a.d, c.kb}, 2, sizeof(AttnPush)});
  const vk::BufferSlice o[2] = {a.scratch.sub(l.o1, l.o_bytes), a.scratch.sub(l.o2, l.o_bytes)};
  for (uint32_t map = 0; map < 2; ++map) {
    AttnPush p{a.T, a.H, a.Hkv, a.ldq, ldi, n_split, map * (a.H / 2), float(1.0 / std::sqrt(double(a.d)))};
    // With one split the partials binding is unused; bind the output there (as diff_attention does).
    vk::BufferSlice part = n_split > 1 ? a.scratch.sub(map ? l.p2 : l.p1, l.part_bytes) : o[map];
    const std::vector<vk::Binding> bindings{vk::in(a.params),  vk::in(a.q),       vk::in(a.k_cache),
                                            vk::in(a.v_cache), vk::out(o[map]), vk::out(part)};
    if (rw) rec.dispatch(attn, bindings, p, attention_rows_groups(uint64_t(a.T) * (a.H / 2 / P) * n_split, rw, label), 1, 1, label);
    else rec.dispatch(attn, bindings, p, a.T, a.H / 2, n_split, label);
    if (n_split > 1 && rw)
      record_attention_reduce_rows(rec, {.layout = AttentionPartials::softmax, .partials = part, .out = o[map], .ldo = ldi,
                                         .T = a.T, .H = a.H, .d = a.d, .n_split = n_split}, label);
    else if (n_split > 1)
      rec.dispatch(reduce, {vk::in(part), vk::out(o[map])}, p, a.T, a.H / 2, 1, label);
  }
  // (The row variants on CPU devices, like the fused kernel's reduce.)
  CombinePush cp{ldi, a.ldo, a.lambda, 1.0f - a.lambda_init, a.eps, a.H / 2};
  if (rw) {
    const auto& combine = rec.device().kernel({"diff_combine_rows", {rw, a.d}, 3, sizeof(CombinePush)});
    rec.dispatch(combine, {vk::in(o[0]), vk::in(o[1]), vk::out(a.out)}, cp, (a.H / 2 + rw - 1) / rw, a.T, 1, label);
  } else {
    const auto& combine = rec.device().kernel({"diff_combine", {c.wg, a.d}, 3, sizeof(CombinePush)});
    rec.dispatch(combine, {vk::in(o[0]), vk::in(o[1]), vk::out(a.out)}, cp, a.T, a.H / 2, 1, label);
  }
}

}  // namespace dlvk::ops
