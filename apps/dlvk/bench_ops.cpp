// dlvk bench-ops: GPU time of each kernel family at model-like shapes, from timestamp queries.
//   dlvk bench-ops [-r REPS] [--warmup N] [--max-seconds S] [--filter SUBSTR] [--json] [--device N] [--profile P]
// Each case records its dispatches once (Recorder with profiling), replays the Sequence `warmup` times,
// then `reps` times, and reports the median and minimum of the summed per-dispatch GPU times
// (Sequence::timings()). Rates use the median:
//   GFLOP/s = counted flops / time. Matmul: 2*M*N*K (bias/accumulate ignored). RMSNorm: 4 per element
//             (square, sum, scale, weight). RoPE: 6 per rotated pair. Attention: 12*d per (query, head
//             pair, visible key): 2 q.k dots of d (2 flops each) + 2 maps x 2d-wide value accumulation;
//             softmax exp/max and the final norm are not counted. Element-wise and embedding: memory-bound,
//             no flop rate.
//   GB/s    = compulsory bytes / time: every input read once and every output written once, weights in
//             their stored dtype, activations f32; attention reads each visible K/V row once (the real
//             kernel may re-read K/V per head pair; that traffic is not counted), plus q and the output
//             (and split partials written and read back; the two-pass baseline also writes and reads
//             back both maps' outputs).
// A CPU implementation (lavapipe) gives low numbers; they still compare kernel variants. Validation
// layers are off unless DLVK_VALIDATION=1.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "dlvk/dtype.hpp"
#include "dlvk/error.hpp"
#include "ops/attention_two_pass.hpp"
#include "ops/diff_attention.hpp"
#include "ops/elementwise.hpp"
#include "ops/matmul.hpp"
#include "ops/rmsnorm.hpp"
#include "ops/rope.hpp"
#include "ops/weights.hpp"
#include "vk/device.hpp"
#include "vk/memory.hpp"
#include "vk/recorder.hpp"

namespace {

using namespace dlvk;

struct Options {
  int reps = 5;
  int warmup = 2;
  double max_seconds = 2.0;
  std::string filter;
  bool json = false;
  int device = -1;
  std::string profile;
};

// Cheap deterministic values in [-1, 1) (xorshift): multi-megabyte weights fill in milliseconds.
std::vector<float> pseudo_random(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& f : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f = float(int32_t(uint32_t(x >> 32))) * (1.0f / 2147483648.0f);
  }
  return v;
}

std::vector<uint8_t> encode(const std::vector<float>& v, DType dt) {
  std::vector<uint8_t> out(v.size() * size_of(dt));
  for (size_t i = 0; i < v.size(); ++i) store_as(dt, v[i], &out[i * size_of(dt)]);
  return out;
}


struct Row {
  std::string op, variant, shape;
  double flops = 0, bytes = 0;
  std::string name() const { return op + " " + variant + " " + shape; }
};

struct Timing {
  double median = 0, min = 0;  // ms
};

class Bench {
 public:
  Bench(vk::Device& dev, const Options& o) : dev_(dev), o_(o) {}

  bool wanted(const Row& r) const { return o_.filter.empty() || r.name().find(o_.filter) != std::string::npos; }
  vk::Device& device() { return dev_; }
  int cases() const { return cases_; }

  using RecordFn = std::function<void(vk::Recorder&)>;
  // Records `record` once with profiling, replays it, prints one line; returns the median ms.
  double measure(const Row& row, const RecordFn& record) { return measure_interleaved({{row, record}})[0].median; }

