#include <cmath>
#include <numbers>

#include "dlvk/model_config.hpp"
#include "test_util.hpp"

using dlvk::Activation;
using dlvk::ModelConfig;
using dlvk::RopeType;
using dlvk::Status;
using iotest::expect_error;

namespace {

// The reference checkpoint's config (kajuma/DiffLlama-0.3B-handcut), transformers v4 spelling.
const char* kReferenceV4 = R"({
  "architectures": ["DiffLlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "lambda_std_dev": 0.1,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "diffllama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "float32",
  "transformers_version": "4.48.0",
  "use_cache": true,
  "vocab_size": 128256
})";

// The same model in transformers v5 spelling.
const char* kReferenceV5 = R"({
  "architectures": ["DiffLlamaForCausalLM"],
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128009],
  "hidden_size": 2048, "intermediate_size": 8192, "num_attention_heads": 32,
  "num_hidden_layers": 16, "num_key_value_heads": 8, "vocab_size": 128256,
  "max_position_embeddings": 131072,
  "model_type": "diffllama",
  "rope_parameters": {
    "rope_theta": 500000.0, "rope_type": "llama3", "factor": 32.0,
    "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192
  },
  "tie_word_embeddings": true,
  "dtype": "bfloat16"
})";

// A small config with only the required keys plus overrides spliced in.
std::string small(const std::string& extra = "") {
  std::string s = R"({"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
                      "num_hidden_layers": 2, "num_attention_heads": 4)";
  if (!extra.empty()) s += ", " + extra;
  return s + "}";
}

ModelConfig parse(const std::string& text) { return ModelConfig::parse(text, "/m/config.json"); }

void expect_bad(const std::string& text, Status st, std::initializer_list<std::string> subs) {
  expect_error([&] { parse(text); }, st, subs);
}

}  // namespace

TEST_CASE("config: reference checkpoint, v4 spelling") {
  const ModelConfig c = parse(kReferenceV4);
  CHECK(c.vocab_size == 128256);
  CHECK(c.hidden_size == 2048);
  CHECK(c.intermediate_size == 8192);
  CHECK(c.num_layers == 16);
  CHECK(c.num_heads == 32);
  CHECK(c.num_kv_heads == 8);
  CHECK(c.head_dim == 64);
  CHECK(c.activation == Activation::silu);
  CHECK(c.max_position_embeddings == 131072);
  CHECK(c.rms_norm_eps == 1e-5f);
  CHECK(c.rope_theta == 500000.0);
  CHECK(c.rope_type == RopeType::llama3);
  CHECK(c.rope_factor == 32.0);
  CHECK(c.low_freq_factor == 1.0);
  CHECK(c.high_freq_factor == 4.0);
  CHECK(c.original_max_position_embeddings == 8192);
  CHECK_FALSE(c.attention_bias);
  CHECK(c.tie_word_embeddings);
  CHECK(c.bos_token_id == 128000);
  CHECK_FALSE(c.pad_token_id.has_value());
  CHECK(c.eos_token_ids == std::vector<int32_t>{128001});
  REQUIRE(c.dtype.has_value());
  CHECK(*c.dtype == dlvk::DType::f32);
}

TEST_CASE("config: v5 spelling gives the same model") {
  const ModelConfig a = parse(kReferenceV4);
  const ModelConfig b = parse(kReferenceV5);
  CHECK(b.rope_type == RopeType::llama3);
  CHECK(b.rope_theta == a.rope_theta);
  CHECK(b.rope_factor == a.rope_factor);
  CHECK(b.low_freq_factor == a.low_freq_factor);
  CHECK(b.high_freq_factor == a.high_freq_factor);
  CHECK(b.original_max_position_embeddings == a.original_max_position_embeddings);
  CHECK(b.head_dim == 64);  // hidden / H
  CHECK(b.eos_token_ids == std::vector<int32_t>{128001, 128009});
  CHECK(b.dtype == dlvk::DType::bf16);
  CHECK(b.rope_inv_freq() == a.rope_inv_freq());
}

TEST_CASE("config: defaults") {
  const ModelConfig c = parse(small());
  CHECK(c.num_kv_heads == 4);
  CHECK(c.head_dim == 16);
  CHECK(c.activation == Activation::silu);
  CHECK(c.max_position_embeddings == 2048);
  CHECK(c.rms_norm_eps == 1e-5f);  // NOT Llama's 1e-6
  CHECK(c.rope_theta == 10000.0);
  CHECK(c.rope_type == RopeType::default_);
  CHECK(c.original_max_position_embeddings == 2048);
  CHECK_FALSE(c.attention_bias);
  CHECK_FALSE(c.tie_word_embeddings);
  CHECK_FALSE(c.bos_token_id.has_value());
  CHECK_FALSE(c.pad_token_id.has_value());
  CHECK(c.eos_token_ids.empty());
  CHECK_FALSE(c.dtype.has_value());
}

