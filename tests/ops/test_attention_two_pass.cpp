// The two-pass differential attention baseline (lib/ops/attention_two_pass: two standard softmax
// attentions, each with its own dispatches and output buffer, then a combine dispatch) against the
// same double-precision reference as the fused kernel (ref::diff_attention), with the same data
// generation and tolerances as test_diff_attention.cpp: NMSE <= 1e-10 and max |err| <= 5e-5 (1 + max|ref|).
// Queries [T, H, d] with row stride ldq >= H*d, a KV cache whose rows past pos0 + T are NaN (a read
// beyond the causal window poisons the output), pos0 from the params buffer, GQA 1/2/3/4 and MQA, odd
// Hkv, head_dim 16/24/64/128, decode with 1..more-than-keys splits (empty splits), 2048 keys, prefill.
// Outputs and the scratch (both maps' outputs and partials) are NaN-prefilled. Also: the baseline
// agrees with the fused kernel on the same inputs, and the comparison rejects deliberately wrong references.
#include <cmath>
#include <cstring>

#include "ops/attention_two_pass.hpp"
#include "ops/diff_attention.hpp"
#include "ops/attention_cases.hpp"
#include "ops/op_util.hpp"

using namespace dlvk;

namespace {

using TpShape = test::AttentionCase;

struct TpRun {
  std::vector<float> q, k, v;   // q packed [T, H, d]; k, v [pos0 + T, Hkv, d] (the NaN tail cut off)
  std::vector<float> got;       // two-pass output, packed [T, H*d]
  std::vector<float> fused;     // fused kernel's output on the same inputs, packed
  bool out_pad_untouched = true;
};

TpRun run_two_pass(const TpShape& s) {
  auto& dev = test::device();
  test::Buffers buf;
  const uint32_t cap = s.pos0 + s.T + 5;  // rows [pos0 + T, cap) are NaN
  const uint32_t HD = s.H * s.d, ldq = HD + s.q_pad, ldo = HD + s.o_pad;
  const uint64_t seed = 77 + s.H * 1000003ull + s.Hkv * 10007ull + s.d * 101ull + s.T * 13ull + s.pos0 * 7ull + s.n_split;

  TpRun r;
  // q scaled so the scores have a standard deviation ~0.6 (as in test_diff_attention.cpp).
  auto qrows = test::random_floats(size_t(s.T) * ldq, seed, 1.8f);
  auto k = test::random_floats(size_t(cap) * s.Hkv * s.d, seed + 1);
  auto v = test::random_floats(size_t(cap) * s.Hkv * s.d, seed + 2);
  const size_t valid = size_t(s.pos0 + s.T) * s.Hkv * s.d;
  r.k.assign(k.begin(), k.begin() + valid);
  r.v.assign(v.begin(), v.begin() + valid);
  for (size_t i = valid; i < k.size(); ++i) k[i] = v[i] = std::nanf("");
  r.q.resize(size_t(s.T) * HD);
  for (uint32_t t = 0; t < s.T; ++t)
    for (uint32_t c = 0; c < HD; ++c) r.q[size_t(t) * HD + c] = qrows[size_t(t) * ldq + c];

  std::vector<uint32_t> p{s.pos0, 0, 0, 0};
  ops::TwoPassAttentionArgs a;
  a.params = buf.u32(p);
  a.q = buf.f32(qrows);
  a.ldq = ldq;
  a.k_cache = buf.f32(k);
  a.v_cache = buf.f32(v);
  a.out = buf.nan(size_t(s.T) * ldo);
  a.ldo = ldo;
  a.scratch = buf.nan(ops::two_pass_attention_scratch_bytes(dev.caps(), s.T, s.H, s.d, s.n_split) / 4);
  a.T = s.T;
  a.H = s.H;
  a.Hkv = s.Hkv;
  a.d = s.d;
  a.n_split = s.n_split;
  a.lambda = s.lambda;
  a.lambda_init = float(test::attention_lambda_init(s.layer));
  a.eps = 1e-5f;

  ops::DiffAttentionArgs f;
  f.params = a.params;
  f.q = a.q;
  f.ldq = ldq;
  f.k_cache = a.k_cache;
  f.v_cache = a.v_cache;
  f.out = buf.nan(size_t(s.T) * HD);
  f.ldo = HD;
  const auto ctx = uint32_t(a.k_cache.size / (uint64_t(s.Hkv) * s.d * 4));
  if (auto bytes = ops::diff_attention_scratch_bytes(dev.caps(), {s.T, s.H, s.Hkv, s.d, s.n_split, ctx})) f.scratch = buf.nan(bytes / 4);
  f.T = s.T;
  f.H = s.H;
  f.Hkv = s.Hkv;
  f.d = s.d;
  f.n_split = s.n_split;
  f.lambda = a.lambda;
  f.lambda_init = a.lambda_init;
  f.eps = a.eps;

  vk::Recorder rec(dev);
  ops::record_two_pass_attention(rec, a, "two_pass_attention");
  const bool fused_ok = ops::diff_attention_supported(dev.caps(), s.d);
  if (fused_ok) ops::record_diff_attention(rec, f, "diff_attention");
  rec.finish()->run();

  auto out = test::read_f32(a.out, size_t(s.T) * ldo);
  r.got.assign(size_t(s.T) * HD, 0.0f);
  for (uint32_t t = 0; t < s.T; ++t)
    for (uint32_t c = 0; c < ldo; ++c) {
      if (c < HD) r.got[size_t(t) * HD + c] = out[size_t(t) * ldo + c];
      else if (!std::isnan(out[size_t(t) * ldo + c])) r.out_pad_untouched = false;
    }
  if (fused_ok) r.fused = test::read_f32(f.out, size_t(s.T) * HD);
  return r;
}

std::vector<double> two_pass_reference(const TpShape& s, const TpRun& r, double lambda_init, bool interleaved = false,
                                       bool swap_values = false, bool kv_modulo = false, double lambda_sign = 1.0,
                                       uint32_t pos0_delta = 0) {
  return ref::diff_attention(r.q, r.k, r.v, s.T, s.H, s.Hkv, s.d, s.pos0 - pos0_delta, lambda_sign * s.lambda,
                             lambda_init, 1e-5, interleaved, swap_values, kv_modulo);
}

void check_two_pass(const TpShape& s) {
  INFO("H=" << s.H << " Hkv=" << s.Hkv << " d=" << s.d << " T=" << s.T << " pos0=" << s.pos0 << " n_split=" << s.n_split
            << " lambda=" << s.lambda << " layer=" << s.layer << " q_pad=" << s.q_pad << " o_pad=" << s.o_pad);
  auto r = run_two_pass(s);
  auto e = test::compare(r.got, two_pass_reference(s, r, test::attention_lambda_init(s.layer)));
  CHECK_CLOSE_NMSE(e, 1e-10);
  CHECK(e.max_abs <= 5e-5 * (1 + e.max_ref));
  CHECK(r.out_pad_untouched);
  if (!r.fused.empty()) {  // both GPU paths against each other: f32 vs f32, same tolerance
    std::vector<double> fused(r.fused.begin(), r.fused.end());
    auto ef = test::compare(r.got, fused);
    INFO("vs fused kernel");
    CHECK_CLOSE_NMSE(ef, 1e-10);
  }
}

}  // namespace

