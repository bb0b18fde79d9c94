// C API: contexts (a dlvk::Session each), evaluation, logits, generation.
#include <algorithm>
#include <string>

#include "capi/capi_internal.hpp"
#include "generate/generator.hpp"
#include "generate/stop_strings.hpp"

using namespace dlvk;
using dlvk::capi::guard;
using dlvk::capi::check_context;
using dlvk::capi::need;

static_assert(DLVK_STOP_EOS == int(StopReason::eos) && DLVK_STOP_MAX_TOKENS == int(StopReason::max_tokens) &&
              DLVK_STOP_CONTEXT_FULL == int(StopReason::context_full) &&
              DLVK_STOP_CANCELLED == int(StopReason::cancelled) && DLVK_STOP_STRING == int(StopReason::stop_string));

namespace {

// Marks a context busy for the duration of a call that runs callbacks; refuses re-entry.
struct BusyScope {
  explicit BusyScope(dlvk_context* c) : ctx(c) {
    if (ctx->busy)
      fail(Status::invalid_argument, "context is busy (called from its own generate callback)");
    ctx->busy = true;
  }
  ~BusyScope() { ctx->busy = false; }
  BusyScope(const BusyScope&) = delete;
  BusyScope& operator=(const BusyScope&) = delete;
  dlvk_context* ctx;
};

}  // namespace