TEST_CASE("config: explicit nulls mean unset; unknown keys are ignored") {
  const ModelConfig c = parse(small(R"("head_dim": null, "rope_scaling": null, "pad_token_id": null,
      "num_key_value_heads": null, "eos_token_id": null, "torch_dtype": null, "model_type": null,
      "mlp_bias": true, "pretraining_tp": 2, "lambda_std_dev": 0.1, "some_future_key": {"a": [1]})"));
  CHECK(c.head_dim == 16);
  CHECK(c.num_kv_heads == 4);
  CHECK(c.rope_type == RopeType::default_);
  CHECK(c.eos_token_ids.empty());
}

TEST_CASE("config: accepted variants") {
  SUBCASE("odd Hkv (older transformers) and MQA") {
    CHECK(parse(small(R"("num_attention_heads": 6, "hidden_size": 96, "num_key_value_heads": 3)"))
              .num_kv_heads == 3);
    CHECK(parse(small(R"("num_key_value_heads": 1)")).num_kv_heads == 1);
  }
  SUBCASE("explicit head_dim not equal to hidden/H") {
    const ModelConfig c = parse(small(R"("head_dim": 8)"));
    CHECK(c.head_dim == 8);
  }
  SUBCASE("gelu and swish") {
    CHECK(parse(small(R"("hidden_act": "gelu")")).activation == Activation::gelu);
    CHECK(parse(small(R"("hidden_act": "swish")")).activation == Activation::silu);
  }
  SUBCASE("legacy rope_scaling.type") {
    const ModelConfig c = parse(small(R"("rope_scaling": {"type": "linear", "factor": 2.0})"));
    CHECK(c.rope_type == RopeType::linear);
    CHECK(c.rope_factor == 2.0);
  }
  SUBCASE("explicit default rope type, v5") {
    const ModelConfig c =
        parse(small(R"("rope_parameters": {"rope_type": "default", "rope_theta": 1000.0})"));
    CHECK(c.rope_type == RopeType::default_);
    CHECK(c.rope_theta == 1000.0);
  }
  SUBCASE("llama3 original_max_position_embeddings defaults to max_position_embeddings") {
    const ModelConfig c = parse(small(
        R"("max_position_embeddings": 4096, "rope_scaling": {"rope_type": "llama3", "factor": 8,
           "low_freq_factor": 1, "high_freq_factor": 4})"));
    CHECK(c.original_max_position_embeddings == 4096);
  }
  SUBCASE("integral floats for integer keys, integer for float keys") {
    const ModelConfig c = parse(small(R"("max_position_embeddings": 4096.0, "rope_theta": 50000)"));
    CHECK(c.max_position_embeddings == 4096);
    CHECK(c.rope_theta == 50000.0);
  }
  SUBCASE("token ids: negative means none, eos list deduplicated") {
    const ModelConfig c =
        parse(small(R"("pad_token_id": -1, "bos_token_id": 1, "eos_token_id": [2, 3, 2, -1])"));
    CHECK_FALSE(c.pad_token_id.has_value());
    CHECK(c.bos_token_id == 1);
    CHECK(c.eos_token_ids == std::vector<int32_t>{2, 3});
  }
  SUBCASE("torch dtype names") {
    CHECK(parse(small(R"("torch_dtype": "float16")")).dtype == dlvk::DType::f16);
    CHECK(parse(small(R"("torch_dtype": "torch.bfloat16")")).dtype == dlvk::DType::bf16);
    CHECK_FALSE(parse(small(R"("torch_dtype": "auto")")).dtype.has_value());
    // dtype (v5) wins over torch_dtype
    CHECK(parse(small(R"("torch_dtype": "float16", "dtype": "float32")")).dtype ==
          dlvk::DType::f32);
  }
  SUBCASE("attention_bias") {
    CHECK(parse(small(R"("attention_bias": true)")).attention_bias);
  }
}

TEST_CASE("config: rejections") {
  SUBCASE("malformed JSON and wrong top level") {
    expect_bad("{\"vocab_size\": 10,", Status::bad_model, {"/m/config.json", "invalid JSON"});
    expect_bad("[1, 2]", Status::bad_model, {"/m/config.json", "array"});
    expect_bad("", Status::bad_model, {"/m/config.json"});
    expect_bad(std::string(100000, '[') + std::string(100000, ']'), Status::bad_model,
               {"/m/config.json", "nested"});
  }
  SUBCASE("model types") {
    expect_bad(small(R"("model_type": "llama")"), Status::unsupported, {"model_type", "'llama'"});
    expect_bad(small(R"("model_type": "llama-differential")"), Status::unsupported,
               {"llama-differential"});
    expect_bad(small(R"("model_type": 3)"), Status::bad_model, {"model_type", "string"});
  }
  SUBCASE("missing required keys") {
    for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads"}) {
      nlohmann::json j = nlohmann::json::parse(small());
      j.erase(key);
      expect_bad(j.dump(), Status::bad_model, {"/m/config.json", key, "missing"});
    }
  }
  SUBCASE("wrong JSON types name the key") {
    expect_bad(small(R"("hidden_size": "64")"), Status::bad_model,
               {"/m/config.json", "hidden_size", "integer", "string"});
    expect_bad(R"({"vocab_size": 1.5, "hidden_size": 64, "intermediate_size": 128,
                  "num_hidden_layers": 2, "num_attention_heads": 4})",
               Status::bad_model, {"vocab_size", "integer"});
    expect_bad(small(R"("rms_norm_eps": "1e-5")"), Status::bad_model, {"rms_norm_eps", "number"});
    expect_bad(small(R"("rope_theta": [10000])"), Status::bad_model, {"rope_theta", "number"});
    expect_bad(small(R"("attention_bias": "false")"), Status::bad_model,
               {"attention_bias", "boolean"});
    expect_bad(small(R"("tie_word_embeddings": 1)"), Status::bad_model,
               {"tie_word_embeddings", "boolean"});
    expect_bad(small(R"("hidden_act": 1)"), Status::bad_model, {"hidden_act", "string"});
    expect_bad(small(R"("eos_token_id": "2")"), Status::bad_model, {"eos_token_id"});
    expect_bad(small(R"("eos_token_id": [2, "3"])"), Status::bad_model, {"eos_token_id"});
    expect_bad(small(R"("bos_token_id": 1.5)"), Status::bad_model, {"bos_token_id"});
    expect_bad(small(R"("bos_token_id": 3000000000)"), Status::bad_model, {"bos_token_id", "int32"});
    expect_bad(small(R"("rope_scaling": "linear")"), Status::bad_model, {"rope_scaling", "object"});
    expect_bad(small(R"("rope_scaling": {"rope_type": "linear", "factor": "2"})"),
               Status::bad_model, {"rope_scaling.factor", "number"});
    expect_bad(small(R"("rope_parameters": {"rope_theta": "1e4"})"), Status::bad_model,
               {"rope_parameters.rope_theta"});
    expect_bad(small(R"("torch_dtype": 16)"), Status::bad_model, {"torch_dtype"});
  }
  SUBCASE("sizes out of range") {
    expect_bad(small(R"("vocab_size": 0)"), Status::bad_model, {"vocab_size", "0"});
    expect_bad(small(R"("intermediate_size": -5)"), Status::bad_model, {"intermediate_size"});
    expect_bad(small(R"("hidden_size": 4294967296)"), Status::bad_model, {"hidden_size"});
    expect_bad(small(R"("num_hidden_layers": 100000000)"), Status::bad_model,
               {"num_hidden_layers"});
    expect_bad(small(R"("max_position_embeddings": 0)"), Status::bad_model,
               {"max_position_embeddings"});
    expect_bad(small(R"("vocab_size": 18446744073709551615)"), Status::bad_model, {"vocab_size"});
    expect_bad(small(R"("vocab_size": 1e300)"), Status::bad_model, {"vocab_size"});
    // every dimension fits, their product does not
    expect_bad(small(R"("vocab_size": 2147483647, "hidden_size": 2147483644, "head_dim": 64)"),
               Status::bad_model, {"embed_tokens", "limit"});
    expect_bad(small(R"("rms_norm_eps": -1e-5)"), Status::bad_model, {"rms_norm_eps"});
    expect_bad(small(R"("rope_theta": 0)"), Status::bad_model, {"rope_theta"});
  }
  SUBCASE("head structure") {
    expect_bad(small(R"("num_attention_heads": 5, "hidden_size": 80)"), Status::bad_model,
               {"num_attention_heads", "even"});
    expect_bad(small(R"("num_key_value_heads": 3)"), Status::bad_model,
               {"num_key_value_heads", "divide"});
    expect_bad(small(R"("num_key_value_heads": 8)"), Status::bad_model, {"num_key_value_heads"});
    expect_bad(small(R"("num_key_value_heads": 0)"), Status::bad_model, {"num_key_value_heads"});
    expect_bad(small(R"("head_dim": 7)"), Status::bad_model, {"head_dim", "even"});
    expect_bad(small(R"("hidden_size": 36)"), Status::bad_model, {"head_dim", "even"});  // 36/4 = 9
    expect_bad(small(R"("hidden_size": 3)"), Status::bad_model, {"head_dim"});           // 3/4 = 0
  }
  SUBCASE("activations") {
    expect_bad(small(R"("hidden_act": "gelu_pytorch_tanh")"), Status::unsupported,
               {"hidden_act", "gelu_pytorch_tanh"});
    expect_bad(small(R"("hidden_act": "relu")"), Status::unsupported, {"relu"});
  }
  SUBCASE("rope types") {
    for (const char* t : {"dynamic", "yarn", "longrope"}) {
      expect_bad(small(std::string(R"("rope_scaling": {"rope_type": ")") + t +
                       R"(", "factor": 2.0})"),
                 Status::unsupported, {t, "not supported yet"});
      expect_bad(small(std::string(R"("rope_parameters": {"rope_type": ")") + t +
                       R"(", "rope_theta": 10000.0, "factor": 2.0})"),
                 Status::unsupported, {t, "not supported yet"});
    }
    expect_bad(small(R"("rope_scaling": {"type": "dynamic", "factor": 2.0})"), Status::unsupported,
               {"dynamic"});
    expect_bad(small(R"("rope_scaling": {"rope_type": "fancy"})"), Status::bad_model,
               {"fancy", "unknown"});
    expect_bad(small(R"("rope_scaling": {"rope_type": "linear"})"), Status::bad_model,
               {"factor", "required"});
    expect_bad(small(R"("rope_scaling": {"rope_type": "linear", "factor": 0})"), Status::bad_model,
               {"factor"});
    expect_bad(small(R"("rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 1})"),
               Status::bad_model, {"high_freq_factor", "required"});
    expect_bad(small(R"("rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 4,
                        "high_freq_factor": 4})"),
               Status::bad_model, {"high_freq_factor", "greater"});
    expect_bad(small(R"("rope_parameters": {"full_attention": {"rope_type": "default"}})"),
               Status::unsupported, {"full_attention"});
  }
}

