#include "model/synthetic.hpp"

#include <cstring>
#include <memory>

#include <nlohmann/json.hpp>

#include "dlvk/error.hpp"

namespace dlvk {

namespace {

struct Shape {
  const char* name;
  int64_t vocab, hidden, inter, layers, heads, kv_heads, head_dim;
  bool tied, llama3;
};

const Shape kShapes[] = {
    {"tiny", 512, 128, 256, 2, 4, 2, 32, false, false},
    {"S", 32000, 512, 1408, 8, 8, 4, 64, false, false},
    {"M", 32000, 1024, 2816, 12, 16, 4, 64, false, false},
    {"1.24B", 128256, 2048, 8192, 16, 32, 8, 64, true, true},
};

}  // namespace

std::vector<std::string> synthetic_names() {
  std::vector<std::string> v;
  for (const auto& s : kShapes) v.emplace_back(s.name);
  return v;
}

ModelConfig synthetic_config(const std::string& name) {
  for (const auto& s : kShapes) {
    if (name != s.name) continue;
    nlohmann::json j = {{"model_type", "diffllama"},        {"vocab_size", s.vocab},
                        {"hidden_size", s.hidden},          {"intermediate_size", s.inter},
                        {"num_hidden_layers", s.layers},    {"num_attention_heads", s.heads},
                        {"num_key_value_heads", s.kv_heads}, {"head_dim", s.head_dim},
                        {"max_position_embeddings", 8192},  {"tie_word_embeddings", s.tied},
                        {"rope_theta", s.llama3 ? 500000.0 : 10000.0}, {"eos_token_id", 1}};
    if (s.llama3)
      j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                           {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
    return ModelConfig::parse(j.dump(), "synthetic:" + name);
  }
  std::string known;
  for (const auto& s : kShapes) known += std::string(known.empty() ? "" : ", ") + s.name;
  fail(Status::invalid_argument, "unknown synthetic model '{}' (known: {})", name, known);
}

Checkpoint synthetic_checkpoint(const ModelConfig& c, DType dtype, uint64_t seed) {
  struct T {
    std::string name;
    std::vector<int64_t> shape;
    bool ones;  // norm weights
  };
  std::vector<T> ts;
  const int64_t D = c.hidden_size, I = c.intermediate_size, d = c.head_dim;
  const int64_t qd = c.num_heads * d, kvd = c.num_kv_heads * d;
  ts.push_back({"model.embed_tokens.weight", {c.vocab_size, D}, false});
  ts.push_back({"model.norm.weight", {D}, true});
  if (!c.tie_word_embeddings) ts.push_back({"lm_head.weight", {c.vocab_size, D}, false});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    ts.push_back({p + "input_layernorm.weight", {D}, true});
    ts.push_back({p + "post_attention_layernorm.weight", {D}, true});
    ts.push_back({p + "self_attn.q_proj.weight", {qd, D}, false});
    ts.push_back({p + "self_attn.k_proj.weight", {kvd, D}, false});
    ts.push_back({p + "self_attn.v_proj.weight", {kvd, D}, false});
    ts.push_back({p + "self_attn.o_proj.weight", {D, qd}, false});
    for (const char* lam : {"lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"})
      ts.push_back({p + "self_attn." + lam, {d}, false});
    ts.push_back({p + "mlp.gate_proj.weight", {I, D}, false});
    ts.push_back({p + "mlp.up_proj.weight", {I, D}, false});
    ts.push_back({p + "mlp.down_proj.weight", {D, I}, false});
  }
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  const size_t es = size_of(dtype);
  for (const auto& t : ts) {
    uint64_t n = 1;
    for (auto s : t.shape) n *= uint64_t(s);
    header[t.name] = {{"dtype", name(dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n * es}}};
    offset += n * es;
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8) h += ' ';
  auto bytes = std::make_shared<std::vector<uint8_t>>(8 + h.size() + offset);
  uint64_t hl = h.size();
  std::memcpy(bytes->data(), &hl, 8);
  std::memcpy(bytes->data() + 8, h.data(), h.size());
  uint8_t* data = bytes->data() + 8 + h.size();
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (const auto& t : ts) {
    uint64_t n = 1;
    for (auto s : t.shape) n *= uint64_t(s);
    // Uniform-ish values in +-[1, 2) * 2^-6 (norm weights 1): cheap xorshift bits, no conversions.
    for (uint64_t i = 0; i < n; ++i) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      float v = t.ones ? 1.0f : (1.0f + float(state >> 41) * (1.0f / 8388608.0f)) * ((state & 1) ? -0.015625f : 0.015625f);
      store_as(dtype, v, data);
      data += es;
    }
  }
  std::vector<SafetensorsFile> files;
  files.push_back(SafetensorsFile::from_memory(bytes, "synthetic"));
  return Checkpoint::from_files(std::move(files));
}

}  // namespace dlvk