  // The same for several cases whose times are compared: their reps alternate (case 1, 2, ..., 1, 2, ...)
  // so that a slow phase of a noisy machine hits all of them alike.
  std::vector<Timing> measure_interleaved(const std::vector<std::pair<Row, RecordFn>>& cases) {
    using clock = std::chrono::steady_clock;
    struct Case {
      std::unique_ptr<vk::Sequence> seq;
      std::vector<double> times, walls;
    };
    std::vector<Case> cs;
    double slowest_wall = 0;
    for (const auto& [row, record] : cases) {
      vk::Recorder rec(dev_, /*profile=*/true);
      record(rec);
      Case c{rec.finish(), {}, {}};
      // (The first run can include the driver's lazy shader compiles, so the rep count is planned from
      // the last warm-up run.)
      double wall = 0;
      for (int i = 0; i < std::max(1, o_.warmup); ++i) {
        auto t0 = clock::now();
        c.seq->run();
        wall = std::chrono::duration<double>(clock::now() - t0).count();
      }
      slowest_wall = std::max(slowest_wall, wall);
      cs.push_back(std::move(c));
    }
    // Fewer reps where one run is slow, so the whole benchmark stays within a few minutes.
    int reps = std::max(1, o_.reps);
    if (o_.max_seconds > 0 && slowest_wall > 0)
      reps = std::clamp(int(o_.max_seconds / (slowest_wall * double(cs.size()))), 1, reps);
    for (int i = 0; i < reps; ++i)
      for (auto& c : cs) {
        auto t0 = clock::now();
        c.seq->run();
        c.walls.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
        double gpu = 0;
        for (const auto& t : c.seq->timings()) gpu += t.ms;
        c.times.push_back(c.seq->profiled() ? gpu : c.walls.back());
      }
    std::vector<Timing> out;
    for (size_t k = 0; k < cs.size(); ++k) out.push_back(report(cases[k].first, *cs[k].seq, cs[k].times, cs[k].walls));
    return out;
  }

 private:
  Timing report(const Row& row, const vk::Sequence& seq, std::vector<double> times, std::vector<double> walls) {
    const int reps = int(times.size());
    std::sort(times.begin(), times.end());
    std::sort(walls.begin(), walls.end());
    double med = times[times.size() / 2], mn = times.front(), wall = walls[walls.size() / 2];
    double gflops = row.flops > 0 && med > 0 ? row.flops / (med * 1e6) : 0;
    double gbps = med > 0 ? row.bytes / (med * 1e6) : 0;
    ++cases_;
    if (o_.json) {
      nlohmann::ordered_json j{{"op", row.op},
                       {"variant", row.variant},
                       {"shape", row.shape},
                       {"reps", reps},
                       {"dispatches", seq.dispatch_count()},
                       {"gpu_ms", med},
                       {"gpu_ms_min", mn},
                       {"wall_ms", wall},
                       {"timer", seq.profiled() ? "timestamps" : "wall"},
                       {"flops", row.flops},
                       {"bytes", row.bytes},
                       {"gflops", row.flops > 0 ? nlohmann::ordered_json(gflops) : nlohmann::ordered_json(nullptr)},
                       {"gbps", gbps},
                       {"device", dev_.caps().device_name},
                       {"profile", dev_.caps().profile}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%-15s %-12s %-32s %4d %3u %10.3f %10.3f %9s %8.2f\n", row.op.c_str(), row.variant.c_str(),
                  row.shape.c_str(), reps, seq.dispatch_count(), med, mn,
                  row.flops > 0 ? fmt::format("{:.2f}", gflops).c_str() : "-", gbps);
    }
    std::fflush(stdout);
    return {med, mn};
  }

 public:


