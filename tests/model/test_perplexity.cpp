// Windowed perplexity (lib/generate/perplexity.hpp, `dlvk perplexity`) against the NumPy reference's
// own implementation of the windows (tools/reference/make_testdata.py windowed_nll, float64): the
// windows, the scored range and the NLL sum of each case. Tolerance: |NLL sum - ref| <= 1e-5 x ref.
// The logits carry f32 rounding (~1e-6 of the largest logit, test_model.cpp), which moves a token's
// NLL by ~1e-5 absolute on these ~7-nat tokens (measured: <= 3e-8 relative on the sums); a window
// that starts one token off, scores a token twice or reads the wrong logits row changes the sum by
// 1-10% (the cases below differ only in their windows: 492-513).
#include <cmath>
#include <fstream>

#include <fmt/format.h>

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
      {gqa + " --ids 1,2,3 --ctx 2", "need at least 3"}};
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
