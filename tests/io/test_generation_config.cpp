// ModelConfig::merge_generation_config: the in-memory form of what ModelConfig::load does with
// generation_config.json (used by the C API's load-from-memory path).
#include "dlvk/model_config.hpp"
#include "test_util.hpp"

using dlvk::ModelConfig;
using dlvk::Status;
using iotest::expect_error;

namespace {

ModelConfig base(const std::string& extra) {
  std::string s = R"({"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
                      "num_hidden_layers": 2, "num_attention_heads": 4)";
  if (!extra.empty()) s += ", " + extra;
  return ModelConfig::parse(s + "}", "mem:config.json");
}

}  // namespace

TEST_CASE("config: merge_generation_config from memory") {
  ModelConfig c = base(R"("eos_token_id": 2)");
  c.merge_generation_config(R"({"bos_token_id": 1, "eos_token_id": [7, 2, 9], "pad_token_id": 0})", "mem:gen");
  CHECK(c.eos_token_ids == std::vector<int32_t>{2, 7, 9});
  CHECK(c.bos_token_id == 1);
  CHECK(c.pad_token_id == 0);

  // bos/pad of config.json win; an empty object changes nothing.
  ModelConfig d = base(R"("bos_token_id": 3, "eos_token_id": [4])");
  d.merge_generation_config(R"({"bos_token_id": 1, "eos_token_id": 4})", "mem:gen");
  CHECK(d.bos_token_id == 3);
  CHECK(d.eos_token_ids == std::vector<int32_t>{4});
  d.merge_generation_config("{}", "mem:gen");
  CHECK(d.eos_token_ids == std::vector<int32_t>{4});

  // Same result as load() from a directory with the same two files.
  iotest::TempDir dir;
  iotest::write_text(dir / "config.json", R"({"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
                      "num_hidden_layers": 2, "num_attention_heads": 4, "eos_token_id": 2})");
  iotest::write_text(dir / "generation_config.json", R"({"eos_token_id": [5, 2]})");
  ModelConfig e = base(R"("eos_token_id": 2)");
  e.merge_generation_config(R"({"eos_token_id": [5, 2]})", "mem:gen");
  CHECK(e.eos_token_ids == ModelConfig::load(dir.path).eos_token_ids);

  expect_error([&] { c.merge_generation_config(R"({"eos_token_id": )", "mem:gen"); }, Status::bad_model,
               {"mem:gen", "invalid JSON"});
  expect_error([&] { c.merge_generation_config(R"({"eos_token_id": "x"})", "mem:gen"); }, Status::bad_model,
               {"mem:gen", "eos_token_id"});
  expect_error([&] { c.merge_generation_config("[1, 2]", "mem:gen"); }, Status::bad_model, {"mem:gen"});
  expect_error([&] { c.merge_generation_config(std::string((16u << 20) + 1, ' '), "mem:gen"); }, Status::bad_model,
               {"mem:gen", "limit"});
}
