// dlvk perplexity: perplexity of a text file (or an id list) in overlapping windows, the protocol of
// tools/train/eval_heldout.py (lib/generate/perplexity.hpp), so the two can be compared directly.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli_util.hpp"
#include "commands.hpp"
#include "dlvk/tokenizer.hpp"
#include "generate/perplexity.hpp"

namespace dlvk::cli {
namespace {

struct PerplexityCliOptions {
  std::string model, kl_base;
  std::optional<std::string> file, ids;  // exactly one
  uint32_t ctx = 0, stride = 0, max_windows = 0, batch = 64;
  bool no_bos = false, json = false, quiet = false;
  DeviceFlags dev;
};

void perplexity_command(const PerplexityCliOptions& o) {
  if (o.file.has_value() == o.ids.has_value()) fail(Status::invalid_argument, "give exactly one of --file or --ids");
  if (o.batch == 0) fail(Status::invalid_argument, "--batch must be at least 1");
  std::optional<Tokenizer> tok = model_tokenizer(o.model);
  std::vector<int32_t> ids;
  if (o.file) {
    if (!tok) fail(Status::invalid_argument, "{} has no tokenizer.json: use --ids", o.model);
    ids = tok->encode(read_text_file(*o.file), false);
    if (ids.empty()) fail(Status::invalid_argument, "{} holds no text to score", *o.file);
  } else {
    ids = parse_ids(*o.ids);
  }

  auto device = o.dev.open();
  auto model = load_model(*device, o.model, o.quiet || o.json, o.dev.weight_quant());
  const auto& cfg = model->config();
  PerplexityOptions p;
  if (!o.no_bos) p.bos = default_window_bos(tok ? &*tok : nullptr, cfg);
  p.window = o.ctx ? o.ctx : uint32_t(std::min<int64_t>(cfg.max_position_embeddings, 4096));
  p.stride = o.stride;
  p.max_windows = o.max_windows;
  // No longer a KV cache than the longest window needs.
  const uint32_t context = uint32_t(std::min<uint64_t>(p.window, ids.size() + (p.bos ? 1 : 0)));
  Session session(*model, {.context = context, .batch = o.batch});
  // --kl-base: the base model as stored (no --quant), its own KV cache.
  std::unique_ptr<Model> base_model;
  std::optional<Session> base;
  if (!o.kl_base.empty()) {
    base_model = load_model(*device, o.kl_base, o.quiet || o.json);
    base.emplace(*base_model, SessionOptions{.context = context, .batch = o.batch});
  }

  const bool progress = !o.quiet && !o.json && isatty(2);
  auto t0 = std::chrono::steady_clock::now();
  double nll_so_far = 0;
  uint64_t scored_so_far = 0;
  PerplexityResult r = perplexity(session, ids, p, [&](const PerplexityWindow& w) {
    nll_so_far += w.nll_sum;
    scored_so_far += w.scored_end - w.scored_begin;
    if (progress) {
      std::fprintf(stderr, "\rwindow %u: %llu of %zu tokens scored, perplexity so far %.3f", w.index + 1,
                   (unsigned long long)w.scored_end, ids.size(), std::exp(nll_so_far / double(scored_so_far)));
      std::fflush(stderr);
    }
  }, base ? &*base : nullptr);
  if (progress) std::fprintf(stderr, "\n");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Bits per byte of the scored text: comparable across tokenizers.
  std::optional<double> bits_per_byte;
  if (tok && o.file) {
    const size_t bytes = tok->decode(std::span(ids).subspan(r.scored_begin, r.tokens())).size();
    if (bytes) bits_per_byte = r.nll_sum / (double(bytes) * std::log(2.0));
  }
  const std::string source = o.file ? *o.file : std::string("ids");
  if (o.json) {
    nlohmann::json j = {{"source", source},
                        {"tokens", r.tokens()},
                        {"windows", r.windows},
                        {"ctx", r.window},
                        {"stride", r.stride},
                        {"bos", p.bos ? nlohmann::json(*p.bos) : nlohmann::json(nullptr)},
                        {"mean_nll", r.mean_nll()},
                        {"perplexity", r.perplexity()},
                        {"bits_per_byte", bits_per_byte ? nlohmann::json(*bits_per_byte) : nlohmann::json(nullptr)},
                        {"seconds", secs},
                        {"kl_base", r.compared ? nlohmann::json(o.kl_base) : nlohmann::json(nullptr)},
                        {"evaluated_tokens_per_s", secs > 0 ? double(r.evaluated) / secs : 0.0},
                        {"device", device->caps().device_name}};
    if (r.compared) {
      j["base_perplexity"] = r.base_perplexity();
      j["kl_mean"] = r.kl_mean();
      j["kl_max"] = r.kl_max;
      j["top1_agreement"] = r.top1_agreement();
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s: %llu tokens scored in %u windows (ctx %u, stride %u, bos %s), %.1f s (%.1f t/s evaluated)\n",
              source.c_str(), (unsigned long long)r.tokens(), r.windows, r.window, r.stride,
              p.bos ? std::to_string(*p.bos).c_str() : "none", secs, secs > 0 ? double(r.evaluated) / secs : 0.0);
  std::printf("mean NLL %.4f nats/token, perplexity %.3f", r.mean_nll(), r.perplexity());
  if (bits_per_byte) std::printf(", %.4f bits/byte", *bits_per_byte);
  std::printf("\n");
  if (r.compared)
    std::printf("base %s: perplexity %.3f (this model %+.3f%%), KL(base || this) mean %.6f max %.6f nats/token, "
                "same top token %.2f%%\n",
                o.kl_base.c_str(), r.base_perplexity(), (r.perplexity() / r.base_perplexity() - 1) * 100,
                r.kl_mean(), r.kl_max, 100.0 * r.top1_agreement());
}

RegisterCommand reg([](CLI::App& app) {
  auto o = std::make_shared<PerplexityCliOptions>();
  auto* sub = app.add_subcommand("perplexity", "perplexity of a text file in overlapping windows (each token scored once)");
  sub->add_option("--model", o->model, "model directory (config.json + safetensors + tokenizer.json)")->required();
  sub->add_option("-f,--file", o->file, "text file to score (encoded without special tokens)");
  sub->add_option("--ids", o->ids, "comma-separated token ids to score instead of a file");
  sub->add_option("--ctx", o->ctx, "tokens per window including the bos (default min(max_position_embeddings, 4096))");
  sub->add_option("--stride", o->stride, "tokens between window starts (default: half a window)");
  sub->add_option("--max-windows", o->max_windows, "stop after this many windows (default: all)");
  sub->add_option("--batch", o->batch, "prefill chunk size (default 64)");
  sub->add_option("--kl-base", o->kl_base,
                  "also run this model directory as stored (no --quant) on the same windows: its perplexity, "
                  "KL divergence from it and top-token agreement (e.g. the same model, to measure --quant)");
  sub->add_flag("--no-bos", o->no_bos, "no bos token in front of each window (default: the tokenizer's or config's)");
  sub->add_flag("--json", o->json, "one JSON object: tokens, windows, mean_nll, perplexity, bits_per_byte, ...");
  sub->add_flag("-q,--quiet", o->quiet, "no progress line");
  o->dev.add(sub);
  sub->callback([o] { perplexity_command(*o); });
});

}  // namespace
}  // namespace dlvk::cli
