#include "ops/diff_attention.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "vk/device.hpp"

namespace dlvk::ops {

namespace {
struct Push {
  uint32_t T, H, Hkv, ldq, ldo, n_split;
  float lambda, out_scale, eps, sm_scale;
  uint32_t ctx;
};

// Row kernels run every key loop of an invocation under one 65535-iteration budget (lavapipe, see
// diff_attention_rows.glsl); the two-phase kernel's passes each have one key loop plus n_split.
constexpr uint32_t kMaxKeysPerSplit = 60000;
// Query rows up to which the two-phase kernel is used: its scores take T x ctx x H/2 x 8 bytes.
constexpr uint32_t kTwoPhaseMaxRows = 4;

// The largest P <= limit dividing H/2 such that each aligned block of P pairs uses the same two KV heads.
uint32_t sharing_pairs(uint32_t H, uint32_t Hkv, uint32_t limit) {
  const uint32_t H2 = H / 2, group = H / std::max<uint32_t>(1, Hkv);
  for (uint32_t P = limit; P > 1; --P) {
    if (H2 % P) continue;
    bool shared = true;
    for (uint32_t i = 0; i < H2 && shared; i += P)
      shared = i / group == (i + P - 1) / group && (i + H2) / group == (i + H2 + P - 1) / group;
    if (shared) return P;
  }
  return 1;
}

// Whether `invocations` of a row kernel give every CPU thread at least `batches` full SIMD batches.
bool fills_threads(const vk::Capabilities& caps, uint64_t invocations, uint32_t rw, uint32_t batches) {
  return invocations >= uint64_t(batches) * rw * std::max<uint32_t>(1, caps.cpu_threads);
}

}  // namespace

uint32_t attention_pairs_per_invocation(const vk::Capabilities& caps, const AttentionShape& s, DiffAttentionKernel kind) {
  switch (kind) {
    case DiffAttentionKernel::rows_two_phase: return sharing_pairs(s.H, s.Hkv, 8);
    case DiffAttentionKernel::rows: {
      // The one-pass kernel holds two accumulators per pair: beyond 2 pairs the spills cost more than
      // the shared fetches save (T 512: P 1 90.7 ms, P 2 68.7 ms, P 4 139 ms); and with fewer
      // invocations than two SIMD batches per thread, one pair per lane is faster.
      const uint32_t P = sharing_pairs(s.H, s.Hkv, 2);
      const uint32_t rw = attention_rows_workgroup(caps, s.d);
      const uint64_t invocations = uint64_t(s.T) * (s.H / 2 / P) * std::max<uint32_t>(1, s.n_split);
      return fills_threads(caps, invocations, rw, 2) ? P : 1;
    }
    default: return 1;
  }
}

namespace {

// Byte offsets of the scratch parts, each aligned for binding.
struct ScratchLayout {
  uint64_t partials = 0, scores = 0, stats = 0, total = 0;
  uint64_t partial_bytes = 0, score_bytes = 0, stat_bytes = 0;
};
ScratchLayout scratch_layout(const vk::Capabilities& caps, uint32_t T, uint32_t H, uint32_t d, uint32_t n_split,
                             uint32_t ctx, DiffAttentionKernel kind) {
  const uint64_t align = std::max<uint64_t>(16, caps.min_storage_buffer_offset_alignment);
  auto up = [&](uint64_t b) { return (b + align - 1) / align * align; };
  ScratchLayout l;
  const uint64_t items = uint64_t(T) * (H / 2) * n_split;
  if (kind == DiffAttentionKernel::rows_two_phase) {
    l.partial_bytes = n_split > 1 ? items * 2 * d * 4 : 0;
    l.score_bytes = uint64_t(T) * ctx * (H / 2) * 8;
    l.stat_bytes = items * 16;
  } else {
    l.partial_bytes = n_split > 1 ? items * (4 + 4ull * d) * 4 : 0;
  }
  l.scores = up(l.partial_bytes);
  l.stats = l.scores + up(l.score_bytes);
  l.total = l.stats + up(l.stat_bytes);
  return l;
}

}  // namespace

AttentionConfig attention_config(const vk::Capabilities& caps) {
  uint32_t wg = std::min<uint32_t>(64, caps.max_workgroup_invocations);
  return {wg, std::min<uint32_t>(32, wg)};
}

uint32_t attention_rows_workgroup(const vk::Capabilities& caps, uint32_t d) {
  if (!caps.cpu_quirks || d % 4) return 0;
  return std::clamp<uint32_t>(caps.subgroup_size, 1, std::min<uint32_t>(64, caps.max_workgroup_invocations));
}

bool attention_rows_texel(const vk::Capabilities& caps, const vk::BufferSlice& q, uint32_t ldq,
                          const vk::BufferSlice& k_cache, const vk::BufferSlice& v_cache) {
  return ldq % 4 == 0 && vk::texel_bindable(caps, q) && vk::texel_bindable(caps, k_cache) &&
         vk::texel_bindable(caps, v_cache);
}

DiffAttentionKernel diff_attention_kernel(const vk::Capabilities& caps, const AttentionShape& s, DiffAttentionKernel want) {
  const uint32_t n_split = std::max<uint32_t>(1, s.n_split);
  const uint32_t rw = attention_rows_workgroup(caps, s.d);
  const bool two_phase = rw && (s.ctx + n_split - 1) / n_split <= kMaxKeysPerSplit &&
                         uint64_t(s.T) * s.ctx * (s.H / 2) * 8 <= caps.max_storage_buffer_range;
  switch (want) {
    case DiffAttentionKernel::workgroup: return want;
    case DiffAttentionKernel::rows: if (rw) return want; break;
    case DiffAttentionKernel::rows_two_phase: if (two_phase) return want; break;
    case DiffAttentionKernel::automatic: break;
  }
  if (!rw) return DiffAttentionKernel::workgroup;
  // The two-phase kernel's invocations each take a block of P pairs; with fewer of them than one full
  // SIMD batch per thread, the one-pass kernel's finer grain wins (measured: 2k keys, 1 split, P = 4:
  // 2.0 ms two-phase vs 1.1-1.4 ms one-pass).
  const uint64_t invocations = uint64_t(s.T) * (s.H / 2 / sharing_pairs(s.H, s.Hkv, 8)) * n_split;
  return two_phase && fills_threads(caps, invocations, rw, 1) && s.T <= kTwoPhaseMaxRows ? DiffAttentionKernel::rows_two_phase : DiffAttentionKernel::rows;
}

uint32_t diff_attention_decode_splits(const vk::Capabilities& caps, uint32_t H, uint32_t Hkv, uint32_t d, uint32_t ctx) {
  const uint32_t rw = attention_rows_workgroup(caps, d);
  if (!rw) return std::clamp<uint32_t>(ctx / 512, 1, 16);
  const uint32_t blocks = std::max<uint32_t>(1, H / 2 / sharing_pairs(H, Hkv, 8));
  const uint32_t want = 2 * rw * std::max<uint32_t>(1, caps.cpu_threads);
  return std::clamp<uint32_t>((want + blocks - 1) / blocks, 1, 16);
}

const char* diff_attention_kernel_name(DiffAttentionKernel k) {
  switch (k) {
    case DiffAttentionKernel::workgroup: return "workgroup";
    case DiffAttentionKernel::rows: return "rows";
    case DiffAttentionKernel::rows_two_phase: return "two-phase";
    case DiffAttentionKernel::automatic: break;
  }
  return "automatic";
}

uint64_t diff_attention_scratch_bytes(const vk::Capabilities& caps, const AttentionShape& s, DiffAttentionKernel want) {
  return scratch_layout(caps, s.T, s.H, s.d, std::max<uint32_t>(1, s.n_split), s.ctx, diff_attention_kernel(caps, s, want)).total;
}

uint32_t kv_cache_rows(const vk::BufferSlice& k_cache, uint32_t Hkv, uint32_t d, std::string_view label) {
  const uint64_t row = uint64_t(Hkv) * d * 4;
  if (row == 0 || k_cache.size % row)
    fail(Status::internal, "{}: KV cache of {} bytes is not whole rows of {} heads x {}", label, k_cache.size, Hkv, d);
  return uint32_t(k_cache.size / row);
}

uint32_t attention_rows_groups(uint64_t invocations, uint32_t workgroup, std::string_view label) {
  const uint64_t groups = (invocations + workgroup - 1) / workgroup;
  if (groups > 65535)  // Vulkan's minimum maxComputeWorkGroupCount[0]
    fail(Status::unsupported, "{}: {} attention invocations exceed one dispatch; use a smaller batch", label, invocations);
  return uint32_t(groups);
}

bool diff_attention_supported(const vk::Capabilities& caps, uint32_t d) {
  AttentionConfig c = attention_config(caps);
  uint64_t shared = (2ull * d + 4ull * c.kb + c.wg) * 4;
  return d % 2 == 0 && d >= 2 && shared <= caps.max_shared_memory;
}

void record_diff_attention(vk::Recorder& rec, const DiffAttentionArgs& a, std::string_view label) {
  const auto& caps = rec.device().caps();
  if (!diff_attention_supported(caps, a.d))
    fail(Status::unsupported, "{}: head_dim {} does not fit this device's shared memory ({} bytes)", label, a.d,
         caps.max_shared_memory);
  if (a.H % 2 || a.Hkv == 0 || a.H % a.Hkv)
    fail(Status::internal, "{}: {} heads / {} kv heads", label, a.H, a.Hkv);
  const uint32_t ctx = kv_cache_rows(a.k_cache, a.Hkv, a.d, label);
  AttentionConfig c = attention_config(caps);
  Push p{a.T, a.H, a.Hkv, a.ldq, a.ldo, std::max<uint32_t>(1, a.n_split), a.lambda, 1.0f - a.lambda_init, a.eps,
         float(1.0 / std::sqrt(double(a.d))), ctx};
  const AttentionShape shape{a.T, a.H, a.Hkv, a.d, p.n_split, ctx};
  const auto kind = diff_attention_kernel(caps, shape, a.kernel);
  const ScratchLayout l = scratch_layout(caps, a.T, a.H, a.d, p.n_split, ctx, kind);
  if (a.scratch.size < l.total)
    fail(Status::internal, "{}: scratch of {} bytes, {} needed", label, a.scratch.size, l.total);
  auto part = [&](uint64_t off, uint64_t bytes) { return bytes ? a.scratch.sub(off, bytes) : a.out; };
  const vk::BufferSlice partials = part(l.partials, l.partial_bytes);
  const uint32_t H2 = a.H / 2;
  if (kind == DiffAttentionKernel::workgroup) {
    const auto& k = rec.device().kernel({"diff_attention", {c.wg, a.d, c.kb}, 6, sizeof(Push)});
    rec.dispatch(k, {vk::in(a.params), vk::in(a.q), vk::in(a.k_cache), vk::in(a.v_cache), vk::out(a.out), vk::out(partials)},
                 p, a.T, H2, p.n_split, label);
  } else {
    const uint32_t rw = attention_rows_workgroup(caps, a.d);
    const bool texel = attention_rows_texel(caps, a.q, a.ldq, a.k_cache, a.v_cache);
    auto shader = [&](const char* name) { return fmt::format("{}{}", name, texel ? "_texel" : ""); };
    // Invocations numbered across rows: (row, block of P pairs, split).
    const uint32_t P = attention_pairs_per_invocation(caps, shape, kind);
    const uint32_t groups = attention_rows_groups(uint64_t(a.T) * (H2 / P) * p.n_split, rw, label);
    // Prefill without key splits: a subgroup takes SG query rows of one pair block and fetches each K/V
    // row once for all of them (shaders/common/diff_attention_rows.glsl, KV_SHUFFLE).
    const uint32_t sg = caps.subgroup_size;
    const bool kv_shuffle = kind == DiffAttentionKernel::rows && texel && p.n_split == 1 && caps.subgroup_shuffle &&
                            sg >= 8 && rw == sg && a.T >= sg;
    if (kv_shuffle) {
      const auto& k = rec.device().kernel({"diff_attention_rows_texel_kvs", {rw, a.d, c.kb, P, sg}, 6, sizeof(Push), 0, 0xeu});
      const uint32_t row_groups = attention_rows_groups(uint64_t((a.T + sg - 1) / sg) * sg * (H2 / P), sg, label);
      rec.dispatch(k, {vk::in(a.params), vk::in(a.q), vk::in(a.k_cache), vk::in(a.v_cache), vk::out(a.out), vk::out(partials)},
                   p, row_groups, 1, 1, label);
    } else if (kind == DiffAttentionKernel::rows) {
      const auto& k = rec.device().kernel({shader("diff_attention_rows"), {rw, a.d, c.kb, P}, 6, sizeof(Push), 0, texel ? 0xeu : 0u});
      rec.dispatch(k, {vk::in(a.params), vk::in(a.q), vk::in(a.k_cache), vk::in(a.v_cache), vk::out(a.out), vk::out(partials)},
                   p, groups, 1, 1, label);
    } else {
      const vk::BufferSlice scores = a.scratch.sub(l.scores, l.score_bytes), stats = a.scratch.sub(l.stats, l.stat_bytes);
      const auto& k1 = rec.device().kernel({shader("diff_attention_scores_rows"), {rw, a.d, c.kb, P}, 6, sizeof(Push), 0, texel ? 0xeu : 0u});
      rec.dispatch(k1, {vk::in(a.params), vk::in(a.q), vk::in(a.k_cache), vk::in(a.v_cache), vk::out(scores), vk::out(stats)},
                   p, groups, 1, 1, label);
      const auto& k2 = rec.device().kernel({shader("diff_attention_values_rows"), {rw, a.d, c.kb, P}, 8, sizeof(Push), 0, texel ? 0xeu : 0u});
      rec.dispatch(k2, {vk::in(a.params), vk::in(a.q), vk::in(a.k_cache), vk::in(a.v_cache), vk::out(a.out), vk::out(partials),
                        vk::in(scores), vk::in(stats)},
                   p, groups, 1, 1, label);
    }
  }
  if (p.n_split > 1 && kind == DiffAttentionKernel::workgroup) {
    const auto& r = rec.device().kernel({"diff_attention_reduce", {c.wg, a.d, c.kb}, 2, sizeof(Push)});
    rec.dispatch(r, {vk::in(partials), vk::out(a.out)}, p, a.T, H2, 1, label);
  } else if (p.n_split > 1) {
    record_attention_reduce_rows(
        rec, {.layout = kind == DiffAttentionKernel::rows ? AttentionPartials::fused : AttentionPartials::fused_normalized,
              .partials = partials, .out = a.out, .ldo = a.ldo, .T = a.T, .H = a.H, .d = a.d, .n_split = p.n_split,
              .lambda = a.lambda, .out_scale = p.out_scale, .eps = a.eps},
        label);
  }
}

void record_attention_reduce_rows(vk::Recorder& rec, const AttentionReduceArgs& a, std::string_view label) {
  struct ReducePush {
    uint32_t T, H, Hkv, ldq, ldo, n_split;
    float lambda, out_scale, eps;
  } p{a.T, a.H, 0, 0, a.ldo, a.n_split, a.lambda, a.out_scale, a.eps};
  const uint32_t rw = attention_rows_workgroup(rec.device().caps(), a.d);
  if (!rw) fail(Status::internal, "{}: the row reduce needs a CPU device and head_dim % 4 == 0", label);
  const auto& k = rec.device().kernel({"attention_reduce_rows", {rw, a.d, uint32_t(a.layout)}, 2, sizeof(ReducePush)});
  rec.dispatch(k, {vk::in(a.partials), vk::out(a.out)}, p, (a.H / 2 + rw - 1) / rw, a.T, 1, label);
}

}  // namespace dlvk::ops
