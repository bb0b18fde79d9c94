// Matmul/matvec against the double-precision CPU reference on random data and odd shapes.
// Tolerance: weights are rounded to their storage dtype on the host and the reference uses the rounded
// values, so the only difference is f32 accumulation order: NMSE ~1e-13 for K <= 1024. We require
// NMSE <= 1e-10 and max |err| <= 1e-5 * (1 + max|ref|) — one wrong or unwritten element out of
// N >= 31 gives NMSE >= ~1e-3, far above the bound.
// The coopmat kernel multiplies f16 values (X, normalized first where RMSNorm is fused, and the weights are
// rounded to f16 as they are staged) and sums in f32: its cases use X that is already f16 values and a
// reference that reads the weights rounded the same way, so again only the summation order differs. With
// RMSNorm fused, the device's f32 1/rms and the reference's double one may round an X element to
// neighbouring halves: those cases allow NMSE 1e-8 and max |err| 1e-3 * (1 + max|ref|) (one element
// rounded apart moves an output by ~5e-4 of one product; one wrong output still gives NMSE >= ~1e-3).
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "ops/matmul.hpp"
#include "ops/rope.hpp"
#include "ops/op_util.hpp"

using namespace dlvk;

namespace {

// $DLVK_TEST_MATMUL_VARIANTS (comma-separated variant names, e.g. "matvec,matvec_wide,coopmat"): only those
// run, so that the ctest runs at other subgroup sizes (tests/ops/tests.cmake) compile and run just the
// kernels whose results depend on it. Unset: every variant.
const char* variant_filter() {
  static const char* filter = [] {
    const char* v = std::getenv("DLVK_TEST_MATMUL_VARIANTS");
    if (!v || !*v) return static_cast<const char*>(nullptr);
    std::string name;
    for (const char* c = v;; ++c) {  // every name must be a variant: a typo must not skip every case
      if (*c && *c != ',') {
        name += *c;
        continue;
      }
      bool known = false;
      for (auto k : {ops::MatmulVariant::tiled, ops::MatmulVariant::matvec, ops::MatmulVariant::subgroup_k, ops::MatmulVariant::rows,
                     ops::MatmulVariant::coopmat, ops::MatmulVariant::matvec_wide})
        known = known || name == ops::matmul_variant_name(k);
      if (!known) {
        std::fprintf(stderr, "DLVK_TEST_MATMUL_VARIANTS: '%s' is not a matmul variant\n", name.c_str());
        std::exit(2);
      }
      name.clear();
      if (!*c) break;
    }
    return v;
  }();
  return filter;
}

bool tested(ops::MatmulVariant variant) {
  const char* f = variant_filter();
  if (!f) return true;
  const std::string list = std::string(",") + f + ",";
  return list.find(std::string(",") + ops::matmul_variant_name(variant) + ",") != std::string::npos;
}

std::vector<ops::MatmulVariant> tested(std::initializer_list<ops::MatmulVariant> variants) {
  std::vector<ops::MatmulVariant> out;
  for (auto v : variants)
    if (tested(v)) out.push_back(v);
  return out;
}

// Whether `variant` runs the coopmat kernel (or its emulation) on the test device.
bool runs_coopmat(ops::MatmulVariant variant) {
  return variant == ops::MatmulVariant::coopmat && ops::coopmat_runs(test::device().caps());
}

// Values rounded to f16 (what the coopmat kernel stages).
template <typename T>
std::vector<T> f16_rounded(std::vector<T> v) {
  for (auto& f : v) f = T(f16_to_f32(f32_to_f16(float(f))));
  return v;
}

// Arguments of Y [M, ldy] = X [M, K] . W^T for `variant`: X uploaded, Y `y_floats` NaNs.
ops::MatmulArgs matmul_args(test::Buffers& buf, const ops::WeightMatrix& wm, const std::vector<float>& x, uint32_t M,
                            uint32_t ldy, size_t y_floats, ops::MatmulVariant variant) {
  ops::MatmulArgs a;
  a.x = buf.f32(x);
  a.ldx = wm.cols;
  a.w = &wm;
  a.y = buf.nan(y_floats);
  a.ldy = ldy;
  a.M = M;
  a.variant = variant;
  return a;
}

// Records and runs one matmul, then reads back the first `count` floats of Y.
std::vector<float> run_matmul(const ops::MatmulArgs& a, size_t count) {
  vk::Recorder rec(test::device());
  ops::record_matmul(rec, a, "matmul");
  rec.finish()->run();
  return test::read_f32(a.y, count);
}

// Runs Y = X W^T (+ bias) (+ y0 when accumulating) on the device with the output pre-filled with NaN
// (or y0) and returns Y [M, N].
std::vector<float> device_matmul(test::Buffers& buf, const ops::WeightMatrix& wm, const std::vector<float>& x,
                                 const std::vector<float>* bias, const std::vector<float>* y0, uint32_t M,
                                 ops::MatmulVariant variant) {
  const uint32_t N = wm.rows;
  ops::MatmulArgs a = matmul_args(buf, wm, x, M, N, size_t(M) * N, variant);
  if (bias) a.bias = buf.f32(*bias);
  if (y0) a.y = buf.f32(*y0);
  a.accumulate = y0 != nullptr;
  return run_matmul(a, size_t(M) * N);
}

// Whether the kernel fuses an op (GLU, RoPE) as the test expects; where it does not, recording must
// refuse rather than silently drop the op.
bool fuses_as_expected(const ops::MatmulArgs& a, bool fuses, bool expect) {
  CHECK(fuses == expect);
  if (!expect) {
    vk::Recorder rec(test::device());
    CHECK_THROWS_AS(ops::record_matmul(rec, a, "fused"), Error);
  }
  return expect;
}

// subgroup_k must run where the device can (not silently fall back to rows): K % 8 == 0 and subgroup
// arithmetic (the minimal profile has none and tests the fallback); coopmat and matvec_wide likewise.
void check_variant_runs(test::Buffers& buf, const ops::WeightMatrix& wm, uint32_t M, ops::MatmulVariant variant) {
  if (variant == ops::MatmulVariant::coopmat) {  // on every device with subgroup arithmetic and fp16 (lavapipe: emulated)
    ops::MatmulArgs a = matmul_args(buf, wm, std::vector<float>(size_t(M) * wm.cols), M, wm.rows, 1, variant);
    const auto& c = test::device().caps();
    CHECK(ops::resolve_matmul_variant(c, a) ==
          (c.subgroup_arithmetic && c.shader_float16 ? variant : ops::MatmulVariant::tiled));
  }
  if (variant == ops::MatmulVariant::matvec_wide) {  // where K is whole 16-byte loads (X rows: whole vec4s here)
    ops::MatmulArgs a = matmul_args(buf, wm, std::vector<float>(size_t(M) * wm.cols), M, wm.rows, 1, variant);
    const uint32_t elems = wm.quant != ops::Quant::none ? 32 : wm.dtype == DType::f32 ? 4 : 8;
    const bool can = wm.cols % elems == 0 && (M == 1 || wm.cols % 4 == 0);
    CHECK(ops::resolve_matmul_variant(test::device().caps(), a) == (can ? variant : ops::MatmulVariant::matvec));
  }
  if (variant != ops::MatmulVariant::subgroup_k) return;
  ops::MatmulArgs a = matmul_args(buf, wm, std::vector<float>(size_t(M) * wm.cols), M, wm.rows, 1, variant);
  const bool can = test::device().caps().subgroup_arithmetic && wm.cols % 8 == 0;
  CHECK(ops::resolve_matmul_variant(test::device().caps(), a) == (can ? variant : ops::MatmulVariant::rows));
}

void run_case(uint32_t M, uint32_t N, uint32_t K, DType dt, ops::MatmulVariant variant, bool bias, bool accumulate) {
  if (!tested(variant)) return;
  auto& dev = test::device();
  test::Buffers buf;
  uint64_t seed = M * 1000003ull + N * 1009ull + K * 7ull + uint64_t(dt) * 3 + bias;
  const bool coop = runs_coopmat(variant);
  auto x = test::random_floats(size_t(M) * K, seed);
  if (coop) x = f16_rounded(x);
  auto w = test::random_floats(size_t(N) * K, seed + 1);
  auto bvals = test::random_floats(N, seed + 2);
  auto y0 = test::random_floats(size_t(M) * N, seed + 3);
  auto bytes = test::encode(w, dt);
  auto wm = ops::upload_matrix(dev, buf.arena, dt, N, K, bytes.data(), "w");
  auto got = device_matmul(buf, wm, x, bias ? &bvals : nullptr, accumulate ? &y0 : nullptr, M, variant);
  if (coop) w = f16_rounded(w);
  auto ref = ref::matmul(x, w, bias ? std::span<const float>(bvals) : std::span<const float>(), M, N, K);
  if (accumulate)
    for (size_t i = 0; i < ref.size(); ++i) ref[i] += y0[i];
  auto e = test::compare(got, ref);
  INFO("M=" << M << " N=" << N << " K=" << K << " dtype=" << std::string(dlvk::name(dt)) << " variant=" << std::string(ops::matmul_variant_name(variant)));
  check_variant_runs(buf, wm, M, variant);
  CHECK_CLOSE_NMSE(e, 1e-10);
  CHECK(e.max_abs <= 1e-5 * (1 + e.max_ref));
}

}  // namespace

