#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>

#include "dlvk/sampler.hpp"
#include "test_util.hpp"

using dlvk::Sampler;
using dlvk::SamplingParams;
using dlvk::Status;
using iotest::expect_error;

// Allocation counter for the "no allocation per call" check (replaces the global operator new of
// this test binary; the counting is always on and costs nothing else).
namespace {
std::atomic<uint64_t> g_allocations{0};
}
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

SamplingParams plain(uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.seed = seed;
  return p;
}

std::vector<float> log_probs(std::initializer_list<double> p) {
  std::vector<float> v;
  for (double x : p) v.push_back(float(std::log(x)));
  return v;
}

std::vector<double> frequencies(Sampler& s, const std::vector<float>& logits, int n) {
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < n; ++i) f[size_t(s.sample(logits, {}))] += 1.0 / n;
  return f;
}

std::vector<float> random_logits(size_t n, uint64_t seed) {
  Sampler rng(plain(seed));
  std::vector<float> v(n);
  for (float& x : v) x = float(rng.next_uniform() * 20.0 - 10.0);
  return v;
}

}  // namespace

TEST_CASE("sampler: the random stream is xoshiro256** seeded by splitmix64") {
  Sampler s(plain(0));
  CHECK(s.next_u64() == 0x99ec5f36cb75f2b4ull);
  CHECK(s.next_u64() == 0xbf6e1f784956452aull);
  CHECK(s.next_u64() == 0x1a5f849d4933e6e0ull);
  s.reset(42);
  CHECK(s.next_u64() == 0x15780b2e0c2ec716ull);
  CHECK(s.next_u64() == 0x6104d9866d113a7eull);
  for (int i = 0; i < 1000; ++i) {
    const double u = s.next_uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
  }
}

TEST_CASE("sampler: greedy and top-k 1 are argmax") {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const std::vector<float> l = random_logits(1000, seed + 100);
    const auto argmax = int32_t(std::max_element(l.begin(), l.end()) - l.begin());
    SamplingParams p;  // defaults: top-k 40, top-p, min-p
    p.temperature = 0.0f;
    Sampler greedy(p);
    CHECK(greedy.sample(l, {}) == argmax);
    p.temperature = -1.0f;
    CHECK(Sampler(p).sample(l, {}) == argmax);
    p.temperature = 5.0f;
    p.top_k = 1;
    p.seed = seed;
    Sampler k1(p);
    for (int i = 0; i < 5; ++i) CHECK(k1.sample(l, {}) == argmax);
  }
  // ties: the lowest id
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  CHECK(s.sample(std::vector<float>{1, 3, 3, 2, 3}, {}) == 1);
  CHECK(s.sample(std::vector<float>{-INFINITY, -INFINITY}, {}) == 0);
  CHECK(s.sample(std::vector<float>{7}, {}) == 0);
}

TEST_CASE("sampler: same seed same draws, different seed different draws") {
  const std::vector<float> l = random_logits(5000, 7);
  SamplingParams p;  // defaults
  p.temperature = 1.5f;
  p.top_k = 200;
  p.top_p = 0.99f;
  p.min_p = 0.0f;
  p.seed = 1234;
  Sampler a(p), b(p);
  p.seed = 1235;
  Sampler c(p);
  std::vector<int32_t> da, db, dc;
  for (int i = 0; i < 200; ++i) {
    da.push_back(a.sample(l, {}));
    db.push_back(b.sample(l, {}));
    dc.push_back(c.sample(l, {}));
  }
  CHECK(da == db);
  CHECK(da != dc);
  a.reset(1234);
  std::vector<int32_t> again;
  for (int i = 0; i < 200; ++i) again.push_back(a.sample(l, {}));
  CHECK(again == da);
}

