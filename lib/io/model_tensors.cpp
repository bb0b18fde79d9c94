#include "dlvk/model_tensors.hpp"

#include <cmath>
#include <cstring>

#include "dlvk/error.hpp"

namespace dlvk {

namespace {

struct Resolver {
  const Checkpoint& ckpt;
  std::string prefix;

  const TensorInfo* get(const std::string& name, std::vector<int64_t> expected) const {
    const TensorInfo* t = ckpt.find(name);
    if (!t) fail(Status::bad_model, "{}: tensor '{}' not found", ckpt.where(), name);
    check(*t, expected);
    return t;
  }
  const TensorInfo* body(const std::string& rel, std::vector<int64_t> expected) const {
    return get(prefix + rel, std::move(expected));
  }
  static void check(const TensorInfo& t, const std::vector<int64_t>& expected) {
    if (t.shape != expected)
      fail(Status::bad_model, "{}: shape {} but config expects {} ({})", t.name, shape_str(t.shape),
           shape_str(expected), t.file);
  }
};

float load_scalar(const TensorInfo& t, int64_t i) {
  uint8_t b[4];
  const size_t es = size_of(t.dtype);
  std::memcpy(b, t.data + size_t(i) * es, es);
  if (t.dtype == DType::f32) {
    float f;
    std::memcpy(&f, b, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, b, 2);
  return t.dtype == DType::f16 ? f16_to_f32(h) : bf16_to_f32(h);
}

// exp(sum_i q[i] * k[i]) in f32: dlvk runs the model in f32 (f16/bf16 weights are upcast), which is
// transformers with the model loaded in float32, where these products are f32 too.
float exp_dot(const TensorInfo& q, const TensorInfo& k) {
  const int64_t n = q.numel();
  if (k.numel() != n)
    fail(Status::bad_model, "{} and {} have different sizes ({} vs {})", q.name, k.name, n,
         k.numel());
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    float p = load_scalar(q, i) * load_scalar(k, i);
    sum += p;
  }
  return std::exp(sum);
}

}  // namespace

ModelTensors resolve_model_tensors(const Checkpoint& ckpt, const ModelConfig& c) {
  ModelTensors m;
  Resolver r{ckpt, ""};
  const int64_t V = c.vocab_size, D = c.hidden_size, I = c.intermediate_size;
  const int64_t d = c.head_dim, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim;

  const char* prefixes[] = {"model.", "", "transformer."};
  for (const char* p : prefixes) {
    if (ckpt.find(std::string(p) + "embed_tokens.weight")) {
      r.prefix = p;
      break;
    }
  }
  if (!ckpt.find(r.prefix + "embed_tokens.weight"))
    fail(Status::bad_model,
         "{}: tensor 'model.embed_tokens.weight' not found (nor 'embed_tokens.weight'): not a "
         "DiffLlama checkpoint?",
         ckpt.where());
  m.prefix = r.prefix;
  m.embed_tokens = r.body("embed_tokens.weight", {V, D});
  m.final_norm = r.body("norm.weight", {D});

  m.layers.reserve(size_t(c.num_layers));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = fmt::format("layers.{}.", l);
    LayerTensors L;
    L.input_norm = r.body(p + "input_layernorm.weight", {D});
    L.q_proj = r.body(p + "self_attn.q_proj.weight", {qd, D});
    L.k_proj = r.body(p + "self_attn.k_proj.weight", {kvd, D});
    L.v_proj = r.body(p + "self_attn.v_proj.weight", {kvd, D});
    L.o_proj = r.body(p + "self_attn.o_proj.weight", {D, qd});
    if (c.attention_bias) {
      L.q_bias = r.body(p + "self_attn.q_proj.bias", {qd});
      L.k_bias = r.body(p + "self_attn.k_proj.bias", {kvd});
      L.v_bias = r.body(p + "self_attn.v_proj.bias", {kvd});
      L.o_bias = r.body(p + "self_attn.o_proj.bias", {D});
    }
    L.lambda_q1 = r.body(p + "self_attn.lambda_q1", {d});
    L.lambda_k1 = r.body(p + "self_attn.lambda_k1", {d});
    L.lambda_q2 = r.body(p + "self_attn.lambda_q2", {d});
    L.lambda_k2 = r.body(p + "self_attn.lambda_k2", {d});
    L.post_norm = r.body(p + "post_attention_layernorm.weight", {D});
    L.gate_proj = r.body(p + "mlp.gate_proj.weight", {I, D});
    L.up_proj = r.body(p + "mlp.up_proj.weight", {I, D});
    L.down_proj = r.body(p + "mlp.down_proj.weight", {D, I});
    m.layers.push_back(L);
  }

  const TensorInfo* head = c.tie_word_embeddings ? nullptr : ckpt.find("lm_head.weight");
  if (head) {
    Resolver::check(*head, {V, D});
    m.lm_head = head;
    m.lm_head_tied = false;
  } else {
    m.lm_head = m.embed_tokens;
    m.lm_head_tied = true;
  }
  return m;
}

float compute_lambda(const LayerTensors& layer, float lambda_init) {
  if (!layer.lambda_q1 || !layer.lambda_k1 || !layer.lambda_q2 || !layer.lambda_k2)
    fail(Status::internal, "compute_lambda: layer tensors not resolved");
  const float l1 = exp_dot(*layer.lambda_q1, *layer.lambda_k1);
  const float l2 = exp_dot(*layer.lambda_q2, *layer.lambda_k2);
  return l1 - l2 + lambda_init;
}

}  // namespace dlvk
