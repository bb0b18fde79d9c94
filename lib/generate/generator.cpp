#include "generate/generator.hpp"

#include <algorithm>
#include <chrono>

namespace dlvk {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::eos: return "end of sequence";
    case StopReason::max_tokens: return "token limit";
    case StopReason::context_full: return "context full";
    case StopReason::cancelled: return "cancelled";
    case StopReason::stop_string: return "stop string";
  }
  return "?";
}

std::vector<int32_t> context_shift_tokens(std::span<const int32_t> cache, uint32_t keep_first, uint32_t total) {
  const size_t first = std::min<size_t>({keep_first, total, cache.size()});
  const size_t recent = std::min<size_t>(total - first, cache.size() - first);
  std::vector<int32_t> kept(cache.begin(), cache.begin() + first);
  kept.insert(kept.end(), cache.end() - recent, cache.end());
  return kept;
}

GenerateStats generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& options,
                       const TokenCallback& on_token) {
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  GenerateStats st;
  Sampler sampler(options.sampling);
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  const uint32_t need = sampler.candidates_needed();
  st.gpu_top_k = options.gpu_sampling && need <= Session::max_top_k ? need : 0;
  std::span<const float> logits;
  std::span<const Candidate> best;
  auto eval = [&](std::span<const int32_t> tokens) {
    if (st.gpu_top_k) best = session.eval_top_k(tokens, st.gpu_top_k);
    else logits = session.eval(tokens);
  };
  auto t0 = clock::now();
  eval(prompt);
  st.prompt_tokens = uint32_t(prompt.size());
  st.prompt_ms = ms(clock::now() - t0);
  t0 = clock::now();
  for (int i = 0; i < options.max_tokens; ++i) {
    int32_t id = st.gpu_top_k ? sampler.sample_sorted(best) : sampler.sample(logits, history);
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), id) != options.stop_ids.end()) {
      st.stop = StopReason::eos;
      break;
    }
    st.tokens.push_back(id);
    history.push_back(id);
    ++st.generated_tokens;
    if (on_token && !on_token(id)) {
      st.stop = StopReason::cancelled;
      break;
    }
    if (i + 1 == options.max_tokens) break;
    if (session.position() >= session.context()) {
      // The kept tokens plus the new one must fit with room to spare: at least one recent token goes.
      const uint32_t keep = std::min(options.keep_first, session.context() / 2);
      const uint32_t recent = session.context() / 2 - keep;
      if (!options.context_shift || recent == 0) {
        st.stop = StopReason::context_full;
        break;
      }
      std::vector<int32_t> shifted = context_shift_tokens(session.tokens(), keep, keep + recent);
      shifted.push_back(id);
      session.reset();
      eval(shifted);
      ++st.context_shifts;
      continue;
    }
    int32_t one[1] = {id};
    eval(one);
  }
  st.generate_ms = ms(clock::now() - t0);
  return st;
}

}  // namespace dlvk
