#include "model/diffllama.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

#include "dlvk/model_tensors.hpp"
#include "ops/diff_attention.hpp"
#include "ops/elementwise.hpp"
#include "ops/matmul.hpp"
#include "ops/rope.hpp"
#include "ops/select.hpp"

namespace dlvk {

Model::Model(vk::Device& device, ModelConfig config)
    : device_(device), config_(std::move(config)), weights_arena_(device, vk::MemoryKind::device, 256ull << 20, "weights") {}

std::unique_ptr<Model> Model::load(vk::Device& device, const std::filesystem::path& dir, const LoadProgress& progress,
                                   ops::Quant quant) {
  if (!std::filesystem::is_directory(dir))
    fail(Status::io_error, "model directory '{}' does not exist or is not a directory", dir.string());
  ModelConfig config = ModelConfig::load(dir);
  Checkpoint ckpt = Checkpoint::open(dir);
  return load(device, std::move(config), ckpt, progress, quant);
}

std::unique_ptr<Model> Model::load(vk::Device& device, ModelConfig config, const Checkpoint& ckpt,
                                   const LoadProgress& progress, ops::Quant quant) {
  ModelTensors t = resolve_model_tensors(ckpt, config);
  std::unique_ptr<Model> m(new Model(device, std::move(config)));
  const ModelConfig& c = m->config_;
  if (!ops::diff_attention_supported(device.caps(), uint32_t(c.head_dim)))
    fail(Status::unsupported, "head_dim {} is not supported on {} ({} bytes of shared memory)", c.head_dim,
         device.caps().device_name, device.caps().max_shared_memory);

  uint64_t total = 0, done = 0;
  auto count = [&](const TensorInfo* ti) { total += ti ? ti->nbytes : 0; };
  count(t.embed_tokens);
  if (!t.lm_head_tied) count(t.lm_head);
  for (auto& l : t.layers)
    for (auto* ti : {l.q_proj, l.k_proj, l.v_proj, l.o_proj, l.gate_proj, l.up_proj, l.down_proj}) count(ti);
  auto tick = [&](const TensorInfo* ti) {
    done += ti->nbytes;
    if (progress) progress(done, total);
  };

  m->quant_ = quant;
  auto matrix = [&](const TensorInfo* ti, ops::Quant q) {
    ops::WeightMatrix w = ops::upload_matrix(device, m->weights_arena_, ti->dtype, uint32_t(ti->shape[0]),
                                             uint32_t(ti->shape[1]), ti->data, ti->name, q);
    tick(ti);
    return w;
  };
  // Several [rows_i, cols] tensors as one matrix: stacked (group 0), or with rows interleaved in groups
  // (`group` rows of every part in turn; the parts then have equal rows, a multiple of group). Mixed
  // dtypes are stored as f32.
  // row_of(part, r): where a stacked part's row r goes within the part (the q/k heads' RoPE order).
  using RowMap = std::function<size_t(size_t, size_t)>;
  auto fused = [&](std::initializer_list<const TensorInfo*> parts, uint32_t group, const std::string& name,
                   const RowMap& row_of = {}) {
    DType dt = (*parts.begin())->dtype;
    uint32_t rows = 0, cols = uint32_t((*parts.begin())->shape[1]);
    for (auto* ti : parts) {
      if (ti->dtype != dt) dt = DType::f32;
      rows += uint32_t(ti->shape[0]);
    }
    const size_t row_bytes = size_t(cols) * size_of(dt);
    std::vector<char> data(size_t(rows) * row_bytes);
    size_t part = 0, stacked = 0;
    for (auto* ti : parts) {
      std::vector<float> f32;
      const char* src = reinterpret_cast<const char*>(ti->data);
      if (ti->dtype != dt) {
        f32 = tensor_to_f32(*ti);
        src = reinterpret_cast<const char*>(f32.data());
      }
      for (size_t r = 0; r < size_t(ti->shape[0]); ++r) {
        size_t dst = group ? (r / group) * group * parts.size() + part * group + r % group
                           : stacked + (row_of ? row_of(part, r) : r);
        std::memcpy(data.data() + dst * row_bytes, src + r * row_bytes, row_bytes);
      }
      stacked += size_t(ti->shape[0]);
      ++part;
    }
    ops::WeightMatrix w = ops::upload_matrix(device, m->weights_arena_, dt, rows, cols, data.data(), name, quant);
    for (auto* ti : parts) tick(ti);
    return w;
  };
  auto vec = [&](const TensorInfo* ti) {
    std::vector<float> v = tensor_to_f32(*ti);
    return ops::upload_f32(device, m->weights_arena_, v, ti->name);
  };
  // One weight block when the model is small (total: the checkpoint's matrices; + room for vectors).
  m->weights_arena_.set_block_size(std::min<uint64_t>(256ull << 20, total + (4ull << 20)));
  if (progress) progress(0, total);
  m->glu_group_ = ops::glu_group(uint32_t(c.intermediate_size));
  const uint32_t d = uint32_t(c.head_dim);
  m->rope_group_ = ops::rope_pair_group(d);
  auto qkv_row = [&](size_t part, size_t r) {  // q (0) and k (1) heads permuted, v (2) as it is
    return part < 2 ? (r / d) * d + ops::rope_stored_row(uint32_t(r % d), d, m->rope_group_) : r;
  };
  m->embed_ = matrix(t.embed_tokens, ops::Quant::none);  // a gather table: read one row per token
  m->tied_ = t.lm_head_tied;
  if (!m->tied_) m->lm_head_ = matrix(t.lm_head, quant);
  m->final_norm_ = vec(t.final_norm);
  for (size_t i = 0; i < t.layers.size(); ++i) {
    const LayerTensors& lt = t.layers[i];
    Layer l;
    l.input_norm = vec(lt.input_norm);
    l.post_norm = vec(lt.post_norm);
    l.qkv = fused({lt.q_proj, lt.k_proj, lt.v_proj}, 0, fmt::format("layer {} q/k/v_proj", i), qkv_row);
    l.o = matrix(lt.o_proj, quant);
    l.gate_up = fused({lt.gate_proj, lt.up_proj}, m->glu_group_, fmt::format("layer {} gate/up_proj", i));
    l.down = matrix(lt.down_proj, quant);
    if (c.attention_bias) {
      std::vector<float> b;
      size_t part = 0;
      for (const TensorInfo* ti : {lt.q_bias, lt.k_bias, lt.v_bias}) {
        std::vector<float> v = tensor_to_f32(*ti);
        const size_t base = b.size();
        b.resize(base + v.size());
        for (size_t r = 0; r < v.size(); ++r) b[base + qkv_row(part, r)] = v[r];
        ++part;
      }
      l.qkv_bias = ops::upload_f32(device, m->weights_arena_, b, lt.q_bias->name);
      l.o_bias = vec(lt.o_bias);
    }
    l.lambda_init = c.lambda_init(int64_t(i));
    l.lambda = compute_lambda(lt, l.lambda_init);
    m->lambdas_.push_back(l.lambda);
    m->layers_.push_back(std::move(l));
  }
  m->inv_freq_ = c.rope_inv_freq();
  return m;
}

ops::MatmulVariant Model::matmul_variant(uint32_t tokens) const {
  ops::MatmulArgs a;
  a.w = &layers_.at(0).o;
  a.M = tokens;
  a.ldx = a.w->cols;
  a.stream_bytes = weight_bytes();  // as Session's matmuls
  return ops::resolve_matmul_variant(device_.caps(), a);
}

uint64_t Model::decode_weight_bytes() const {
  uint64_t b = (tied_ ? embed_ : lm_head_).bytes();
  for (const Layer& l : layers_) b += l.qkv.bytes() + l.o.bytes() + l.gate_up.bytes() + l.down.bytes();
  return b;
}

Session::Session(Model& model, const SessionOptions& o)
    : model_(model), cfg_(model.config()), profile_(o.profile),
      cache_arena_(model.device(), vk::MemoryKind::device, 256ull << 20, "KV cache"),
      scratch_arena_(model.device(), vk::MemoryKind::device, 64ull << 20, "scratch"),
      host_arena_(model.device(), vk::MemoryKind::upload, 1ull << 20, "parameters"),
      readback_arena_(model.device(), vk::MemoryKind::readback, 64ull << 20, "logits") {
  vk::Device& dev = model.device();
  const auto& caps = dev.caps();
  uint64_t max_ctx = uint64_t(cfg_.max_position_embeddings);
  context_ = o.context ? o.context : uint32_t(std::min<uint64_t>(max_ctx, 4096));
  if (context_ == 0) fail(Status::invalid_argument, "context length must be positive");
  batch_ = std::max<uint32_t>(1, std::min(o.batch, context_));
  tokens_.reserve(context_);  // no allocation per token

  const uint64_t hidden = cfg_.hidden_size, H = cfg_.num_heads, Hkv = cfg_.num_kv_heads, d = cfg_.head_dim;
  const uint64_t I = cfg_.intermediate_size, V = cfg_.vocab_size;
  // Per-layer cache tensors must each fit one binding.
  uint64_t cache_row = Hkv * d * 4;
  if (uint64_t(context_) * cache_row > caps.max_storage_buffer_range)
    fail(Status::invalid_argument, "context {} needs a {}-byte KV cache per layer, over this device's binding limit of {} bytes",
         context_, uint64_t(context_) * cache_row, caps.max_storage_buffer_range);
  uint64_t widest = std::max({hidden, (H + 2 * Hkv) * d, 2 * I});
  uint64_t max_rows = caps.max_storage_buffer_range / (widest * 4);
  batch_ = uint32_t(std::min<uint64_t>(batch_, std::max<uint64_t>(1, max_rows)));
  logits_rows_ = uint32_t(std::clamp<uint64_t>(caps.max_storage_buffer_range / (V * 4), 1, batch_));

  // Say so before allocating when the context cannot fit the device.
  uint64_t need = uint64_t(cfg_.num_layers) * 2 * context_ * cache_row;
  uint64_t local = 0;
  for (auto& h : caps.heaps) if (h.device_local) local = std::max(local, h.size);
  // (Some drivers, lavapipe among them, report a heap smaller than what they let us allocate; when
  // the weights alone already exceed the heap, the heap size is no limit to check against.)
  if (local && model.weight_bytes() <= local && need + model.weight_bytes() > local)
    fail(Status::out_of_device_memory, "a context of {} tokens needs {} MiB of KV cache; with {} MiB of weights that exceeds the device's {} MiB",
         context_, need >> 20, model.weight_bytes() >> 20, local >> 20);

  // Arena blocks sized to what this session allocates (reported memory is what it reserves); the
  // slack covers alignment padding between slices.
  const uint64_t slack = 64 * 1024;
  const auto H32 = uint32_t(H), Hkv32 = uint32_t(Hkv), d32 = uint32_t(d);  // (the config checks bound them)
  decode_splits_ = ops::diff_attention_decode_splits(caps, H32, Hkv32, d32, context_);
  split_from_ = o.split_attention_from;
  // The most any recording's attention needs (decode splits, short prompts' scores).
  uint64_t attn_scratch = ops::diff_attention_scratch_bytes(caps, {1, H32, Hkv32, d32, decode_splits_, context_});
  for (uint32_t T = 1; T <= batch_; ++T)
    attn_scratch = std::max(attn_scratch, ops::diff_attention_scratch_bytes(caps, {T, H32, Hkv32, d32, 1, context_}));
  cache_arena_.set_block_size(need + slack);
  const uint64_t top_words = ops::top_k_scratch_words(caps, uint32_t(V), max_top_k);
  scratch_arena_.set_block_size(4 * (uint64_t(batch_) * (hidden + (2 * H + 2 * Hkv) * d + 3 * I) + hidden +
                                     attn_scratch / 4 +
                                     uint64_t(context_) * d + V + top_words) + slack);
  readback_arena_.set_block_size(4 * (uint64_t(logits_rows_) * V + ops::top_k_out_words(max_top_k)) + slack);
  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    k_cache_.push_back(cache_arena_.allocate(context_ * cache_row, "K cache"));
    v_cache_.push_back(cache_arena_.allocate(context_ * cache_row, "V cache"));
  }
  auto rows = [&](uint64_t n, uint64_t width, const char* what) { return scratch_arena_.allocate(n * width * 4, what); };
  x_ = rows(batch_, hidden, "hidden state");
  qkv_ = rows(batch_, (H + 2 * Hkv) * d, "queries, keys, values");
  attn_ = rows(batch_, H * d, "attention output");
  gate_up_ = rows(batch_, 2 * I, "gate and up");
  act_ = rows(batch_, I, "gated activation");
  last_ = rows(1, hidden, "last hidden row");
  attn_scratch_ = scratch_arena_.allocate(std::max<uint64_t>(attn_scratch, 16), "attention scratch");
  std::vector<float> table = ops::rope_table(model.inv_freq_, context_);
  rope_table_ = ops::upload_f32(dev, scratch_arena_, table, "RoPE table");
  params_ = host_arena_.allocate(16, "parameters");
  ids_ = host_arena_.allocate(batch_ * 4, "token ids");
  logits_ = readback_arena_.allocate(uint64_t(logits_rows_) * V * 4, "logits");
  top_logits_ = scratch_arena_.allocate(V * 4, "logits row for top-k");
  if (top_words) top_scratch_ = scratch_arena_.allocate(top_words * 4, "top-k lists");
  top_out_ = readback_arena_.allocate(ops::top_k_out_words(max_top_k) * 4, "top-k candidates");
}

