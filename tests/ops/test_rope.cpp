// RoPE (rotate-half) against the double-precision reference: queries rotated in place inside strided
// rows, keys rotated into a KV-cache buffer at rows pos0 + t, values copied there unrotated, pos0 read
// from the params buffer at run time (one recorded Sequence replayed with different positions).
// inv_freq_i = theta^(-2i/d) is formed in double and rounded to f32 here; the cos/sin table comes from
// ops::rope_table, the reference takes cos/sin in double of the same f32 angle float(pos) * inv_freq.
// Tolerance: the table rounds cos/sin to f32 (2^-24 relative each) and the kernel forms
// a*cos - b*sin in f32: per element |err| <= ~3 * 2^-24 * (|a| + |b|) ~ 4e-7 for |a|, |b| <= 1, so
// NMSE ~1e-14. We require NMSE <= 1e-12 and max |err| <= 1e-6. A position off by one, an interleaved
// pairing (j with j+1 instead of j + d/2) or a wrong sign gives NMSE ~1e-1..1. Value copies, and every
// element the op must not touch (row padding, other cache rows), are checked bit for bit.
#include <cstring>

#include "ops/op_util.hpp"
#include "ops/rope.hpp"

using namespace dlvk;

namespace {

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

std::vector<float> inv_freq_for(uint32_t d, double theta) {
  std::vector<float> f(d / 2);
  for (uint32_t i = 0; i < d / 2; ++i) f[i] = float(std::pow(theta, -2.0 * i / double(d)));
  return f;
}

// Expected rows [T, ld] after rotating heads x d from column 0 at positions pos0 + t.
std::vector<double> rotated(const std::vector<float>& src, uint32_t T, uint32_t ld, uint32_t heads, uint32_t d,
                            std::span<const float> inv_freq, uint32_t pos0) {
  std::vector<double> out(size_t(T) * heads * d);
  for (uint32_t t = 0; t < T; ++t)
    for (uint32_t h = 0; h < heads; ++h) {
      std::span<double> v(out.data() + (size_t(t) * heads + h) * d, d);
      for (uint32_t c = 0; c < d; ++c) v[c] = src[size_t(t) * ld + h * d + c];
      ref::rope_head(v, inv_freq, pos0 + t);
    }
  return out;
}

struct Shape {
  uint32_t d, Hq, Hkv, T;
  uint32_t q_pad, kv_pad;  // extra columns per source row (ld > heads * d)
  double theta;
};

// The buffers of one case and the recorded sequence (q in place; k, v into the cache at pos0 + t).
struct Case {
  Shape s;
  uint32_t ctx;
  test::Buffers buf;
  vk::Arena param_arena{test::device(), vk::MemoryKind::upload, 4096, "params"};  // host-visible pos0
  std::vector<float> inv_freq, q, k, v;
  uint32_t ldq, ldkv, ldc;
  vk::BufferSlice params, table, qb, kb, vb, kc, vc;
  std::unique_ptr<vk::Sequence> seq;

  Case(const Shape& sh, uint32_t ctx_, bool host_params, uint32_t initial_pos0) : s(sh), ctx(ctx_) {
    auto& dev = test::device();
    uint64_t seed = s.d * 131ull + s.Hq * 17ull + s.Hkv * 5ull + s.T * 1009ull + ctx;
    ldq = s.Hq * s.d + s.q_pad;
    ldkv = s.Hkv * s.d + s.kv_pad;
    ldc = s.Hkv * s.d;  // the cache row: Hkv heads x d, no padding
    inv_freq = inv_freq_for(s.d, s.theta);
    q = test::random_floats(size_t(s.T) * ldq, seed);
    k = test::random_floats(size_t(s.T) * ldkv, seed + 1);
    v = test::random_floats(size_t(s.T) * ldkv, seed + 2);
    if (host_params) {
      params = param_arena.allocate(16, "params");
      REQUIRE(params.host != nullptr);
      *params.as<uint32_t>() = initial_pos0;
    } else {
      std::vector<uint32_t> p{initial_pos0, 0, 0, 0};
      params = buf.u32(p);
    }
    table = buf.f32(ops::rope_table(inv_freq, ctx));
    qb = buf.f32(q);
    kb = buf.f32(k);
    vb = buf.f32(v);
    kc = buf.nan(size_t(ctx) * ldc);
    vc = buf.nan(size_t(ctx) * ldc);

    vk::Recorder rec(dev);
    ops::RopeArgs a;
    a.params = params;
    a.table = table;
    a.src = a.dst = qb;
    a.ld_src = a.ld_dst = ldq;
    a.T = s.T;
    a.heads = s.Hq;
    a.d = s.d;
    ops::record_rope(rec, a, "rope_q");
    a.src = kb;
    a.ld_src = ldkv;
    a.dst = kc;
    a.ld_dst = ldc;
    a.heads = s.Hkv;
    a.dst_at_pos = true;
    ops::record_rope(rec, a, "rope_k");
    a.src = vb;
    a.dst = vc;
    a.rotate = false;
    ops::record_rope(rec, a, "copy_v");
    seq = rec.finish();
  }

