// The DiffLlama tensor set (spec section 2), resolved by name in a Checkpoint and shape-checked
// against a ModelConfig.
#pragma once
#include <string>
#include <vector>

#include "dlvk/checkpoint.hpp"
#include "dlvk/model_config.hpp"

namespace dlvk {

struct LayerTensors {
  const TensorInfo* input_norm = nullptr;  // input_layernorm.weight [hidden]
  const TensorInfo* q_proj = nullptr;      // [H*d, hidden]
  const TensorInfo* k_proj = nullptr;      // [Hkv*d, hidden]
  const TensorInfo* v_proj = nullptr;      // [Hkv*d, hidden]
  const TensorInfo* o_proj = nullptr;      // [hidden, H*d]
  const TensorInfo* q_bias = nullptr;      // biases: nullptr unless config.attention_bias
  const TensorInfo* k_bias = nullptr;
  const TensorInfo* v_bias = nullptr;
  const TensorInfo* o_bias = nullptr;
  const TensorInfo* lambda_q1 = nullptr;  // [d] each
  const TensorInfo* lambda_k1 = nullptr;
  const TensorInfo* lambda_q2 = nullptr;
  const TensorInfo* lambda_k2 = nullptr;
  const TensorInfo* post_norm = nullptr;  // post_attention_layernorm.weight [hidden]
  const TensorInfo* gate_proj = nullptr;  // [I, hidden]
  const TensorInfo* up_proj = nullptr;    // [I, hidden]
  const TensorInfo* down_proj = nullptr;  // [hidden, I]
};

struct ModelTensors {
  const TensorInfo* embed_tokens = nullptr;  // [V, hidden]
  const TensorInfo* final_norm = nullptr;    // norm.weight [hidden]
  const TensorInfo* lm_head = nullptr;       // [V, hidden]; == embed_tokens when tied
  std::vector<LayerTensors> layers;
  bool lm_head_tied = false;
  std::string prefix;  // "model." (ForCausalLM), "" (bare DiffLlamaModel) or "transformer."
};

// Resolves every tensor of the model. The body prefix is detected from embed_tokens.weight
// ("model.", "" or "transformer."); lm_head.weight is top level. The LM head is embed_tokens when
// tie_word_embeddings is true, and also when it is false but lm_head.weight is absent (the spec's
// "absent when tied: use embed_tokens"; e.g. a bare DiffLlamaModel checkpoint). Bias tensors are
// resolved only with attention_bias (otherwise nullptr, extra ones ignored).
// Errors: a missing tensor or a wrong shape -> Status::bad_model naming the tensor (and the file
// and both shapes).
ModelTensors resolve_model_tensors(const Checkpoint& ckpt, const ModelConfig& config);

// lambda = exp(dot(q1, k1)) - exp(dot(q2, k2)) + lambda_init, in f32 as transformers computes it:
// elementwise products in f32 (f16/bf16 parameters upcast, as transformers with the model in float32),
// summed in f32 in index order, exp in f32. Status::bad_model if the four vectors differ in size.
float compute_lambda(const LayerTensors& layer, float lambda_init);

}  // namespace dlvk
