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

struct Item {
  uint t, i, s;        // query row, first head pair of the block, key split
  uint r1, r2;         // vec4 offsets of the block's two KV heads within a cache row
  uint begin, end;     // this split's keys
};

// False for the invocations past the last (row, block, split). Invocations are numbered across query
// rows (blocks * n_split may be fewer than a SIMD batch). Dispatch: x = ceil(T * H/2 / P * n_split / wg).
bool item(out Item it) {
  const uint H2 = p.H / 2u, blocks = H2 / P, per_row = blocks * p.n_split;
  const uint j = gl_GlobalInvocationID.x % per_row;
  it.t = gl_GlobalInvocationID.x / per_row;
  if (it.t >= p.T) return false;
  it.i = (j % blocks) * P;
  it.s = j / blocks;
  const uint group = p.H / p.Hkv;
  it.r1 = (it.i / group) * D4;
  it.r2 = ((it.i + H2) / group) * D4;
  // Causal with the cache offset: row t sees keys 0 .. pos0 + t; split s takes one chunk of them.
  const uint kv_len = params.pos0 + it.t + 1u;
  const uint chunk = (kv_len + p.n_split - 1u) / p.n_split;
  it.begin = min(kv_len, it.s * chunk);
  it.end = min(kv_len, it.begin + chunk);
  return true;
}

// Of the block's first pair; pair u of the block is at + u.
uint score_index(Item it, uint key) { return (it.t * p.ctx + key) * (p.H / 2u) + it.i; }
// Of pair u of the block, split s.
uint stats_index(Item it, uint u, uint s) { return (it.t * (p.H / 2u) + it.i + u) * p.n_split + s; }