// The decode kernel choice on CPU devices (no device work: a copy of the capabilities with a made-up cache).
TEST_CASE("matmul: CPU decode splits K only for unquantized weights that outgrow the cache of a non-Intel host") {
  using CpuMatvec = vk::Capabilities::CpuMatvec;
  vk::Capabilities caps = test::device().caps();
  caps.cpu_matvec = CpuMatvec::by_residency;
  caps.host_cpu_vendor = "Intel";  // rows at every size there
  caps.host_llc_bytes = 1u << 20;
  CHECK_FALSE(ops::cpu_decode_splits_k(caps, 2u << 20, false));
  caps.host_cpu_vendor = "AMD";
  CHECK(ops::cpu_decode_splits_k(caps, 2u << 20, false));
  CHECK_FALSE(ops::cpu_decode_splits_k(caps, 512u << 10, false));
  CHECK_FALSE(ops::cpu_decode_splits_k(caps, 2u << 20, true));
  caps.host_llc_bytes = 0;  // unknown cache: assume streaming
  CHECK(ops::cpu_decode_splits_k(caps, 1, false));
  CHECK_FALSE(ops::cpu_decode_splits_k(caps, 1, true));
  caps.cpu_matvec = CpuMatvec::split_k;  // $DLVK_CPU_MATVEC overrides both ways
  CHECK(ops::cpu_decode_splits_k(caps, 1, true));
  caps.cpu_matvec = CpuMatvec::rows;
  CHECK_FALSE(ops::cpu_decode_splits_k(caps, 2u << 20, false));
}

