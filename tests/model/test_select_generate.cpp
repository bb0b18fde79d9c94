// Candidates selected on the GPU (Session::eval_top_k) against the full logits row (Session::eval), and
// generation through them against generation from full rows: the same candidates (ids in the sampler's
// order, logits bit for bit) and the same generated ids for greedy and for seeded top-k / top-p /
// min-p sampling. On reference test models (vocabulary 160: one selection dispatch) and on a small
// random model with a vocabulary of 100003 (two dispatches: per-workgroup lists, then the merge).
#include <algorithm>
#include <cstring>
#include <fstream>
#include <numeric>

#include <fmt/format.h>

#include "generate/generator.hpp"
#include "model/diffllama.hpp"
#include "model/model_util.hpp"
#include "model/synthetic.hpp"
#include "support/test_device.hpp"

using namespace dlvk;

namespace {

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

// eval_top_k's candidates are the full row's best k in (logit desc, id asc) order with the same logits.
void check_candidates(Model& model, std::span<const int32_t> ids, uint32_t batch,
                      std::initializer_list<uint32_t> ks = {1, 8, 40, 64}) {
  const uint32_t V = uint32_t(model.config().vocab_size);
  Session full(model, {.context = uint32_t(ids.size()) + 2, .batch = batch});
  auto row = full.eval(ids);
  const uint64_t prefill_submissions = full.submissions();
  std::vector<float> logits(row.begin(), row.end());
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  for (uint32_t k : ks) {
    INFO("batch " << batch << " k " << k);
    Session s(model, {.context = uint32_t(ids.size()) + 2, .batch = batch});
    auto best = s.eval_top_k(ids, k);
    CHECK(s.position() == ids.size());
    CHECK(s.submissions() == prefill_submissions);  // the selection rides in the last chunk's submission
    REQUIRE(best.size() == std::min(k, V));
    bool same = true;
    for (size_t i = 0; i < best.size(); ++i)
      same = same && best[i].id == order[i] && same_bits(best[i].logit, logits[size_t(order[i])]);
    CHECK(same);
    // The next token through both paths (the KV cache was filled the same way).
    int32_t next[1] = {order[0]};
    auto row2 = full.eval(next);
    auto best2 = s.eval_top_k(next, k);
    CHECK(best2[0].id == int32_t(std::max_element(row2.begin(), row2.end()) - row2.begin()));
    CHECK(same_bits(best2[0].logit, *std::max_element(row2.begin(), row2.end())));
    s.truncate(0);
    full.truncate(0);
    full.eval(ids);
  }
}

GenerateStats run(Model& model, std::span<const int32_t> prompt, SamplingParams sp, bool gpu, int n) {
  Session s(model, {.context = uint32_t(prompt.size()) + uint32_t(n) + 1, .batch = 16});
  GenerateOptions o;
  o.max_tokens = n;
  o.sampling = sp;
  o.gpu_sampling = gpu;
  return generate(s, prompt, o, {});
}

void check_generation(Model& model, std::span<const int32_t> prompt, int n, size_t cases = 4) {
  SamplingParams greedy{.temperature = 0, .top_k = 0};
  SamplingParams top40{.seed = 7};  // defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05
  SamplingParams top8_hot{.temperature = 1.5f, .top_k = 8, .top_p = 1.0f, .min_p = 0.0f, .seed = 123};
  SamplingParams top64{.temperature = 1.0f, .top_k = 64, .top_p = 0.9f, .min_p = 0.0f, .seed = 5};
  struct Case {
    const char* name;
    SamplingParams p;
    uint32_t k;
  };
  const Case all[] = {{"greedy", greedy, 1}, {"top-k 40", top40, 40}, {"top-k 8 hot", top8_hot, 8},
                      {"top-k 64 top-p", top64, 64}};
  for (const Case& c : std::span(all).first(std::min<size_t>(cases, 4))) {
    INFO(c.name);
    auto gpu = run(model, prompt, c.p, true, n);
    auto cpu = run(model, prompt, c.p, false, n);
    CHECK(gpu.gpu_top_k == c.k);
    CHECK(cpu.gpu_top_k == 0);
    CHECK(gpu.tokens.size() == size_t(n));
    CHECK(gpu.tokens == cpu.tokens);
  }
}

}  // namespace