Session::~Session() = default;

uint64_t Session::kv_cache_bytes() const { return cache_arena_.bytes_allocated(); }
uint64_t Session::scratch_bytes() const {
  return scratch_arena_.bytes_allocated() + host_arena_.bytes_allocated() + readback_arena_.bytes_allocated();
}

void Session::truncate(uint32_t n) {
  position_ = std::min(position_, n);
  tokens_.resize(position_);
}

std::vector<vk::DispatchTiming> Session::last_timings() const {
  return last_run_ ? last_run_->timings() : std::vector<vk::DispatchTiming>{};
}

uint32_t Session::decode_dispatches(uint32_t top_k, bool split) {
  return recording(1, false, top_k, split && decode_splits_ > 1).dispatch_count();
}

uint32_t Session::prefill_dispatches(uint32_t tokens) {
  if (tokens == 0 || tokens > batch_) fail(Status::invalid_argument, "prefill of {} tokens: chunks hold 1..{}", tokens, batch_);
  return recording(tokens, false, 0, false).dispatch_count();
}

vk::Sequence& Session::recording(uint32_t T, bool all_logits, uint32_t top_k, bool split) {
  auto key = std::make_tuple(T, all_logits, top_k, split);
  auto it = recordings_.find(key);
  if (it != recordings_.end()) return *it->second;
  if (recordings_.size() >= 16) {  // odd chunk sizes come and go; keep the cache small
    recordings_.clear();
    last_run_ = nullptr;
  }
  return *recordings_.emplace(key, record(T, all_logits, top_k, split)).first->second;
}