extern "C" {

dlvk_context_params dlvk_context_params_default(void) {
  dlvk_context_params p;
  p.context_length = 0;
  p.batch_size = 64;
  return p;
}

dlvk_status dlvk_context_create(dlvk_model* model, const dlvk_context_params* params, dlvk_context** out_context) {
  return guard(__func__, [&] {
    need(model, "model");
    need(out_context, "out_context");
    dlvk_context_params p = params ? *params : dlvk_context_params_default();
    SessionOptions so;
    so.context = p.context_length;
    so.batch = p.batch_size ? p.batch_size : dlvk_context_params_default().batch_size;
    auto ctx = std::make_unique<dlvk_context>();
    ctx->model = model->state;
    {
      std::lock_guard<std::recursive_mutex> lock(ctx->model->gpu);
      ctx->session = std::make_unique<Session>(*ctx->model->model, so);
    }
    *out_context = ctx.release();
  });
}

void dlvk_context_free(dlvk_context* context) {
  if (!context) return;
  std::shared_ptr<capi::ModelState> model = context->model;
  try {
    std::lock_guard<std::recursive_mutex> lock(model->gpu);
    context->session.reset();  // frees GPU objects of the model's device: under its lock
  } catch (...) {
    // lock failures (system errors) leave nothing better to do than free without it
    context->session.reset();
  }
  delete context;
  // `model` goes last: it may be the final reference, destroying the device.
}

dlvk_status dlvk_context_get_info(const dlvk_context* context, dlvk_context_info* out_info) {
  return guard(__func__, [&] {
    need(context, "context");
    need(out_info, "out_info");
    dlvk_context_info i{};
    i.context_length = context->session->context();
    i.batch_size = context->session->batch();
    i.position = context->session->position();
    i.vocab_size = context->model->model->config().vocab_size;
    *out_info = i;
  });
}

dlvk_status dlvk_context_memory(const dlvk_context* context, dlvk_memory_info* out_info) {
  return guard(__func__, [&] {
    need(context, "context");
    need(out_info, "out_info");
    dlvk_memory_info m{};
    m.weights_bytes = context->model->model->weight_bytes();
    m.kv_cache_bytes = context->session->kv_cache_bytes();
    m.scratch_bytes = context->session->scratch_bytes();
    *out_info = m;
  });
}

dlvk_status dlvk_context_eval(dlvk_context* context, const int32_t* tokens, size_t count, float* all_logits) {
  return guard(__func__, [&] {
    check_context(context);
    if (count) need(tokens, "tokens");
    std::lock_guard<std::recursive_mutex> lock(context->model->gpu);
    context->logits = {};
    context->logits = context->session->eval({tokens, count}, all_logits);
  });
}

dlvk_status dlvk_context_logits(const dlvk_context* context, const float** out_logits, size_t* out_count) {
  return guard(__func__, [&] {
    check_context(context);
    need(out_logits, "out_logits");
    need(out_count, "out_count");
    if (context->logits.empty())
      fail(Status::invalid_argument, "no logits: evaluate tokens first (reset, truncate and generate discard them)");
    *out_logits = context->logits.data();
    *out_count = context->logits.size();
  });
}

dlvk_status dlvk_context_reset(dlvk_context* context) {
  return guard(__func__, [&] {
    check_context(context);
    context->session->reset();
    context->logits = {};
  });
}

dlvk_status dlvk_context_truncate(dlvk_context* context, uint32_t n) {
  return guard(__func__, [&] {
    check_context(context);
    context->session->truncate(n);
    context->logits = {};
  });
}

dlvk_generate_params dlvk_generate_params_default(void) {
  dlvk_generate_params p;
  p.max_tokens = GenerateOptions{}.max_tokens;
  p.sampling = dlvk_sampling_params_default();
  p.stop_at_eos = 1;
  p.stop_ids = nullptr;
  p.stop_id_count = 0;
  p.skip_special = 0;
  p.context_shift = 0;
  p.keep_first = 1;
  p.stop_strings = nullptr;
  p.stop_string_count = 0;
  return p;
}

dlvk_status dlvk_generate(dlvk_context* context, const int32_t* prompt, size_t prompt_count,
                          const dlvk_generate_params* params, dlvk_token_callback callback, void* user_data,
                          dlvk_generate_result* out_result) {
  return guard(__func__, [&] {
    need(context, "context");
    std::lock_guard<std::recursive_mutex> lock(context->model->gpu);
    BusyScope busy(context);
    if (prompt_count) need(prompt, "prompt");
    dlvk_generate_params p = params ? *params : dlvk_generate_params_default();
    if (p.max_tokens < 0) fail(Status::invalid_argument, "max_tokens {} is negative", p.max_tokens);
    if (p.stop_id_count) need(p.stop_ids, "params->stop_ids");
    GenerateOptions g;
    g.max_tokens = p.max_tokens;
    g.sampling = capi::sampling_from_c(p.sampling);
    if (p.stop_at_eos) g.stop_ids = context->model->model->config().eos_token_ids;
    g.stop_ids.insert(g.stop_ids.end(), p.stop_ids, p.stop_ids + p.stop_id_count);
    if (p.stop_string_count) need(p.stop_strings, "params->stop_strings");
    std::vector<std::string> stop_texts;
    for (size_t i = 0; i < p.stop_string_count; ++i) {
      if (!p.stop_strings[i] || !*p.stop_strings[i])
        fail(Status::invalid_argument, "params->stop_strings[{}] is NULL or empty", i);
      stop_texts.emplace_back(p.stop_strings[i]);
    }
    if (!stop_texts.empty() && !context->model->tokenizer)
      fail(Status::invalid_argument, "stop strings need the model's tokenizer.json (text to match)");
    StopStrings stops(std::move(stop_texts));
    g.context_shift = p.context_shift != 0;
    g.keep_first = p.keep_first;

    const std::optional<Tokenizer>& tok = context->model->tokenizer;
    std::optional<StreamDecoder> dec;
    if (tok) dec.emplace(*tok, p.skip_special != 0);
    context->logits = {};
    GenerateStats st = generate(*context->session, {prompt, prompt_count}, g, [&](int32_t id) {
      if (!dec) return !(callback && callback(id, nullptr, 0, user_data));
      std::string piece;
      try {
        piece = dec->push(id);
      } catch (const Error& e) {
        if (e.status() != Status::invalid_argument) throw;
        piece.clear();  // an id of a padded vocabulary that the tokenizer does not know: no text
      }
      piece = stops.push(piece);
      return !(callback && callback(id, piece.c_str(), piece.size(), user_data)) && !stops.matched();
    });
    if (dec) {
      const std::string tail = stops.finish(dec->flush());
      if (!tail.empty() && callback) callback(-1, tail.c_str(), tail.size(), user_data);
    }
    if (stops.matched() && st.stop == StopReason::cancelled) st.stop = StopReason::stop_string;
    if (out_result) {
      dlvk_generate_result r{};
      r.prompt_tokens = st.prompt_tokens;
      r.generated_tokens = st.generated_tokens;
      r.prompt_ms = st.prompt_ms;
      r.generate_ms = st.generate_ms;
      r.stop = static_cast<dlvk_stop_reason>(st.stop);
      r.context_shifts = st.context_shifts;
      *out_result = r;
    }
    if (st.stop == StopReason::cancelled)
      fail(Status::cancelled, "generation cancelled by the token callback after {} token(s)", st.generated_tokens);
  });
}

}  // extern "C"
