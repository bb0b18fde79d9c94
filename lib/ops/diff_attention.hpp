// Fused dual-softmax differential attention over a KV cache (see shaders/diff_attention.comp; on CPU
// implementations, caps.cpu_quirks, with head_dim % 4 == 0: shaders/diff_attention_rows.comp, and for
// decode the two-phase diff_attention_scores_rows.comp + diff_attention_values_rows.comp).
#pragma once
#include "vk/device.hpp"
#include "vk/recorder.hpp"

namespace dlvk::ops {

enum class DiffAttentionKernel { automatic, workgroup, rows, rows_two_phase };

struct DiffAttentionArgs {
  vk::BufferSlice params;   // uint pos0 at offset 0: position of query row 0
  vk::BufferSlice q;        // [T, ldq], H heads of size d (post-RoPE)
  uint32_t ldq = 0;
  vk::BufferSlice k_cache;  // [ctx, Hkv, d] post-RoPE keys
  vk::BufferSlice v_cache;  // [ctx, Hkv, d]
  vk::BufferSlice out;      // [T, ldo], H/2 pairs x 2d
  uint32_t ldo = 0;
  vk::BufferSlice scratch;  // diff_attention_scratch_bytes(...) bytes (split partials, scores)
  uint32_t T = 0, H = 0, Hkv = 0, d = 0;
  uint32_t n_split = 1;     // key splits; > 1 adds a reduce dispatch
  float lambda = 0, lambda_init = 0, eps = 1e-5f;
  DiffAttentionKernel kernel{};  // automatic
};

// Launch shape shared by the fused kernel and the two-pass baseline (attention_two_pass), so the two
// differ only in fusion: workgroup size and key block of the GPU kernels, and the workgroup size of the
// CPU-device row kernels (0: not used, i.e. a GPU or head_dim % 4 != 0).
struct AttentionConfig {
  uint32_t wg, kb;
};
AttentionConfig attention_config(const vk::Capabilities& caps);
uint32_t attention_rows_workgroup(const vk::Capabilities& caps, uint32_t d);
// Rows of a KV cache slice of Hkv heads x d floats per row (fails unless whole rows).
uint32_t kv_cache_rows(const vk::BufferSlice& k_cache, uint32_t Hkv, uint32_t d, std::string_view label);
// Workgroups of a row-kernel dispatch over `invocations` numbered across query rows (fails past 65535).
uint32_t attention_rows_groups(uint64_t invocations, uint32_t workgroup, std::string_view label);
// Whether the row kernels can read Q, K and V as uniform texel buffers of uvec4 (the *_rows_texel
// variants; much faster on lavapipe): whole texels within the device's limits, aligned offsets,
// ldq % 4 == 0. Both the fused kernel and the two-pass baseline use the same rule.
bool attention_rows_texel(const vk::Capabilities& caps, const vk::BufferSlice& q, uint32_t ldq,
                          const vk::BufferSlice& k_cache, const vk::BufferSlice& v_cache);

// What the kernel choice and the scratch size depend on. ctx: rows of the KV cache.
struct AttentionShape {
  uint32_t T = 0, H = 0, Hkv = 0, d = 0, n_split = 1, ctx = 0;
};
// Which kernel runs: the shared-memory kernel (GPUs), the one-pass row kernel (CPU devices), or the
// two-phase row kernel (CPU devices, decode-sized T: a scores pass and a values pass with a single
// accumulator; see shaders/common/diff_attention_split_rows.glsl). `automatic` picks the fastest the
// device and shape allow; another choice is honoured where it can run (tests and benchmarks pin one),
// else the automatic one runs.
DiffAttentionKernel diff_attention_kernel(const vk::Capabilities& caps, const AttentionShape& s,
                                          DiffAttentionKernel want = DiffAttentionKernel::automatic);
const char* diff_attention_kernel_name(DiffAttentionKernel k);
// Head pairs one invocation of a CPU-device row kernel handles: P pairs whose aligned block uses the same
// two KV heads (GQA), so a K or V row fetched serves P pairs. Two-phase kernel: up to 8; one-pass: up to
// 2, and 1 when that leaves too few invocations. The two-pass baseline uses the P of the fused kernel
// that would run on the same shape.
uint32_t attention_pairs_per_invocation(const vk::Capabilities& caps, const AttentionShape& s, DiffAttentionKernel kind);
// Key splits for single-row decode over a cache of ctx rows: on CPU devices enough (head-pair block,
// split) invocations to fill every thread's SIMD lanes twice; on GPUs one split per 512 rows; 1..16.
uint32_t diff_attention_decode_splits(const vk::Capabilities& caps, uint32_t H, uint32_t Hkv, uint32_t d, uint32_t ctx);
// Scratch the op needs (0 for one pass without splits).
uint64_t diff_attention_scratch_bytes(const vk::Capabilities& caps, const AttentionShape& s,
                                      DiffAttentionKernel want = DiffAttentionKernel::automatic);
// Whether the device can run head_dim d (shared memory and workgroup limits).
bool diff_attention_supported(const vk::Capabilities& caps, uint32_t d);

void record_diff_attention(vk::Recorder& rec, const DiffAttentionArgs& a, std::string_view label);

// The split-key reduce of the CPU-device row kernels (shaders/attention_reduce_rows.comp), shared with
// the two-pass baseline: which partials layout it merges.
enum class AttentionPartials : uint32_t { fused_normalized = 0, fused = 1, softmax = 2 };
struct AttentionReduceArgs {
  AttentionPartials layout = AttentionPartials::fused;
  vk::BufferSlice partials, out;
  uint32_t ldo = 0, T = 0, H = 0, d = 0, n_split = 1;
  float lambda = 0, out_scale = 1, eps = 1e-5f;  // fused layouts: the pair's combine
};
void record_attention_reduce_rows(vk::Recorder& rec, const AttentionReduceArgs& a, std::string_view label);

}  // namespace dlvk::ops
