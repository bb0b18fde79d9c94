#include <cmath>
#include <map>

#include "dlvk/model_tensors.hpp"
#include "test_util.hpp"

using dlvk::Checkpoint;
using dlvk::DType;
using dlvk::ModelConfig;
using dlvk::SafetensorsFile;
using dlvk::Status;
using iotest::expect_error;
using iotest::StWriter;

namespace {

// V 16, hidden 8, I 12, 2 layers, H 4, Hkv 2, d 4 (not hidden/H).
std::string tiny_config(bool tied = false, bool bias = false) {
  return std::string(R"({"model_type": "diffllama", "vocab_size": 16, "hidden_size": 8,
    "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "head_dim": 4, "tie_word_embeddings": )") +
         (tied ? "true" : "false") + ", \"attention_bias\": " + (bias ? "true" : "false") + "}";
}

struct TinyModel {
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> tensors;

  TinyModel(const std::string& prefix, bool lm_head, bool bias) {
    uint32_t state = 12345;
    auto values = [&](int64_t n) {
      std::vector<float> v(static_cast<size_t>(n));
      for (float& x : v) {
        state = state * 1664525u + 1013904223u;
        x = float(int(state >> 20) % 2001 - 1000) / 4000.0f;
      }
      return v;
    };
    auto add = [&](const std::string& name, std::vector<int64_t> shape) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      tensors[name] = {shape, values(n)};
    };
    add(prefix + "embed_tokens.weight", {16, 8});
    add(prefix + "norm.weight", {8});
    if (lm_head) add("lm_head.weight", {16, 8});
    for (int l = 0; l < 2; ++l) {
      const std::string p = prefix + "layers." + std::to_string(l) + ".";
      add(p + "input_layernorm.weight", {8});
      add(p + "post_attention_layernorm.weight", {8});
      add(p + "self_attn.q_proj.weight", {16, 8});
      add(p + "self_attn.k_proj.weight", {8, 8});
      add(p + "self_attn.v_proj.weight", {8, 8});
      add(p + "self_attn.o_proj.weight", {8, 16});
      if (bias) {
        add(p + "self_attn.q_proj.bias", {16});
        add(p + "self_attn.k_proj.bias", {8});
        add(p + "self_attn.v_proj.bias", {8});
        add(p + "self_attn.o_proj.bias", {8});
      }
      for (const char* lam : {"lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"})
        add(p + "self_attn." + lam, {4});
      add(p + "mlp.gate_proj.weight", {12, 8});
      add(p + "mlp.up_proj.weight", {12, 8});
      add(p + "mlp.down_proj.weight", {8, 12});
    }
  }

  StWriter writer(DType dt = DType::f32, const std::string& skip = "") const {
    StWriter w;
    for (const auto& [name, t] : tensors) {
      if (name == skip) continue;
      if (dt == DType::f32) w.add_f32(name, t.first, t.second);
      else w.add_half(name, dt, t.first, t.second);
    }
    return w;
  }
  Checkpoint checkpoint(DType dt = DType::f32, const std::string& skip = "") const {
    std::vector<SafetensorsFile> files;
    const std::vector<uint8_t> b = writer(dt, skip).bytes();
    files.push_back(SafetensorsFile::from_memory(b.data(), b.size(), "tiny.safetensors"));
    return Checkpoint::from_files(std::move(files));
  }
};

ModelConfig cfg(bool tied = false, bool bias = false) {
  return ModelConfig::parse(tiny_config(tied, bias), "tiny/config.json");
}

}  // namespace

TEST_CASE("model tensors: resolve a ForCausalLM checkpoint") {
  const TinyModel m("model.", true, false);
  const Checkpoint ck = m.checkpoint();
  const dlvk::ModelTensors t = dlvk::resolve_model_tensors(ck, cfg());
  CHECK(t.prefix == "model.");
  REQUIRE(t.layers.size() == 2);
  CHECK(t.embed_tokens->name == "model.embed_tokens.weight");
  CHECK(t.final_norm->name == "model.norm.weight");
  CHECK(t.lm_head->name == "lm_head.weight");
  CHECK_FALSE(t.lm_head_tied);
  const dlvk::LayerTensors& L = t.layers[1];
  CHECK(L.input_norm->name == "model.layers.1.input_layernorm.weight");
  CHECK(L.post_norm->name == "model.layers.1.post_attention_layernorm.weight");
  CHECK(L.q_proj->shape == std::vector<int64_t>{16, 8});
  CHECK(L.k_proj->shape == std::vector<int64_t>{8, 8});
  CHECK(L.v_proj->name == "model.layers.1.self_attn.v_proj.weight");
  CHECK(L.o_proj->shape == std::vector<int64_t>{8, 16});
  CHECK(L.gate_proj->name == "model.layers.1.mlp.gate_proj.weight");
  CHECK(L.up_proj->name == "model.layers.1.mlp.up_proj.weight");
  CHECK(L.down_proj->shape == std::vector<int64_t>{8, 12});
  CHECK(L.lambda_k2->name == "model.layers.1.self_attn.lambda_k2");
  CHECK(L.q_bias == nullptr);
  CHECK(L.o_bias == nullptr);
  CHECK(dlvk::tensor_to_f32(*L.lambda_q1) == m.tensors.at("model.layers.1.self_attn.lambda_q1").second);
}

