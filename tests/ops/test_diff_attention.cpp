// Fused differential attention against the double-precision reference (full softmax, no online
// tricks): queries [T, H, d] (row stride ldq >= H*d), a random KV cache [capacity, Hkv, d] whose rows
// past pos0 + T hold NaN (any read beyond the causal window poisons the output), causal with the cache
// offset pos0 read from the params buffer, GQA ratios 1/2/3/4 and MQA, odd Hkv, head_dim 16/24/40/64/128,
// decode with 1..more-than-keys splits (empty splits), prefill, lambda > 0 and < 0, lambda_init of
// layers 0 and 5. Outputs and split partials are NaN-prefilled.
//
// Tolerance: everything is f32 (scores, exp, online rescaling, sums over up to 2048 keys, the 2d RMS).
// Relative rounding of each accumulator is ~1e-7 * sqrt(keys) at worst; the combine D = O+ - lambda*O-
// then cancels: with random data both softmax maps are nearly uniform over long contexts, so |D| is a
// small fraction of |O+| (down to ~1/50 at 2048 keys) and the RMSNorm that follows rescales D to unit
// RMS, amplifying the relative error by that factor. Measured on lavapipe: NMSE 1e-15..4e-12 (largest
// at 2048 keys), max |err| <= 1e-6. We require NMSE <= 1e-10 (30x headroom for other drivers' exp and
// summation order) and max |err| <= 5e-5 * (1 + max|ref|); every real mistake below (pairing, value
// concat order, GQA mapping, lambda sign, lambda_init, causal offset, one key short) gives NMSE > 7e-2
// — the "can fail" test checks that against deliberately wrong references.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/diff_attention.hpp"
#include "ops/attention_cases.hpp"
#include "ops/op_util.hpp"

using namespace dlvk;

namespace {

using Shape = test::AttentionCase;

struct Result {
  std::vector<float> q, k, v;  // q packed [T, H, d]; k, v [capacity, Hkv, d]
  std::vector<float> got;      // packed [T, H*d]
  bool out_pad_untouched = true;
};

// Runs the op on seeded random data; pos0 is written to the params buffer (a host-visible one when
// `replay_pos0` is non-empty: the same recorded Sequence then also runs at each of those positions and
// `check` is called for each run).
template <typename Check>
void run_op(const Shape& s, ops::DiffAttentionKernel kernel, Check&& check, std::vector<uint32_t> replay_pos0 = {}) {
  auto& dev = test::device();
  test::Buffers buf;
  vk::Arena host{dev, vk::MemoryKind::upload, 4096, "params"};
  uint32_t max_pos0 = s.pos0;
  for (auto p : replay_pos0) max_pos0 = std::max(max_pos0, p);
  const uint32_t cap = max_pos0 + s.T + 5;  // rows [pos0 + T, cap) are NaN
  const uint32_t HD = s.H * s.d, ldq = HD + s.q_pad, ldo = HD + s.o_pad;
  const uint64_t seed = s.H * 1000003ull + s.Hkv * 10007ull + s.d * 101ull + s.T * 13ull + s.pos0 * 7ull + s.n_split;

  Result r;
  // q scaled so the scores q.k / sqrt(d) have a standard deviation ~0.6: softmax neither flat nor one-hot.
  auto qrows = test::random_floats(size_t(s.T) * ldq, seed, 1.8f);
  r.k = test::random_floats(size_t(cap) * s.Hkv * s.d, seed + 1);
  r.v = test::random_floats(size_t(cap) * s.Hkv * s.d, seed + 2);
  r.q.resize(size_t(s.T) * HD);
  for (uint32_t t = 0; t < s.T; ++t)
    for (uint32_t c = 0; c < HD; ++c) r.q[size_t(t) * HD + c] = qrows[size_t(t) * ldq + c];

  auto poison_tail = [&](uint32_t pos0) {
    std::vector<float> k = r.k, v = r.v;
    for (size_t i = size_t(pos0 + s.T) * s.Hkv * s.d; i < k.size(); ++i) k[i] = v[i] = std::nanf("");
    return std::pair{k, v};
  };

  ops::DiffAttentionArgs a;
  if (replay_pos0.empty()) {
    std::vector<uint32_t> p{s.pos0, 0, 0, 0};
    a.params = buf.u32(p);
  } else {
    a.params = host.allocate(16, "params");
    REQUIRE(a.params.host != nullptr);
    *a.params.as<uint32_t>() = s.pos0;
  }
  auto [k0, v0] = poison_tail(s.pos0);
  a.q = buf.f32(qrows);
  a.ldq = ldq;
  a.k_cache = buf.f32(k0);
  a.v_cache = buf.f32(v0);
  a.out = buf.nan(size_t(s.T) * ldo);
  a.ldo = ldo;
  if (auto bytes = ops::diff_attention_scratch_bytes(dev.caps(), {s.T, s.H, s.Hkv, s.d, s.n_split, cap}, kernel))
    a.scratch = buf.nan(bytes / 4);
  a.kernel = kernel;
  a.T = s.T;
  a.H = s.H;
  a.Hkv = s.Hkv;
  a.d = s.d;
  a.n_split = s.n_split;
  a.lambda = s.lambda;
  a.lambda_init = float(test::attention_lambda_init(s.layer));
  a.eps = 1e-5f;
  vk::Recorder rec(dev);
  ops::record_diff_attention(rec, a, "diff_attention");
  auto seq = rec.finish();

  auto collect = [&]() {
    auto out = test::read_f32(a.out, size_t(s.T) * ldo);
    r.got.assign(size_t(s.T) * HD, 0.0f);
    r.out_pad_untouched = true;
    for (uint32_t t = 0; t < s.T; ++t)
      for (uint32_t c = 0; c < ldo; ++c) {
        if (c < HD) r.got[size_t(t) * HD + c] = out[size_t(t) * ldo + c];
        else if (!std::isnan(out[size_t(t) * ldo + c])) r.out_pad_untouched = false;
      }
  };
  seq->run();
  collect();
  check(r, s.pos0);
  for (uint32_t pos0 : replay_pos0) {
    auto [k, v] = poison_tail(pos0);  // the NaN tail moves with pos0
    vk::upload(dev, a.k_cache, k.data(), k.size() * 4);
    vk::upload(dev, a.v_cache, v.data(), v.size() * 4);
    vk::fill(dev, a.out, 0x7fc00000u);
    if (a.scratch.size) vk::fill(dev, a.scratch, 0x7fc00000u);
    *a.params.as<uint32_t>() = pos0;  // no re-recording: the kernel reads pos0 at run time
    seq->run();
    collect();
    check(r, pos0);
  }
}

std::vector<double> reference(const Shape& s, const Result& r, uint32_t pos0, double lambda_init, bool interleaved = false,
                              bool swap_values = false, bool kv_modulo = false, double lambda_sign = 1.0) {
  return ref::diff_attention(r.q, r.k, r.v, s.T, s.H, s.Hkv, s.d, pos0, lambda_sign * s.lambda, lambda_init, 1e-5,
                             interleaved, swap_values, kv_modulo);
}

// The kernels this device can run for the shape (each once): on CPU devices with head_dim % 4 == 0
// the one-pass and the two-phase row kernels, else the workgroup kernel.
std::vector<ops::DiffAttentionKernel> kernels_for(const Shape& s, std::vector<uint32_t> replay = {}) {
  uint32_t cap = s.pos0 + s.T + 5;  // as run_op
  for (auto p : replay) cap = std::max(cap, p + s.T + 5);
  std::vector<ops::DiffAttentionKernel> ks;
  for (auto want : {ops::DiffAttentionKernel::rows, ops::DiffAttentionKernel::rows_two_phase}) {
    auto k = ops::diff_attention_kernel(test::device().caps(), {s.T, s.H, s.Hkv, s.d, s.n_split, cap}, want);
    if (std::find(ks.begin(), ks.end(), k) == ks.end()) ks.push_back(k);
  }
  return ks;
}

void check_case(const Shape& s, std::vector<uint32_t> replay = {}) {
  for (auto kernel : kernels_for(s, replay))
    run_op(
        s, kernel,
        [&](const Result& r, uint32_t pos0) {
          auto e = test::compare(r.got, reference(s, r, pos0, test::attention_lambda_init(s.layer)));
          INFO("kernel " << std::string(ops::diff_attention_kernel_name(kernel)) << " H=" << s.H << " Hkv=" << s.Hkv << " d=" << s.d
                         << " T=" << s.T << " pos0=" << pos0 << " n_split=" << s.n_split << " lambda=" << s.lambda
                         << " layer=" << s.layer << " q_pad=" << s.q_pad << " o_pad=" << s.o_pad);
          CHECK_CLOSE_NMSE(e, 1e-10);
          CHECK(e.max_abs <= 5e-5 * (1 + e.max_ref));
          CHECK(r.out_pad_untouched);
        },
        replay);
}

}  // namespace