TEST_CASE("matmul: odd shapes x dtypes x variants") {
  for (DType dt : {DType::f32, DType::f16, DType::bf16})
    for (uint32_t M : {1u, 3u, 17u, 64u, 129u})
      for (uint32_t N : {1u, 31u, 256u, 1000u})
        for (uint32_t K : {8u, 100u, 200u, 1024u}) {
          if (M > 17 && N == 1000 && K == 1024 && dt != DType::f32) continue;  // the f32 run covers the biggest shape
          if (K == 200 && N > 31) continue;  // 25 groups of 8: lanes with unequal shares of K
          run_case(M, N, K, dt, ops::MatmulVariant::tiled, (M + N) % 2 == 0, false);
          run_case(M, N, K, dt, ops::MatmulVariant::matvec, (M + N) % 2 == 1, false);
          run_case(M, N, K, dt, ops::MatmulVariant::matvec_wide, (M + N) % 2 == 0, (M + K) % 3 == 0);
          run_case(M, N, K, dt, ops::MatmulVariant::rows, (M + N + K) % 2 == 1, (M + K) % 3 == 0);
          run_case(M, N, K, dt, ops::MatmulVariant::subgroup_k, (M + N + K) % 2 == 0, (M + K) % 3 == 1);
          if (M > 1) run_case(M, N, K, dt, ops::MatmulVariant::coopmat, (M + N) % 2 == 1, (M + K) % 3 == 2);
        }
}

TEST_CASE("matmul: odd K for matvec (scalar path) and bias + accumulate") {
  for (DType dt : {DType::f32, DType::f16, DType::bf16})
    for (uint32_t K : {1u, 7u, 33u, 999u}) {
      run_case(1, 65, K, dt, ops::MatmulVariant::matvec, true, true);
      run_case(1, 65, K, dt, ops::MatmulVariant::matvec_wide, true, true);  // K % 4 != 0: falls back to matvec
      run_case(5, 65, K, dt, ops::MatmulVariant::tiled, true, true);
      run_case(5, 65, K, dt, ops::MatmulVariant::coopmat, true, true);
      run_case(9, 65, K, dt, ops::MatmulVariant::rows, true, true);  // K % 4 != 0: storage-buffer fallback
      run_case(9, 65, K, dt, ops::MatmulVariant::subgroup_k, true, true);  // K % 8 != 0: falls back to rows
    }
}

TEST_CASE("matmul: weights split into row chunks (small storage-buffer range)") {
  // 3000 x 2048 f32 = 24 MiB; with a forced 1 MiB binding limit this becomes many chunks.
  auto& dev = test::device();
  test::CapsOverride caps;
  caps->max_storage_buffer_range = 1 << 20;
  test::Buffers buf;
  uint32_t M = 3, N = 3000, K = 2048;
  auto x = test::random_floats(size_t(M) * K, 11);
  auto w = test::random_floats(size_t(N) * K, 12);
  auto bytes = test::encode(w, DType::f16);
  auto wm = ops::upload_matrix(dev, buf.arena, DType::f16, N, K, bytes.data(), "w");
  CHECK(wm.chunks.size() >= 10);
  for (auto variant : tested({ops::MatmulVariant::tiled, ops::MatmulVariant::matvec, ops::MatmulVariant::matvec_wide, ops::MatmulVariant::rows,
                       ops::MatmulVariant::subgroup_k, ops::MatmulVariant::coopmat})) {
    const auto xv = runs_coopmat(variant) ? f16_rounded(x) : x;  // w: f16 values already
    auto e = test::compare(device_matmul(buf, wm, xv, nullptr, nullptr, M, variant), ref::matmul(xv, w, {}, M, N, K));
    CHECK_CLOSE_NMSE(e, 1e-10);
  }
}

