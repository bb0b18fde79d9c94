// RMSNorm against the double-precision CPU reference on seeded random rows: with and without weight,
// the fused residual variant, odd row lengths, row strides, two eps values.
// Tolerance: the kernel sums x^2 in f32 (per-invocation partial sums, then a shared-memory tree) and
// scales with inversesqrt; the relative error of the statistic is ~n_terms * 2^-24 at worst (~1e-6 for
// n = 2049, typically ~1e-7) and the final products add a few ulp, so NMSE is ~1e-14. We require
// NMSE <= 1e-10 and max |err| <= 1e-5 * (1 + max|ref|). A missing weight or one unwritten row is far
// outside that; even a subtle mistake such as dividing by n - 1 instead of n changes every output by
// a relative 1/(2n) >= 2.4e-4 (n = 2049), i.e. NMSE >= 6e-8.
// The residual sum x + res is one correctly rounded f32 addition and must match bit for bit.
#include <cstring>

#include "ops/op_util.hpp"
#include "ops/rmsnorm.hpp"

using namespace dlvk;

namespace {

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

void run_case(uint32_t rows, uint32_t n, bool weight, bool residual, float eps, uint32_t pad = 0) {
  auto& dev = test::device();
  test::Buffers buf;
  const uint32_t ld = n + pad;  // row stride of x, residual and out (pad > 0: gaps the kernel must not touch)
  uint64_t seed = rows * 7919ull + n * 31ull + weight * 3 + residual * 5 + pad;
  // Rows of different scale (1e-3 .. 1e2): the normalisation must remove the scale, and a tiny row
  // (mean(x^2) comparable to eps) shows eps is added inside the square root.
  auto x = test::random_floats(size_t(rows) * ld, seed, 1.0f);
  for (uint32_t r = 0; r < rows; ++r) {
    float s = r % 3 == 0 ? 1.0f : r % 3 == 1 ? 100.0f : 2e-3f;
    for (uint32_t c = 0; c < ld; ++c) x[size_t(r) * ld + c] *= s;
  }
  auto res = test::random_floats(size_t(rows) * ld, seed + 1, 0.5f);
  auto w = test::random_floats(n, seed + 2, 2.0f);

  // Host-side expected x after the residual add (f32, as the kernel does) and its contiguous copy.
  std::vector<float> xsum = x;
  if (residual)
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t c = 0; c < n; ++c) xsum[size_t(r) * ld + c] = x[size_t(r) * ld + c] + res[size_t(r) * ld + c];
  std::vector<float> packed(size_t(rows) * n);
  for (uint32_t r = 0; r < rows; ++r)
    for (uint32_t c = 0; c < n; ++c) packed[size_t(r) * n + c] = xsum[size_t(r) * ld + c];

  ops::RmsNormArgs a;
  a.x = buf.f32(x);
  a.ldx = ld;
  if (residual) a.residual = buf.f32(res);
  if (weight) a.weight = buf.f32(w);
  a.out = buf.nan(size_t(rows) * ld);
  a.ldo = ld;
  a.rows = rows;
  a.n = n;
  a.eps = eps;
  vk::Recorder rec(dev);
  ops::record_rmsnorm(rec, a, "rmsnorm");
  rec.finish()->run();

  auto out = test::read_f32(a.out, size_t(rows) * ld);
  auto xgot = test::read_f32(a.x, size_t(rows) * ld);
  std::vector<float> got(size_t(rows) * n);
  bool gaps_untouched = true, x_ok = true;
  for (uint32_t r = 0; r < rows; ++r)
    for (uint32_t c = 0; c < ld; ++c) {
      size_t i = size_t(r) * ld + c;
      if (c < n) {
        got[size_t(r) * n + c] = out[i];
        if (!same_bits(xgot[i], xsum[i])) x_ok = false;
      } else {
        if (!std::isnan(out[i])) gaps_untouched = false;
        if (!same_bits(xgot[i], x[i])) gaps_untouched = false;  // x's gap unchanged even with a residual
      }
    }
  auto ref = ref::rmsnorm(packed, weight ? std::span<const float>(w) : std::span<const float>(), rows, n, eps);
  auto e = test::compare(got, ref);
  INFO("rows=" << rows << " n=" << n << " weight=" << weight << " residual=" << residual << " eps=" << eps
               << " pad=" << pad);
  CHECK_CLOSE_NMSE(e, 1e-10);
  CHECK(e.max_abs <= 1e-5 * (1 + e.max_ref));
  CHECK(x_ok);  // residual: x == x + res bit-exactly; otherwise x unchanged
  CHECK(gaps_untouched);
}

}  // namespace

TEST_CASE("rmsnorm: odd row lengths, with and without weight, eps 1e-5 / 1e-6") {
  for (uint32_t n : {1u, 7u, 100u, 1000u, 2049u})
    for (bool weight : {true, false})
      for (float eps : {1e-5f, 1e-6f}) run_case(n >= 1000 ? 5 : 9, n, weight, false, eps);
}

TEST_CASE("rmsnorm: fused residual add (x updated to x + res, then normalised)") {
  for (uint32_t n : {1u, 7u, 100u, 1000u, 2049u})
    for (bool weight : {true, false}) run_case(6, n, weight, true, n % 2 ? 1e-5f : 1e-6f);
}

TEST_CASE("rmsnorm: row strides larger than the row (gaps stay untouched)") {
  for (uint32_t n : {7u, 1000u, 2048u}) {
    run_case(4, n, true, false, 1e-5f, 13);
    run_case(4, n, true, true, 1e-5f, 64);
  }
}

TEST_CASE("rmsnorm: many rows (one workgroup each)") {
  run_case(300, 2048, true, true, 1e-5f);
  run_case(1000, 64, true, false, 1e-6f);
}

TEST_CASE("rmsnorm: eps matters for a tiny row (eps inside the square root)") {
  // mean(x^2) ~ 1e-6 here, so eps = 1e-5 vs 1e-6 changes the output by ~2x: both must match their
  // own reference, and the outputs must differ from each other.
  auto& dev = test::device();
  test::Buffers buf;
  const uint32_t n = 64;
  auto x = test::random_floats(n, 99, 2e-3f);
  std::vector<std::vector<float>> outs;
  for (float eps : {1e-5f, 1e-6f}) {
    ops::RmsNormArgs a;
    a.x = buf.f32(x);
    a.ldx = n;
    a.out = buf.nan(n);
    a.ldo = n;
    a.rows = 1;
    a.n = n;
    a.eps = eps;
    vk::Recorder rec(dev);
    ops::record_rmsnorm(rec, a, "rmsnorm");
    rec.finish()->run();
    outs.push_back(test::read_f32(a.out, n));
    auto e = test::compare(outs.back(), ref::rmsnorm(x, {}, 1, n, eps));
    CHECK_CLOSE_NMSE(e, 1e-10);
  }
  std::vector<double> other(outs[1].begin(), outs[1].end());
  CHECK(test::compare(outs[0], other).nmse > 1e-2);
}
