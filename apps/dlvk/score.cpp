// dlvk score: negative log-likelihood / perplexity of an id sequence, optionally all logits as .npy.
#include <cmath>
#include <cstdio>

#include "cli_util.hpp"
#include "commands.hpp"
#include "dlvk/npy.hpp"
#include "generate/perplexity.hpp"

namespace dlvk::cli {
namespace {

struct ScoreOptions {
  std::string model, ids, logits_out;
  uint32_t batch = 64, ctx = 0;
  DeviceFlags dev;
};

void score(const ScoreOptions& o) {
  std::vector<int32_t> ids = parse_ids(o.ids);
  auto device = o.dev.open();
  auto model = load_model(*device, o.model, false, o.dev.weight_quant());
  const auto& cfg = model->config();
  uint32_t ctx = o.ctx ? o.ctx : std::max<uint32_t>(uint32_t(ids.size()), uint32_t(std::min<int64_t>(cfg.max_position_embeddings, 4096)));
  if (o.batch == 0) fail(Status::invalid_argument, "--batch must be at least 1");
  Session session(*model, {.context = ctx, .batch = o.batch});
  const size_t V = size_t(cfg.vocab_size);
  std::vector<float> logits(ids.size() * V);
  session.eval(ids, logits.data());
  double total = 0;
  std::printf("pos\ttoken\tnll\n");
  for (size_t t = 0; t + 1 < ids.size(); ++t) {
    const double nll = token_nll(std::span(logits).subspan(t * V, V), ids[t + 1]);
    total += nll;
    std::printf("%zu\t%d\t%.6f\n", t + 1, ids[t + 1], nll);
  }
  size_t n = ids.size() > 1 ? ids.size() - 1 : 0;
  if (n) std::printf("tokens %zu  mean nll %.6f  perplexity %.4f\n", n, total / n, std::exp(total / n));
  else std::printf("tokens 0  (one token: nothing to predict)\n");
  if (!o.logits_out.empty()) write_npy_f32(o.logits_out, logits, int64_t(ids.size()), int64_t(V));
}

RegisterCommand reg([](CLI::App& app) {
  auto o = std::make_shared<ScoreOptions>();
  auto* sub = app.add_subcommand("score", "negative log-likelihood and perplexity of a token id sequence");
  sub->add_option("--model", o->model, "model directory (config.json + safetensors)")->required();
  sub->add_option("--ids", o->ids, "comma-separated token ids, run as one prompt")->required();
  sub->add_option("--logits-out", o->logits_out, "write all logits as float32 .npy [T, vocab]");
  sub->add_option("--batch", o->batch, "prefill chunk size; 1 = token by token through the decode path");
  sub->add_option("--ctx", o->ctx, "context length (default: max(len, min(max_position_embeddings, 4096)))");
  o->dev.add(sub);
  sub->callback([o] { score(*o); });
});

}  // namespace
}  // namespace dlvk::cli
