// Top-k selection of a logits row on the device: the k best (id, value) pairs, value descending and
// ties to the smaller id (the CPU sampler's order; k = 1 is its greedy argmax), so that a decode step
// reads back k pairs instead of the whole vocabulary row. One dispatch when the row is small, else two
// (per-workgroup lists, then one workgroup merging them). Each workgroup finds a threshold from its
// invocations' best few items, lists what passes it in shared memory and ranks that list; see
// shaders/select_top_k.comp.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

#include "vk/recorder.hpp"

namespace dlvk::ops {

constexpr uint32_t kMaxTopK = 64;
constexpr uint32_t kTopKNone = 0xFFFFFFFFu;  // "no id": an empty slot, or no NaN

struct TopKPlan {
  uint32_t workgroup = 64;  // invocations per workgroup (a power of two)
  uint32_t groups = 1;      // first-stage workgroups; 1: a single dispatch writes the result
  bool subgroup = false;    // reductions with subgroup operations
  uint32_t capacity = 512;  // shared list of items past the threshold (more: a slower exact path)
};
// The plan depends on n and the device only (not on k).
TopKPlan plan_top_k(const vk::Capabilities& caps, uint32_t n);

// Result layout (32-bit words, `out`): ids [0, k), value bits [k, 2k), then the smallest id whose
// logit is NaN (kTopKNone when none; NaN logits are never selected). Slots past n hold kTopKNone and
// -inf.
inline uint64_t top_k_out_words(uint32_t k) { return 2ull * k + 1; }
// Scratch for the first stage's lists (32-bit words; 0 when one dispatch suffices). With k = kMaxTopK
// this bounds every k for the same n.
uint64_t top_k_scratch_words(const vk::Capabilities& caps, uint32_t n, uint32_t k);

struct TopKArgs {
  vk::BufferSlice logits;   // n floats
  vk::BufferSlice scratch;  // top_k_scratch_words(n, k) words (unused when that is 0)
  vk::BufferSlice out;      // top_k_out_words(k) words
  uint32_t n = 0;           // >= 1
  uint32_t k = 1;           // 1 .. kMaxTopK (may exceed n)
  uint32_t capacity = 0;    // tests: force a smaller shared list (0: the plan's)
};
// Records the selection (1 or 2 dispatches, labelled `label`).
void record_top_k(vk::Recorder& rec, const TopKArgs& a, std::string_view label);

}  // namespace dlvk::ops
