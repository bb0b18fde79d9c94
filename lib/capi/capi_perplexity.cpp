// C API: windowed perplexity of a token sequence (generate/perplexity), optionally against a base model.
#include <mutex>

#include "capi/capi_internal.hpp"
#include "generate/perplexity.hpp"

using namespace dlvk;
using dlvk::capi::check_context;
using dlvk::capi::guard;
using dlvk::capi::need;

extern "C" {

dlvk_perplexity_params dlvk_perplexity_params_default(void) {
  dlvk_perplexity_params p;
  p.window = 0;
  p.stride = 0;
  p.bos_token_id = -1;
  p.max_windows = 0;
  return p;
}

dlvk_status dlvk_perplexity(dlvk_context* context, const int32_t* ids, size_t count,
                            const dlvk_perplexity_params* params, dlvk_context* base,
                            dlvk_perplexity_result* out_result) {
  return guard(__func__, [&] {
    check_context(context);
    if (base) check_context(base, "base");
    need(out_result, "out_result");
    if (count > 0) need(ids, "ids");
    if (base == context) fail(Status::invalid_argument, "base must be another context than the scored one");
    const dlvk_perplexity_params p = params ? *params : dlvk_perplexity_params_default();
    if (p.bos_token_id < -2) fail(Status::invalid_argument, "bos_token_id {} (expected -1, -2 or an id)", p.bos_token_id);

    const capi::ModelState& m = *context->model;
    PerplexityOptions o;
    o.window = p.window;
    o.stride = p.stride;
    o.max_windows = p.max_windows;
    if (p.bos_token_id >= 0) o.bos = p.bos_token_id;
    else if (p.bos_token_id == -1)
      o.bos = default_window_bos(m.tokenizer ? &*m.tokenizer : nullptr, m.model->config());

    // Both models' GPU work (one lock when the base shares the scored context's model).
    std::unique_lock<std::recursive_mutex> lock(context->model->gpu, std::defer_lock);
    std::unique_lock<std::recursive_mutex> base_lock;
    if (base && base->model != context->model) {
      base_lock = std::unique_lock<std::recursive_mutex>(base->model->gpu, std::defer_lock);
      std::lock(lock, base_lock);
    } else {
      lock.lock();
    }
    // Arguments are checked before anything runs (invalid_argument: the contexts are unchanged); once the
    // windows run, the sessions are reset and no logits of an earlier eval stay valid, also on a failure.
    auto forget_logits = [&] {
      context->logits = {};
      if (base) base->logits = {};
    };
    PerplexityResult r;
    try {
      r = perplexity(*context->session, std::span<const int32_t>(ids, count), o, {}, base ? base->session.get() : nullptr);
    } catch (const Error& e) {
      if (e.status() != Status::invalid_argument) forget_logits();
      throw;
    } catch (...) {
      forget_logits();
      throw;
    }
    forget_logits();

    dlvk_perplexity_result out{};
    out.tokens = r.tokens();
    out.windows = r.windows;
    out.window = r.window;
    out.stride = r.stride;
    out.nll_sum = r.nll_sum;
    out.mean_nll = r.mean_nll();
    out.perplexity = r.perplexity();
    out.compared = r.compared ? 1 : 0;
    if (r.compared) {
      out.base_perplexity = r.base_perplexity();
      out.kl_mean = r.kl_mean();
      out.kl_max = r.kl_max;
      out.top1_agreement = r.top1_agreement();
    }
    *out_result = out;
  });
}

}  // extern "C"