TEST_CASE("diff_attention: decode (T = 1), GQA/MQA, head dims, contexts, splits") {
  for (const auto& s : test::attention_decode_cases()) check_case(s);
}

TEST_CASE("diff_attention: prefill (T > 1) with and without a cache offset") {
  for (const auto& s : test::attention_prefill_cases()) check_case(s);
}

TEST_CASE("diff_attention: one recorded sequence replayed at other positions (pos0 from a host-visible buffer)") {
  check_case({8, 2, 64, 1, 10, 1, 0.6f, 5}, {700, 0, 1500});
  check_case({8, 2, 64, 1, 10, 8, 0.6f, 5}, {700, 0, 1500});
  check_case({6, 3, 24, 5, 0, 1, -0.3f, 0}, {40, 3});
}

TEST_CASE("diff_attention: the test can fail (wrong references are far off)") {
  // The same GPU output against references with one deliberate mistake each: every one must be far
  // outside the 1e-10 tolerance used above, so the comparison really discriminates.
  auto far = [](const Result& r, const std::vector<double>& ref) { return test::compare(r.got, ref).nmse; };
  for (const Shape& s : test::attention_can_fail_cases()) {
    for (auto kernel : kernels_for(s)) run_op(s, kernel, [&](const Result& r, uint32_t pos0) {
      INFO("kernel " << std::string(ops::diff_attention_kernel_name(kernel)) << " H=" << s.H << " Hkv=" << s.Hkv << " d=" << s.d
                     << " T=" << s.T << " pos0=" << pos0);
      double li = test::attention_lambda_init(s.layer), wrong_li = test::attention_lambda_init(s.layer == 0 ? 5 : 0);
      double good = far(r, reference(s, r, pos0, li));
      CHECK(good <= 1e-10);
      CHECK(far(r, reference(s, r, pos0, li, /*interleaved=*/true)) > 1e-2);
      CHECK(far(r, reference(s, r, pos0, li, false, /*swap_values=*/true)) > 1e-2);
      CHECK(far(r, reference(s, r, pos0, li, false, false, /*kv_modulo=*/true)) > 1e-2);
      CHECK(far(r, reference(s, r, pos0, li, false, false, false, /*lambda_sign=*/-1.0)) > 1e-2);
      CHECK(far(r, reference(s, r, pos0, wrong_li)) > 1e-2);
      CHECK(far(r, reference(s, r, 0, li)) > 1e-2);         // cache offset ignored
      CHECK(far(r, reference(s, r, pos0 - 1, li)) > 1e-3);  // causal window one key short
    });
  }
}
