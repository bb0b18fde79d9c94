// dlvk bench: prompt processing (pp) and generation (tg) tokens/s, llama-bench style: each test run
// -r times, mean +- sd; --json prints one object per line with llama-bench's field names.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

#include <nlohmann/json.hpp>

#include "cli_util.hpp"
#include "commands.hpp"
#include "model/synthetic.hpp"
#include "ops/matmul.hpp"

namespace dlvk::cli {
namespace {

struct BenchOptions {
  std::string model, synthetic, dtype = "f16";
  int n_prompt = 512, n_gen = 128, reps = 3, depth = 0;
  uint32_t batch = 512;
  bool json = false, profile = false;
  double peak_gbps = 0;
  std::string sampling = "gpu";
  DeviceFlags dev;
};

void bench(const BenchOptions& o) {
  if (o.model.empty() == o.synthetic.empty()) fail(Status::invalid_argument, "give exactly one of --model or --synthetic");
  if (o.reps < 1 || o.n_prompt < 0 || o.n_gen < 0 || o.depth < 0)
    fail(Status::invalid_argument, "-r must be >= 1, -p, -n and -d >= 0");
  if (!(o.peak_gbps >= 0)) fail(Status::invalid_argument, "--peak-gbps must be >= 0");
  auto device = o.dev.open();
  std::unique_ptr<Model> model;
  std::string model_name;
  if (!o.synthetic.empty()) {
    ModelConfig cfg = synthetic_config(o.synthetic);
    DType dt = o.dtype == "f32" ? DType::f32 : o.dtype == "bf16" ? DType::bf16 : o.dtype == "f16" ? DType::f16
             : (fail(Status::invalid_argument, "--dtype must be f32, f16 or bf16"), DType::f16);
    Checkpoint ckpt = synthetic_checkpoint(cfg, dt);
    model = Model::load(*device, cfg, ckpt, {}, o.dev.weight_quant());
    model_name = "synthetic " + o.synthetic + " " + o.dtype;
    if (!o.dev.quant.empty()) model_name += " --quant " + o.dev.quant;
  } else {
    model = load_model(*device, o.model, o.json, o.dev.weight_quant());
    model_name = o.model;
  }
  const auto& cfg = model->config();
  uint32_t ctx = uint32_t(o.depth + std::max(o.n_prompt + 1, o.n_gen + 1));
  Session session(*model, {.context = ctx, .batch = std::max<uint32_t>(1, std::min<uint32_t>(o.batch, std::max(o.n_prompt, 1))),
                           .profile = o.profile});
  const auto& caps = device->caps();
  const std::string device_name = caps.device_name;
  // The decode matmul kernel chosen for this model (CPU devices: by the host processor, dlvk devices).
  const std::string decode_matmul = ops::matmul_variant_name(model->matmul_variant(1));
  const std::string host = !caps.cpu_quirks ? std::string()
                                            : fmt::format("{} host, ", caps.host_cpu_vendor);
  // Prefill's matmul kernel (GPUs: tiled, or coopmat with DLVK_COOPMAT=1 where the device has cooperative
  // matrices; "(emulated)" with DLVK_COOPMAT=emulate on a device without).
  const ops::MatmulVariant prefill_variant = model->matmul_variant(session.batch());
  const std::string prefill_matmul =
      std::string(ops::matmul_variant_name(prefill_variant)) +
      (prefill_variant == ops::MatmulVariant::coopmat && !caps.cooperative_matrix() ? " (emulated)" : "");
  // tg is greedy generation: each token's argmax is the next input. With --sampling gpu (default) the
  // argmax is taken on the GPU (Session::eval_top_k: one id read back), as generate() does for greedy
  // sampling; with cpu the whole logits row is read back and the CPU sampler picks; both alternates
  // the two per repetition (one line each).
  if (o.sampling != "gpu" && o.sampling != "cpu" && o.sampling != "both")
    fail(Status::invalid_argument, "--sampling must be gpu, cpu or both");
  std::vector<bool> modes;  // true: CPU sampling
  if (o.sampling != "cpu") modes.push_back(false);
  if (o.sampling != "gpu") modes.push_back(true);
  if (!o.json)
    std::printf("model: %s, weights %.1f MiB, device: %s, decode: %s%s matmuls, %u dispatches (%u from %u keys on), "
                "1 submission per token, %ssampling: %s\n",
                model_name.c_str(), double(model->weight_bytes()) / (1 << 20), device_name.c_str(), host.c_str(),
                decode_matmul.c_str(),
                session.decode_dispatches(modes[0] ? 0 : 1), session.decode_dispatches(modes[0] ? 0 : 1, true),
                SessionOptions{}.split_attention_from,
                o.n_prompt > 0 ? fmt::format("prefill: {} dispatches per chunk of {} ({} matmuls), ",
                                             session.prefill_dispatches(session.batch()), session.batch(), prefill_matmul).c_str()
                               : "",
                o.sampling == "gpu" ? "GPU top-k" : o.sampling == "cpu" ? "CPU (full logits row)" : "GPU top-k vs CPU");
  Sampler greedy({.temperature = 0, .top_k = 1});
  auto next_token = [&](std::span<const int32_t> input, bool cpu) {
    return cpu ? greedy.sample(session.eval(input), {}) : greedy.sample_sorted(session.eval_top_k(input, 1));
  };

  std::vector<int32_t> ids(std::max(o.depth + o.n_prompt, 1));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 7919 + 13) % uint64_t(cfg.vocab_size));
  using clock = std::chrono::steady_clock;
  std::map<std::string, std::map<std::string, double>> op_ms;  // test name -> op -> ms
  auto add_profile = [&](const std::string& test) {
    if (!o.profile) return;
    for (const auto& t : session.last_timings()) op_ms[test][t.label] += t.ms;
  };
  // A fresh context holding `depth` tokens (untimed), as llama-bench's -d: the timed test then reads a
  // KV cache of that length.
  auto start = [&] {
    session.reset();
    if (o.depth > 0) session.eval(std::span(ids).first(size_t(o.depth)));
  };
  auto test_name = [&](int n_prompt, int n_gen) {
    std::string name = n_prompt ? "pp" + std::to_string(n_prompt) : "tg" + std::to_string(n_gen);
    return o.depth ? name + " @ d" + std::to_string(o.depth) : name;
  };
  auto weights_gbps = [&](double tokens_per_s) { return double(model->decode_weight_bytes()) * tokens_per_s / 1e9; };
  auto report = [&](int n_prompt, int n_gen, const std::vector<double>& ts, const char* mode = nullptr) {
    double mean = std::accumulate(ts.begin(), ts.end(), 0.0) / double(ts.size());
    double var = 0;
    for (double t : ts) var += (t - mean) * (t - mean);
    double sd = ts.size() > 1 ? std::sqrt(var / double(ts.size() - 1)) : 0.0;
    if (o.json) {
      nlohmann::json j = {{"model", model_name}, {"device", device_name}, {"n_prompt", n_prompt}, {"n_gen", n_gen},
                          {"n_depth", o.depth}, {"n_batch", session.batch()}, {"avg_ts", mean}, {"stddev_ts", sd},
                          {"samples_ts", ts}};
      if (mode) j["sampling"] = mode;
      if (n_prompt == 0) {
        j["decode_weight_bytes"] = model->decode_weight_bytes();
        j["weights_gbps"] = weights_gbps(mean);
        if (o.peak_gbps > 0) j["peak_bandwidth_fraction"] = weights_gbps(mean) / o.peak_gbps;
      }
      j["decode_dispatches"] = session.decode_dispatches(modes[0] ? 0 : 1);
      if (n_prompt > 0) {
        j["prefill_dispatches"] = session.prefill_dispatches(session.batch());
        j["prefill_matmul"] = prefill_matmul;
      }
      if (caps.cpu_quirks) j["host_cpu"] = caps.host_cpu_vendor;
      j["decode_matmul"] = decode_matmul;
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::string gbps;  // generation: the bandwidth of the weights it streams
      if (n_prompt == 0) {
        gbps = fmt::format("  weights {:.1f} GB/s", weights_gbps(mean));
        if (o.peak_gbps > 0) gbps += fmt::format(" = {:.0f}% of {:.0f}", 100 * weights_gbps(mean) / o.peak_gbps, o.peak_gbps);
      }
      std::printf("%-6s %8.2f ± %.2f t/s%s%s%s\n", test_name(n_prompt, n_gen).c_str(), mean, sd, gbps.c_str(),
                  mode && modes.size() > 1 ? "  sampling: " : "", mode && modes.size() > 1 ? mode : "");
    }
    std::fflush(stdout);
  };
  // One untimed warm-up of each path (pipeline creation, first-touch of memory).
  session.reset();
  session.eval(std::span(ids).first(std::min<size_t>(ids.size(), session.batch())));
  int32_t tok[1] = {1};
  for (bool cpu : modes) {
    session.reset();
    next_token(tok, cpu);
  }
  if (o.n_prompt > 0) {
    std::vector<double> ts;
    for (int r = 0; r < o.reps; ++r) {
      start();
      auto t0 = clock::now();
      session.eval(std::span(ids).subspan(size_t(o.depth), size_t(o.n_prompt)));
      ts.push_back(o.n_prompt / std::chrono::duration<double>(clock::now() - t0).count());
      add_profile(test_name(o.n_prompt, 0));
    }
    report(o.n_prompt, 0, ts);
  }
  if (o.n_gen > 0) {
    std::vector<std::vector<double>> ts(modes.size());
    for (int r = 0; r < o.reps; ++r)
      for (size_t m = 0; m < modes.size(); ++m) {
        start();
        auto t0 = clock::now();
        tok[0] = 1;
        for (int i = 0; i < o.n_gen; ++i) {
          tok[0] = next_token(tok, modes[m]);
          add_profile(test_name(0, o.n_gen));
        }
        ts[m].push_back(o.n_gen / std::chrono::duration<double>(clock::now() - t0).count());
      }
    for (size_t m = 0; m < modes.size(); ++m) report(0, o.n_gen, ts[m], modes[m] ? "cpu" : "gpu_top_k");
  }
  for (auto& [test, ops] : op_ms) {
    double total = 0;
    for (auto& [label, ms] : ops) total += ms;
    std::printf("GPU time per op over all timed runs of %s (timestamps):\n", test.c_str());
    for (auto& [label, ms] : ops) std::printf("  %-16s %10.2f ms  %5.1f%%\n", label.c_str(), ms, total ? 100 * ms / total : 0);
  }
}

