// Windowed perplexity (lib/generate/perplexity.hpp, `dlvk perplexity`) against the NumPy reference's
// own implementation of the windows (tools/reference/make_testdata.py windowed_nll, float64): the
// windows, the scored range and the NLL sum of each case. Tolerance: |NLL sum - ref| <= 1e-5 x ref.
// The logits carry f32 rounding (~1e-6 of the largest logit, test_model.cpp), which moves a token's
// NLL by ~1e-5 absolute on these ~7-nat tokens (measured: <= 3e-8 relative on the sums); a window
// that starts one token off, scores a token twice or reads the wrong logits row changes the sum by
// 1-10% (the cases below differ only in their windows: 492-513).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "dlvk/npy.hpp"
#include "generate/perplexity.hpp"
#include "model/diffllama.hpp"
#include "model/model_util.hpp"
#include "support/test_device.hpp"

using namespace dlvk;

namespace {

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  REQUIRE_MESSAGE(in.good(), "cannot read " << p);
  return nlohmann::json::parse(in);
}

PerplexityOptions options_of(const nlohmann::json& c) {
  PerplexityOptions o;
  o.window = c["window"];
  o.stride = c["stride"];
  if (!c["bos"].is_null()) o.bos = c["bos"].get<int32_t>();
  o.max_windows = c["max_windows"];
  return o;
}

}  // namespace

TEST_CASE("perplexity: windows, scored tokens and NLL match the reference's windows") {
  auto golden = read_json(test::test_data() / "gqa" / "perplexity.json");
  const std::vector<int32_t> ids = golden["ids"];
  auto model = Model::load(test::device(), test::test_data() / "gqa");
  REQUIRE(golden["cases"].size() >= 5);
  for (const auto& c : golden["cases"]) {
    const PerplexityOptions o = options_of(c);
    // batch 5: the scored rows cross chunk boundaries; 64: one chunk per window. The context may be
    // longer than the window.
    for (uint32_t batch : {5u, 64u}) {
      INFO(c.dump() << " batch " << batch);
      Session s(*model, {.context = o.window + (batch == 5 ? 0u : 3u), .batch = batch});
      double per_window = 0;
      uint64_t next_target = c["scored_begin"];
      uint32_t calls = 0;
      auto r = perplexity(s, ids, o, [&](const PerplexityWindow& w) {
        CHECK(w.index == calls++);
        CHECK(w.scored_begin == next_target);  // contiguous: each target scored once
        CHECK(w.scored_end > w.scored_begin);
        CHECK(w.start == uint64_t(w.index) * o.stride);
        next_target = w.scored_end;
        per_window += w.nll_sum;
      });
      CHECK(r.windows == c["windows"].get<uint32_t>());
      CHECK(calls == r.windows);
      CHECK(r.stride == o.stride);
      CHECK(r.scored_begin == c["scored_begin"].get<uint64_t>());
      CHECK(r.scored_end == c["scored_end"].get<uint64_t>());
      const double ref = c["nll_sum"];
      MESSAGE(fmt::format("window {} stride {} batch {}: NLL sum {:.6f} vs {:.6f} (rel {:.1e})", o.window, o.stride,
                          batch, r.nll_sum, ref, std::abs(r.nll_sum - ref) / ref));
      CHECK(std::abs(r.nll_sum - ref) <= 1e-5 * ref);
      CHECK(per_window == doctest::Approx(r.nll_sum).epsilon(1e-12));
      CHECK(r.perplexity() == doctest::Approx(std::exp(ref / double(r.tokens()))).epsilon(1e-5));
    }
  }
  // Stride 0 is the default: half a window's text tokens ((16 - 1) / 2 = 7 with a bos).
  Session s(*model, {.context = 16, .batch = 64});
  PerplexityOptions o = options_of(golden["cases"][0]);
  REQUIRE(o.stride == 7);
  o.stride = 0;
  auto r = perplexity(s, ids, o);
  CHECK(r.stride == 7);
  CHECK(std::abs(r.nll_sum - golden["cases"][0]["nll_sum"].get<double>()) <= 1e-5 * golden["cases"][0]["nll_sum"].get<double>());
}