TEST_CASE("select: eval_top_k equals the best of the full row, prefill and decode") {
  for (std::string name : {"gqa", "tied"}) {
    INFO(name);
    auto dir = test::test_data() / name;
    auto ids = test::read_ids(dir / "ids.txt");
    auto model = Model::load(test::device(), dir);
    for (uint32_t batch : {64u, 7u, 1u}) check_candidates(*model, ids, batch);
  }
}

TEST_CASE("select: generation from GPU candidates gives the full-row tokens (greedy, seeded top-k)") {
  auto dir = test::test_data() / "gqa";
  auto ids = test::read_ids(dir / "ids.txt");
  auto model = Model::load(test::device(), dir);
  check_generation(*model, std::span(ids).first(8), 24);
}

TEST_CASE("select: a vocabulary of 100003 (two dispatches): candidates and generation") {
  ModelConfig cfg = ModelConfig::parse(R"({"model_type": "diffllama", "vocab_size": 100003, "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
      "head_dim": 32, "max_position_embeddings": 256})", "big vocabulary");
  Checkpoint ckpt = synthetic_checkpoint(cfg, DType::f16);
  auto model = Model::load(test::device(), cfg, ckpt);
  std::vector<int32_t> prompt = {1, 517, 100002, 4242, 77};
  // (Kept short: without the CPU quirks, lavapipe's head over 100003 rows takes ~0.3 s a token.)
  check_candidates(*model, prompt, 64, {1, 40});
  check_generation(*model, prompt, 6, 2);
  Session s(*model, {.context = 8});
  CHECK(s.decode_dispatches(40) == s.decode_dispatches() + 2);
}

TEST_CASE("select: which sampling parameters use the GPU candidates") {
  auto model = Model::load(test::device(), test::test_data() / "mha");
  std::vector<int32_t> prompt = {1, 2, 3};
  auto k_of = [&](SamplingParams p) { return run(*model, prompt, p, true, 2).gpu_top_k; };
  CHECK(k_of({.temperature = 0, .top_k = 0}) == 1);
  CHECK(k_of({.temperature = 0, .top_k = 0, .repeat_penalty = 1.3f}) == 0);      // the penalty needs the row
  CHECK(k_of({.temperature = 0.7f, .top_k = 1}) == 1);
  CHECK(k_of({.temperature = 0.7f, .top_k = 0}) == 0);                          // no top-k cut
  CHECK(k_of({.temperature = 0.7f, .top_k = 65}) == 0);                         // over max_top_k
  CHECK(k_of({.temperature = 0.7f, .top_k = 64, .repeat_penalty = 1.1f, .repeat_last_n = 0}) == 64);  // penalty off
  CHECK(k_of({.temperature = 0.7f, .top_k = 40, .repeat_penalty = 1.1f}) == 0);
  // A repeat penalty still generates the same tokens as before (full rows).
  SamplingParams pen{.temperature = 0.9f, .top_k = 20, .repeat_penalty = 1.3f, .seed = 3};
  CHECK(run(*model, prompt, pen, true, 8).tokens == run(*model, prompt, pen, false, 8).tokens);
  Session s(*model, {.context = 8});
  CHECK_THROWS_AS(s.eval_top_k(prompt, 0), Error);
  CHECK_THROWS_AS(s.eval_top_k(prompt, Session::max_top_k + 1), Error);
  std::vector<int32_t> bad{int32_t(model->config().vocab_size)};
  CHECK_THROWS_AS(s.eval_top_k(bad, 1), Error);
  CHECK(s.position() == 0);
}

