// Top-k selection on the device against a CPU reference: ids and values must be exactly the reference's
// (a selection does no arithmetic), in its order: value descending, ties to the smaller id (the CPU
// sampler's order; k = 1 must equal Sampler's greedy argmax). Data are random with many duplicates
// (values drawn from a few dozen levels, plus -0/+0 and infinities) so ties decide most of the order;
// a reference with the wrong tie rule (larger id first) must then disagree, which shows the check can
// fail. Sizes 1, 31, 32000, 128256, 262144 with k = 1, 8, 40, 64 (k past the size returns the whole row
// sorted); both plans (64 invocations and many short walks for GPUs, 16 and few long walks for CPU
// devices); the exact slow path taken when too many items pass the threshold (forced with a tiny
// shared list; a row whose large values all fall to one invocation overflows it in the CPU plan); NaN logits are
// reported (smallest id) and never selected. At most two dispatches.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <string>

#include <fmt/format.h>

#include "dlvk/sampler.hpp"
#include "ops/op_util.hpp"
#include "ops/select.hpp"

using namespace dlvk;

namespace {

struct Selected {
  std::vector<uint32_t> ids;
  std::vector<float> values;
  uint32_t nan_id = ops::kTopKNone;
  uint32_t dispatches = 0;
};

// capacity > 0 shrinks the shared list, so the exact slow path (K rounds) runs when more items pass.
Selected gpu_top_k(std::span<const float> logits, uint32_t k, uint32_t capacity = 0) {
  auto& dev = test::device();
  test::Buffers buf;
  const uint32_t n = uint32_t(logits.size());
  auto in = buf.f32(logits);
  auto out = buf.nan(ops::top_k_out_words(k));
  uint64_t scratch_words = ops::top_k_scratch_words(dev.caps(), n, k);
  vk::BufferSlice scratch = scratch_words ? buf.nan(scratch_words) : vk::BufferSlice{};
  vk::Recorder rec(dev);
  ops::record_top_k(rec, {.logits = in, .scratch = scratch, .out = out, .n = n, .k = k, .capacity = capacity}, "top_k");
  auto seq = rec.finish();
  seq->run();
  Selected s;
  s.dispatches = seq->dispatch_count();
  auto words = test::read_f32(out, ops::top_k_out_words(k));
  const uint32_t m = std::min(k, n);
  for (uint32_t i = 0; i < m; ++i) {
    uint32_t id;
    std::memcpy(&id, &words[i], 4);
    s.ids.push_back(id);
    s.values.push_back(words[k + i]);
  }
  for (uint32_t i = m; i < k; ++i) {  // slots past n: empty, -inf
    uint32_t id;
    std::memcpy(&id, &words[i], 4);
    CHECK(id == ops::kTopKNone);
    CHECK(words[k + i] == -INFINITY);
  }
  std::memcpy(&s.nan_id, &words[2 * k], 4);
  return s;
}

// The reference order: value descending, then id ascending (or descending, the wrong rule); NaNs out.
std::vector<uint32_t> cpu_top_k(std::span<const float> v, uint32_t k, bool larger_id_first = false) {
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < v.size(); ++i)
    if (!std::isnan(v[i])) ids.push_back(i);
  auto before = [&](uint32_t a, uint32_t b) {
    if (v[a] != v[b]) return v[a] > v[b];
    return larger_id_first ? a > b : a < b;
  };
  const size_t m = std::min<size_t>(k, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + ptrdiff_t(m), ids.end(), before);
  ids.resize(m);
  return ids;
}

// Values from `levels` distinct values (so ties are everywhere), a few -0/+0 and +-inf.
std::vector<float> tied_logits(uint32_t n, uint64_t seed, uint32_t levels) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint32_t> level(0, levels - 1);
  std::vector<float> v(n);
  for (auto& x : v) x = float(int(level(rng)) - int(levels / 2)) * 0.25f;
  std::uniform_int_distribution<uint32_t> pos(0, n - 1);
  for (uint32_t i = 0; i < std::min<uint32_t>(n / 50, 40); ++i) {
    v[pos(rng)] = -0.0f;
    v[pos(rng)] = 0.0f;
    v[pos(rng)] = -INFINITY;
  }
  if (n >= 1000) v[pos(rng)] = INFINITY;
  return v;
}

std::string first_difference(const Selected& got, const std::vector<uint32_t>& ref, std::span<const float> v) {
  for (size_t i = 0; i < ref.size(); ++i)
    if (got.ids[i] != ref[i])
      return fmt::format("rank {}: got id {} ({}), expected id {} ({})", i, got.ids[i],
                         got.ids[i] < v.size() ? v[got.ids[i]] : NAN, ref[i], v[ref[i]]);
  return "";
}

