#include "generate/perplexity.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dlvk {

double PerplexityResult::mean_nll() const { return tokens() ? nll_sum / double(tokens()) : 0.0; }
std::optional<int32_t> default_window_bos(const Tokenizer* tokenizer, const ModelConfig& config) {
  return tokenizer && tokenizer->bos_id() ? tokenizer->bos_id() : config.bos_token_id;
}

double PerplexityResult::perplexity() const { return std::exp(mean_nll()); }
double PerplexityResult::base_perplexity() const { return std::exp(tokens() ? base_nll_sum / double(tokens()) : 0.0); }

double log_sum_exp(std::span<const float> logits) {
  double mx = -INFINITY;
  for (float v : logits) mx = std::max(mx, double(v));
  double sum = 0;
  for (float v : logits) sum += std::exp(double(v) - mx);
  return mx + std::log(sum);
}

double token_nll(std::span<const float> logits, int32_t target) { return log_sum_exp(logits) - double(logits[size_t(target)]); }

namespace {

// KL(P || Q) of softmax(p) and softmax(q), and whether their argmaxes (first on ties) agree.
struct RowComparison {
  double kl;
  bool same_top;
};

// lse_p, lse_q: log_sum_exp of each (already computed for the rows' NLLs).
RowComparison compare_rows(std::span<const float> p, double lse_p, std::span<const float> q, double lse_q) {
  double kl = 0;
  for (size_t v = 0; v < p.size(); ++v) {
    const double lp = double(p[v]) - lse_p;
    kl += std::exp(lp) * (lp - (double(q[v]) - lse_q));
  }
  auto top = [](std::span<const float> x) { return std::max_element(x.begin(), x.end()) - x.begin(); };
  return {std::max(kl, 0.0), top(p) == top(q)};  // (rounding can make an exact 0 slightly negative)
}

}  // namespace

PerplexityResult perplexity(Session& session, std::span<const int32_t> ids, const PerplexityOptions& o,
                            const std::function<void(const PerplexityWindow&)>& on_window, Session* base) {
  const uint32_t prefix = o.bos ? 1u : 0u;
  const uint32_t window = o.window ? o.window : session.context();
  if (window < prefix + 2u)
    fail(Status::invalid_argument, "perplexity window of {} tokens: need at least {} (a context token and a target)",
         window, prefix + 2u);
  const uint32_t text = window - prefix;  // text tokens per window
  const uint32_t stride = o.stride ? o.stride : std::max(1u, text / 2u);
  if (stride >= text)
    fail(Status::invalid_argument, "perplexity stride {} must be below the {} text tokens of a window", stride, text);
  const uint64_t n = ids.size();
  if (n == 0) fail(Status::invalid_argument, "nothing to score: no tokens");
  if (n < 2u - prefix) fail(Status::invalid_argument, "nothing to score: one token and no bos");
  // A sequence shorter than a window needs only its own length of context.
  const uint64_t longest = std::min<uint64_t>(window, prefix + n);
  for (const Session* s : {static_cast<const Session*>(&session), static_cast<const Session*>(base)})
    if (s && longest > s->context())
      fail(Status::invalid_argument, "perplexity window of {} tokens is longer than the context ({})", window,
           s->context());

  const uint64_t V = uint64_t(session.model().config().vocab_size);
  if (base && uint64_t(base->model().config().vocab_size) != V)
    fail(Status::invalid_argument, "the base model's vocabulary ({} tokens) is not the scored model's ({})",
         base->model().config().vocab_size, V);
  // Every id up front: the last of each window is only a target, never evaluated (and checked) there.
  if (o.bos && (*o.bos < 0 || uint64_t(*o.bos) >= V))
    fail(Status::invalid_argument, "bos id {} is out of range (vocabulary size {})", *o.bos, V);
  for (uint64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || uint64_t(ids[i]) >= V)
      fail(Status::invalid_argument, "token id {} at index {} is out of range (vocabulary size {})", ids[i], i, V);

  PerplexityResult r;
  r.window = window;
  r.stride = stride;
  r.compared = base != nullptr;
  r.scored_begin = r.scored_end = 1u - prefix;  // without a bos, ids[0] is never a target
  const uint64_t chunk = base ? std::min(session.batch(), base->batch()) : session.batch();
  std::vector<int32_t> input;
  std::vector<float> logits(chunk * V), base_logits(base ? chunk * V : 0);
  for (uint64_t s = 0; r.scored_end < n && (o.max_windows == 0 || r.windows < o.max_windows); s += stride) {
    const uint64_t end = std::min<uint64_t>(n, s + text);
    // Input row i predicts ids[s + i + 1 - prefix]; the window's last token predicts nothing scored.
    input.clear();
    if (o.bos) input.push_back(*o.bos);
    input.insert(input.end(), ids.begin() + s, ids.begin() + (end - 1));
    PerplexityWindow w{.index = r.windows, .start = s, .scored_begin = r.scored_end, .scored_end = end};
    const uint64_t first_row = w.scored_begin - s - 1 + prefix;
    session.reset();
    if (base) base->reset();
    // Context-only rows need no logits rows read back.
    if (first_row) {
      session.eval(std::span(input).first(first_row));
      if (base) base->eval(std::span(input).first(first_row));
    }
    for (uint64_t row = first_row; row < input.size(); row += chunk) {
      const uint64_t count = std::min<uint64_t>(chunk, input.size() - row);
      session.eval(std::span(input).subspan(row, count), logits.data());
      if (base) base->eval(std::span(input).subspan(row, count), base_logits.data());
      for (uint64_t i = 0; i < count; ++i) {
        const uint64_t target_index = s + row + i + 1 - prefix;
        const auto l = std::span(logits).subspan(i * V, V);
        const double lse = log_sum_exp(l), nll = lse - double(l[size_t(ids[target_index])]);
        if (std::isnan(nll)) fail(Status::internal, "logits contain NaN (window {}, token {})", w.index, target_index);
        w.nll_sum += nll;
        if (!base) continue;
        const auto b = std::span(base_logits).subspan(i * V, V);
        const double base_lse = log_sum_exp(b), base_nll = base_lse - double(b[size_t(ids[target_index])]);
        if (std::isnan(base_nll))
          fail(Status::internal, "the base model's logits contain NaN (window {}, token {})", w.index, target_index);
        w.base_nll_sum += base_nll;
        const RowComparison c = compare_rows(b, base_lse, l, lse);
        w.kl_sum += c.kl;
        r.kl_max = std::max(r.kl_max, c.kl);
        r.top1_same += c.same_top;
      }
    }
    r.evaluated += input.size();
    r.nll_sum += w.nll_sum;
    r.base_nll_sum += w.base_nll_sum;
    r.kl_sum += w.kl_sum;
    r.scored_end = end;
    ++r.windows;
    if (on_window) on_window(w);
  }
  return r;
}

}  // namespace dlvk
