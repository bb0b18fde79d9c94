// The DiffLlama model on a Vulkan device: weights uploaded once (Model), and a Session that owns a KV
// cache plus the recorded command sequences that run the graph (prefill per chunk size, decode per
// token: one queue submission each, replayed with new positions and token ids).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <tuple>
#include <vector>

#include "dlvk/checkpoint.hpp"
#include "dlvk/model_config.hpp"
#include "dlvk/sampler.hpp"
#include "ops/matmul.hpp"
#include "ops/weights.hpp"
#include "vk/device.hpp"
#include "vk/recorder.hpp"

namespace dlvk {

// Load progress: bytes of weights uploaded so far and in total.
using LoadProgress = std::function<void(uint64_t done, uint64_t total)>;

class Model {
 public:
  // Loads config.json (+ generation_config.json) and the safetensors weights of `dir`, validates every
  // tensor against the config, uploads them. Matrices keep their stored dtype (f32/f16/bf16); norm
  // weights, biases and the RoPE table are f32; lambda is computed once per layer in f32.
  // With `quant`, the projection and LM-head matrices are block-quantized at load (ops::Quant; the
  // embedding table keeps its dtype, and so does a tied head).
  static std::unique_ptr<Model> load(vk::Device& device, const std::filesystem::path& dir,
                                     const LoadProgress& progress = {}, ops::Quant quant = ops::Quant::none);
  // From already-opened parts (e.g. buffers in memory).
  static std::unique_ptr<Model> load(vk::Device& device, ModelConfig config, const Checkpoint& weights,
                                     const LoadProgress& progress = {}, ops::Quant quant = ops::Quant::none);

  const ModelConfig& config() const { return config_; }
  vk::Device& device() { return device_; }
  uint64_t weight_bytes() const { return weights_arena_.bytes_used(); }
  // Weight bytes one decoded token reads: every projection and the LM head (not the embedding table,
  // of which it reads one row, unless the head is tied to it). Times tokens/s: the decode's bandwidth.
  uint64_t decode_weight_bytes() const;
  ops::Quant quant() const { return quant_; }
  // The matmul kernel a chunk of `tokens` rows runs on this device: decode (1) as $DLVK_CPU_MATVEC and the
  // host's cache (CPU devices) or $DLVK_GPU_MATVEC say, prefill as $DLVK_COOPMAT says (GPUs).
  ops::MatmulVariant matmul_variant(uint32_t tokens) const;
  const std::vector<float>& lambdas() const { return lambdas_; }

 private:
  friend class Session;
  explicit Model(vk::Device& device, ModelConfig config);

  // Q, K and V projections are one matrix [q; k; v] (one matmul per layer), and gate/up one matrix
  // with their rows interleaved in groups of glu_group_ (ops::glu_group: 8 gate rows, their 8 up rows,
  // ...) so a matmul kernel's lane or workgroup holds both halves of its GLU outputs. Likewise each q
  // and k head's rows are permuted so RoPE pairs are rows rope_group_ apart (ops::rope_stored_row):
  // the q/k/v matmul then rotates and writes the KV cache itself.
  struct Layer {
    vk::BufferSlice input_norm, post_norm;
    ops::WeightMatrix qkv, o, gate_up, down;
    vk::BufferSlice qkv_bias, o_bias;
    float lambda = 0, lambda_init = 0;
  };
  vk::Device& device_;
  ModelConfig config_;
  vk::Arena weights_arena_;
  ops::WeightMatrix embed_, lm_head_;
  bool tied_ = false;
  ops::Quant quant_ = ops::Quant::none;
  uint32_t glu_group_ = 1;
  uint32_t rope_group_ = 0;
  vk::BufferSlice final_norm_;
  std::vector<Layer> layers_;
  std::vector<float> inv_freq_;
  std::vector<float> lambdas_;
};

struct SessionOptions {
  uint32_t context = 0;  // KV cache length; 0: min(max_position_embeddings, 4096)
  uint32_t batch = 64;   // prefill chunk size (tokens per submission)
  bool profile = false;  // record timestamps (per-op GPU time of the last run)
  // Single-token decode reading at least this many keys splits attention over keys (flash-decoding;
  // on CPU devices the two-phase kernel), below it runs one attention dispatch per layer: the split
  // version's extra dispatches cost more than they save on short contexts (measured on lavapipe, M
  // shape: 3x the attention time at 0-32 keys, 0.6x at 2048). 0: always split (tests).
  uint32_t split_attention_from = 768;
};

class Session {
 public:
  Session(Model& model, const SessionOptions& options = {});
  ~Session();