TEST_CASE("matmul: f16 weights at the ends of the half range (subnormals, smallest normals, 65504) decode exactly") {
  // The CPU-device kernels decode f16 by moving bits (times 2^-112, undone by scaling X and Y), not
  // with unpackHalf2x16: check every class of half per output, each row one class, against the bound
  // 1e-5 * sum |w| |x| of f32 accumulation (a flushed subnormal row would be off by ~10% of that sum).
  auto& dev = test::device();
  test::Buffers buf;
  const uint32_t N = 8, K = 64;
  std::vector<float> w(size_t(N) * K);
  auto rnd = test::random_floats(w.size(), 77);
  for (uint32_t k = 0; k < K; ++k) {
    const float sign = k % 3 == 0 ? -1.0f : 1.0f;
    w[0 * K + k] = sign * float(1 + 16 * k) * 0x1p-24f;          // subnormal halves
    w[1 * K + k] = sign * (1.0f + float(k) / 64.0f) * 0x1p-14f;  // smallest normals
    w[2 * K + k] = sign * (65504.0f - 32.0f * float(k));        // the largest halves
    w[3 * K + k] = k == 37 ? -3.0f : 0.0f;                      // zeros (and -0 below)
    w[4 * K + k] = k % 2 ? -0.0f : sign * std::ldexp(1.0f + std::abs(rnd[k]), -int(k % 28));
    for (uint32_t r = 5; r < N; ++r) w[r * K + k] = rnd[r * K + k];
  }
  auto bytes = test::encode(w, DType::f16);
  auto wm = ops::upload_matrix(dev, buf.arena, DType::f16, N, K, bytes.data(), "w");
  for (uint32_t M : {1u, 5u, 40u}) {
    // f16 values, so that the coopmat kernel's products are exact too
    auto x = f16_rounded(test::random_floats(size_t(M) * K, 78 + M));
    auto ref = ref::matmul(x, w, {}, M, N, K);
    for (auto variant : tested({ops::MatmulVariant::tiled, ops::MatmulVariant::matvec, ops::MatmulVariant::matvec_wide, ops::MatmulVariant::rows,
                         ops::MatmulVariant::subgroup_k, ops::MatmulVariant::coopmat})) {
      auto got = device_matmul(buf, wm, x, nullptr, nullptr, M, variant);
      for (uint32_t m = 0; m < M; ++m)
        for (uint32_t n = 0; n < N; ++n) {
          double bound = 0;
          for (uint32_t k = 0; k < K; ++k) bound += std::abs(double(w[n * K + k]) * x[m * K + k]);
          INFO("M=" << M << " row " << n << " of class " << std::min(n, 5u) << " variant " << std::string(ops::matmul_variant_name(variant)));
          CHECK(std::abs(got[m * N + n] - ref[m * N + n]) <= 1e-5 * bound + 1e-30);
        }
    }
  }
}