TEST_CASE("sampler: repeat penalty") {
  SamplingParams p;
  p.temperature = 0;
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 2;
  Sampler s(p);
  const std::vector<float> pos{2.0f, 1.9f, 0.0f};
  CHECK(s.sample(pos, {}) == 0);
  const int32_t r0[] = {0};
  CHECK(s.sample(pos, r0) == 1);  // 2.0 / 1.5 < 1.9
  const std::vector<float> neg{-1.0f, -1.2f, -5.0f};
  CHECK(s.sample(neg, r0) == 1);  // -1.0 * 1.5 < -1.2
  const int32_t old[] = {0, 2, 2};
  CHECK(s.sample(pos, old) == 0);  // 0 is outside the last 2
  // once per distinct id: 2.0 / 1.5 = 1.33 > 1.0 (not 2.0 / 1.5^3 = 0.59)
  const std::vector<float> once{2.0f, 1.0f};
  const int32_t zeros[] = {0, 0};
  CHECK(s.sample(once, zeros) == 0);
  // -1: the whole history
  p.repeat_last_n = -1;
  Sampler all(p);
  CHECK(all.sample(pos, old) == 1);
  // 0: disabled
  p.repeat_last_n = 0;
  CHECK(Sampler(p).sample(pos, r0) == 0);
  // bad recent ids
  const int32_t out_of_range[] = {3};
  expect_error([&] { s.sample(pos, out_of_range); }, Status::invalid_argument, {"3"});
  const int32_t negative[] = {-1};
  expect_error([&] { s.sample(pos, negative); }, Status::invalid_argument, {"-1"});
}

TEST_CASE("sampler: truncation, statistically") {
  const std::vector<float> l = log_probs({0.5, 0.3, 0.15, 0.05});
  const int N = 20000;
  SUBCASE("no truncation: the softmax itself") {
    Sampler s(plain(11));
    const auto f = frequencies(s, l, N);
    CHECK(f[0] == doctest::Approx(0.5).epsilon(0.04));
    CHECK(f[1] == doctest::Approx(0.3).epsilon(0.05));
    CHECK(f[2] == doctest::Approx(0.15).epsilon(0.08));
    CHECK(f[3] == doctest::Approx(0.05).epsilon(0.15));
  }
  SUBCASE("temperature") {
    SamplingParams p = plain(12);
    p.temperature = 0.5f;  // p^2 renormalised
    Sampler s(p);
    const auto f = frequencies(s, l, N);
    const double z = 0.25 + 0.09 + 0.0225 + 0.0025;
    CHECK(f[0] == doctest::Approx(0.25 / z).epsilon(0.03));
    CHECK(f[1] == doctest::Approx(0.09 / z).epsilon(0.08));
    CHECK(f[3] == doctest::Approx(0.0025 / z).epsilon(0.5));
  }
  SUBCASE("top-k") {
    SamplingParams p = plain(13);
    p.top_k = 2;
    Sampler s(p);
    const auto f = frequencies(s, l, N);
    CHECK(f[2] == 0.0);
    CHECK(f[3] == 0.0);
    CHECK(f[0] == doctest::Approx(0.625).epsilon(0.04));
  }
  SUBCASE("top-p") {
    SamplingParams p = plain(14);
    p.top_p = 0.75f;  // 0.5 < 0.75 <= 0.8: keeps {0, 1}
    Sampler s(p);
    const auto f = frequencies(s, l, N);
    CHECK(f[2] == 0.0);
    CHECK(f[3] == 0.0);
    CHECK(f[0] == doctest::Approx(0.625).epsilon(0.04));
    CHECK(f[1] == doctest::Approx(0.375).epsilon(0.05));
    p.top_p = 0.9f;  // keeps {0, 1, 2}
    Sampler s2(p);
    const auto f2 = frequencies(s2, l, N);
    CHECK(f2[3] == 0.0);
    CHECK(f2[2] == doctest::Approx(0.15 / 0.95).epsilon(0.1));
    p.top_p = 0.0f;  // keeps the top token
    Sampler s3(p);
    const auto f3 = frequencies(s3, l, 200);
    CHECK(f3[1] + f3[2] + f3[3] == 0.0);
  }
  SUBCASE("min-p") {
    SamplingParams p = plain(15);
    p.min_p = 0.2f;  // threshold 0.1: keeps {0, 1, 2}
    Sampler s(p);
    const auto f = frequencies(s, l, N);
    CHECK(f[3] == 0.0);
    CHECK(f[0] == doctest::Approx(0.5 / 0.95).epsilon(0.04));
    CHECK(f[1] == doctest::Approx(0.3 / 0.95).epsilon(0.05));
    CHECK(f[2] == doctest::Approx(0.15 / 0.95).epsilon(0.1));
    p.min_p = 0.7f;  // threshold 0.35: keeps {0}
    Sampler s2(p);
    const auto f2 = frequencies(s2, l, 500);
    CHECK(f2[1] + f2[2] + f2[3] == 0.0);
  }
  SUBCASE("all stages together, in order: top-k 3 -> top-p 0.8 -> min-p") {
    SamplingParams p = plain(16);
    p.top_k = 3;
    p.top_p = 0.8f;   // over {0.5, 0.3, 0.15}/0.95: 0.526, 0.842 -> keeps {0, 1}
    p.min_p = 0.5f;   // 0.3/0.5 = 0.6 >= 0.5 keeps 1
    Sampler s(p);
    const auto f = frequencies(s, l, N);
    CHECK(f[2] == 0.0);
    CHECK(f[3] == 0.0);
    CHECK(f[1] == doctest::Approx(0.375).epsilon(0.05));
  }
}