  // Runs `tokens` at positions position() .. position()+n-1 (prefill in chunks of `batch`; a single
  // token goes through the decode recording). Returns the logits of the last token. With
  // `all_logits`, logits of every token are written to all_logits (n x vocab floats).
  std::span<const float> eval(std::span<const int32_t> tokens, float* all_logits = nullptr);
  // Like eval(), but returns only the last token's best min(k, vocab) candidates (logit descending,
  // ties to the smaller id: the sampler's order), selected on the device in the same submission, so
  // only k (id, logit) pairs are read back. k in 1..max_top_k. A NaN among the last token's logits is
  // Status::internal "logits contain NaN (token i)" (the sampler's error).
  std::span<const Candidate> eval_top_k(std::span<const int32_t> tokens, uint32_t k);
  static constexpr uint32_t max_top_k = 64;

  const Model& model() const { return model_; }
  uint32_t position() const { return position_; }
  uint32_t context() const { return context_; }
  uint32_t batch() const { return batch_; }
  void reset() { truncate(0); }
  void truncate(uint32_t n);  // forget tokens at positions >= n
  // The ids at positions 0 .. position() - 1 (what the KV cache holds).
  std::span<const int32_t> tokens() const { return tokens_; }

  uint64_t kv_cache_bytes() const;
  uint64_t scratch_bytes() const;
  // Per-op GPU time of the last eval chunk (with SessionOptions::profile).
  std::vector<vk::DispatchTiming> last_timings() const;
  // Dispatches and queue submissions of the decode (one-token) recording; with top_k: the eval_top_k
  // recording; split: the one used from SessionOptions::split_attention_from keys on.
  uint32_t decode_dispatches(uint32_t top_k = 0, bool split = false);
  // Dispatches of the prefill recording of a chunk of `tokens` (1..batch) tokens, last row's logits.
  uint32_t prefill_dispatches(uint32_t tokens);
  uint64_t submissions() const { return submissions_; }

 private:
  // split: single-token decode with key-split attention (split_attention(T)).
  vk::Sequence& recording(uint32_t T, bool all_logits, uint32_t top_k, bool split);
  // top_k > 0 (only without all_logits): the head writes a device-local row and a top-k selection
  // writes top_out_.
  std::unique_ptr<vk::Sequence> record(uint32_t T, bool all_logits, uint32_t top_k, bool split);
  // Whether evaluating T tokens at position_ uses the split decode recording.
  bool split_attention(uint32_t T) const { return T == 1 && decode_splits_ > 1 && position_ + T >= split_from_; }
  void check_tokens(std::span<const int32_t> tokens) const;

  Model& model_;
  const ModelConfig& cfg_;
  uint32_t context_, batch_, logits_rows_;
  bool profile_;
  vk::Arena cache_arena_, scratch_arena_, host_arena_, readback_arena_;
  std::vector<vk::BufferSlice> k_cache_, v_cache_;
  vk::BufferSlice x_, qkv_, attn_, gate_up_, act_, last_, attn_scratch_, rope_table_;
  vk::BufferSlice params_, ids_, logits_;
  vk::BufferSlice top_logits_, top_scratch_, top_out_;  // eval_top_k: device row, lists, result
  std::vector<Candidate> top_;
  uint32_t decode_splits_ = 1, split_from_ = 0;
  uint32_t position_ = 0;
  std::vector<int32_t> tokens_;  // position_ of them
  uint64_t submissions_ = 0;
  // (T, all_logits, top_k, split)
  std::map<std::tuple<uint32_t, bool, uint32_t, bool>, std::unique_ptr<vk::Sequence>> recordings_;
  vk::Sequence* last_run_ = nullptr;
};

}  // namespace dlvk