TEST_CASE("config: load from a directory merges generation_config.json") {
  iotest::TempDir dir;
  expect_error([&] { ModelConfig::load(dir.path); }, Status::io_error, {"config.json"});
  expect_error([&] { ModelConfig::load(dir / "nope"); }, Status::io_error, {"nope"});
  iotest::write_text(dir / "config.json", small(R"("eos_token_id": 2)"));
  CHECK(ModelConfig::load(dir.path).eos_token_ids == std::vector<int32_t>{2});

  iotest::write_text(dir / "generation_config.json",
                     R"({"bos_token_id": 1, "eos_token_id": [7, 2, 9], "pad_token_id": 0})");
  const ModelConfig c = ModelConfig::load(dir.path);
  CHECK(c.eos_token_ids == std::vector<int32_t>{2, 7, 9});
  CHECK(c.bos_token_id == 1);
  CHECK(c.pad_token_id == 0);

  iotest::write_text(dir / "generation_config.json", R"({"eos_token_id": 5})");
  CHECK(ModelConfig::load(dir.path).eos_token_ids == std::vector<int32_t>{2, 5});

  iotest::write_text(dir / "generation_config.json", R"({"eos_token_id": )");
  expect_error([&] { ModelConfig::load(dir.path); }, Status::bad_model,
               {"generation_config.json", "invalid JSON"});
  iotest::write_text(dir / "generation_config.json", R"({"eos_token_id": "x"})");
  expect_error([&] { ModelConfig::load(dir.path); }, Status::bad_model,
               {"generation_config.json", "eos_token_id"});

  iotest::write_text(dir / "config.json", small(R"("hidden_size": true)"));
  expect_error([&] { ModelConfig::load(dir.path); }, Status::bad_model,
               {(dir / "config.json").string(), "hidden_size"});
}

