// Fused dual-softmax differential attention over a KV cache (see shaders/diff_attention.comp; on CPU
// implementations, caps.cpu_quirks, with head_dim % 4 == 0: shaders/diff_attention_rows.comp).
#pragma once
#include "vk/device.hpp"
#include "vk/recorder.hpp"

namespace dlvk::ops {

struct DiffAttentionArgs {
  vk::BufferSlice params;   // uint pos0 at offset 0: position of query row 0
  vk::BufferSlice q;        // [T, ldq], H heads of size d (post-RoPE)
  uint32_t ldq = 0;
  vk::BufferSlice k_cache;  // [ctx, Hkv, d] post-RoPE keys
  vk::BufferSlice v_cache;  // [ctx, Hkv, d]
  vk::BufferSlice out;      // [T, ldo], H/2 pairs x 2d
  uint32_t ldo = 0;
  vk::BufferSlice partials; // scratch for n_split > 1: partial_floats(...) floats
  uint32_t T = 0, H = 0, Hkv = 0, d = 0;
  uint32_t n_split = 1;     // key splits; > 1 adds a reduce dispatch
  float lambda = 0, lambda_init = 0, eps = 1e-5f;
};

// Launch shape shared by the fused kernel and the two-pass baseline (attention_two_pass), so the two
// differ only in fusion: workgroup size and key block of the GPU kernels, and the workgroup size of the
// CPU-device row kernels (0: not used, i.e. a GPU or head_dim % 4 != 0).
struct AttentionConfig {
  uint32_t wg, kb;
};
AttentionConfig attention_config(const vk::Capabilities& caps);
uint32_t attention_rows_workgroup(const vk::Capabilities& caps, uint32_t d);
// Whether the row kernels can read Q, K and V as uniform texel buffers of uvec4 (the *_rows_texel
// variants; much faster on lavapipe): whole texels within the device's limits, aligned offsets,
// ldq % 4 == 0. Both the fused kernel and the two-pass baseline use the same rule.
bool attention_rows_texel(const vk::Capabilities& caps, const vk::BufferSlice& q, uint32_t ldq,
                          const vk::BufferSlice& k_cache, const vk::BufferSlice& v_cache);

uint64_t diff_attention_partial_floats(uint32_t T, uint32_t H, uint32_t d, uint32_t n_split);
// Whether the device can run head_dim d (shared memory and workgroup limits).
bool diff_attention_supported(const vk::Capabilities& caps, uint32_t d);

void record_diff_attention(vk::Recorder& rec, const DiffAttentionArgs& a, std::string_view label);

}  // namespace dlvk::ops
