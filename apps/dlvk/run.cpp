// dlvk run: generate text from a prompt (or ids), streaming; -i for an interactive conversation.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <random>

#include "cli_util.hpp"
#include "commands.hpp"
#include "dlvk/tokenizer.hpp"
#include "generate/generator.hpp"
#include "generate/stop_strings.hpp"

namespace dlvk::cli {
namespace {

struct RunOptions {
  std::string model, prompt, file, ids;
  std::vector<std::string> stops;  // --stop, as typed (escapes read by unescape_stop_string)
  int n = 128;
  uint32_t ctx = 0, batch = 64;
  float temp = 0.8f, top_p = 0.95f, min_p = 0.05f, repeat_penalty = 1.0f;
  int top_k = 40, repeat_last_n = 64;
  std::optional<uint64_t> seed;
  bool interactive = false, quiet = false, no_context_shift = false;
  bool print_ids = false;  // generated ids instead of text (checks and scripts)
  DeviceFlags dev;
};

void run(const RunOptions& options) {
  RunOptions o = options;
  if (!o.file.empty()) {
    if (!o.prompt.empty()) fail(Status::invalid_argument, "give --prompt or --file, not both");
    o.prompt = read_text_file(o.file);
    if (o.prompt.empty()) fail(Status::invalid_argument, "{} is empty", o.file);
  }
  if (o.prompt.empty() == o.ids.empty() && !o.interactive)
    fail(Status::invalid_argument, "give exactly one of --prompt, --file or --ids (or -i)");
  if (o.n < 0) fail(Status::invalid_argument, "-n must be >= 0");
  std::optional<Tokenizer> tok = model_tokenizer(o.model);
  if (!tok && (!o.prompt.empty() || o.interactive))
    fail(Status::invalid_argument, "{} has no tokenizer.json: use --ids", o.model);
  if (!tok && !o.stops.empty()) fail(Status::invalid_argument, "--stop needs the model's tokenizer.json (text to match)");
  std::vector<std::string> stop_strings;
  for (const auto& s : o.stops) {
    stop_strings.push_back(unescape_stop_string(s));
    if (stop_strings.back().empty()) fail(Status::invalid_argument, "--stop: an empty stop string");
  }
  std::vector<int32_t> prompt;
  if (!o.ids.empty()) prompt = parse_ids(o.ids);

  auto t_start = std::chrono::steady_clock::now();
  auto device = o.dev.open();
  auto model = load_model(*device, o.model, o.quiet, o.dev.weight_quant());
  Session session(*model, {.context = o.ctx, .batch = o.batch});
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  GenerateOptions g;
  g.max_tokens = o.n;
  g.sampling.temperature = o.temp;
  g.sampling.top_k = o.top_k;
  g.sampling.top_p = o.top_p;
  g.sampling.min_p = o.min_p;
  g.sampling.repeat_penalty = o.repeat_penalty;
  g.sampling.repeat_last_n = o.repeat_last_n;
  g.sampling.seed = o.seed ? *o.seed : std::random_device{}();
  g.stop_ids = model->config().eos_token_ids;
  // A full context halves itself and generation goes on; the first token (the bos, for a text prompt)
  // stays at position 0, where the model always saw it.
  g.context_shift = !o.no_context_shift;
  g.keep_first = 1;

  bool first_call = true;  // time to first token is reported for the first generation only
  auto stream = [&](std::span<const int32_t> p) {
    // Text is decoded for printing and for the stop strings (also with --print-ids).
    std::optional<StreamDecoder> dec;
    if (tok && (!o.print_ids || !stop_strings.empty())) dec.emplace(*tok);
    StopStrings stops(stop_strings);
    const bool text_out = dec && !o.print_ids;
    bool first = true;
    double first_token_s = 0;  // since the process started loading: cold/warm start-up shows here
    auto st = generate(session, p, g, [&](int32_t id) {
      if (first && first_call) first_token_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      if (dec) {
        std::string shown = stops.push(dec->push(id));
        if (text_out) std::fwrite(shown.data(), 1, shown.size(), stdout);
      }
      if (!text_out) std::printf(first ? "%d" : ",%d", id);
      first = false;
      std::fflush(stdout);
      return !stops.matched();
    });
    if (dec) {
      const std::string rest = stops.finish(dec->flush());
      if (text_out) std::fwrite(rest.data(), 1, rest.size(), stdout);
    }
    if (stops.matched() && st.stop == StopReason::cancelled) st.stop = StopReason::stop_string;
    std::printf("\n");
    std::fflush(stdout);
    if (!o.quiet)
      std::fprintf(stderr,
                   "dlvk: %u prompt tokens (%.1f t/s), %u generated (%.1f t/s), stop: %s%s, seed %llu, load %.2f s, "
                   "%sdevice %s\n",
                   st.prompt_tokens, st.prompt_ms > 0 ? st.prompt_tokens * 1000.0 / st.prompt_ms : 0.0,
                   st.generated_tokens, st.generate_ms > 0 ? st.generated_tokens * 1000.0 / st.generate_ms : 0.0,
                   stop_reason_name(st.stop),
                   st.context_shifts ? fmt::format(" ({} context shifts)", st.context_shifts).c_str() : "",
                   (unsigned long long)g.sampling.seed, load_s,
                   first_call && !first ? fmt::format("first token at {:.2f} s, ", first_token_s).c_str() : "",
                   device->caps().device_name.c_str());
    first_call = false;
    return st;
  };

  if (!o.interactive) {
    if (tok && !o.prompt.empty()) {
      prompt = tok->encode(o.prompt, true);
      if (!o.print_ids) std::fwrite(o.prompt.data(), 1, o.prompt.size(), stdout);
    }
    stream(prompt);
    return;
  }
  // Interactive: each line is appended to the conversation held in the KV cache; Ctrl-D quits.
  bool first_turn = true;
  std::vector<int32_t> unevaluated;  // the last generated id when generation stopped before evaluating it
  std::string line;
  if (!o.prompt.empty()) {
    line = o.prompt;
  } else {
    std::fprintf(stderr, "> ");
    if (!std::getline(std::cin, line)) return;
  }
  for (;;) {
    auto ids = tok->encode(line + "\n", first_turn);
    first_turn = false;
    // The reply's last token was printed but not yet run through the model (generation stops right
    // after sampling it): it goes first, so the KV cache holds the whole conversation.
    ids.insert(ids.begin(), unevaluated.begin(), unevaluated.end());
    if (session.position() + ids.size() + 1 > session.context()) {
      // As generation's context shift: the first token and the recent half of the conversation stay,
      // if the new line fits beside them; otherwise a new conversation.
      const size_t half = session.context() / 2;
      if (!o.no_context_shift && session.position() > 0 && ids.size() + 1 + half <= session.context()) {
        const std::vector<int32_t> kept = context_shift_tokens(session.tokens(), 1, uint32_t(half));
        std::fprintf(stderr, "dlvk: context full (%u tokens); keeping the first token and the last %zu\n",
                     session.context(), kept.size() - 1);
        session.reset();
        session.eval(kept);
      } else {
        std::fprintf(stderr, "dlvk: context full (%u tokens); starting a new conversation\n", session.context());
        session.reset();
        ids = tok->encode(line + "\n", true);
      }
    }
    GenerateStats st = stream(ids);
    unevaluated.clear();
    if (st.stop != StopReason::eos && !st.tokens.empty()) unevaluated.push_back(st.tokens.back());
    std::fprintf(stderr, "> ");
    if (!std::getline(std::cin, line)) break;
  }
  std::fprintf(stderr, "\n");
}

RegisterCommand reg([](CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand("run", "generate text (streams it to stdout)");
  sub->add_option("--model", o->model, "model directory")->required();
  sub->add_option("-p,--prompt", o->prompt, "prompt text");
  sub->add_option("-f,--file", o->file, "prompt text from a file");
  sub->add_option("--ids", o->ids, "prompt as comma-separated token ids");
  sub->add_option("-n,--n-predict", o->n, "tokens to generate (default 128)");
  sub->add_option("--temp", o->temp, "temperature; 0 = greedy (default 0.8)");
  sub->add_option("--top-k", o->top_k, "top-k (default 40; 0 = off)");
  sub->add_option("--top-p", o->top_p, "top-p (default 0.95; 1 = off)");
  sub->add_option("--min-p", o->min_p, "min-p (default 0.05; 0 = off)");
  sub->add_option("--repeat-penalty", o->repeat_penalty, "repeat penalty (default 1.0 = off)");
  sub->add_option("--repeat-last-n", o->repeat_last_n, "tokens the repeat penalty looks back (default 64)");
  sub->add_option("--seed", o->seed, "random seed (default: random; printed at the end)");
  sub->add_option("--ctx", o->ctx, "context length (default min(max_position_embeddings, 4096))");
  sub->add_option("--batch", o->batch, "prefill chunk size (default 64)");
  sub->add_flag("-i,--interactive", o->interactive, "read prompts line by line, keep the conversation; Ctrl-D quits");
  sub->add_option("--stop", o->stops,
                  "stop when the generated text contains this string (repeatable; \\n, \\t, \\\\ are read as escapes); "
                  "the text ends before it")
      ->allow_extra_args(false);  // one string per --stop: a stray word is an error, not another stop
  sub->add_flag("--no-context-shift", o->no_context_shift,
                "stop when the context is full (default: keep the first token and the last half-context, go on)");
  sub->add_flag("-q,--quiet", o->quiet, "no progress bar or summary line");
  sub->add_flag("--print-ids", o->print_ids, "print the generated token ids (comma-separated) instead of text");
  o->dev.add(sub);
  sub->callback([o] { run(*o); });
});

}  // namespace
}  // namespace dlvk::cli
