// Sampler::sample_sorted on a row's best candidates (what the GPU top-k returns) against
// Sampler::sample on the whole row: the same ids and the same random stream, for greedy and for top-k
// with temperature / top-p / min-p, on rows full of ties and with infinities; candidates_needed() says
// when that holds.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "dlvk/sampler.hpp"
#include "test_util.hpp"

using dlvk::Candidate;
using dlvk::Sampler;
using dlvk::SamplingParams;

namespace {

std::vector<Candidate> best_of(const std::vector<float>& row, size_t k) {
  std::vector<int32_t> ids(row.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return row[size_t(a)] > row[size_t(b)]; });
  std::vector<Candidate> c;
  for (size_t i = 0; i < std::min(k, row.size()); ++i) c.push_back({ids[i], row[size_t(ids[i])]});
  return c;
}

std::vector<float> tied_row(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> level(-12, 12);
  std::vector<float> v(n);
  for (float& x : v) x = float(level(rng)) * 0.5f;
  if (seed % 5 == 0) v[size_t(seed) % n] = INFINITY;
  if (seed % 7 == 0) v[(size_t(seed) * 3) % n] = -INFINITY;
  return v;
}

}  // namespace

TEST_CASE("sampler: sample_sorted on the best candidates equals sample on the whole row") {
  const SamplingParams cases[] = {
      {.temperature = 0, .top_k = 0},
      {.temperature = 0.7f, .top_k = 1},
      {.seed = 9},  // defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05
      {.temperature = 1.5f, .top_k = 8, .top_p = 1.0f, .min_p = 0.0f, .seed = 4},
      {.temperature = 2.0f, .top_k = 64, .top_p = 0.5f, .min_p = 0.0f, .seed = 11},
      {.temperature = 1.0f, .top_k = 64, .top_p = 1.0f, .min_p = 0.2f, .repeat_last_n = 0, .seed = 12},
      {.temperature = 1.0f, .top_k = 30, .top_p = 1.0f, .min_p = 0.0f, .repeat_penalty = 1.0f, .seed = 13},
  };
  for (const SamplingParams& p : cases) {
    Sampler full(p), sorted(p);
    const uint32_t k = sorted.candidates_needed();
    REQUIRE(k >= 1);
    for (uint64_t step = 0; step < 300; ++step) {
      const size_t n = step % 3 == 0 ? 20 : 1000;  // 20: k can exceed the vocabulary
      auto row = tied_row(n, step + 1);
      INFO("top_k " << p.top_k << " temperature " << p.temperature << " step " << step);
      REQUIRE(sorted.sample_sorted(best_of(row, k)) == full.sample(row, {}));
    }
    CHECK(sorted.next_u64() == full.next_u64());  // the streams stayed in step
  }
}

TEST_CASE("sampler: candidates_needed") {
  CHECK(Sampler({.temperature = 0, .top_k = 0}).candidates_needed() == 1);
  CHECK(Sampler({.temperature = 0.5f, .top_k = 1}).candidates_needed() == 1);
  CHECK(Sampler({.temperature = 0.5f, .top_k = 40}).candidates_needed() == 40);
  CHECK(Sampler({.temperature = 0.5f, .top_k = 0}).candidates_needed() == 0);
  CHECK(Sampler({.temperature = 0.5f, .top_k = -3}).candidates_needed() == 0);
  CHECK(Sampler({.temperature = 0, .top_k = 40, .repeat_penalty = 1.1f}).candidates_needed() == 0);
  CHECK(Sampler({.temperature = 0, .top_k = 40, .repeat_penalty = 1.1f, .repeat_last_n = 0}).candidates_needed() == 1);
}

TEST_CASE("sampler: sample_sorted errors") {
  Sampler s({.seed = 1});
  std::vector<Candidate> none;
  CHECK_THROWS(s.sample_sorted(none));
  std::vector<Candidate> nan{{3, NAN}};
  try {
    s.sample_sorted(nan);
    FAIL("no error");
  } catch (const dlvk::Error& e) {
    CHECK(e.status() == dlvk::Status::internal);
  }
}