  // Restores the inputs the previous run changed (q in place, the cache rows) for a replay.
  void reset() {
    vk::upload(test::device(), qb, q.data(), q.size() * 4);
    vk::fill(test::device(), kc, 0x7fc00000u);
    vk::fill(test::device(), vc, 0x7fc00000u);
  }

  void check(uint32_t pos0) {
    INFO("d=" << s.d << " Hq=" << s.Hq << " Hkv=" << s.Hkv << " T=" << s.T << " pos0=" << pos0 << " theta=" << s.theta
              << " q_pad=" << s.q_pad << " kv_pad=" << s.kv_pad);
    // Queries: rotated heads, untouched padding.
    auto qgot = test::read_f32(qb, q.size());
    std::vector<float> qheads(size_t(s.T) * s.Hq * s.d);
    bool pad_ok = true;
    for (uint32_t t = 0; t < s.T; ++t)
      for (uint32_t c = 0; c < ldq; ++c) {
        float g = qgot[size_t(t) * ldq + c];
        if (c < s.Hq * s.d) qheads[size_t(t) * s.Hq * s.d + c] = g;
        else if (!same_bits(g, q[size_t(t) * ldq + c])) pad_ok = false;
      }
    auto eq = test::compare(qheads, rotated(q, s.T, ldq, s.Hq, s.d, inv_freq, pos0));
    CHECK_CLOSE_NMSE(eq, 1e-12);
    CHECK(eq.max_abs <= 1e-6);
    CHECK(pad_ok);

    // Keys: rows pos0 .. pos0 + T - 1 of the cache rotated, every other row still NaN.
    auto kgot = test::read_f32(kc, size_t(ctx) * ldc);
    auto vgot = test::read_f32(vc, size_t(ctx) * ldc);
    std::vector<float> kwritten(kgot.begin() + size_t(pos0) * ldc, kgot.begin() + size_t(pos0 + s.T) * ldc);
    auto ek = test::compare(kwritten, rotated(k, s.T, ldkv, s.Hkv, s.d, inv_freq, pos0));
    CHECK_CLOSE_NMSE(ek, 1e-12);
    CHECK(ek.max_abs <= 1e-6);
    bool others_nan = true, v_exact = true;
    for (uint32_t r = 0; r < ctx; ++r) {
      bool written = r >= pos0 && r < pos0 + s.T;
      for (uint32_t c = 0; c < ldc; ++c) {
        size_t i = size_t(r) * ldc + c;
        if (!written) {
          if (!std::isnan(kgot[i]) || !std::isnan(vgot[i])) others_nan = false;
        } else if (!same_bits(vgot[i], v[size_t(r - pos0) * ldkv + c])) {
          v_exact = false;
        }
      }
    }
    CHECK(others_nan);
    CHECK(v_exact);
  }
};

}  // namespace

