#include "dlvk/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "dlvk/error.hpp"

namespace dlvk {

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Sampler::Sampler(SamplingParams p) : params_(p) {
  if (std::isnan(p.temperature)) fail(Status::invalid_argument, "sampler: temperature is NaN");
  if (std::isnan(p.top_p)) fail(Status::invalid_argument, "sampler: top_p is NaN");
  if (std::isnan(p.min_p)) fail(Status::invalid_argument, "sampler: min_p is NaN");
  if (!std::isfinite(p.repeat_penalty) || p.repeat_penalty <= 0)
    fail(Status::invalid_argument, "sampler: repeat_penalty = {} must be a finite positive number",
         p.repeat_penalty);
  if (p.repeat_last_n < -1)
    fail(Status::invalid_argument, "sampler: repeat_last_n = {} must be >= -1 (-1 = all)",
         p.repeat_last_n);
  reset(p.seed);
}

void Sampler::reset(uint64_t seed) {
  params_.seed = seed;
  uint64_t x = seed;
  for (uint64_t& w : s_) w = splitmix64(x);
}

uint64_t Sampler::next_u64() {  // xoshiro256**
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Sampler::next_uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> recent) {
  const size_t V = logits.size();
  if (V == 0) fail(Status::invalid_argument, "sampler: empty logits");
  if (V > size_t(std::numeric_limits<int32_t>::max()))
    fail(Status::invalid_argument, "sampler: {} logits exceed the int32 token range", V);

  // Candidates in id order (cands_[id] is token id until sorting).
  cands_.resize(V);
  for (size_t i = 0; i < V; ++i) {
    const float l = logits[i];
    if (std::isnan(l)) fail(Status::internal, "logits contain NaN (token {})", i);
    cands_[i] = Cand{l, int32_t(i), 0.0};
  }

  // Repeat penalty over the distinct ids among the last repeat_last_n tokens.
  const SamplingParams& P = params_;
  const bool penalize = P.repeat_penalty != 1.0f && P.repeat_last_n != 0;
  if (penalize && seen_.size() < V) seen_.resize(V, 0);
  if (penalize && !recent.empty()) {
    const size_t n = P.repeat_last_n < 0 ? recent.size()
                                         : std::min(recent.size(), size_t(P.repeat_last_n));
    if (++stamp_ == 0) {  // wrapped: clear the stamps
      std::fill(seen_.begin(), seen_.end(), 0u);
      stamp_ = 1;
    }
    for (size_t i = recent.size() - n; i < recent.size(); ++i) {
      const int32_t t = recent[i];
      if (t < 0 || size_t(t) >= V)
        fail(Status::invalid_argument, "sampler: recent token {} is outside the vocabulary [0, {})",
             t, V);
      if (seen_[size_t(t)] == stamp_) continue;
      seen_[size_t(t)] = stamp_;
      float& l = cands_[size_t(t)].logit;
      l = l > 0 ? l / P.repeat_penalty : l * P.repeat_penalty;
    }
  }

  // Greedy: argmax, lowest id on ties.
  if (P.temperature <= 0 || P.top_k == 1) {
    size_t best = 0;
    for (size_t i = 1; i < V; ++i)
      if (cands_[i].logit > cands_[best].logit) best = i;
    return cands_[best].id;
  }

  // Top-k (a strict total order: logit descending, then id ascending), kept sorted.
  const auto by_logit = [](const Cand& a, const Cand& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  const size_t k = (P.top_k > 0 && size_t(P.top_k) < V) ? size_t(P.top_k) : V;
  if (k < V) {
    std::partial_sort(cands_.begin(), cands_.begin() + ptrdiff_t(k), cands_.end(), by_logit);
    cands_.resize(k);
  } else {
    std::sort(cands_.begin(), cands_.end(), by_logit);
  }
  return draw_sorted();
}

uint32_t Sampler::candidates_needed() const {
  const SamplingParams& P = params_;
  if (P.repeat_penalty != 1.0f && P.repeat_last_n != 0) return 0;
  if (P.temperature <= 0 || P.top_k == 1) return 1;
  return P.top_k > 0 ? uint32_t(P.top_k) : 0;
}

int32_t Sampler::sample_sorted(std::span<const Candidate> best) {
  if (best.empty()) fail(Status::invalid_argument, "sampler: no candidates");
  for (const Candidate& c : best)
    if (std::isnan(c.logit)) fail(Status::internal, "logits contain NaN (token {})", c.id);
  const SamplingParams& P = params_;
  if (P.temperature <= 0 || P.top_k == 1) return best[0].id;
  cands_.resize(best.size());
  for (size_t i = 0; i < best.size(); ++i) cands_[i] = Cand{best[i].logit, best[i].id, 0.0};
  return draw_sorted();
}

int32_t Sampler::draw_sorted() {
  const SamplingParams& P = params_;
  // Softmax with temperature (unnormalised; the draw scales by the kept total).
  const float maxl = cands_[0].logit;
  if (std::isinf(maxl)) {
    // +inf: only the +inf tokens remain, equally likely. -inf everywhere: all equally likely.
    for (Cand& c : cands_) c.p = c.logit == maxl ? 1.0 : 0.0;
  } else {
    const double T = P.temperature;
    for (Cand& c : cands_) c.p = std::exp((double(c.logit) - double(maxl)) / T);
  }
  size_t kept = cands_.size();

  // Top-p: the smallest prefix whose mass reaches top_p.
  if (P.top_p < 1.0f) {
    double total = 0;
    for (size_t i = 0; i < kept; ++i) total += cands_[i].p;
    const double target = double(P.top_p) * total;
    double cum = 0;
    size_t i = 0;
    while (i < kept) {
      cum += cands_[i].p;
      ++i;
      if (cum >= target) break;
    }
    kept = std::max<size_t>(i, 1);
  }

  // Min-p: p >= min_p * p_max (candidates are sorted, p_max is the first).
  if (P.min_p > 0.0f) {
    const double threshold = double(P.min_p) * cands_[0].p;
    size_t i = 1;
    while (i < kept && cands_[i].p >= threshold) ++i;
    kept = i;
  }

  // Draw.
  double total = 0;
  for (size_t i = 0; i < kept; ++i) total += cands_[i].p;
  const double r = next_uniform() * total;
  double acc = 0;
  size_t last_positive = 0;
  for (size_t i = 0; i < kept; ++i) {
    if (cands_[i].p <= 0) continue;
    last_positive = i;
    acc += cands_[i].p;
    if (r < acc) return cands_[i].id;
  }
  return cands_[last_positive].id;
}

}  // namespace dlvk
