// Perplexity of a long token sequence in overlapping windows, each a fresh context (the protocol of
// tools/train/eval_heldout.py, which the tests check against the reference):
//   * a window is [bos] + ids[s : s + W] with W = window - 1 (without a bos: ids[s : s + window]);
//     windows start at s = 0, stride, 2 stride, ...;
//   * every target is scored exactly once: window 0 scores all of its tokens (with a bos, ids[0] is
//     predicted from the bos alone; without one, ids[0] is context only), each later window only the
//     tokens after those already scored, so they have at least window - stride - 1 tokens of context;
//   * NLL = -log softmax(logits)[target] in double precision (natural log).
// With a base session (e.g. the same model with unquantized weights, or another model with the same
// vocabulary) every window also runs there, and each scored token adds KL(base || session) of the two
// next-token distributions and whether their top tokens agree.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "dlvk/tokenizer.hpp"
#include "model/diffllama.hpp"

namespace dlvk {

struct PerplexityOptions {
  uint32_t window = 0;  // tokens per window including the bos; 0: the session's context
  uint32_t stride = 0;  // 0: half of a window's text tokens (at least 1)
  std::optional<int32_t> bos;
  uint32_t max_windows = 0;  // 0: all
};

struct PerplexityWindow {
  uint32_t index = 0;  // 0-based
  uint64_t start = 0;  // ids[start] is the window's first text token
  uint64_t scored_begin = 0, scored_end = 0;  // targets ids[scored_begin, scored_end)
  double nll_sum = 0;
  double base_nll_sum = 0, kl_sum = 0;  // with a base session
};

struct PerplexityResult {
  uint32_t windows = 0, window = 0, stride = 0;
  uint64_t scored_begin = 0, scored_end = 0;  // all targets scored: ids[scored_begin, scored_end)
  uint64_t evaluated = 0;  // tokens run through the model (with bos and overlap)
  double nll_sum = 0;
  // With a base session: its NLL sum, KL(base || session) summed and largest over the scored tokens
  // (nats), and the tokens whose argmax (the smaller id on ties) is the same in both.
  bool compared = false;
  double base_nll_sum = 0, kl_sum = 0, kl_max = 0;
  uint64_t top1_same = 0;
  uint64_t tokens() const { return scored_end - scored_begin; }
  double mean_nll() const;
  double perplexity() const;
  double base_perplexity() const;
  double kl_mean() const { return tokens() ? kl_sum / double(tokens()) : 0.0; }
  double top1_agreement() const { return tokens() ? double(top1_same) / double(tokens()) : 0.0; }
};

// The bos each window starts with by default: the tokenizer's (tokenizer.json), else config.json's; none
// when neither names one. tokenizer may be null.
std::optional<int32_t> default_window_bos(const Tokenizer* tokenizer, const ModelConfig& config);

// log(sum(exp(logits))) in double precision (NaN if the logits hold a NaN or +infinity).
double log_sum_exp(std::span<const float> logits);
// -log softmax(logits)[target].
double token_nll(std::span<const float> logits, int32_t target);

// Runs the windows on `session` and `base` if given (both are reset; window <= their contexts, or the
// sequence and its bos are no longer than them). on_window is called after each window. Errors:
// invalid_argument for an empty sequence, nothing to score, a bad window or stride, a base with
// another vocabulary size; internal for NaN logits.
PerplexityResult perplexity(Session& session, std::span<const int32_t> ids, const PerplexityOptions& options,
                            const std::function<void(const PerplexityWindow&)>& on_window = {},
                            Session* base = nullptr);

}  // namespace dlvk
