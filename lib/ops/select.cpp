#include "ops/select.hpp"

#include <algorithm>

#include "dlvk/error.hpp"

namespace dlvk::ops {

namespace {

uint32_t floor_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p * 2 <= v) p *= 2;
  return p;
}

}  // namespace

TopKPlan plan_top_k(const vk::Capabilities& caps, uint32_t n) {
  TopKPlan p;
  p.subgroup = caps.subgroup_basic && caps.subgroup_arithmetic;
  // A CPU device runs a workgroup's invocations as SIMD lanes of one thread: fewer of them (the
  // threshold's ranking is quadratic in R * WG) and few long walks; a GPU wants 64 invocations and
  // many short walks.
  const uint32_t most = std::min({caps.cpu_quirks ? 16u : 64u, caps.max_workgroup_invocations, caps.max_workgroup_size[0]});
  p.workgroup = floor_pow2(std::max<uint32_t>(most, 1));
  const uint64_t per_invocation = caps.cpu_quirks ? 256 : 32;
  const uint64_t wg = p.workgroup;
  const uint64_t groups = (uint64_t(n) + wg * per_invocation - 1) / (wg * per_invocation);
  // The merge gives each first-stage list to one invocation: at most `workgroup` lists.
  p.groups = uint32_t(std::clamp<uint64_t>(groups, 1, std::min(p.workgroup, caps.max_workgroup_count[0])));
  // Shared memory: R * WG (key, id) pairs (R <= ceil(kMaxTopK / WG) + 2), the list, 4 words.
  const int64_t r_max = std::max<int64_t>(2, (kMaxTopK + wg - 1) / wg);
  const int64_t room = (int64_t(caps.max_shared_memory) - r_max * int64_t(wg) * 8 - 16) / 8;
  p.capacity = uint32_t(std::clamp<int64_t>(room, 1, 512));
  return p;
}

uint64_t top_k_scratch_words(const vk::Capabilities& caps, uint32_t n, uint32_t k) {
  const TopKPlan p = plan_top_k(caps, n);
  return p.groups == 1 ? 0 : uint64_t(p.groups) * (2ull * k + 1);
}

void record_top_k(vk::Recorder& rec, const TopKArgs& a, std::string_view label) {
  if (a.n == 0) fail(Status::invalid_argument, "top-k of an empty row");
  if (a.k == 0 || a.k > kMaxTopK) fail(Status::invalid_argument, "top-k: k = {} must be in 1..{}", a.k, kMaxTopK);
  const auto& caps = rec.device().caps();
  const TopKPlan p = plan_top_k(caps, a.n);
  struct Push {
    uint32_t n, in_groups;
  };
  const uint32_t sg = p.subgroup ? 1u : 0u;
  const uint32_t cap = a.capacity ? std::min(a.capacity, p.capacity) : p.capacity;
  // Items kept per invocation: enough for K among them all; 2 make the threshold tighter.
  const uint32_t r = a.k == 1 ? 1 : std::max<uint32_t>(2, (a.k + p.workgroup - 1) / p.workgroup);
  const auto& first = rec.device().kernel({"select_top_k", {p.workgroup, a.k, 0u, sg, cap, r}, 2, sizeof(Push)});
  if (p.groups == 1) {
    rec.dispatch(first, {vk::in(a.logits), vk::out(a.out)}, Push{a.n, 0}, 1, 1, 1, label);
    return;
  }
  const uint64_t words = top_k_scratch_words(caps, a.n, a.k);
  if (a.scratch.size < words * 4)
    fail(Status::internal, "top-k scratch of {} bytes, {} needed", a.scratch.size, words * 4);
  const vk::BufferSlice lists = a.scratch.sub(0, words * 4);
  rec.dispatch(first, {vk::in(a.logits), vk::out(lists)}, Push{a.n, 0}, p.groups, 1, 1, label);
  const auto& merge = rec.device().kernel({"select_top_k", {p.workgroup, a.k, 1u, sg, 1u, 1u}, 2, sizeof(Push)});
  rec.dispatch(merge, {vk::in(lists), vk::out(a.out)}, Push{p.groups * a.k, p.groups}, 1, 1, 1, label);
}

}  // namespace dlvk::ops