  // One line comparing two measured variants of the same op (speed-up = baseline ms / fused ms).
  // Medians and minima of both; the speed-up of each.
  void compare(const std::string& variant, const std::string& shape, Timing fused, Timing two_pass) {
    const double speedup = two_pass.median / fused.median, speedup_min = two_pass.min / fused.min;
    if (o_.json) {
      nlohmann::ordered_json j{{"op", "diff_attention_vs_two_pass"}, {"variant", variant},     {"shape", shape},
                               {"fused_ms", fused.median},          {"two_pass_ms", two_pass.median}, {"speedup", speedup},
                               {"fused_min_ms", fused.min},         {"two_pass_min_ms", two_pass.min},
                               {"speedup_min", speedup_min},
                               {"device", dev_.caps().device_name}, {"profile", dev_.caps().profile}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("# fused vs two-pass %-12s %-32s fused %.3f ms, two-pass %.3f ms: %.2fx (minima %.3f / %.3f: %.2fx)\n",
                  variant.c_str(), shape.c_str(), fused.median, two_pass.median, speedup, fused.min, two_pass.min,
                  speedup_min);
    }
    std::fflush(stdout);
  }

 private:
  vk::Device& dev_;
  const Options& o_;
  int cases_ = 0;
};

// ---- cases -----------------------------------------------------------------------------------------

void bench_matmul(Bench& b) {
  struct Shape {
    uint32_t N, K;
  };
  const Shape shapes[] = {{2048, 2048}, {8192, 2048}, {2048, 8192}, {32000, 512}};  // q/o proj; gate/up; down; S lm_head
  struct Format {
    DType dt;
    ops::Quant quant;
    const char* label;
  };
  const Format formats[] = {{DType::f32, ops::Quant::none, "f32"}, {DType::f16, ops::Quant::none, "f16"},
                            {DType::bf16, ops::Quant::none, "bf16"}, {DType::f16, ops::Quant::q8_0, "q8_0"},
                            {DType::f16, ops::Quant::q4_0, "q4_0"}};
  // Cooperative matrices only where the device has them (their emulation's speed means nothing).
  const bool coopmat = b.device().caps().cooperative_matrix();
  for (uint32_t M : {1u, 128u})
    for (int kind = 0; kind < 5; ++kind)
    for (const Format& f : formats)
      for (const auto& s : shapes) {
        // GPU kernels (matvec for M=1, tiled otherwise; coopmat; matvec_wide), the CPU devices' two kernels.
        if ((kind == 3 && (M == 1 || !coopmat)) || (kind == 4 && M != 1)) continue;
        const bool gpu = kind == 0;
        ops::MatmulVariant variant = gpu ? (M == 1 ? ops::MatmulVariant::matvec : ops::MatmulVariant::tiled)
                                         : kind == 1 ? ops::MatmulVariant::subgroup_k
                                         : kind == 2 ? ops::MatmulVariant::rows
                                         : kind == 3 ? ops::MatmulVariant::coopmat : ops::MatmulVariant::matvec_wide;
        std::string op = gpu ? (M == 1 ? "matvec" : "matmul.tiled")
                             : kind == 3 ? "matmul.coopmat"
                             : kind == 4 ? "matvec.wide"
                             : std::string(M == 1 ? "matvec." : "matmul.") + (kind == 1 ? "subgroup_k" : "rows");
        Row r{op, f.label, fmt::format("M={} N={} K={}", M, s.N, s.K)};
        r.flops = 2.0 * M * s.N * s.K;
        r.bytes = double(s.N) * ops::stored_row_bytes(f.dt, f.quant, s.K) + 4.0 * M * s.K + 4.0 * M * s.N;
        if (!b.wanted(r)) continue;
        vk::Arena arena(b.device(), vk::MemoryKind::device, 64ull << 20, "bench");
        auto w = ops::upload_matrix(b.device(), arena, f.dt, s.N, s.K,
                                    encode(pseudo_random(size_t(s.N) * s.K, s.N + s.K), f.dt).data(), "w", f.quant);
        auto x = ops::upload_f32(b.device(), arena, pseudo_random(size_t(M) * s.K, 7), "x");
        auto y = arena.allocate(size_t(M) * s.N * 4, "y");
        b.measure(r, [&](vk::Recorder& rec) {
          ops::MatmulArgs a;
          a.x = x;
          a.ldx = s.K;
          a.w = &w;
          a.y = y;
          a.ldy = s.N;
          a.M = M;
          a.variant = variant;
          ops::record_matmul(rec, a, "matmul");
        });
      }
}

void bench_rmsnorm(Bench& b) {
  const uint32_t n = 2048;
  for (uint32_t rows : {1u, 128u})
    for (bool residual : {false, true}) {
      Row r{"rmsnorm", residual ? "residual" : "plain", fmt::format("rows={} n={}", rows, n)};
      r.flops = 4.0 * rows * n + (residual ? rows * n : 0);
      r.bytes = 4.0 * rows * n * (residual ? 4 : 2) + 4.0 * n;  // residual: x, res read; x, out written
      if (!b.wanted(r)) continue;
      vk::Arena arena(b.device(), vk::MemoryKind::device, 16ull << 20, "bench");
      auto x = ops::upload_f32(b.device(), arena, pseudo_random(size_t(rows) * n, 1), "x");
      auto res = ops::upload_f32(b.device(), arena, pseudo_random(size_t(rows) * n, 2), "res");
      auto w = ops::upload_f32(b.device(), arena, pseudo_random(n, 3), "w");
      auto out = arena.allocate(size_t(rows) * n * 4, "out");
      b.measure(r, [&](vk::Recorder& rec) {
        ops::RmsNormArgs a;
        a.x = x;
        a.ldx = n;
        if (residual) a.residual = res;
        a.weight = w;
        a.out = out;
        a.ldo = n;
        a.rows = rows;
        a.n = n;
        ops::record_rmsnorm(rec, a, "rmsnorm");
      });
    }
}

void bench_rope(Bench& b) {
  const uint32_t H = 32, Hkv = 8, d = 64, ctx = 4096;
  for (uint32_t T : {1u, 128u}) {
    Row r{"rope", "q+k", fmt::format("T={} H={} Hkv={} d={}", T, H, Hkv, d)};
    double pairs = double(T) * (H + Hkv) * d / 2;
    r.flops = 6 * pairs;
    r.bytes = pairs * 2 * 4 * 2 + double(T) * (d / 2) * 8 * 2;  // read + write each element; table per dispatch
    if (!b.wanted(r)) continue;
    vk::Arena arena(b.device(), vk::MemoryKind::device, 16ull << 20, "bench");
    std::vector<float> inv(d / 2);
    for (uint32_t i = 0; i < d / 2; ++i) inv[i] = float(std::pow(10000.0, -2.0 * i / d));
    auto table = ops::upload_f32(b.device(), arena, ops::rope_table(inv, ctx), "table");
    std::vector<uint32_t> p{ctx - T, 0, 0, 0};
    auto params = arena.allocate(16, "params");
    vk::upload(b.device(), params, p.data(), 16);
    auto q = ops::upload_f32(b.device(), arena, pseudo_random(size_t(T) * H * d, 1), "q");
    auto k = ops::upload_f32(b.device(), arena, pseudo_random(size_t(T) * Hkv * d, 2), "k");
    auto kc = arena.allocate(size_t(ctx) * Hkv * d * 4, "k_cache");
    b.measure(r, [&](vk::Recorder& rec) {
      ops::RopeArgs a;
      a.params = params;
      a.table = table;
      a.src = a.dst = q;
      a.ld_src = a.ld_dst = H * d;
      a.T = T;
      a.heads = H;
      a.d = d;
      ops::record_rope(rec, a, "rope_q");
      a.src = k;
      a.ld_src = Hkv * d;
      a.dst = kc;
      a.ld_dst = Hkv * d;
      a.heads = Hkv;
      a.dst_at_pos = true;
      ops::record_rope(rec, a, "rope_k");
    });
  }
}

// Differential attention: the fused dual-softmax kernel (diff_attention) and the two-pass baseline
// (attention_two_pass: two softmax attentions + combine) on the same inputs and key splits, then a
// "fused vs two-pass" line per split (and best vs best) with the speed-up = two-pass ms / fused ms.
// Decode splits: 1, 4, the Session's choice (ops::diff_attention_decode_splits) and 16.
void bench_attention(Bench& b) {
  const uint32_t H = 32, Hkv = 8, d = 64;
  struct Case {
    uint32_t T, ctx;
    std::vector<uint32_t> splits;
  };
  const Case cases[] = {{1, 512, {}}, {1, 2048, {}}, {1, 4096, {}}, {128, 128, {1}}, {512, 512, {1}}};
  const auto& caps = b.device().caps();
  for (const auto& c : cases) {
    const uint32_t pos0 = c.ctx - c.T;  // the last query row sees all ctx keys
    const std::string shape = fmt::format("T={} ctx={} H={} Hkv={} d={}", c.T, c.ctx, H, Hkv, d);
    double visible = 0;  // sum over query rows of visible keys
    for (uint32_t t = 0; t < c.T; ++t) visible += pos0 + t + 1;
    const double flops = 12.0 * d * visible * (H / 2);
    const double io_bytes = 2.0 * c.ctx * Hkv * d * 4 + 2.0 * c.T * H * d * 4;
    std::unique_ptr<vk::Arena> arena;  // inputs, made on the first wanted row of the case
    vk::BufferSlice params, q, kc, vc, out;
    auto inputs = [&]() {
      if (arena) return;
      arena = std::make_unique<vk::Arena>(b.device(), vk::MemoryKind::device, 64ull << 20, "bench");
      std::vector<uint32_t> p{pos0, 0, 0, 0};
      params = arena->allocate(16, "params");
      vk::upload(b.device(), params, p.data(), 16);
      q = ops::upload_f32(b.device(), *arena, pseudo_random(size_t(c.T) * H * d, 1), "q");
      kc = ops::upload_f32(b.device(), *arena, pseudo_random(size_t(c.ctx) * Hkv * d, 2), "k");
      vc = ops::upload_f32(b.device(), *arena, pseudo_random(size_t(c.ctx) * Hkv * d, 3), "v");
      out = arena->allocate(size_t(c.T) * H * d * 4, "out");
    };
    // The fused op's and the baseline's arguments (two structs with the same fields).
    auto args = [&]<typename Args>(const vk::BufferSlice& scratch, uint32_t n_split) {
      Args a;
      a.params = params;
      a.q = q;
      a.ldq = H * d;
      a.k_cache = kc;
      a.v_cache = vc;
      a.out = out;
      a.ldo = H * d;
      a.scratch = scratch;
      a.T = c.T;
      a.H = H;
      a.Hkv = Hkv;
      a.d = d;
      a.n_split = n_split;
      a.lambda = 0.7f;
      a.lambda_init = 0.2f;
      return a;
    };
    struct Best {
      Timing t;
      uint32_t split = 0;
    } best_fused, best_two;
    int compared = 0;
    std::vector<uint32_t> splits = c.splits;
    if (c.T == 1) {
      splits = {1, 4, ops::diff_attention_decode_splits(caps, H, Hkv, d, c.ctx), 16};
      std::sort(splits.begin(), splits.end());
      splits.erase(std::unique(splits.begin(), splits.end()), splits.end());
    }
    for (uint32_t n_split : splits) {
      const std::string variant = c.T == 1 ? fmt::format("split={}", n_split) : "prefill";
      // The automatic choice, and on CPU devices where that is the two-phase kernel also the one-pass
      // row kernel (diff_attn_1pass) for comparison; measured interleaved with the two-pass baseline.
      const auto chosen = ops::diff_attention_kernel(caps, {c.T, H, Hkv, d, n_split, c.ctx});
      std::vector<std::pair<const char*, ops::DiffAttentionKernel>> fused{{"diff_attention", ops::DiffAttentionKernel::automatic}};
      if (chosen == ops::DiffAttentionKernel::rows_two_phase) fused.push_back({"diff_attn_1pass", ops::DiffAttentionKernel::rows});
      const double partial_bytes = n_split > 1 ? 2.0 * 4 * c.T * (H / 2) * n_split * 4 * d : 0;
      std::vector<std::pair<Row, Bench::RecordFn>> runs;
      int fused_index = -1, two_index = -1;
      for (const auto& [op, kernel] : fused) {
        Row r{op, variant, shape};
        r.flops = flops;
        r.bytes = io_bytes + partial_bytes;
        if (!b.wanted(r) || !ops::diff_attention_supported(caps, d)) continue;
        inputs();
        const uint64_t scratch_bytes = ops::diff_attention_scratch_bytes(caps, {c.T, H, Hkv, d, n_split, c.ctx}, kernel);
        vk::BufferSlice scratch;
        if (scratch_bytes) scratch = arena->allocate(scratch_bytes, "scratch");
        if (kernel == ops::DiffAttentionKernel::automatic) fused_index = int(runs.size());
        runs.push_back({r, [&, scratch, n_split, kernel = kernel](vk::Recorder& rec) {
                          auto a = args.operator()<ops::DiffAttentionArgs>(scratch, n_split);
                          a.kernel = kernel;
                          ops::record_diff_attention(rec, a, "diff_attention");
                        }});
      }
      Row r2{"attn_two_pass", variant, shape};
      r2.flops = flops;
      // Plus each map's output written and read back; both maps' split partials hold as many floats as
      // the fused kernel's.
      r2.bytes = io_bytes + 2.0 * 2 * c.T * H * d * 4 + partial_bytes;
      if (b.wanted(r2) && ops::two_pass_attention_supported(caps, d)) {
        inputs();
        auto scratch = arena->allocate(ops::two_pass_attention_scratch_bytes(caps, c.T, H, d, n_split), "scratch");
        two_index = int(runs.size());
        runs.push_back({r2, [&, scratch, n_split](vk::Recorder& rec) {
                          auto a = args.operator()<ops::TwoPassAttentionArgs>(scratch, n_split);
                          ops::record_two_pass_attention(rec, a, "attn_two_pass");
                        }});
      }
      if (runs.empty()) continue;
      const std::vector<Timing> t = b.measure_interleaved(runs);
      const Timing fused_t = fused_index >= 0 ? t[size_t(fused_index)] : Timing{};
      const Timing two_t = two_index >= 0 ? t[size_t(two_index)] : Timing{};
      if (fused_t.median > 0 && (best_fused.split == 0 || fused_t.median < best_fused.t.median)) best_fused = {fused_t, n_split};
      if (two_t.median > 0 && (best_two.split == 0 || two_t.median < best_two.t.median)) best_two = {two_t, n_split};
      if (fused_t.median > 0 && two_t.median > 0) {
        b.compare(variant, shape, fused_t, two_t);
        ++compared;
      }
    }
    if (compared > 1)
      b.compare(fmt::format("best={}/{}", best_fused.split, best_two.split), shape, best_fused.t, best_two.t);
  }
}

void bench_elementwise(Bench& b) {
  const std::pair<ops::EltOp, const char*> ops_[] = {
      {ops::EltOp::silu_mul, "silu_mul"}, {ops::EltOp::gelu_mul, "gelu_mul"}, {ops::EltOp::add, "add"}};
  for (const auto& [op, name] : ops_)
    for (uint32_t n : {8192u, 128u * 8192u}) {
      Row r{name, "f32", fmt::format("n={}", n)};
      r.bytes = 12.0 * n;
      if (!b.wanted(r)) continue;
      vk::Arena arena(b.device(), vk::MemoryKind::device, 16ull << 20, "bench");
      auto x = ops::upload_f32(b.device(), arena, pseudo_random(n, 1), "a");
      auto y = ops::upload_f32(b.device(), arena, pseudo_random(n, 2), "b");
      auto out = arena.allocate(size_t(n) * 4, "out");
      b.measure(r, [&](vk::Recorder& rec) { ops::record_elementwise(rec, op, x, y, out, n, name); });
    }
}

void bench_embedding(Bench& b) {
  const uint32_t V = 32768, hidden = 2048;  // 128 MiB of f16
  for (uint32_t T : {1u, 128u}) {
    Row r{"embedding", "f16", fmt::format("T={} V={} hidden={}", T, V, hidden)};
    r.bytes = double(T) * hidden * (2 + 4) + 4.0 * T;
    if (!b.wanted(r)) continue;
    vk::Arena arena(b.device(), vk::MemoryKind::device, 64ull << 20, "bench");
    auto table = ops::upload_matrix(b.device(), arena, DType::f16, V, hidden,
                                    encode(pseudo_random(size_t(V) * hidden, 5), DType::f16).data(), "embed");
    std::vector<uint32_t> ids(T);
    for (uint32_t t = 0; t < T; ++t) ids[t] = (t * 2654435761u) % V;
    auto idb = arena.allocate(T * 4, "ids");
    vk::upload(b.device(), idb, ids.data(), T * 4);
    auto out = arena.allocate(size_t(T) * hidden * 4, "out");
    b.measure(r, [&](vk::Recorder& rec) { ops::record_embedding(rec, table, idb, 0, out, hidden, T, "embedding"); });
  }
}

void run(const Options& o) {
  vk::DeviceOptions dopt;
  dopt.device_index = o.device;
  dopt.profile = o.profile;
  vk::Device dev(dopt);
  const auto& caps = dev.caps();
  auto t0 = std::chrono::steady_clock::now();
  if (!o.json) {
    std::printf("# device %u: %s (%s%s%s), profile %s, timer %s\n", dev.index(), caps.device_name.c_str(),
                caps.type_name(), caps.driver_info.empty() ? "" : ", ", caps.driver_info.c_str(), caps.profile.c_str(),
                caps.timestamps ? "GPU timestamps" : "wall clock (no timestamps)");
    if (caps.is_cpu()) std::printf("# note: a CPU Vulkan device: expect low speed\n");
    std::printf("# warm-up %d, then %d timed reps (fewer where reps x one run would exceed %.1f s); ms = median / min\n",
                std::max(1, o.warmup), std::max(1, o.reps), o.max_seconds);
    std::printf("%-15s %-12s %-32s %4s %3s %10s %10s %9s %8s\n", "op", "variant", "shape", "reps", "dsp", "ms", "min_ms",
                "GFLOP/s", "GB/s");
  }
  Bench b(dev, o);
  bench_matmul(b);
  bench_rmsnorm(b);
  bench_rope(b);
  bench_attention(b);
  bench_elementwise(b);
  bench_embedding(b);
  if (b.cases() == 0) fail(Status::invalid_argument, "bench-ops: no case matches --filter \"{}\"", o.filter);
  if (!o.json)
    std::printf("# %d cases in %.1f s\n", b.cases(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (dev.instance().validation() && dev.instance().validation_messages() > 0)
    fail(Status::internal, "bench-ops: {} Vulkan validation message(s); last: {}", dev.instance().validation_messages(),
         dev.instance().last_validation_message());
}

dlvk::cli::RegisterCommand reg([](CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand("bench-ops", "Time each kernel family at model-like shapes (GPU timestamps)");
  sub->add_option("-r,--reps", opts->reps, "Timed runs per case (default 5)")->check(CLI::Range(1, 100000));
  sub->add_option("--warmup", opts->warmup, "Untimed runs per case first (default 2)")->check(CLI::Range(1, 1000));
  sub->add_option("--max-seconds", opts->max_seconds,
                  "Cap on timed seconds per case: fewer reps for slow cases (default 2; 0 = always --reps)")
      ->check(CLI::Range(0.0, 1e6));
  sub->add_option("--filter", opts->filter, "Only cases whose \"op variant shape\" contains this text");
  sub->add_flag("--json", opts->json, "One JSON object per line");
  sub->add_option("--device", opts->device, "Vulkan device index (default: $DLVK_DEVICE or the best)");
  sub->add_option("--caps", opts->profile, "Capability profile: native, minimal, mobile-like (default $DLVK_PROFILE)");
  sub->callback([opts] { run(*opts); });
});

}  // namespace