TEST_CASE("model tensors: tied and absent LM heads, bare prefix") {
  SUBCASE("tied: embed_tokens even when lm_head.weight is saved") {
    const TinyModel m("model.", true, false);
    const Checkpoint ck = m.checkpoint();
    const auto t = dlvk::resolve_model_tensors(ck, cfg(true));
    CHECK(t.lm_head == t.embed_tokens);
    CHECK(t.lm_head_tied);
  }
  SUBCASE("not tied but absent: embed_tokens") {
    const TinyModel m("model.", false, false);
    const Checkpoint ck = m.checkpoint();
    const auto t = dlvk::resolve_model_tensors(ck, cfg(false));
    CHECK(t.lm_head == t.embed_tokens);
    CHECK(t.lm_head_tied);
  }
  SUBCASE("bare DiffLlamaModel names") {
    const TinyModel m("", false, false);
    const Checkpoint ck = m.checkpoint();
    const auto t = dlvk::resolve_model_tensors(ck, cfg(true));
    CHECK(t.prefix == "");
    CHECK(t.embed_tokens->name == "embed_tokens.weight");
    CHECK(t.layers[0].q_proj->name == "layers.0.self_attn.q_proj.weight");
  }
  SUBCASE("attention biases") {
    const TinyModel m("model.", false, true);
    const Checkpoint ck = m.checkpoint();
    const auto t = dlvk::resolve_model_tensors(ck, cfg(false, true));
    CHECK(t.layers[0].q_bias->shape == std::vector<int64_t>{16});
    CHECK(t.layers[0].k_bias->shape == std::vector<int64_t>{8});
    CHECK(t.layers[0].v_bias->name == "model.layers.0.self_attn.v_proj.bias");
    CHECK(t.layers[1].o_bias->shape == std::vector<int64_t>{8});
    // extra biases without attention_bias are ignored
    CHECK(dlvk::resolve_model_tensors(ck, cfg()).layers[0].q_bias == nullptr);
  }
}

TEST_CASE("model tensors: every missing tensor is named") {
  const TinyModel m("model.", true, true);
  int checked = 0;
  for (const auto& [name, t] : m.tensors) {
    if (name == "lm_head.weight") continue;  // optional
    const Checkpoint ck = m.checkpoint(DType::f32, name);
    if (name == "model.embed_tokens.weight") {
      expect_error([&] { dlvk::resolve_model_tensors(ck, cfg(false, true)); }, Status::bad_model,
                   {"model.embed_tokens.weight", "not found"});
    } else {
      expect_error([&] { dlvk::resolve_model_tensors(ck, cfg(false, true)); }, Status::bad_model,
                   {"tiny.safetensors", "'" + name + "'", "not found"});
    }
    ++checked;
  }
  CHECK(checked == 2 + 2 * 17);
  // config asks for more layers than the checkpoint has
  const Checkpoint ck = m.checkpoint();
  ModelConfig c = cfg(false, true);
  c.num_layers = 3;
  expect_error([&] { dlvk::resolve_model_tensors(ck, c); }, Status::bad_model,
               {"model.layers.2.input_layernorm.weight"});
}

TEST_CASE("model tensors: wrong shapes against the config") {
  const TinyModel m("model.", true, false);
  auto with_shape = [&](const std::string& name, std::vector<int64_t> shape) {
    TinyModel copy = m;
    auto& t = copy.tensors.at(name);
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    t.first = shape;
    t.second.assign(size_t(n), 0.5f);
    return copy;
  };
  struct Case {
    std::string name;
    std::vector<int64_t> shape;
    std::string expected;
  };
  const Case cases[] = {
      {"model.layers.1.self_attn.k_proj.weight", {16, 8}, "[8,8]"},
      {"model.layers.0.self_attn.q_proj.weight", {8, 16}, "[16,8]"},  // transposed
      {"model.layers.0.self_attn.o_proj.weight", {16, 8}, "[8,16]"},
      {"model.layers.0.self_attn.lambda_q2", {8}, "[4]"},
      {"model.layers.1.self_attn.lambda_k1", {1, 4}, "[4]"},
      {"model.layers.0.mlp.down_proj.weight", {12, 8}, "[8,12]"},
      {"model.norm.weight", {16}, "[8]"},
      {"model.embed_tokens.weight", {15, 8}, "[16,8]"},
      {"lm_head.weight", {16, 9}, "[16,8]"},
  };
  for (const Case& c : cases) {
    const TinyModel bad = with_shape(c.name, c.shape);
    const Checkpoint ck = bad.checkpoint();
    expect_error([&] { dlvk::resolve_model_tensors(ck, cfg()); }, Status::bad_model,
                 {c.name + ": shape " + dlvk::shape_str(c.shape) + " but config expects " + c.expected +
                  " (tiny.safetensors)"});
  }
}