std::unique_ptr<vk::Sequence> Session::record(uint32_t T, bool all_logits, uint32_t top_k, bool split) {
  vk::Device& dev = model_.device();
  vk::Recorder rec(dev, profile_, 8192);
  const uint32_t hidden = uint32_t(cfg_.hidden_size), H = uint32_t(cfg_.num_heads), Hkv = uint32_t(cfg_.num_kv_heads);
  const uint32_t d = uint32_t(cfg_.head_dim), I = uint32_t(cfg_.intermediate_size);
  const float eps = cfg_.rms_norm_eps;

  ops::record_embedding(rec, model_.embed_, ids_, 0, x_, hidden, T, "embedding");
  for (size_t li = 0; li < model_.layers_.size(); ++li) {
    const auto& L = model_.layers_[li];
    auto proj_args = [&](const ops::WeightMatrix& w, const vk::BufferSlice& bias, const vk::BufferSlice& x, uint32_t ldx,
                         const vk::BufferSlice& y, uint32_t ldy, bool accumulate) {
      ops::MatmulArgs a;
      a.x = x;
      a.ldx = ldx;
      a.w = &w;
      a.bias = bias;
      a.y = y;
      a.ldy = ldy;
      a.M = T;
      a.accumulate = accumulate;
      a.stream_bytes = model_.weight_bytes();
      return a;
    };
    auto proj = [&](const ops::WeightMatrix& w, const vk::BufferSlice& bias, const vk::BufferSlice& x, uint32_t ldx,
                    const vk::BufferSlice& y, uint32_t ldy, bool accumulate, const char* label) {
      ops::record_matmul(rec, proj_args(w, bias, x, ldx, y, ldy, accumulate), label);
    };
    // Arguments of a projection of the RMSNorm'd residual stream: every matmul kernel applies the norm.
    auto normed_args = [&](const vk::BufferSlice& norm, const ops::WeightMatrix& w, const vk::BufferSlice& bias,
                           const vk::BufferSlice& y, uint32_t ldy) {
      ops::MatmulArgs a = proj_args(w, bias, x_, hidden, y, ldy, false);
      a.norm_weight = norm;
      a.norm_eps = eps;
      return a;
    };
    const uint32_t ldqkv = (H + 2 * Hkv) * d;
    // Q/K/V projection, RoPE and the KV-cache write: one dispatch where the matmul kernel rotates.
    ops::MatmulArgs qkv = normed_args(L.input_norm, L.qkv, L.qkv_bias, qkv_, ldqkv);
    qkv.rope = ops::MatmulArgs::QkvRope{.params = params_, .table = rope_table_, .k_cache = k_cache_[li],
                                        .v_cache = v_cache_[li], .H = H, .Hkv = Hkv, .d = d};
    if (model_.rope_group_ == 0 || !ops::matmul_fuses_rope(dev.caps(), qkv)) qkv.rope.reset();
    ops::record_matmul(rec, qkv, "qkv_proj");
    if (!qkv.rope)
      ops::record_rope_qkv(rec, {.params = params_, .table = rope_table_, .qkv = qkv_, .ld_qkv = ldqkv,
                                 .k_cache = k_cache_[li], .v_cache = v_cache_[li], .T = T, .H = H, .Hkv = Hkv, .d = d,
                                 .pair_group = model_.rope_group_}, "rope_qkv");
    ops::DiffAttentionArgs at{.params = params_, .q = qkv_, .ldq = ldqkv, .k_cache = k_cache_[li], .v_cache = v_cache_[li],
                              .out = attn_, .ldo = H * d, .scratch = attn_scratch_, .T = T, .H = H, .Hkv = Hkv, .d = d,
                              .n_split = split ? decode_splits_ : 1, .lambda = L.lambda, .lambda_init = L.lambda_init,
                              .eps = eps};
    ops::record_diff_attention(rec, at, "diff_attention");
    proj(L.o, L.o_bias, attn_, H * d, x_, hidden, true, "o_proj");
    // Gate/up projection and GLU: one dispatch where the matmul kernel applies the GLU to its output.
    const bool gelu = cfg_.activation == Activation::gelu;
    ops::MatmulArgs gu = normed_args(L.post_norm, L.gate_up, {}, act_, I);
    gu.glu = gelu ? ops::Glu::gelu : ops::Glu::silu;
    gu.glu_group = model_.glu_group_;
    if (ops::matmul_fuses_glu(dev.caps(), gu)) {
      ops::record_matmul(rec, gu, "gate_up_proj");
    } else {
      gu.glu = ops::Glu::none;
      gu.y = gate_up_;
      gu.ldy = 2 * I;
      ops::record_matmul(rec, gu, "gate_up_proj");
      ops::record_elementwise(rec, gelu ? ops::EltOp::gelu_mul_pairs : ops::EltOp::silu_mul_pairs, gate_up_, gate_up_,
                              act_, T * I, "glu", model_.glu_group_);
    }
    proj(L.down, {}, act_, I, x_, hidden, true, "down_proj");
  }
  const ops::WeightMatrix& head = model_.tied_ ? model_.embed_ : model_.lm_head_;
  ops::MatmulArgs a;
  a.w = &head;
  a.y = logits_;
  a.ldy = uint32_t(cfg_.vocab_size);
  a.ldx = hidden;
  a.norm_weight = model_.final_norm_;
  a.norm_eps = eps;
  a.stream_bytes = model_.weight_bytes();
  a.x = x_;
  a.M = T;
  if (!all_logits) {
    // Only the last row's logits: copy it out (copies have no offset alignment rule) and run the
    // head (with the final norm) as a matrix-vector product.
    rec.copy(x_.sub(uint64_t(T - 1) * hidden * 4, uint64_t(hidden) * 4), last_);
    a.x = last_;
    a.M = 1;
  }
  if (top_k) a.y = top_logits_;  // device-local: only the selected candidates go to the host
  ops::record_matmul(rec, a, "lm_head");
  if (top_k)
    ops::record_top_k(rec, {.logits = top_logits_, .scratch = top_scratch_, .out = top_out_,
                            .n = uint32_t(cfg_.vocab_size), .k = top_k}, "top_k");
  return rec.finish();
}