TEST_CASE("rope: head dims x theta x GQA shapes x positions, strided rows") {
  const Shape shapes[] = {
      {16, 4, 2, 5, 0, 0, 1e4},     {16, 2, 1, 1, 3, 5, 5e5},    {24, 6, 3, 7, 8, 0, 1e4},
      {24, 4, 4, 2, 0, 24, 5e5},    {64, 8, 2, 33, 64, 16, 1e4}, {64, 32, 8, 1, 0, 0, 5e5},
      {128, 8, 1, 17, 128, 7, 1e4}, {128, 4, 2, 3, 1, 1, 5e5},
  };
  for (const auto& sh : shapes)
    for (uint32_t pos0 : {0u, 17u, 4000u - sh.T}) {
      Case c(sh, pos0 + sh.T + 3, false, pos0);
      c.seq->run();
      c.check(pos0);
    }
}

TEST_CASE("rope: one recorded sequence replayed at different positions (pos0 from a host-visible buffer)") {
  for (const Shape& sh : {Shape{64, 8, 2, 4, 16, 0, 1e4}, Shape{128, 4, 4, 1, 0, 0, 5e5}, Shape{24, 6, 3, 3, 0, 2, 1e4}}) {
    Case c(sh, 4100, true, 5);
    for (uint32_t pos0 : {5u, 4000u, 0u, 1234u}) {
      *c.params.as<uint32_t>() = pos0;  // host write before submit; the command buffer is not re-recorded
      c.reset();
      c.seq->run();
      c.check(pos0);
    }
  }
}

TEST_CASE("rope: the test notices a position off by one") {
  // The check compares against positions pos0 + t; running at pos0 + 1 must fail it clearly.
  Shape sh{64, 4, 2, 3, 0, 0, 1e4};
  Case c(sh, 64, true, 11);
  c.seq->run();
  auto got = test::read_f32(c.qb, c.q.size());
  auto e = test::compare(got, rotated(c.q, sh.T, c.ldq, sh.Hq, sh.d, c.inv_freq, 10));
  CHECK(e.nmse > 1e-6);
  auto e2 = test::compare(got, rotated(c.q, sh.T, c.ldq, sh.Hq, sh.d, c.inv_freq, 11));
  CHECK(e2.nmse <= 1e-12);
}