RegisterCommand reg([](CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* sub = app.add_subcommand("bench", "prompt-processing and generation speed (tokens/s)");
  sub->add_option("--model", o->model, "model directory");
  sub->add_option("--synthetic", o->synthetic, "random-weight model of a named shape: tiny, S, M, 1.24B");
  sub->add_option("--dtype", o->dtype, "weight dtype for --synthetic: f16 (default), bf16, f32");
  sub->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens (default 512; 0 = skip)");
  sub->add_option("-n,--n-gen", o->n_gen, "generated tokens (default 128; 0 = skip)");
  sub->add_option("-d,--depth", o->depth, "tokens already in the context (evaluated untimed) before each test, as llama-bench -d (default 0)");
  sub->add_option("-r,--repetitions", o->reps, "repetitions of each test (default 3)");
  sub->add_option("-b,--batch", o->batch, "prefill chunk size (default 512)");
  sub->add_flag("--json", o->json, "one JSON object per test and line");
  sub->add_flag("--profile", o->profile, "GPU time per op (timestamp queries)");
  sub->add_option("--peak-gbps", o->peak_gbps, "the device's peak memory bandwidth (GB/s): tg lines add the share the weights' reads reach");
  sub->add_option("--sampling", o->sampling, "tg (greedy): gpu = argmax on the GPU, one id read back (default); "
                                             "cpu = whole logits row read back, argmax on the CPU; both = alternate");
  o->dev.add(sub);
  sub->callback([o] { bench(*o); });
});

}  // namespace
}  // namespace dlvk::cli