TEST_CASE("generate: a full context shifts (the first token and the recent half stay) and generation goes on") {
  // Greedy on the gqa reference model, context 16, a 5-token prompt: the cache fills after 12 generated
  // tokens. The expected tokens come from a plain emulation on full logits rows: a fresh session that
  // evaluates [first token] + the last 7 cached tokens + the sampled one, argmax after each step.
  auto dir = test::test_data() / "gqa";
  auto ids = test::read_ids(dir / "ids.txt");
  auto model = Model::load(test::device(), dir);
  const std::vector<int32_t> prompt(ids.begin(), ids.begin() + 5);
  const uint32_t C = 16, n = 40;
  auto argmax = [](std::span<const float> row) { return int32_t(std::max_element(row.begin(), row.end()) - row.begin()); };
  std::vector<int32_t> expected, cache(prompt);
  uint32_t shifts = 0;
  {
    Session s(*model, {.context = C, .batch = 64});
    int32_t next = argmax(s.eval(prompt));
    while (expected.size() < n) {
      expected.push_back(next);
      if (expected.size() == n) break;
      if (cache.size() == C) {
        std::vector<int32_t> kept{cache[0]};
        kept.insert(kept.end(), cache.end() - (C / 2 - 1), cache.end());
        kept.push_back(next);
        s.reset();
        next = argmax(s.eval(kept));
        cache = kept;
        ++shifts;
      } else {
        int32_t one[1] = {next};
        next = argmax(s.eval(one));
        cache.push_back(one[0]);
      }
    }
  }
  REQUIRE(shifts >= 3);
  for (bool gpu : {true, false}) {
    INFO("gpu sampling " << gpu);
    Session s(*model, {.context = C, .batch = 4});
    GenerateOptions o;
    o.max_tokens = int(n);
    o.sampling = {.temperature = 0, .top_k = 0};
    o.gpu_sampling = gpu;
    o.context_shift = true;
    o.keep_first = 1;
    auto st = generate(s, prompt, o, {});
    CHECK(st.stop == StopReason::max_tokens);
    CHECK(st.context_shifts == shifts);
    CHECK(st.tokens == expected);
    // The cache holds what the emulation's does, all but the last token (sampled, not evaluated).
    CHECK(std::vector<int32_t>(s.tokens().begin(), s.tokens().end()) == cache);
    CHECK(s.position() == cache.size());
    // Without the shift: stops when full, after the same first tokens.
    Session t(*model, {.context = C, .batch = 4});
    o.context_shift = false;
    auto full = generate(t, prompt, o, {});
    CHECK(full.stop == StopReason::context_full);
    CHECK(full.context_shifts == 0);
    REQUIRE(full.tokens.size() == C - prompt.size() + 1);
    CHECK(std::equal(full.tokens.begin(), full.tokens.end(), expected.begin()));
  }
  // `dlvk run` shifts by default (keeping the first token), and stops with --no-context-shift.
  const std::string csv = fmt::format("{}", fmt::join(prompt, ",")), want = fmt::format("{}", fmt::join(expected, ","));
  const std::string run = test::dlvk_bin() + " run --model " + dir.string() + " --ids " + csv +
                          fmt::format(" -n {} --ctx {} --temp 0 --print-ids", n, C);
  auto r = test::run_command(run);
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.substr(0, r.out.find('\n')) == want);
  CHECK(r.err.find(fmt::format("({} context shifts)", shifts)) != std::string::npos);
  auto stop = test::run_command(run + " --no-context-shift");
  REQUIRE(stop.exit_code == 0);
  CHECK(stop.err.find("stop: context full") != std::string::npos);
}

TEST_CASE("session: tokens() follows eval, eval_top_k, truncate and reset") {
  auto model = Model::load(test::device(), test::test_data() / "mha");
  Session s(*model, {.context = 12, .batch = 3});
  const std::vector<int32_t> a{5, 6, 7, 8, 9, 10, 11}, b{1, 2};
  s.eval(a);
  s.eval_top_k(b, 4);
  std::vector<int32_t> both(a);
  both.insert(both.end(), b.begin(), b.end());
  CHECK(std::vector<int32_t>(s.tokens().begin(), s.tokens().end()) == both);
  s.truncate(4);
  CHECK(std::vector<int32_t>(s.tokens().begin(), s.tokens().end()) == std::vector<int32_t>(a.begin(), a.begin() + 4));
  s.truncate(10);  // past the position: no change
  CHECK(s.tokens().size() == 4);
  std::vector<int32_t> bad{1, 999};
  CHECK_THROWS_AS(s.eval(bad), Error);  // refused before anything runs
  CHECK(s.tokens().size() == 4);
  s.reset();
  CHECK(s.tokens().empty());
  CHECK(s.position() == 0);
}