namespace {

// Independent references in double. The exponent 2i/d is first rounded to f32 exactly as the f32
// arange / d in transformers, so the only remaining difference is the f32 pow/divide rounding.
std::vector<double> ref_default(double theta, int64_t d) {
  std::vector<double> v;
  for (int64_t i = 0; i < d / 2; ++i) {
    const double e = double(float(2 * i) / float(d));
    v.push_back(1.0 / std::pow(double(float(theta)), e));
  }
  return v;
}

std::vector<double> ref_llama3(double theta, int64_t d, double f, double lo, double hi, double L) {
  std::vector<double> v = ref_default(theta, d);
  for (double& x : v) {
    const double wavelen = 2 * std::numbers::pi / x;
    if (wavelen < L / hi) continue;
    if (wavelen > L / lo) {
      x /= f;
      continue;
    }
    const double s = (L / wavelen - lo) / (hi - lo);
    x = (1 - s) * x / f + s * x;
  }
  return v;
}

void check_close(const std::vector<float>& got, const std::vector<double>& want, double rel) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("i = " << i << " got " << got[i] << " want " << want[i]);
    CHECK(std::fabs(double(got[i]) - want[i]) <= rel * std::fabs(want[i]));
  }
}

}  // namespace

TEST_CASE("config: rope_inv_freq default and linear") {
  for (double theta : {10000.0, 500000.0, 1e6}) {
    for (int64_t d : {16, 64, 128, 96}) {
      ModelConfig c = parse(small());
      c.rope_theta = theta;
      c.head_dim = d;
      check_close(c.rope_inv_freq(), ref_default(theta, d), 1e-6);
      c.rope_type = RopeType::linear;
      c.rope_factor = 4.0;
      std::vector<double> lin = ref_default(theta, d);
      for (double& x : lin) x /= 4.0;
      check_close(c.rope_inv_freq(), lin, 1e-6);
    }
  }
  // theta^(-2i/d) itself, without the f32 exponent rounding: still within 1e-6 for d = 64
  ModelConfig c = parse(small(R"("head_dim": 64, "rope_theta": 10000.0)"));
  const auto inv = c.rope_inv_freq();
  for (int64_t i = 0; i < 32; ++i)
    CHECK(std::fabs(inv[size_t(i)] - std::pow(10000.0, -2.0 * double(i) / 64.0)) <=
          1e-6 * std::pow(10000.0, -2.0 * double(i) / 64.0));
}