TEST_CASE("perplexity: bad windows and ids are errors, checked before any work") {
  auto model = Model::load(test::device(), test::test_data() / "gqa");
  const int32_t V = int32_t(model->config().vocab_size);
  Session s(*model, {.context = 16, .batch = 8});
  std::vector<int32_t> ids{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  auto status_of = [&](std::span<const int32_t> t, PerplexityOptions o) {
    try {
      perplexity(s, t, o);
    } catch (const Error& e) {
      return e.status();
    }
    return Status::ok;
  };
  CHECK(status_of(ids, {.window = 17, .bos = 1}) == Status::invalid_argument);  // longer than the context
  CHECK(status_of(std::span(ids).first(15), {.window = 17, .bos = 1}) == Status::ok);  // the sequence fits
  CHECK(status_of(ids, {.window = 2, .bos = 1}) == Status::invalid_argument);   // no room for context
  CHECK(status_of(ids, {.window = 16, .stride = 15, .bos = 1}) == Status::invalid_argument);
  CHECK(status_of(ids, {.window = 16, .stride = 15, .bos = std::nullopt}) == Status::ok);  // without a bos: 16 text tokens
  CHECK(status_of({}, {.bos = 1}) == Status::invalid_argument);
  CHECK(status_of(std::span(ids).first(1), {}) == Status::invalid_argument);  // one token, no bos
  CHECK(status_of(std::span(ids).first(1), {.bos = 1}) == Status::ok);
  CHECK(status_of(ids, {.bos = V}) == Status::invalid_argument);
  // The last id of a window is only a target (never evaluated): it is checked too.
  ids.back() = V;
  CHECK(status_of(ids, {.bos = 1}) == Status::invalid_argument);
  ids.back() = -1;
  CHECK(status_of(ids, {.window = 16, .stride = 15, .bos = std::nullopt}) == Status::invalid_argument);
}

TEST_CASE("perplexity: against a base session, KL divergence and top-token agreement") {
  // Base: the stored f32 model; scored: the same weights quantized to q4_0 (a real difference). One
  // window without a bos covers ids[0..T-1] at positions 0..T-2: exactly the rows of the reference's
  // golden logits, so the expected KL, base NLL and agreement come from the reference's logits (the
  // base session's f32 logits are within ~1e-6 of them; tolerance 1e-4 relative).
  auto dir = test::test_data() / "gqa";
  auto ids = test::read_ids(dir / "ids.txt");
  auto golden = read_npy(dir / "logits.npy");
  auto stored = Model::load(test::device(), dir);
  auto q4 = Model::load(test::device(), dir, {}, ops::Quant::q4_0);
  const size_t V = size_t(stored->config().vocab_size), T = ids.size();
  Session base(*stored, {.context = uint32_t(T), .batch = 7});
  Session scored(*q4, {.context = uint32_t(T), .batch = 64});
  std::vector<float> q4_logits((T - 1) * V);
  scored.eval(std::span(ids).first(T - 1), q4_logits.data());
  double kl = 0, kl_max = 0, base_nll = 0;
  uint64_t same = 0;
  for (size_t t = 0; t + 1 < T; ++t) {
    const float* g = &golden.data[t * V];
    const float* q = &q4_logits[t * V];
    double mg = -INFINITY, mq = -INFINITY, sg = 0, sq = 0;
    size_t ag = 0, aq = 0;
    for (size_t v = 0; v < V; ++v) {
      if (g[v] > g[ag]) ag = v;
      if (q[v] > q[aq]) aq = v;
      mg = std::max(mg, double(g[v]));
      mq = std::max(mq, double(q[v]));
    }
    for (size_t v = 0; v < V; ++v) {
      sg += std::exp(g[v] - mg);
      sq += std::exp(q[v] - mq);
    }
    double row = 0;
    for (size_t v = 0; v < V; ++v) {
      const double pg = std::exp(g[v] - mg) / sg, pq = std::exp(q[v] - mq) / sq;
      row += pg * std::log(pg / pq);
    }
    kl += row;
    kl_max = std::max(kl_max, row);
    base_nll += -std::log(std::exp(g[ids[t + 1]] - mg) / sg);
    same += ag == aq;
  }
  const PerplexityOptions o{.window = uint32_t(T), .bos = std::nullopt};
  auto r = perplexity(scored, ids, o, {}, &base);
  REQUIRE(r.compared);
  REQUIRE(r.windows == 1);
  REQUIRE(r.tokens() == T - 1);
  MESSAGE(fmt::format("q4_0 vs stored: KL sum {:.6f} (ref {:.6f}), max {:.4f} (ref {:.4f}), top-1 {} / {} (ref {})",
                      r.kl_sum, kl, r.kl_max, kl_max, r.top1_same, r.tokens(), same));
  CHECK(kl > 1e-3);  // the quantization is visible
  CHECK(std::abs(r.kl_sum - kl) <= 1e-4 * kl);
  CHECK(std::abs(r.kl_max - kl_max) <= 1e-4 * kl_max);
  CHECK(std::abs(r.base_nll_sum - base_nll) <= 1e-5 * base_nll);
  CHECK(r.top1_same == same);
  // The scored side alone gives the same NLL (up to f32 rounding: with the base, chunks of the smaller
  // batch run, through kernels blocked for that many rows).
  CHECK(r.nll_sum == doctest::Approx(perplexity(scored, ids, o).nll_sum).epsilon(1e-6));
  // A base identical to the scored model: no divergence, every top token agrees.
  Session twin(*q4, {.context = uint32_t(T), .batch = 5});
  auto same_r = perplexity(scored, ids, o, {}, &twin);
  CHECK(same_r.kl_sum <= 1e-12);
  CHECK(same_r.top1_same == same_r.tokens());
  CHECK(same_r.base_nll_sum == doctest::Approx(same_r.nll_sum).epsilon(1e-12));
  // Another vocabulary is an error.
  auto mha = Model::load(test::device(), test::test_data() / "mha");
  Session other(*mha, {.context = uint32_t(T)});
  CHECK_THROWS_AS(perplexity(scored, ids, o, {}, &other), Error);
}

TEST_CASE("cli: dlvk perplexity on the shipped model's held-out text and on ids") {
  const auto src = std::filesystem::path(std::getenv("DLVK_SOURCE_DIR"));
  auto held = read_json(test::test_data() / "heldout.json");
  auto r = test::run_command(test::dlvk_bin() + " perplexity --model " + (src / "models/default").string() + " -f " +
                                 (src / held["file"].get<std::string>()).string() +
                                 fmt::format(" --max-windows {} --json", held["max_windows"].get<int>()),
                             300);
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  const double tokens = held["scored_end"].get<double>() - held["scored_begin"].get<double>();
  const double ref_mean = held["nll_sum"].get<double>() / tokens;
  CHECK(j["tokens"].get<double>() == tokens);
  CHECK(j["windows"] == held["windows"]);
  CHECK(j["ctx"] == held["window"]);
  CHECK(j["stride"] == held["stride"]);
  CHECK(j["bos"] == held["bos"]);
  // f16 weights computed in f32: the same f32-rounding bound as above.
  MESSAGE(fmt::format("held-out mean NLL {:.6f} vs reference {:.6f}", j["mean_nll"].get<double>(), ref_mean));
  CHECK(std::abs(j["mean_nll"].get<double>() - ref_mean) <= 1e-5 * ref_mean);
  CHECK(j["bits_per_byte"].get<double>() ==
        doctest::Approx(held["nll_sum"].get<double>() / (held["bytes"].get<double>() * std::log(2.0))).epsilon(1e-5));

  // --ids on a model without tokenizer.json: the bos comes from generation_config.json (id 1).
  auto golden = read_json(test::test_data() / "gqa" / "perplexity.json");
  const auto& c = golden["cases"][0];
  std::string csv;
  for (int32_t id : golden["ids"]) {
    if (!csv.empty()) csv += ',';
    csv += std::to_string(id);
  }
  auto ri = test::run_command(test::dlvk_bin() + " perplexity --model " + (test::test_data() / "gqa").string() +
                              " --ids " + csv + fmt::format(" --ctx {} --json", c["window"].get<int>()));
  INFO("stderr: " << ri.err);
  REQUIRE(ri.exit_code == 0);
  auto ji = nlohmann::json::parse(ri.out);
  CHECK(ji["bos"] == 1);
  CHECK(ji["stride"] == c["stride"]);
  CHECK(ji["bits_per_byte"].is_null());
  CHECK(std::abs(ji["mean_nll"].get<double>() * ji["tokens"].get<double>() - c["nll_sum"].get<double>()) <=
        1e-5 * c["nll_sum"].get<double>());
  // --kl-base: the stored model's figures beside the quantized one's.
  auto rk = test::run_command(test::dlvk_bin() + " perplexity --model " + (test::test_data() / "gqa").string() +
                              " --ids " + csv + fmt::format(" --ctx {} --json --quant q8_0 --kl-base ", c["window"].get<int>()) +
                              (test::test_data() / "gqa").string());
  INFO("stderr: " << rk.err);
  REQUIRE(rk.exit_code == 0);
  auto jk = nlohmann::json::parse(rk.out);
  const double ref_ppl = std::exp(c["nll_sum"].get<double>() / ji["tokens"].get<double>());
  CHECK(std::abs(jk["base_perplexity"].get<double>() - ref_ppl) <= 1e-4 * ref_ppl);
  CHECK(jk["kl_mean"].get<double>() > 0);
  CHECK(jk["kl_max"].get<double>() >= jk["kl_mean"].get<double>());
  CHECK(jk["top1_agreement"].get<double>() > 0.5);
  CHECK(jk["top1_agreement"].get<double>() <= 1.0);
  CHECK(jk["perplexity"].get<double>() != jk["base_perplexity"].get<double>());

  // Bad input: one-line errors naming the problem.
  const std::string gqa = (test::test_data() / "gqa").string(), shipped = (src / "models/default").string();
  const auto empty = std::filesystem::temp_directory_path() / "dlvk_test_empty.txt";
  std::ofstream(empty).close();
  const std::pair<std::string, std::string> bad[] = {
      {gqa + " --ids 1,999", "out of range"},
      {gqa + " -f x.txt", "no tokenizer.json"},
      {shipped + " -f /nonexistent.txt", "/nonexistent.txt"},
      {shipped + " -f " + empty.string(), "no text"},
      {gqa + " --ids 1,2 -f x", "exactly one"},
      {gqa + " --ids 1,2,3 --ctx 3 --stride 5", "stride"},
      {gqa + " --ids 1,2,3 --ctx 2", "need at least 3"},
      {gqa + " --ids 1,2,3 --kl-base " + (test::test_data() / "mha").string(), "vocabulary"}};
  for (const auto& [args, hint] : bad) {
    auto e = test::run_command(test::dlvk_bin() + " perplexity --model " + args);
    INFO("args " << args << " stderr: " << e.err);
    CHECK(e.exit_code != 0);
    CHECK(e.exit_code < 124);
    CHECK(e.err.rfind("dlvk: error: ", 0) == 0);
    CHECK(std::count(e.err.begin(), e.err.end(), '\n') == 1);
    CHECK(e.err.find(hint) != std::string::npos);
  }
  std::filesystem::remove(empty);
}

TEST_CASE("cli: dlvk score --prompt / --file score the ids `dlvk tokenize` gives, with each token's text; run -f") {
  const auto shipped = std::filesystem::path(std::getenv("DLVK_SOURCE_DIR")) / "models/default";
  const std::string text = "In the beginning God created\tthe heaven\n";
  const auto file = std::filesystem::temp_directory_path() / "dlvk_test_score.txt";
  std::ofstream(file, std::ios::binary) << text;
  auto tk = test::run_command(test::dlvk_bin() + " tokenize --model " + shipped.string() + " --file " + file.string());
  REQUIRE(tk.exit_code == 0);
  std::string csv = tk.out.substr(0, tk.out.find_last_not_of("\n ") + 1);
  for (char& ch : csv)
    if (ch == ' ') ch = ',';
  const std::string score = test::dlvk_bin() + " score --model " + shipped.string();
  auto by_ids = test::run_command(score + " --ids " + csv);
  auto by_file = test::run_command(score + " -f " + file.string());
  auto by_prompt = test::run_command(score + " --prompt 'In the beginning God created'");
  INFO("stderr: " << by_ids.err << by_file.err << by_prompt.err);
  REQUIRE(by_ids.exit_code == 0);
  REQUIRE(by_file.exit_code == 0);
  REQUIRE(by_prompt.exit_code == 0);
  CHECK(by_file.out == by_ids.out);
  // The text column (4th) concatenates to the text after the bos, escaped.
  std::istringstream lines(by_file.out);
  std::string line, joined;
  std::getline(lines, line);
  CHECK(line == "pos\ttoken\tnll\ttext");
  int rows = 0;
  while (std::getline(lines, line) && line.rfind("tokens ", 0) != 0) {
    joined += line.substr(line.rfind('\t') + 1);
    ++rows;
  }
  CHECK(rows == std::count(csv.begin(), csv.end(), ','));  // every id but the bos is a target
  CHECK(joined == "In the beginning God created\\tthe heaven\\n");
  // The prompt is a prefix of the file's text: its rows are the file's first rows.
  CHECK(by_file.out.rfind(by_prompt.out.substr(0, by_prompt.out.find("tokens "))) == 0);
  // Longer than the model's positions (256): scored, with a warning that points to `dlvk perplexity`.
  {
    std::ifstream held(shipped / "heldout.txt", std::ios::binary);
    std::string head(3000, '\0');
    held.read(head.data(), std::streamsize(head.size()));
    const auto long_file = std::filesystem::temp_directory_path() / "dlvk_test_score_long.txt";
    std::ofstream(long_file, std::ios::binary) << head;
    auto long_run = test::run_command(score + " -f " + long_file.string());
    std::filesystem::remove(long_file);
    CHECK(long_run.exit_code == 0);
    CHECK(long_run.err.find("warning: ") != std::string::npos);
    CHECK(long_run.err.find("dlvk perplexity") != std::string::npos);
    CHECK(by_file.err.find("warning") == std::string::npos);
  }
  // `dlvk run -f` generates from the file's text as from the same --prompt.
  const auto prompt_file = std::filesystem::temp_directory_path() / "dlvk_test_run_prompt.txt";
  std::ofstream(prompt_file, std::ios::binary) << "In the beginning God created";
  const std::string run = test::dlvk_bin() + " run --model " + shipped.string() + " -n 6 --temp 0 --print-ids -q";
  auto run_file = test::run_command(run + " -f " + prompt_file.string());
  auto run_prompt = test::run_command(run + " -p 'In the beginning God created'");
  CHECK(run_file.exit_code == 0);
  CHECK(run_file.out == run_prompt.out);
  CHECK(std::count(run_file.out.begin(), run_file.out.end(), ',') == 5);
  CHECK(test::run_command(run + " -f " + prompt_file.string() + " -p x").exit_code != 0);
  std::filesystem::remove(prompt_file);
  std::filesystem::remove(file);
  for (const std::string& bad :
       {std::string(" --ids 1,2 --prompt x"), std::string(""), std::string(" --ids ''"), std::string(" -f /nonexistent.txt")}) {
    auto e = test::run_command(score + bad);
    INFO("args" << bad << " stderr: " << e.err);
    CHECK(e.exit_code != 0);
    CHECK(e.exit_code < 124);
    CHECK(e.err.rfind("dlvk: error: ", 0) == 0);
  }
  auto no_tok = test::run_command(test::dlvk_bin() + " score --model " + (test::test_data() / "gqa").string() + " -p hi");
  CHECK(no_tok.exit_code != 0);
  CHECK(no_tok.err.find("no tokenizer.json") != std::string::npos);
}