TEST_CASE("model tensors: compute_lambda") {
  const ModelConfig c = cfg();
  for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
    const TinyModel m("model.", false, false);
    const Checkpoint ck = m.checkpoint(dt);
    const auto t = dlvk::resolve_model_tensors(ck, c);
    for (int l = 0; l < 2; ++l) {
      // Independent double-precision reference from the values as stored.
      const std::string p = "model.layers." + std::to_string(l) + ".self_attn.";
      auto stored = [&](const char* n) { return dlvk::tensor_to_f32(*ck.find(p + n)); };
      const auto q1 = stored("lambda_q1"), k1 = stored("lambda_k1"), q2 = stored("lambda_q2"),
                 k2 = stored("lambda_k2");
      double d1 = 0, d2 = 0;
      for (size_t i = 0; i < 4; ++i) {
        d1 += double(q1[i]) * k1[i];
        d2 += double(q2[i]) * k2[i];
      }
      const double li = 0.8 - 0.6 * std::exp(-0.3 * l);
      const double want = std::exp(d1) - std::exp(d2) + li;
      const float got = dlvk::compute_lambda(t.layers[size_t(l)], c.lambda_init(l));
      INFO("dtype " << dlvk::name(dt) << " layer " << l);
      // f32: only rounding; f16/bf16: products rounded to the parameter dtype like torch.
      const double tol = dt == DType::f32 ? 1e-6 : dt == DType::f16 ? 2e-3 : 1.5e-2;
      CHECK(std::fabs(double(got) - want) <= tol * std::max(1.0, std::fabs(want)));
    }
  }
  // a hand-computed case: q1.k1 = 0, q2.k2 = 0 => lambda = 1 - 1 + lambda_init
  StWriter w;
  w.add_f32("q1", {4}, {1, 0, 0, 0}).add_f32("k1", {4}, {0, 1, 0, 0});
  w.add_f32("q2", {4}, {0, 0, 0, 0}).add_f32("k2", {4}, {1, 2, 3, 4});
  w.add_f32("k2b", {3}, {1, 2, 3});
  const auto bytes = w.bytes();
  const SafetensorsFile f = SafetensorsFile::from_memory(bytes.data(), bytes.size(), "lam");
  dlvk::LayerTensors L;
  L.lambda_q1 = f.find("q1");
  L.lambda_k1 = f.find("k1");
  L.lambda_q2 = f.find("q2");
  L.lambda_k2 = f.find("k2");
  CHECK(dlvk::compute_lambda(L, 0.2f) == 0.2f);
  L.lambda_q1 = f.find("k2");
  L.lambda_k1 = f.find("k2");  // 1+4+9+16 = 30
  CHECK(dlvk::compute_lambda(L, 0.2f) == std::exp(30.0f) - 1.0f + 0.2f);
  L.lambda_k2 = f.find("k2b");
  expect_error([&] { dlvk::compute_lambda(L, 0.2f); }, Status::bad_model, {"q2", "k2b"});
}

TEST_CASE("model tensors: a sharded model directory end to end") {
  iotest::TempDir dir;
  const TinyModel m("model.", true, false);
  StWriter s1, s2;
  std::string weight_map;
  int i = 0;
  for (const auto& [name, t] : m.tensors) {
    StWriter& w = (i++ % 2) ? s1 : s2;
    w.add_half(name, DType::bf16, t.first, t.second);
    if (!weight_map.empty()) weight_map += ",";
    weight_map += "\"" + name + "\": \"" + ((i % 2) ? "model-00002-of-00002.safetensors"
                                                     : "model-00001-of-00002.safetensors") + "\"";
  }
  s1.write(dir / "model-00001-of-00002.safetensors");
  s2.write(dir / "model-00002-of-00002.safetensors");
  iotest::write_text(dir / "model.safetensors.index.json", "{\"weight_map\": {" + weight_map + "}}");
  iotest::write_text(dir / "config.json", tiny_config());
  const ModelConfig c = ModelConfig::load(dir.path);
  const Checkpoint ck = Checkpoint::open(dir.path);
  const auto t = dlvk::resolve_model_tensors(ck, c);
  CHECK(t.layers.size() == 2);
  CHECK(t.lm_head->dtype == DType::bf16);
  const auto& want = m.tensors.at("model.layers.1.mlp.up_proj.weight").second;
  const auto got = dlvk::tensor_to_f32(*t.layers[1].up_proj);
  REQUIRE(got.size() == want.size());
  for (size_t k = 0; k < got.size(); ++k) CHECK(got[k] == dlvk::bf16_to_f32(dlvk::f32_to_bf16(want[k])));
}
