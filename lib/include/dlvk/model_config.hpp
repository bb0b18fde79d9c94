// DiffLlama config.json (spec section 1): parsed, defaulted and validated.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlvk/dtype.hpp"

namespace dlvk {

enum class RopeType { default_, linear, llama3 };
enum class Activation { silu, gelu };  // gelu = exact erf GELU

const char* name(RopeType t);    // "default", "linear", "llama3"
const char* name(Activation a);  // "silu", "gelu"

// Hard limits applied by ModelConfig::parse (bad_model beyond them).
inline constexpr int64_t kMaxDim = (int64_t(1) << 31) - 1;    // any size / count
inline constexpr int64_t kMaxLayers = 1 << 16;                // num_hidden_layers
inline constexpr int64_t kMaxHeads = 1 << 16;                 // num_attention_heads
inline constexpr int64_t kMaxHeadDim = 1 << 16;               // head_dim
inline constexpr int64_t kMaxMatrixElements = int64_t(1) << 40;  // any one weight matrix

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;    // num_hidden_layers
  int64_t num_heads = 0;     // H (even)
  int64_t num_kv_heads = 0;  // Hkv (divides H)
  int64_t head_dim = 0;      // d (even)
  Activation activation = Activation::silu;
  int64_t max_position_embeddings = 2048;
  float rms_norm_eps = 1e-5f;
  double rope_theta = 10000.0;
  RopeType rope_type = RopeType::default_;
  double rope_factor = 1.0;       // linear and llama3
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 2048;  // llama3 (defaults to max_position_embeddings)
  bool attention_bias = false;
  bool tie_word_embeddings = false;
  std::optional<int32_t> bos_token_id, pad_token_id;
  // config.json eos_token_id (int or list) followed by generation_config.json's ids not already
  // present (when loaded from a directory). Negative ids are dropped.
  std::vector<int32_t> eos_token_ids;
  std::optional<DType> dtype;  // torch_dtype / dtype if given and a known float type

  // Parses config.json text; `where` (the file path) prefixes every error message.
  // Errors: bad_model (malformed JSON, wrong JSON type, missing required key, invalid value),
  // unsupported (another model_type, rope types dynamic/yarn/longrope, other activations).
  static ModelConfig parse(std::string_view json_text, const std::string& where);
  // Reads model_dir/config.json (required, io_error if missing) and merges
  // model_dir/generation_config.json (optional: eos_token_id int or list; bos/pad if config lacks them).
  static ModelConfig load(const std::filesystem::path& model_dir);
  // Merges the text of a generation_config.json (what load() does with the file): its eos ids are
  // appended when not already present; bos/pad are taken when this config lacks them. `where` names
  // it in errors (bad_model: malformed JSON, wrong types, over the size limit).
  void merge_generation_config(std::string_view json_text, const std::string& where);

  // head_dim/2 RoPE inverse frequencies, computed in f32 the way transformers does:
  // 1 / (theta ** (float(2i) / d)), then the rope_type scaling (linear: / factor; llama3: spec 4).
  std::vector<float> rope_inv_freq() const;
  // 0.8 - 0.6 * exp(-0.3 * layer), computed in double and rounded to f32 (as torch does when it
  // combines the Python float with f32 tensors).
  float lambda_init(int64_t layer) const;
};

}  // namespace dlvk
