// Text generation on a Session: prefill the prompt, then sample one token at a time (one queue
// submission per token), stopping at an end-of-sequence id, the token limit, a full context or when
// the callback asks to stop.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "dlvk/sampler.hpp"
#include "model/diffllama.hpp"

namespace dlvk {

struct GenerateOptions {
  int max_tokens = 128;
  SamplingParams sampling;
  std::vector<int32_t> stop_ids;  // end-of-sequence ids (config / generation_config)
  // Select the sampler's candidates on the GPU (Session::eval_top_k: k ids and logits read back per
  // token instead of the vocabulary row) when the sampling parameters only look at the best
  // k <= Session::max_top_k (greedy, or top-k without a repeat penalty; top-p and min-p act within
  // the top k). Gives the same tokens as the full row for the same seed.
  bool gpu_sampling = true;
  // A full KV cache: stop (StopReason::context_full), or with context_shift keep the first keep_first
  // tokens of the cache (e.g. 1: the bos the model always saw at position 0) and the most recent ones,
  // half the context in all, run them again from position 0 (one prefill), and go on generating.
  bool context_shift = false;
  uint32_t keep_first = 0;
};

// stop_string: set by callers that match stop strings on the text (the CLI, the C API).
enum class StopReason { eos, max_tokens, context_full, cancelled, stop_string };
const char* stop_reason_name(StopReason r);

struct GenerateStats {
  uint32_t prompt_tokens = 0, generated_tokens = 0;
  double prompt_ms = 0, generate_ms = 0;  // prefill; decode + sampling
  StopReason stop = StopReason::max_tokens;
  uint32_t gpu_top_k = 0;       // candidates selected on the GPU per token; 0: full logits rows
  uint32_t context_shifts = 0;  // times the cache was cut to half the context and run again
  std::vector<int32_t> tokens;  // generated ids (an eos id that stopped generation is not included)
};

// Called with each generated id; return false to stop (StopReason::cancelled).
using TokenCallback = std::function<bool(int32_t id)>;

// The tokens a context shift keeps of `cache`: its first min(keep_first, total) and then the most recent
// ones, `total` in all (fewer when the cache is shorter).
std::vector<int32_t> context_shift_tokens(std::span<const int32_t> cache, uint32_t keep_first, uint32_t total);

// Runs `prompt` at the session's current position, then generates. The session keeps the prompt
// and generated tokens in its KV cache (so a conversation can continue).
GenerateStats generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& options,
                       const TokenCallback& on_token);

}  // namespace dlvk
