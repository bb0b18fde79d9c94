// Element-wise ops against double-precision references on seeded random data: silu(a) * b,
// gelu(a) * b with the exact erf GELU, a + b; sizes 1, 63, 1000, 100003; outputs NaN-prefilled with a
// NaN tail past n that must stay untouched.
// Tolerances:
//  - add: one correctly rounded f32 addition; the double sum of two floats is exact, so the result must
//    equal float(a + b) bit for bit.
//  - silu_mul: x / (1 + exp(-x)) * b in f32; exp is within a few ulp, so the relative error per element
//    is ~1e-6 at worst: NMSE <= 1e-11, |err| <= 2e-6 * |ref| + 1e-30.
//  - gelu_mul: the shader's erf has |error| < 1.2e-7 (absolute), which moves gelu(x) = x/2 (1 + erf)
//    by at most |x|/2 * 1.2e-7; with the f32 exp inside it and rounding on top we allow per element
//    |err| <= (0.5 * |x| * 1.5e-7 + 2e-6 * |gelu(x)|) * |b| + 1e-30, and NMSE <= 1e-11. Against
//    the tanh approximation of GELU (a common mistake; differs by up to ~5e-4 absolute) this fails.
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "ops/elementwise.hpp"
#include "ops/op_util.hpp"

using namespace dlvk;

namespace {

constexpr uint32_t kTail = 37;  // extra NaN-filled outputs past n

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

double gelu_tanh(double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }

struct Outcome {
  std::vector<float> a, b, got;
};

Outcome run(ops::EltOp op, uint32_t n, float scale) {
  auto& dev = test::device();
  test::Buffers buf;
  Outcome o;
  uint64_t seed = n * 97ull + uint64_t(op);
  o.a = test::random_floats(n, seed, scale);
  o.b = test::random_floats(n, seed + 1, 1.0f);
  auto out = buf.nan(n + kTail);
  vk::Recorder rec(dev);
  ops::record_elementwise(rec, op, buf.f32(o.a), buf.f32(o.b), out, n, "elementwise");
  rec.finish()->run();
  auto all = test::read_f32(out, n + kTail);
  for (uint32_t i = n; i < n + kTail; ++i) CHECK(std::isnan(all[i]));
  o.got.assign(all.begin(), all.begin() + n);
  return o;
}

void check_op(ops::EltOp op, uint32_t n) {
  INFO("op=" << int(op) << " n=" << n);
  // |a| up to 8: exp/erf tails (gelu(-8) ~ 5e-15) and saturation are exercised.
  Outcome o = run(op, n, 8.0f);
  std::vector<double> ref(n);
  bool within = true;
  std::string first_bad;
  for (uint32_t i = 0; i < n; ++i) {
    double x = o.a[i], b = o.b[i];
    if (op == ops::EltOp::add) {
      float expect = float(x + b);
      if (!same_bits(o.got[i], expect) && within) {
        within = false;
        first_bad = fmt::format("i={} a={} b={} got={} expected={}", i, x, b, o.got[i], expect);
      }
      ref[i] = expect;
      continue;
    }
    double act = op == ops::EltOp::silu_mul ? ref::silu(x) : ref::gelu(x);
    ref[i] = act * b;
    double bound = op == ops::EltOp::silu_mul ? 2e-6 * std::abs(ref[i]) + 1e-30
                                              : (0.5 * std::abs(x) * 1.5e-7 + 2e-6 * std::abs(act)) * std::abs(b) + 1e-30;
    if (!(std::abs(o.got[i] - ref[i]) <= bound) && within) {
      within = false;
      first_bad = fmt::format("i={} a={} b={} got={} ref={} bound={}", i, x, b, o.got[i], ref[i], bound);
    }
  }
  INFO(first_bad);
  auto e = test::compare(o.got, ref);
  CHECK_CLOSE_NMSE(e, 1e-11);
  CHECK(within);
}

}  // namespace

TEST_CASE("elementwise: silu_mul, gelu_mul, add at sizes 1, 63, 1000, 100003") {
  for (auto op : {ops::EltOp::silu_mul, ops::EltOp::gelu_mul, ops::EltOp::add})
    for (uint32_t n : {1u, 63u, 1000u, 100003u}) check_op(op, n);
}

TEST_CASE("elementwise: grid-stride loop when the workgroup count is capped") {
  // Force a tiny max workgroup count so each invocation handles many elements.
  test::CapsOverride caps;
  caps->max_workgroup_count[0] = 7;
  for (auto op : {ops::EltOp::silu_mul, ops::EltOp::gelu_mul, ops::EltOp::add}) check_op(op, 100003);
}

TEST_CASE("elementwise: gelu is the exact erf GELU, not the tanh approximation") {
  // Shows the gelu check can fail: the tanh form differs by up to ~5e-4 around |x| ~ 2.
  Outcome o = run(ops::EltOp::gelu_mul, 1000, 4.0f);
  double worst = 0;
  for (size_t i = 0; i < o.a.size(); ++i) {
    double tanh_ref = gelu_tanh(o.a[i]) * o.b[i];
    worst = std::max(worst, std::abs(o.got[i] - tanh_ref));
  }
  CHECK(worst > 1e-4);
}

TEST_CASE("elementwise: *_pairs read an interleaved gate/up projection, bit for bit like the split ops") {
  auto& dev = test::device();
  for (auto [pairs, split] : {std::pair{ops::EltOp::silu_mul_pairs, ops::EltOp::silu_mul},
                              std::pair{ops::EltOp::gelu_mul_pairs, ops::EltOp::gelu_mul}})
    for (auto [group, n] : {std::pair{1u, 1u}, {1u, 63u}, {1u, 100003u}, {8u, 8u}, {8u, 64u}, {8u, 100000u}}) {
      INFO("op=" << int(pairs) << " group=" << group << " n=" << n);
      Outcome o = run(split, n, 8.0f);  // the split op is checked against the reference above
      // Groups of `group` gate values, then their `group` up values (written from the definition).
      std::vector<float> ab;
      for (uint32_t i0 = 0; i0 < n; i0 += group) {
        ab.insert(ab.end(), o.a.begin() + i0, o.a.begin() + i0 + group);
        ab.insert(ab.end(), o.b.begin() + i0, o.b.begin() + i0 + group);
      }
      test::Buffers buf;
      auto in = buf.f32(ab);
      auto out = buf.nan(n + kTail);
      vk::Recorder rec(dev);
      ops::record_elementwise(rec, pairs, in, in, out, n, "glu pairs", group);
      rec.finish()->run();
      auto got = test::read_f32(out, n + kTail);
      bool same = true, tail_nan = true;
      for (uint32_t i = 0; i < n; ++i) same = same && same_bits(got[i], o.got[i]);
      for (uint32_t i = n; i < n + kTail; ++i) tail_nan = tail_nan && std::isnan(got[i]);
      CHECK(same);
      CHECK(tail_nan);
    }
  // Outputs that are not whole groups are a recording error.
  test::Buffers buf;
  auto in = buf.f32(std::vector<float>(32));
  vk::Recorder rec(dev);
  CHECK_THROWS_AS(ops::record_elementwise(rec, ops::EltOp::silu_mul_pairs, in, in, in, 12, "glu", 8), Error);
}