TEST_CASE("attention_two_pass: decode (T = 1), GQA/MQA, head dims, contexts, splits") {
  for (const auto& s : test::attention_decode_cases()) check_two_pass(s);
}

TEST_CASE("attention_two_pass: prefill (T > 1) with and without a cache offset") {
  for (const auto& s : test::attention_prefill_cases()) check_two_pass(s);
}

TEST_CASE("attention_two_pass: the test can fail (wrong references are far off)") {
  // The same GPU output against references with one deliberate mistake each: every one must be far
  // outside the 1e-10 tolerance used above.
  auto nmse = [](const TpRun& r, const std::vector<double>& ref) { return test::compare(r.got, ref).nmse; };
  for (const TpShape& s : test::attention_can_fail_cases()) {
    INFO("H=" << s.H << " Hkv=" << s.Hkv << " d=" << s.d << " T=" << s.T << " pos0=" << s.pos0);
    auto r = run_two_pass(s);
    double li = test::attention_lambda_init(s.layer), wrong_li = test::attention_lambda_init(s.layer == 0 ? 5 : 0);
    CHECK(nmse(r, two_pass_reference(s, r, li)) <= 1e-10);
    CHECK(nmse(r, two_pass_reference(s, r, li, /*interleaved=*/true)) > 1e-2);
    CHECK(nmse(r, two_pass_reference(s, r, li, false, /*swap_values=*/true)) > 1e-2);
    CHECK(nmse(r, two_pass_reference(s, r, li, false, false, /*kv_modulo=*/true)) > 1e-2);
    CHECK(nmse(r, two_pass_reference(s, r, li, false, false, false, /*lambda_sign=*/-1.0)) > 1e-2);
    CHECK(nmse(r, two_pass_reference(s, r, wrong_li)) > 1e-2);
    CHECK(nmse(r, two_pass_reference(s, r, li, false, false, false, 1.0, /*pos0_delta=*/1)) > 1e-3);  // one key short
  }
}