void Session::check_tokens(std::span<const int32_t> tokens) const {
  const uint64_t V = uint64_t(cfg_.vocab_size);
  if (tokens.empty()) fail(Status::invalid_argument, "no tokens to evaluate");
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || uint64_t(tokens[i]) >= V)
      fail(Status::invalid_argument, "token id {} at index {} is out of range (vocabulary size {})", tokens[i], i, V);
  if (uint64_t(position_) + tokens.size() > context_)
    fail(Status::context_full, "{} tokens at position {} exceed the context of {} tokens (raise --ctx)", tokens.size(),
         position_, context_);
}

static_assert(Session::max_top_k == ops::kMaxTopK);

std::span<const Candidate> Session::eval_top_k(std::span<const int32_t> tokens, uint32_t k) {
  if (k == 0 || k > max_top_k) fail(Status::invalid_argument, "top-k: k = {} must be in 1..{}", k, max_top_k);
  check_tokens(tokens);
  const uint32_t V = uint32_t(cfg_.vocab_size);
  // The same chunks as eval(): all but the last through the plain recordings.
  const size_t head = (tokens.size() - 1) / batch_ * batch_;
  if (head) eval(tokens.first(head));
  const uint32_t T = uint32_t(tokens.size() - head);
  std::memcpy(ids_.host, tokens.data() + head, T * 4);
  params_.as<uint32_t>()[0] = position_;
  vk::Sequence& seq = recording(T, false, k, split_attention(T));
  seq.run();
  ++submissions_;
  last_run_ = &seq;
  position_ += T;
  tokens_.insert(tokens_.end(), tokens.begin() + head, tokens.end());
  const uint32_t* out = top_out_.as<const uint32_t>();
  if (out[2 * k] != ops::kTopKNone) fail(Status::internal, "logits contain NaN (token {})", out[2 * k]);
  top_.resize(std::min(k, V));
  for (size_t i = 0; i < top_.size(); ++i) {
    top_[i].id = int32_t(out[i]);
    std::memcpy(&top_[i].logit, &out[k + i], 4);
  }
  return top_;
}

std::span<const float> Session::eval(std::span<const int32_t> tokens, float* all_logits) {
  const uint64_t V = uint64_t(cfg_.vocab_size);
  check_tokens(tokens);
  const uint32_t chunk = all_logits ? std::min(batch_, logits_rows_) : batch_;
  const float* logits = logits_.as<const float>();
  size_t last_row = 0;
  for (size_t done = 0; done < tokens.size();) {
    uint32_t T = uint32_t(std::min<size_t>(chunk, tokens.size() - done));
    std::memcpy(ids_.host, tokens.data() + done, T * 4);
    params_.as<uint32_t>()[0] = position_;
    vk::Sequence& seq = recording(T, all_logits != nullptr, 0, split_attention(T));
    seq.run();
    ++submissions_;
    last_run_ = &seq;
    if (all_logits) std::memcpy(all_logits + done * V, logits, T * V * 4);
    last_row = all_logits ? T - 1 : 0;
    position_ += T;
    tokens_.insert(tokens_.end(), tokens.begin() + done, tokens.begin() + done + T);
    done += T;
  }
  return {logits + last_row * V, V};
}

}  // namespace dlvk