void check_top_k(std::span<const float> v, uint32_t k, uint32_t capacity = 0) {
  const uint32_t n = uint32_t(v.size());
  INFO("n=" << n << " k=" << k << " capacity=" << capacity << " profile=" << test::device().caps().profile
            << " cpu_quirks=" << test::device().caps().cpu_quirks);
  Selected got = gpu_top_k(v, k, capacity);
  auto ref = cpu_top_k(v, k);
  REQUIRE(got.ids.size() == ref.size());
  INFO(first_difference(got, ref, v));
  CHECK(got.ids == ref);
  bool values_exact = true;
  for (size_t i = 0; i < ref.size(); ++i) values_exact = values_exact && got.values[i] == v[ref[i]];
  CHECK(values_exact);
  CHECK(got.nan_id == ops::kTopKNone);
  CHECK(got.dispatches <= 2);
  CHECK(got.dispatches == (ops::plan_top_k(test::device().caps(), n).groups == 1 ? 1u : 2u));
  if (k == 1) {  // the CPU sampler's greedy pick
    Sampler greedy({.temperature = 0});
    CHECK(uint32_t(greedy.sample(v, {})) == got.ids[0]);
  }
}

// Runs `body` with the CPU-device plan and then the GPU plan (both first-stage shapes on any device).
template <typename F>
void both_plans(F&& body) {
  test::CapsOverride caps;
  for (bool quirks : {false, true}) {
    caps->cpu_quirks = quirks;
    body();
  }
}

}  // namespace

TEST_CASE("select: top-k of tied random rows equals the CPU order (value desc, id asc)") {
  both_plans([] {
    for (uint32_t n : {1u, 31u, 32000u, 128256u}) {
      auto v = tied_logits(n, n * 7 + 1, 41);
      for (uint32_t k : {1u, 8u, 40u}) check_top_k(v, k);
    }
  });
}

TEST_CASE("select: 262144 logits, k = 64, and continuous values") {
  both_plans([] {
    auto v = tied_logits(262144, 5, 97);
    check_top_k(v, 64);
    check_top_k(v, 1);
    auto r = test::random_floats(50001, 9, 30.0f);  // few ties
    for (uint32_t k : {1u, 8u, 40u, 64u}) check_top_k(r, k);
  });
}

TEST_CASE("select: the exact slow path when many items pass the threshold") {
  // A shared list of 1 entry sends every k > 1 workgroup down the K-round path; and a row whose large
  // values all sit in one invocation's share (ids = 0 mod the workgroup size) overflows the real list.
  both_plans([] {
    for (uint32_t n : {31u, 32000u}) {
      auto v = tied_logits(n, n + 2, 41);
      for (uint32_t k : {8u, 40u}) check_top_k(v, k, 1);
    }
    check_top_k(tied_logits(128256, 4, 97), 64, 1);
    for (uint32_t n : {100000u, 262144u}) {
      const auto plan = ops::plan_top_k(test::device().caps(), n);
      auto v = test::random_floats(n, n, 1.0f);
      for (uint32_t i = 0; i < n; i += plan.workgroup) v[i] = 10.0f + float(i % 977);
      for (uint32_t k : {8u, 64u}) check_top_k(v, k);
    }
  });
}

TEST_CASE("select: k past the row returns the whole row sorted; all-equal and all -inf rows") {
  both_plans([] {
    for (uint32_t n : {1u, 2u, 31u, 63u}) check_top_k(tied_logits(n, n, 5), 64);
    std::vector<float> same(5000, 1.5f), ninf(3000, -INFINITY);
    for (uint32_t k : {1u, 40u}) {
      check_top_k(same, k);
      check_top_k(ninf, k);
    }
  });
}

TEST_CASE("select: the wrong tie rule is caught") {
  // On tied data the ids ranked by (value desc, id desc) differ from the device's, so a selection
  // that broke ties the other way would fail the check above.
  auto v = tied_logits(32000, 3, 41);
  std::replace(v.begin(), v.end(), INFINITY, 0.0f);  // the top value is then shared by hundreds of ids
  for (uint32_t k : {1u, 8u, 40u}) {
    Selected got = gpu_top_k(v, k);
    CHECK(got.ids == cpu_top_k(v, k));
    CHECK(got.ids != cpu_top_k(v, k, /*larger_id_first=*/true));
  }
}

TEST_CASE("select: NaN logits are reported by smallest id and never selected") {
  both_plans([] {
    auto v = tied_logits(32000, 11, 41);
    for (uint32_t i : {31000u, 17u, 20000u}) v[i] = NAN;
    for (uint32_t k : {1u, 40u}) {
      Selected got = gpu_top_k(v, k);
      CHECK(got.nan_id == 17);
      CHECK(got.ids == cpu_top_k(v, k));
    }
    std::vector<float> one{NAN};
    Selected got = gpu_top_k(one, 8);
    CHECK(got.nan_id == 0);
  });
}

TEST_CASE("select: bad k is an error") {
  auto& dev = test::device();
  test::Buffers buf;
  auto in = buf.nan(4), out = buf.nan(ops::top_k_out_words(ops::kMaxTopK + 1));
  vk::Recorder rec(dev);
  CHECK_THROWS(ops::record_top_k(rec, {.logits = in, .scratch = {}, .out = out, .n = 4, .k = 0}, "top_k"));
  CHECK_THROWS(ops::record_top_k(rec, {.logits = in, .scratch = {}, .out = out, .n = 4, .k = ops::kMaxTopK + 1}, "top_k"));
  CHECK_THROWS(ops::record_top_k(rec, {.logits = in, .scratch = {}, .out = out, .n = 0, .k = 1}, "top_k"));
}
