// Two-pass differential attention: the baseline a runtime without a fused dual-softmax kernel would
// use, kept to measure the fused kernel (diff_attention) against and tested like it. Two standard
// softmax attentions, each its own dispatch(es) writing its own output buffer —
//   O+ = softmax(Q1 K1^T / sqrt(d)) V~   (query heads i < H/2)
//   O- = softmax(Q2 K2^T / sqrt(d)) V~   (query heads i + H/2)
// with the same pairing, GQA mapping and 2d-wide values V~_i = [v_g(i); v_g(i+H/2)] as the fused
// kernel, the same kernel structure as the fused kernel on each device (online softmax, key blocks and
// workgroup size of diff_attention.comp, or one invocation per row like diff_attention_rows.comp on CPU
// implementations, there with the fused decode kernel's sharing of K/V rows among the P heads of a GQA
// group, attention_pairs_per_invocation, and its row reduce), flash-decoding with n_split key splits
// plus a reduce dispatch per map, then a combine dispatch: Y = (1 - lambda_init) RMSNorm_2d(O+ - lambda O-).
#pragma once
#include "vk/device.hpp"
#include "vk/recorder.hpp"

namespace dlvk::ops {

struct TwoPassAttentionArgs {
  vk::BufferSlice params;   // uint pos0 at offset 0: position of query row 0
  vk::BufferSlice q;        // [T, ldq], H heads of size d (post-RoPE)
  uint32_t ldq = 0;
  vk::BufferSlice k_cache;  // [ctx, Hkv, d] post-RoPE keys
  vk::BufferSlice v_cache;  // [ctx, Hkv, d]
  vk::BufferSlice out;      // [T, ldo], H/2 pairs x 2d
  uint32_t ldo = 0;
  vk::BufferSlice scratch;  // two_pass_attention_scratch_bytes(...): both maps' outputs and partials
  uint32_t T = 0, H = 0, Hkv = 0, d = 0;
  uint32_t n_split = 1;     // key splits per map; > 1 adds a reduce dispatch per map
  float lambda = 0, lambda_init = 0, eps = 1e-5f;
};

uint64_t two_pass_attention_scratch_bytes(const vk::Capabilities& caps, uint32_t T, uint32_t H, uint32_t d,
                                          uint32_t n_split);
bool two_pass_attention_supported(const vk::Capabilities& caps, uint32_t d);

// Records 3 dispatches (n_split == 1) or 5 (map 1, its reduce, map 2, its reduce, combine).
void record_two_pass_attention(vk::Recorder& rec, const TwoPassAttentionArgs& a, std::string_view label);

}  // namespace dlvk::ops
