// dlvk score: negative log-likelihood / perplexity of a token sequence (ids, or text through the
// model's tokenizer), optionally all logits as .npy.
#include <cmath>
#include <cstdio>
#include <optional>

#include "cli_util.hpp"
#include "commands.hpp"
#include "dlvk/npy.hpp"
#include "dlvk/tokenizer.hpp"
#include "generate/perplexity.hpp"

namespace dlvk::cli {
namespace {

struct ScoreOptions {
  std::string model, logits_out;
  std::optional<std::string> ids, prompt, file;  // exactly one (an empty --ids is its own error)
  uint32_t batch = 64, ctx = 0;
  DeviceFlags dev;
};

// A token's text for the table: control characters, tabs and newlines escaped.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += char(c);
  }
  return out;
}

void score(const ScoreOptions& o) {
  if (int(o.ids.has_value()) + int(o.prompt.has_value()) + int(o.file.has_value()) != 1)
    fail(Status::invalid_argument, "give exactly one of --ids, --prompt or --file");
  std::optional<Tokenizer> tok = model_tokenizer(o.model);
  std::vector<int32_t> ids;
  if (o.ids) {
    ids = parse_ids(*o.ids);
  } else {
    if (!tok) fail(Status::invalid_argument, "{} has no tokenizer.json: use --ids", o.model);
    const std::string text = o.file ? read_text_file(*o.file) : *o.prompt;
    ids = tok->encode(text, true);  // as `dlvk run` encodes a prompt (the post-processor's bos)
    if (ids.empty()) fail(Status::invalid_argument, "no tokens to score in the text");
  }
  auto device = o.dev.open();
  auto model = load_model(*device, o.model, false, o.dev.weight_quant());
  const auto& cfg = model->config();
  if (int64_t(ids.size()) > cfg.max_position_embeddings)
    std::fprintf(stderr, "dlvk: warning: %zu tokens, more than the model's max_position_embeddings (%lld); "
                 "`dlvk perplexity` scores long texts in windows\n", ids.size(), (long long)cfg.max_position_embeddings);
  uint32_t ctx = o.ctx ? o.ctx : std::max<uint32_t>(uint32_t(ids.size()), uint32_t(std::min<int64_t>(cfg.max_position_embeddings, 4096)));
  if (o.batch == 0) fail(Status::invalid_argument, "--batch must be at least 1");
  Session session(*model, {.context = ctx, .batch = o.batch});
  const size_t V = size_t(cfg.vocab_size);
  std::vector<float> logits(ids.size() * V);
  session.eval(ids, logits.data());
  double total = 0;
  std::printf(tok ? "pos\ttoken\tnll\ttext\n" : "pos\ttoken\tnll\n");
  for (size_t t = 0; t + 1 < ids.size(); ++t) {
    const double nll = token_nll(std::span(logits).subspan(t * V, V), ids[t + 1]);
    total += nll;
    if (tok)
      std::printf("%zu\t%d\t%.6f\t%s\n", t + 1, ids[t + 1], nll,
                  printable(tok->decode(std::span(ids).subspan(t + 1, 1))).c_str());
    else
      std::printf("%zu\t%d\t%.6f\n", t + 1, ids[t + 1], nll);
  }
  size_t n = ids.size() > 1 ? ids.size() - 1 : 0;
  if (n) std::printf("tokens %zu  mean nll %.6f  perplexity %.4f\n", n, total / n, std::exp(total / n));
  else std::printf("tokens 0  (one token: nothing to predict)\n");
  if (!o.logits_out.empty()) write_npy_f32(o.logits_out, logits, int64_t(ids.size()), int64_t(V));
}

RegisterCommand reg([](CLI::App& app) {
  auto o = std::make_shared<ScoreOptions>();
  auto* sub = app.add_subcommand("score", "negative log-likelihood and perplexity of a token sequence");
  sub->add_option("--model", o->model, "model directory (config.json + safetensors)")->required();
  sub->add_option("--ids", o->ids, "comma-separated token ids, run as one prompt");
  sub->add_option("-p,--prompt", o->prompt, "text to score, encoded as `dlvk run` encodes a prompt (with the bos)");
  sub->add_option("-f,--file", o->file, "text file to score as one prompt (longer texts: `dlvk perplexity`)");
  sub->add_option("--logits-out", o->logits_out, "write all logits as float32 .npy [T, vocab]");
  sub->add_option("--batch", o->batch, "prefill chunk size; 1 = token by token through the decode path");
  sub->add_option("--ctx", o->ctx, "context length (default: max(len, min(max_position_embeddings, 4096)))");
  o->dev.add(sub);
  sub->callback([o] { score(*o); });
});

}  // namespace
}  // namespace dlvk::cli