TEST_CASE("config: rope_inv_freq llama3") {
  // The reference model: theta 500000, factor 32, low 1, high 4, original 8192, d 64.
  const ModelConfig c = parse(kReferenceV4);
  const std::vector<float> inv = c.rope_inv_freq();
  REQUIRE(inv.size() == 32);
  check_close(inv, ref_llama3(500000.0, 64, 32, 1, 4, 8192), 1e-6);
  // Hard-coded values (computed in Python double precision): high-frequency band unchanged,
  // i = 15..17 smoothed, i >= 18 divided by the factor.
  const std::pair<int, double> known[] = {
      {0, 1.0},
      {1, 0.6636012376960885},
      {14, 0.0032114459947525913},
      {15, 0.001290547928209264},
      {16, 0.00042955679655936815},
      {17, 9.70828780262767e-05},
      {18, 1.9461638184831125e-05},
      {31, 9.418306725434909e-08},
  };
  for (auto [i, v] : known) {
    INFO("i = " << i);
    CHECK(std::fabs(double(inv[size_t(i)]) - v) <= 1e-6 * v);
  }

  // Other parameters, including one where the medium band covers most frequencies.
  for (auto [theta, d, f, lo, hi, L] :
       {std::tuple{10000.0, 128, 8.0, 1.0, 4.0, 2048}, std::tuple{500000.0, 64, 16.0, 2.0, 8.0, 4096},
        std::tuple{1000000.0, 32, 4.0, 0.5, 64.0, 1024}}) {
    ModelConfig m = parse(small());
    m.rope_theta = theta;
    m.head_dim = d;
    m.rope_type = RopeType::llama3;
    m.rope_factor = f;
    m.low_freq_factor = lo;
    m.high_freq_factor = hi;
    m.original_max_position_embeddings = L;
    check_close(m.rope_inv_freq(), ref_llama3(theta, d, f, lo, hi, double(L)), 2e-6);
  }
}

TEST_CASE("config: lambda_init") {
  const ModelConfig c = parse(small());
  CHECK(c.lambda_init(0) == doctest::Approx(0.2).epsilon(1e-7));
  for (int l = 0; l < 40; ++l)
    CHECK(c.lambda_init(l) == float(0.8 - 0.6 * std::exp(-0.3 * l)));
  CHECK(c.lambda_init(1) == doctest::Approx(0.35550906).epsilon(1e-6));
}