TEST_CASE("rope_qkv: fused q/k/v row, q in place, k and v into the caches at pos0 + t, in one dispatch") {
  auto& dev = test::device();
  for (const Shape& s : {Shape{16, 4, 2, 5, 3, 0, 1e4}, Shape{24, 6, 3, 7, 0, 0, 5e5}, Shape{64, 32, 8, 1, 0, 0, 5e5},
                         Shape{128, 8, 1, 17, 5, 0, 1e4}, Shape{64, 4, 4, 2, 0, 0, 1e4}})
    for (uint32_t G : {0u, 8u})  // G = 8: q/k heads stored permuted (needs d % 16 == 0)
    for (uint32_t pos0 : {0u, 29u}) {
      if (G > ops::rope_pair_group(s.d)) continue;
      INFO("d=" << s.d << " Hq=" << s.Hq << " Hkv=" << s.Hkv << " T=" << s.T << " pos0=" << pos0 << " G=" << G);
      const uint32_t ctx = pos0 + s.T + 2, ldc = s.Hkv * s.d;
      const uint32_t ld = (s.Hq + 2 * s.Hkv) * s.d + s.q_pad;  // q_pad: unused columns after v
      test::Buffers buf;
      auto inv_freq = inv_freq_for(s.d, s.theta);
      auto qkv = test::random_floats(size_t(s.T) * ld, s.d * 7 + s.T + pos0);
      // Column where a row's column c is stored: q and k heads permuted by rope_stored_row.
      auto stored = [&](uint32_t c) {
        return c < (s.Hq + s.Hkv) * s.d ? (c / s.d) * s.d + ops::rope_stored_row(c % s.d, s.d, G) : c;
      };
      std::vector<float> qkv_stored(qkv.size());
      for (uint32_t t = 0; t < s.T; ++t)
        for (uint32_t c = 0; c < ld; ++c) qkv_stored[size_t(t) * ld + stored(c)] = qkv[size_t(t) * ld + c];
      std::vector<uint32_t> params{pos0, 0, 0, 0};
      auto qkvb = buf.f32(qkv_stored);
      auto kc = buf.nan(size_t(ctx) * ldc), vc = buf.nan(size_t(ctx) * ldc);
      vk::Recorder rec(dev);
      ops::record_rope_qkv(rec, {.params = buf.u32(params), .table = buf.f32(ops::rope_table(inv_freq, ctx)), .qkv = qkvb,
                                 .ld_qkv = ld, .k_cache = kc, .v_cache = vc, .T = s.T, .H = s.Hq, .Hkv = s.Hkv, .d = s.d,
                                 .pair_group = G},
                           "rope_qkv");
      auto seq = rec.finish();
      CHECK(seq->dispatch_count() == 1);
      seq->run();
      // Split the input row into q and k parts (each with its own row stride) for the reference.
      auto part = [&](uint32_t col0, uint32_t width) {
        std::vector<float> p(size_t(s.T) * width);
        for (uint32_t t = 0; t < s.T; ++t)
          for (uint32_t c = 0; c < width; ++c) p[size_t(t) * width + c] = qkv[size_t(t) * ld + col0 + c];
        return p;
      };
      // Outputs read back in the unpermuted order (the key cache rows permuted as the k part of a row).
      auto got_stored = test::read_f32(qkvb, qkv.size());
      std::vector<float> got(got_stored.size());
      for (uint32_t t = 0; t < s.T; ++t)
        for (uint32_t c = 0; c < ld; ++c) got[size_t(t) * ld + c] = got_stored[size_t(t) * ld + stored(c)];
      std::vector<float> qgot(size_t(s.T) * s.Hq * s.d);
      bool rest_untouched = true;  // k, v and padding columns of the input rows stay as they were
      for (uint32_t t = 0; t < s.T; ++t)
        for (uint32_t c = 0; c < ld; ++c) {
          size_t i = size_t(t) * ld + c;
          if (c < s.Hq * s.d) qgot[size_t(t) * s.Hq * s.d + c] = got[i];
          else if (!same_bits(got[i], qkv[i])) rest_untouched = false;
        }
      auto eq = test::compare(qgot, rotated(part(0, s.Hq * s.d), s.T, s.Hq * s.d, s.Hq, s.d, inv_freq, pos0));
      CHECK_CLOSE_NMSE(eq, 1e-12);
      CHECK(eq.max_abs <= 1e-6);
      CHECK(rest_untouched);
      auto kgot_stored = test::read_f32(kc, size_t(ctx) * ldc), vgot = test::read_f32(vc, size_t(ctx) * ldc);
      std::vector<float> kgot(kgot_stored.size());
      for (uint32_t r = 0; r < ctx; ++r)
        for (uint32_t c = 0; c < ldc; ++c)
          kgot[size_t(r) * ldc + c] = kgot_stored[size_t(r) * ldc + stored(s.Hq * s.d + c) - s.Hq * s.d];
      std::vector<float> kwritten(kgot.begin() + size_t(pos0) * ldc, kgot.begin() + size_t(pos0 + s.T) * ldc);
      auto ek = test::compare(kwritten, rotated(part(s.Hq * s.d, ldc), s.T, ldc, s.Hkv, s.d, inv_freq, pos0));
      CHECK_CLOSE_NMSE(ek, 1e-12);
      CHECK(ek.max_abs <= 1e-6);
      auto v = part((s.Hq + s.Hkv) * s.d, ldc);
      bool others_nan = true, v_exact = true;
      for (uint32_t r = 0; r < ctx; ++r)
        for (uint32_t c = 0; c < ldc; ++c) {
          size_t i = size_t(r) * ldc + c;
          if (r < pos0 || r >= pos0 + s.T) {
            if (!std::isnan(kgot[i]) || !std::isnan(vgot[i])) others_nan = false;
          } else if (!same_bits(vgot[i], v[size_t(r - pos0) * ldc + c])) {
            v_exact = false;
          }
        }
      CHECK(others_nan);
      CHECK(v_exact);
    }
}