TEST_CASE("cli: dlvk run --stop ends the text right before a stop string") {
  const auto shipped = std::filesystem::path(std::getenv("DLVK_SOURCE_DIR")) / "models/default";
  const std::string prompt = "And God said";
  const std::string run = test::dlvk_bin() + " run --model " + shipped.string() + " -p '" + prompt + "' -n 40 --temp 0";
  auto plain = test::run_command(run);
  REQUIRE(plain.exit_code == 0);
  REQUIRE(plain.out.rfind(prompt, 0) == 0);
  const std::string generated = plain.out.substr(prompt.size(), plain.out.size() - prompt.size() - 1);  // less "\n"
  REQUIRE(generated.size() > 40);
  // A stop string from the middle of the greedy text: the output is the text before its first
  // occurrence, and the summary names the stop.
  const std::string stop = generated.substr(20, 6);
  INFO("generated '" << generated << "', stop '" << stop << "'");
  auto stopped = test::run_command(run + " --stop zzzz --stop '" + stop + "'");
  REQUIRE(stopped.exit_code == 0);
  CHECK(stopped.out == prompt + generated.substr(0, generated.find(stop)) + "\n");
  CHECK(stopped.err.find("stop: stop string") != std::string::npos);
  // A stop string that never comes changes nothing.
  auto never = test::run_command(run + " --stop 'zzzz'");
  CHECK(never.out == plain.out);
  CHECK(never.err.find("stop: token limit") != std::string::npos);
  // --print-ids with a stop string: the ids up to the token that completed it.
  auto ids = test::run_command(run + " --print-ids --stop '" + stop + "'");
  REQUIRE(ids.exit_code == 0);
  CHECK(ids.err.find("stop: stop string") != std::string::npos);
  CHECK(std::count(ids.out.begin(), ids.out.end(), ',') < 39);
  // Errors: an empty stop string; a stray word after one (one string per --stop); a model without a tokenizer.
  CHECK(test::run_command(run + " --stop ''").exit_code != 0);
  CHECK(test::run_command(run + " --stop Behold thee").exit_code != 0);
  auto no_tok = test::run_command(test::dlvk_bin() + " run --model " + (test::test_data() / "gqa").string() +
                                  " --ids 1,2 -n 3 --stop x");
  CHECK(no_tok.exit_code != 0);
  CHECK(no_tok.err.find("tokenizer.json") != std::string::npos);
}

TEST_CASE("cli: dlvk run -i keeps the first token and the recent half when a new line does not fit") {
  // Context 40, 16-token replies: line 2 (22 tokens) does not fit beside half the context (new
  // conversation), line 3 does (the first token and the last 19 stay); --no-context-shift always starts over.
  const auto shipped = std::filesystem::path(std::getenv("DLVK_SOURCE_DIR")) / "models/default";
  const auto input = std::filesystem::temp_directory_path() / "dlvk_test_interactive.txt";
  std::ofstream(input) << "And God said unto Moses\n"
                          "And the LORD spake unto Moses and Aaron in the land of Egypt saying this month shall be unto you\n"
                          "Then Jesus answered\n";
  const std::string run = test::dlvk_bin() + " run --model " + shipped.string() + " -i -n 16 --ctx 40 --temp 0";
  auto shift = test::run_command(run + " < " + input.string());
  auto restart = test::run_command(run + " --no-context-shift < " + input.string());
  std::filesystem::remove(input);
  INFO("stderr: " << shift.err);
  REQUIRE(shift.exit_code == 0);
  REQUIRE(restart.exit_code == 0);
  auto count = [](const std::string& s, const std::string& what) {
    size_t n = 0;
    for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
  };
  CHECK(count(shift.err, "starting a new conversation") == 1);
  CHECK(count(shift.err, "keeping the first token and the last 19") == 1);
  CHECK(count(restart.err, "starting a new conversation") == 2);
  CHECK(count(restart.err, "keeping") == 0);
  CHECK(count(shift.err, "16 generated") == 3);
}