TEST_CASE("sampler: infinities and NaN") {
  Sampler s(plain(3));
  const std::vector<float> with_neg_inf{-INFINITY, 0.0f, -INFINITY, 0.0f};
  for (int i = 0; i < 500; ++i) {
    const int32_t t = s.sample(with_neg_inf, {});
    REQUIRE((t == 1 || t == 3));
  }
  const std::vector<float> with_pos_inf{1.0f, INFINITY, 3.0f, INFINITY};
  auto f = frequencies(s, with_pos_inf, 2000);
  CHECK(f[0] + f[2] == 0.0);
  CHECK(f[1] == doctest::Approx(0.5).epsilon(0.1));
  const std::vector<float> all_neg_inf(3, -INFINITY);
  const int32_t t = s.sample(all_neg_inf, {});
  CHECK((t >= 0 && t < 3));
  std::vector<float> nan{0.0f, 1.0f, std::numeric_limits<float>::quiet_NaN()};
  expect_error([&] { s.sample(nan, {}); }, Status::internal, {"logits contain NaN"});
  SamplingParams g;
  g.temperature = 0;
  expect_error([&] { Sampler(g).sample(nan, {}); }, Status::internal, {"logits contain NaN"});
  expect_error([&] { s.sample({}, {}); }, Status::invalid_argument, {"empty"});
}

TEST_CASE("sampler: parameter validation") {
  auto bad = [](auto mutate, const char* what) {
    SamplingParams p;
    mutate(p);
    expect_error([&] { Sampler s(p); }, Status::invalid_argument, {what});
  };
  bad([](SamplingParams& p) { p.temperature = NAN; }, "temperature");
  bad([](SamplingParams& p) { p.top_p = NAN; }, "top_p");
  bad([](SamplingParams& p) { p.min_p = NAN; }, "min_p");
  bad([](SamplingParams& p) { p.repeat_penalty = 0; }, "repeat_penalty");
  bad([](SamplingParams& p) { p.repeat_penalty = -1; }, "repeat_penalty");
  bad([](SamplingParams& p) { p.repeat_penalty = INFINITY; }, "repeat_penalty");
  bad([](SamplingParams& p) { p.repeat_last_n = -2; }, "repeat_last_n");
}

TEST_CASE("sampler: a Llama-3 sized vocabulary, without allocating per call") {
  const std::vector<float> l = random_logits(128256, 99);
  std::vector<int32_t> recent;
  for (int i = 0; i < 64; ++i) recent.push_back(i * 1000);
  for (int top_k : {40, 0}) {
    SamplingParams p;  // defaults, with a penalty
    p.repeat_penalty = 1.1f;
    p.top_k = top_k;
    Sampler s(p);
    s.sample(l, recent);  // first call sizes the scratch space
    const uint64_t before = g_allocations.load();
    int32_t sink = 0;
    for (int i = 0; i < (top_k ? 50 : 5); ++i) sink += s.sample(l, recent);
    const uint64_t after = g_allocations.load();
    CHECK(after == before);
    CHECK(sink >= 0);
  }
  // a smaller vocabulary after a larger one does not allocate either
  SamplingParams p;
  p.repeat_penalty = 1.1f;
  Sampler s(p);
  s.sample(l, recent);
  const std::vector<float> small = random_logits(1000, 5);
  const int32_t few[] = {1, 2, 3};
  const uint64_t before = g_allocations.load();
  s.sample(small, few);
  CHECK(g_allocations.load() == before);
}
