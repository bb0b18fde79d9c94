// Shared by the two passes of the two-phase fused differential attention for CPU Vulkan
// implementations (diff_attention_scores_rows*.comp, diff_attention_values_rows*.comp), used for
// decode-sized T. Why two passes: the one-pass kernel (diff_attention_rows.glsl) must keep two online
// softmaxes, hence two 2d-wide accumulators that are both rescaled at every key (10d multiply-adds per
// key for a head pair). Once both maps' maxima and normalisers are known, the pair's output is a
// single weighted sum
//   O+ - lambda O- = sum_k (exp(s1_k - M1) / L1 - lambda exp(s2_k - M2) / L2) V~_k
// with one 2d accumulator and no rescaling (4d multiply-adds per key, scores included). Pass 1 computes
// both maps' scores once, stores them and each split's (max, sum); pass 2 merges the splits' statistics
// and accumulates the single weighted sum over its keys; a reduce adds the splits' sums (n_split > 1).
// This needs both normalisers before any value is read, which a two-pass (two separate softmax
// attentions) implementation cannot exploit: it is what fusing the two maps buys.
// One invocation per (query row t, block of P head pairs, key split s): the P pairs of a block use the
// same two KV heads (GQA; the host picks P), so each K or V row fetched serves P pairs. On lavapipe
// every fetch is a per-lane gather while register (stack) arrays are plain vector loads, so this cuts
// the dominant cost by P. Lane order: consecutive invocations are consecutive blocks of one split.
// Scratch: scores vec2 [T][ctx][H/2] (s1, s2; scaled), statistics vec4 [T][H/2][n_split]
// (m1, l1, m2, l2), partial sums float [T][H/2][n_split][2d].
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint D = 64;   // head_dim, a multiple of 4
layout(constant_id = 2) const uint KB = 32;  // unused (same constants as diff_attention.comp)
layout(constant_id = 3) const uint P = 1;    // head pairs per invocation, sharing both KV heads

layout(binding = 0) readonly buffer Params { uint pos0; } params;
#include "attention_rows_io.glsl"

layout(push_constant) uniform Push {
  uint T, H, Hkv, ldq, ldo, n_split;
  float lambda, out_scale, eps, sm_scale;
  uint ctx;  // rows of the KV cache (the scores' row count)
} p;

const uint D4 = D / 4u;
const uint C = 2u * D;
const float NEG_BIG = -1.0e30;

#include "attention_rows_item.glsl"

// Of the block's first pair; pair u of the block is at + u.
uint score_index(Item it, uint key) { return (it.t * p.ctx + key) * (p.H / 2u) + it.i; }
// Of pair u of the block, split s.
uint stats_index(Item it, uint u, uint s) { return (it.t * (p.H / 2u) + it.i + u) * p.n_split + s; }