namespace {

// The quantization rule of ops::Quant, written again here from its definition: blocks of 32 along a
// row, f16 scale d (q8_0: max|x| / 127; q4_0: m / -8, m the value of largest magnitude), q = round(x / d)
// clamped to [-127, 127] / [-8, 7] (x / d in f32, halves away from zero); the kernels must use d * q.
std::vector<float> dequantized(const std::vector<float>& w, ops::Quant q) {
  std::vector<float> out(w.size());
  for (size_t b0 = 0; b0 < w.size(); b0 += 32) {
    float amax = 0, m = 0;
    for (size_t j = 0; j < 32; ++j)
      if (std::abs(w[b0 + j]) > amax) amax = std::abs(m = w[b0 + j]);
    float d = f16_to_f32(f32_to_f16(q == ops::Quant::q8_0 ? amax / 127.0f : m / -8.0f));
    for (size_t j = 0; j < 32; ++j) {
      double r = d == 0 ? 0 : std::round(w[b0 + j] / d);
      r = q == ops::Quant::q8_0 ? std::clamp(r, -127.0, 127.0) : std::clamp(r, -8.0, 7.0);
      out[b0 + j] = float(d * r);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("matmul: q8_0 and q4_0 weights (every variant) against the dequantized reference") {
  auto& dev = test::device();
  for (auto q : {ops::Quant::q8_0, ops::Quant::q4_0})
    for (auto variant : tested({ops::MatmulVariant::tiled, ops::MatmulVariant::matvec, ops::MatmulVariant::matvec_wide, ops::MatmulVariant::rows,
                         ops::MatmulVariant::subgroup_k, ops::MatmulVariant::coopmat}))
      for (uint32_t M : {1u, 5u, 17u, 40u})
        for (uint32_t N : {1u, 31u, 64u, 100u})  // 64: whole column blocks of every kernel
          for (uint32_t K : {32u, 96u, 288u, 1024u}) {
            INFO("quant=" << std::string(ops::quant_name(q)) << " variant=" << std::string(ops::matmul_variant_name(variant)) << " M=" << M << " N=" << N << " K=" << K);
            test::Buffers buf;
            uint64_t seed = M * 31ull + N * 7ull + K + uint64_t(q) * 1000;
            const bool coop = runs_coopmat(variant);
            auto x = test::random_floats(size_t(M) * K, seed);
            if (coop) x = f16_rounded(x);
            auto w = test::random_floats(size_t(N) * K, seed + 1);
            auto bvals = test::random_floats(N, seed + 2);
            auto bytes = test::encode(w, DType::f16);  // w now holds the f16 values, which get quantized
            const auto& w16 = w;
            auto wm = ops::upload_matrix(dev, buf.arena, DType::f16, N, K, bytes.data(), "w", q);
            REQUIRE(wm.quant == q);
            check_variant_runs(buf, wm, M, variant);
            auto got = device_matmul(buf, wm, x, &bvals, nullptr, M, variant);
            const auto wq = coop ? f16_rounded(dequantized(w16, q)) : dequantized(w16, q);
            auto e = test::compare(got, ref::matmul(x, wq, bvals, M, N, K));
            CHECK_CLOSE_NMSE(e, 1e-10);
            CHECK(e.max_abs <= 1e-5 * (1 + e.max_ref));
            // Against the unquantized weights: the quantization error is there, and (over enough
            // outputs to average) of the expected size: ~1e-5 (q8_0), ~1e-2 (q4_0) for these sums.
            auto eq = test::compare(got, ref::matmul(x, w16, bvals, M, N, K));
            CHECK(eq.nmse > 1e-9);
            if (M * N >= 100) CHECK(eq.nmse < (q == ops::Quant::q8_0 ? 2e-4 : 5e-2));
          }
}

TEST_CASE("matmul: quantization needs K % 32 == 0, else the matrix keeps its dtype") {
  test::Buffers buf;
  std::vector<float> w = test::random_floats(3 * 100, 5);
  auto bytes = test::encode(w, DType::f16);
  auto wm = ops::upload_matrix(test::device(), buf.arena, DType::f16, 3, 100, bytes.data(), "w", ops::Quant::q4_0);
  CHECK(wm.quant == ops::Quant::none);
  CHECK(wm.bytes() == 3 * 100 * 2);
}

TEST_CASE("matmul: RMSNorm fused into every kernel against rmsnorm-then-matmul") {
  auto& dev = test::device();
  const float eps = 1e-5f;
  for (auto variant : tested({ops::MatmulVariant::rows, ops::MatmulVariant::subgroup_k, ops::MatmulVariant::matvec, ops::MatmulVariant::matvec_wide,
                       ops::MatmulVariant::tiled, ops::MatmulVariant::coopmat}))
    for (auto [dt, q] : {std::pair{DType::f32, ops::Quant::none}, std::pair{DType::f16, ops::Quant::none},
                         std::pair{DType::f16, ops::Quant::q8_0}})
      for (uint32_t M : {1u, 5u, 17u, 40u})
        for (uint32_t N : {31u, 100u})
          for (uint32_t K : {96u, 99u, 100u, 1024u}) {
            if (q != ops::Quant::none && K % 32) continue;
            INFO("variant=" << std::string(ops::matmul_variant_name(variant)) << " dtype=" << std::string(dlvk::name(dt)) << " quant=" << std::string(ops::quant_name(q))
                            << " M=" << M << " N=" << N << " K=" << K);
            test::Buffers buf;
            uint64_t seed = M * 131ull + N * 17ull + K + uint64_t(dt) * 7 + uint64_t(q) * 1000;
            auto x = test::random_floats(size_t(M) * K, seed);
            for (size_t i = 0; i < K; ++i) x[i] *= 40.0f;  // rows of different scale: the norm matters
            auto w = test::random_floats(size_t(N) * K, seed + 1);
            auto g = test::random_floats(K, seed + 2);
            auto bytes = test::encode(w, dt);  // w now holds the stored values
            auto wm = ops::upload_matrix(dev, buf.arena, dt, N, K, bytes.data(), "w", q);
            std::vector<float> wref = w;
            if (q != ops::Quant::none) wref = dequantized(w, q);
            const bool coop = runs_coopmat(variant);
            if (coop) wref = f16_rounded(wref);
            ops::MatmulArgs a = matmul_args(buf, wm, x, M, N, size_t(M) * N, variant);
            a.norm_weight = buf.f32(g);
            a.norm_eps = eps;
            auto got = run_matmul(a, size_t(M) * N);
            auto xn = ref::rmsnorm(x, g, M, K, eps);
            if (coop) xn = f16_rounded(xn);
            std::vector<double> ref(size_t(M) * N);
            for (uint32_t m = 0; m < M; ++m)
              for (uint32_t n = 0; n < N; ++n) {
                double s = 0;
                for (uint32_t k = 0; k < K; ++k) s += xn[size_t(m) * K + k] * wref[size_t(n) * K + k];
                ref[size_t(m) * N + n] = s;
              }
            auto e = test::compare(got, ref);
            CHECK_CLOSE_NMSE(e, coop ? 1e-8 : 1e-10);
            CHECK(e.max_abs <= (coop ? 1e-3 : 1e-5) * (1 + e.max_ref));
          }
}

namespace {

// A gate/up projection interleaved in groups of G as the model stores it, written from its definition:
// G gate rows, then the same G up rows, then the next G gate rows... (rows = 2 I).
std::vector<float> interleave_gate_up(const std::vector<float>& gate, const std::vector<float>& up, uint32_t I,
                                      uint32_t K, uint32_t G) {
  std::vector<float> w;
  for (uint32_t c0 = 0; c0 < I; c0 += G)
    for (const auto* part : {&gate, &up})
      w.insert(w.end(), part->begin() + size_t(c0) * K, part->begin() + size_t(c0 + G) * K);
  return w;
}

}  // namespace

TEST_CASE("matmul: GLU fused into matvec, subgroup_k, rows, tiled and coopmat against the product then act(gate) * up") {
  auto& dev = test::device();
  const float eps = 1e-5f;
  int fused_cases = 0;
  for (auto variant : tested({ops::MatmulVariant::matvec, ops::MatmulVariant::matvec_wide, ops::MatmulVariant::subgroup_k, ops::MatmulVariant::rows,
                       ops::MatmulVariant::tiled, ops::MatmulVariant::coopmat}))
    for (uint32_t G : {1u, 8u})
      for (auto [dt, q] : {std::pair{DType::f16, ops::Quant::none}, std::pair{DType::f32, ops::Quant::none},
                           std::pair{DType::f16, ops::Quant::q8_0}})
        for (uint32_t M : {1u, 3u, 17u, 40u})
          for (auto [I, K] : {std::pair{8u, 64u}, {40u, 200u}, {24u, 100u}, {136u, 96u}}) {
            if (q != ops::Quant::none && K % 32) continue;
            const bool gelu = (M + I) % 2 == 1, bias = (K + G) % 3 == 0, norm = M != 3;
            INFO("variant=" << std::string(ops::matmul_variant_name(variant)) << " G=" << G << " dtype=" << std::string(dlvk::name(dt)) << " quant="
                            << std::string(ops::quant_name(q)) << " M=" << M << " I=" << I << " K=" << K << " gelu=" << gelu
                            << " bias=" << bias << " norm=" << norm);
            test::Buffers buf;
            const uint64_t seed = M * 7919ull + I * 31ull + K + G * 5 + uint64_t(q) * 100;
            const bool coop = runs_coopmat(variant);
            auto x = test::random_floats(size_t(M) * K, seed);
            if (coop) x = f16_rounded(x);
            auto gate = test::random_floats(size_t(I) * K, seed + 1, 2.0f), up = test::random_floats(size_t(I) * K, seed + 2);
            auto bg = test::random_floats(I, seed + 3), bu = test::random_floats(I, seed + 4);
            auto g = test::random_floats(K, seed + 5);
            auto w = interleave_gate_up(gate, up, I, K, G);
            auto b = interleave_gate_up(bg, bu, I, 1, G);
            auto bytes = test::encode(w, dt);  // w now holds the stored values
            auto wm = ops::upload_matrix(dev, buf.arena, dt, 2 * I, K, bytes.data(), "gate_up", q);
            std::vector<float> wref = q != ops::Quant::none ? dequantized(w, q) : w;
            if (coop) wref = f16_rounded(wref);
            // + 64: nothing may be written past the I columns of M rows.
            ops::MatmulArgs a = matmul_args(buf, wm, x, M, I, size_t(M) * I + 64, variant);
            if (bias) a.bias = buf.f32(b);
            if (norm) {
              a.norm_weight = buf.f32(g);
              a.norm_eps = eps;
            }
            a.glu = gelu ? ops::Glu::gelu : ops::Glu::silu;
            a.glu_group = G;
            // Which kernels fuse it: matvec always, subgroup_k its 16 / 32 columns, rows groups of 8 when K % 8 == 0,
            // tiled groups of 8.
            const auto resolved = ops::resolve_matmul_variant(dev.caps(), a);
            const bool expect = resolved == ops::MatmulVariant::matvec || resolved == ops::MatmulVariant::matvec_wide ||
                                resolved == ops::MatmulVariant::subgroup_k ||
                                (resolved == ops::MatmulVariant::rows && G == 8 && K % 8 == 0) ||
                                ((resolved == ops::MatmulVariant::tiled || resolved == ops::MatmulVariant::coopmat) && G == 8);
            if (!fuses_as_expected(a, ops::matmul_fuses_glu(dev.caps(), a), expect)) continue;
            ++fused_cases;
            auto got = run_matmul(a, size_t(M) * I + 64);
            std::vector<double> xn = norm ? ref::rmsnorm(x, g, M, K, eps) : std::vector<double>(x.begin(), x.end());
            if (coop) xn = f16_rounded(xn);
            // Reference from the unpermuted halves: dequantized rows mapped back by the same definition.
            std::vector<double> ref(size_t(M) * I);
            for (uint32_t m = 0; m < M; ++m)
              for (uint32_t c = 0; c < I; ++c) {
                const size_t gr = size_t(c / G) * 2 * G + c % G, ur = gr + G;
                double sg = bias ? bg[c] : 0.0, su = bias ? bu[c] : 0.0;
                for (uint32_t k = 0; k < K; ++k) {
                  sg += xn[size_t(m) * K + k] * wref[gr * K + k];
                  su += xn[size_t(m) * K + k] * wref[ur * K + k];
                }
                ref[size_t(m) * I + c] = (gelu ? ref::gelu(sg) : ref::silu(sg)) * su;
              }
            auto e = test::compare(std::span<const float>(got).first(size_t(M) * I), ref);
            CHECK_CLOSE_NMSE(e, coop && norm ? 1e-8 : 1e-10);
            CHECK(e.max_abs <= (coop && norm ? 1e-3 : 1e-5) * (1 + e.max_ref));
            bool tail_nan = true;
            for (size_t i = size_t(M) * I; i < got.size(); ++i) tail_nan = tail_nan && std::isnan(got[i]);
            CHECK(tail_nan);
          }
  CHECK(fused_cases >= (variant_filter() ? 1 : 100));
}

TEST_CASE("matmul: GLU fused across weight chunks (small storage-buffer range)") {
  // 2 x 40 rows of 64 f16 values (144 bytes a row with padding room): 4 KiB chunks hold 16 rows, so the
  // gate/up groups of 16 rows stay whole and each chunk writes its own 8 output columns.
  auto& dev = test::device();
  test::CapsOverride caps;
  caps->max_storage_buffer_range = 4096;
  const uint32_t I = 40, K = 64, G = 8;
  for (auto variant : tested({ops::MatmulVariant::matvec, ops::MatmulVariant::matvec_wide, ops::MatmulVariant::subgroup_k, ops::MatmulVariant::rows,
                       ops::MatmulVariant::tiled, ops::MatmulVariant::coopmat}))
    for (uint32_t M : {1u, 5u}) {
      INFO("variant=" << std::string(ops::matmul_variant_name(variant)) << " M=" << M);
      test::Buffers buf;
      auto x = test::random_floats(size_t(M) * K, 70 + M);
      if (runs_coopmat(variant)) x = f16_rounded(x);
      auto gate = test::random_floats(size_t(I) * K, 71), up = test::random_floats(size_t(I) * K, 72);
      test::encode(gate, DType::f16);  // rounded to the stored values, as the reference below reads them
      test::encode(up, DType::f16);
      auto w = interleave_gate_up(gate, up, I, K, G);
      auto bytes = test::encode(w, DType::f16);
      auto wm = ops::upload_matrix(dev, buf.arena, DType::f16, 2 * I, K, bytes.data(), "gate_up");
      REQUIRE(wm.chunks.size() == 5);
      ops::MatmulArgs a = matmul_args(buf, wm, x, M, I, size_t(M) * I, variant);
      a.glu = ops::Glu::silu;
      a.glu_group = G;
      REQUIRE(ops::matmul_fuses_glu(dev.caps(), a));
      auto got = run_matmul(a, size_t(M) * I);
      std::vector<double> ref(size_t(M) * I), wrong(size_t(M) * I);
      for (uint32_t m = 0; m < M; ++m)
        for (uint32_t c = 0; c < I; ++c) {
          double sg = 0, su = 0;
          for (uint32_t k = 0; k < K; ++k) {
            sg += double(x[size_t(m) * K + k]) * gate[size_t(c) * K + k];
            su += double(x[size_t(m) * K + k]) * up[size_t(c) * K + k];
          }
          ref[size_t(m) * I + c] = ref::silu(sg) * su;
          wrong[size_t(m) * I + c] = ref::silu(su) * sg;  // gate and up swapped: must not pass
        }
      auto e = test::compare(got, ref);
      CHECK_CLOSE_NMSE(e, 1e-10);
      CHECK(test::compare(got, wrong).nmse > 1e-2);
    }
}

TEST_CASE("rope_stored_row: a permutation of each head with rotation pairs 8 apart in groups of 16") {
  for (uint32_t d : {16u, 32u, 64u, 128u}) {
    std::vector<int> seen(d, 0);
    for (uint32_t c = 0; c < d; ++c) seen[ops::rope_stored_row(c, d, 8)]++;
    CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
    for (uint32_t j = 0; j < d / 2; ++j) {
      const uint32_t a = ops::rope_stored_row(j, d, 8);
      CHECK(ops::rope_stored_row(j + d / 2, d, 8) == a + 8);
      CHECK(a % 16 < 8);
    }
  }
  CHECK(ops::rope_pair_group(24) == 0);
  CHECK(ops::rope_stored_row(5, 24, 0) == 5);
}

TEST_CASE("matmul: RoPE and the KV-cache write fused into the q/k/v projection (matvec, subgroup_k, rows, tiled, coopmat)") {
  // Against the double reference of the unfused chain: the product with the unpermuted weights, RMSNorm
  // and bias, then ref::rope_head per q/k head at pos0 + m; values copied. Device results are read back
  // through the same permutation (rope_stored_row). Everything the op must not write stays NaN: Y's k/v
  // columns and the cache rows outside pos0 .. pos0 + M - 1. Tolerance as for the plain products.
  auto& dev = test::device();
  const float eps = 1e-5f;
  int fused_cases = 0;
  struct Heads {
    uint32_t H, Hkv, d, K;
  };
  for (auto variant : tested({ops::MatmulVariant::matvec, ops::MatmulVariant::matvec_wide, ops::MatmulVariant::subgroup_k, ops::MatmulVariant::rows,
                       ops::MatmulVariant::tiled, ops::MatmulVariant::coopmat}))
    for (auto [dt, q] : {std::pair{DType::f16, ops::Quant::none}, std::pair{DType::f32, ops::Quant::none},
                         std::pair{DType::f16, ops::Quant::q8_0}})
      for (uint32_t M : {1u, 3u, 40u})
        for (const Heads hs : {Heads{4, 2, 16, 64}, Heads{2, 1, 64, 96}, Heads{2, 2, 32, 40}})
          for (bool chunked : {false, true}) {
            const auto [H, Hkv, d, K] = hs;
            if ((q != ops::Quant::none && K % 32) || (chunked && (d != 16 || M == 40 || dt != DType::f16 || q != ops::Quant::none)))
              continue;
            const bool bias = (M + d) % 2 == 1, norm = M != 3;
            const uint32_t N = (H + 2 * Hkv) * d, ldc = Hkv * d, pos0 = M == 1 ? 7 : 2, ctx = pos0 + M + 2;
            INFO("variant=" << std::string(ops::matmul_variant_name(variant)) << " dtype=" << std::string(dlvk::name(dt)) << " quant="
                            << std::string(ops::quant_name(q)) << " M=" << M << " H=" << H << " Hkv=" << Hkv << " d=" << d << " K=" << K << " bias=" << bias
                            << " norm=" << norm << " chunked=" << chunked);
            std::optional<test::CapsOverride> caps;
            if (chunked) {
              caps.emplace();
              (*caps)->max_storage_buffer_range = 4096;  // chunks of 16 rows of 64 f16
            }
            test::Buffers buf;
            const uint64_t seed = M * 7919ull + d * 31ull + K + uint64_t(q) * 100 + uint64_t(dt);
            const bool coop = runs_coopmat(variant);
            auto x = test::random_floats(size_t(M) * K, seed);
            if (coop) x = f16_rounded(x);
            auto w = test::random_floats(size_t(N) * K, seed + 1), bstored = test::random_floats(N, seed + 2);
            auto g = test::random_floats(K, seed + 3);
            // Stored row of output column r (q and k heads permuted).
            auto P = [&](uint32_t r) { return r < (H + Hkv) * d ? (r / d) * d + ops::rope_stored_row(r % d, d, 8) : r; };
            auto bytes = test::encode(w, dt);  // w: stored (permuted) rows, rounded
            auto wm = ops::upload_matrix(dev, buf.arena, dt, N, K, bytes.data(), "qkv", q);
            if (chunked) REQUIRE(wm.chunks.size() >= 2);
            std::vector<float> wref = q != ops::Quant::none ? dequantized(w, q) : w;
            if (coop) wref = f16_rounded(wref);
            std::vector<float> inv_freq(d / 2);
            for (uint32_t i = 0; i < d / 2; ++i) inv_freq[i] = float(std::pow(1e4, -2.0 * i / double(d)));
            ops::MatmulArgs a = matmul_args(buf, wm, x, M, N, size_t(M) * N, variant);
            if (bias) a.bias = buf.f32(bstored);
            if (norm) {
              a.norm_weight = buf.f32(g);
              a.norm_eps = eps;
            }
            auto kc = buf.nan(size_t(ctx) * ldc), vc = buf.nan(size_t(ctx) * ldc);
            a.rope = ops::MatmulArgs::QkvRope{.params = buf.u32(std::vector<uint32_t>{pos0, 0, 0, 0}),
                                              .table = buf.f32(ops::rope_table(inv_freq, ctx)),
                                              .k_cache = kc, .v_cache = vc, .H = H, .Hkv = Hkv, .d = d};
            // matvec and tiled always fuse; subgroup_k (16 / 32 columns) and rows where they bind texel buffers.
            const auto resolved = ops::resolve_matmul_variant(dev.caps(), a);
            bool texel = vk::texel_bindable(dev.caps(), a.x) && (!norm || vk::texel_bindable(dev.caps(), a.norm_weight));
            for (const auto& c : wm.chunks) texel = texel && vk::texel_bindable(dev.caps(), c.slice);
            const bool expect = resolved == ops::MatmulVariant::matvec || resolved == ops::MatmulVariant::matvec_wide ||
                                resolved == ops::MatmulVariant::tiled ||
                                resolved == ops::MatmulVariant::coopmat || texel;
            if (!fuses_as_expected(a, ops::matmul_fuses_rope(dev.caps(), a), expect)) continue;
            ++fused_cases;
            auto y = run_matmul(a, size_t(M) * N);
            auto kgot = test::read_f32(kc, size_t(ctx) * ldc), vgot = test::read_f32(vc, size_t(ctx) * ldc);
            std::vector<double> xn = norm ? ref::rmsnorm(x, g, M, K, eps) : std::vector<double>(x.begin(), x.end());
            if (coop) xn = f16_rounded(xn);
            std::vector<float> qgot, kgot_m, vgot_m;
            std::vector<double> qref, kref, vref;
            bool untouched_nan = true;
            for (uint32_t m = 0; m < M; ++m) {
              std::vector<double> row(N);
              for (uint32_t r = 0; r < N; ++r) {
                double sum = bias ? bstored[P(r)] : 0.0;
                for (uint32_t k = 0; k < K; ++k) sum += xn[size_t(m) * K + k] * wref[size_t(P(r)) * K + k];
                row[r] = sum;
              }
              for (uint32_t h = 0; h < H + Hkv; ++h)
                ref::rope_head(std::span<double>(row).subspan(size_t(h) * d, d), inv_freq, pos0 + m);
              for (uint32_t r = 0; r < N; ++r) {
                const size_t c = size_t(pos0 + m) * ldc;
                if (r < H * d) {
                  qgot.push_back(y[size_t(m) * N + P(r)]);
                  qref.push_back(row[r]);
                } else {
                  untouched_nan = untouched_nan && std::isnan(y[size_t(m) * N + r]);
                  if (r < (H + Hkv) * d) {
                    kgot_m.push_back(kgot[c + P(r) - H * d]);
                    kref.push_back(row[r]);
                  } else {
                    vgot_m.push_back(vgot[c + r - (H + Hkv) * d]);
                    vref.push_back(row[r]);
                  }
                }
              }
            }
            for (uint32_t r = 0; r < ctx; ++r)
              if (r < pos0 || r >= pos0 + M)
                for (uint32_t c = 0; c < ldc; ++c)
                  untouched_nan = untouched_nan && std::isnan(kgot[size_t(r) * ldc + c]) && std::isnan(vgot[size_t(r) * ldc + c]);
            CHECK(untouched_nan);
            for (auto [got, ref] : {std::pair{&qgot, &qref}, {&kgot_m, &kref}, {&vgot_m, &vref}}) {
              auto e = test::compare(*got, *ref);
              CHECK_CLOSE_NMSE(e, coop && norm ? 1e-8 : 1e-10);
              CHECK(e.max_abs <= (coop && norm ? 1e-3 : 1e-5) * (1 + e.max_ref));
            }
          }
  CHECK(fused_cases >= (variant_filter() ? 1 : 70));
}
