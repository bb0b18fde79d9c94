// Token sampling from logits: repeat penalty -> top-k -> softmax with temperature -> top-p ->
// min-p -> draw. Deterministic for a given seed on every platform (own PRNG, own uniform draw).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace dlvk {

struct SamplingParams {
  float temperature = 0.8f;     // <= 0: greedy (argmax after the repeat penalty; lowest id on ties)
  int top_k = 40;               // <= 0 or >= vocab: disabled
  float top_p = 0.95f;          // >= 1: disabled; keeps the smallest prefix with mass >= top_p
  float min_p = 0.05f;          // <= 0: disabled; keeps p >= min_p * p_max
  float repeat_penalty = 1.0f;  // 1: disabled; logit > 0 ? logit / p : logit * p
  int repeat_last_n = 64;       // window of recent tokens for the penalty; 0: none; -1: all
  uint64_t seed = 0;
};

// A token and its logit.
struct Candidate {
  int32_t id;
  float logit;
};

class Sampler {
 public:
  // Status::invalid_argument for NaN parameters, repeat_penalty <= 0 or repeat_last_n < -1.
  explicit Sampler(SamplingParams params);

  // Picks a token id in [0, logits.size()). `recent_tokens` is the history, oldest first; the
  // penalty applies once to each distinct id among the last repeat_last_n of them.
  // Errors: empty logits or a recent token outside the vocabulary -> Status::invalid_argument;
  // a NaN logit -> Status::internal "logits contain NaN". Allocates only when the vocabulary
  // grows beyond what an earlier call saw.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> recent_tokens);

  // How many of a row's best candidates (logit descending, ties to the smaller id) sample_sorted()
  // needs to pick exactly what sample() would pick from the whole row with the same random stream:
  // 1 when greedy, top_k with a top-k cut (the rest of the pipeline only sees those), and 0 when the
  // whole row is needed (no top-k cut, or a repeat penalty that changes logits first).
  uint32_t candidates_needed() const;
  // Picks from the row's best min(candidates_needed(), vocab) candidates in that order, e.g. those a
  // top-k selection on the GPU returned. Same result and same draws as sample() on the full row.
  // Errors: no candidates -> Status::invalid_argument; a NaN logit -> Status::internal.
  int32_t sample_sorted(std::span<const Candidate> best);

  // Restarts the random stream (same seed => same draws).
  void reset(uint64_t seed);

  const SamplingParams& params() const { return params_; }

  // The random stream itself (xoshiro256** seeded through splitmix64): exposed for tests.
  uint64_t next_u64();
  double next_uniform();  // [0, 1), 53 random bits

 private:
  struct Cand {
    float logit;
    int32_t id;
    double p;
  };
  int32_t draw_sorted();  // softmax, top-p, min-p and the draw over cands_ (sorted)
  SamplingParams params_;
  uint64_t s_[4]{};
  std::vector<Cand> cands_;
  std::vector<uint32_t> seen_;  // per-id stamp for "distinct recent tokens"
  uint32_t stamp_ = 0;
};

}  // namespace dlvk
