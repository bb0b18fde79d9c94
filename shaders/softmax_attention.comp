#version 450
// Standard (single-map) softmax attention, the building block of the two-pass baseline for
// differential attention (lib/ops/attention_two_pass.cpp): workgroup (t, i, s) = query row t, query
// head q_head0 + i, key split s. Online softmax over blocks of KB keys; the value of head i is
// V~_i(key) = [v_g(i)(key) ; v_g(i+H/2)(key)], g(h) = h / (H/Hkv). Causal with the cache offset: row t
// sees keys 0 .. pos0 + t. n_split == 1 writes O = softmax(q K^T) V~ directly; otherwise (m, l, acc)
// partials for softmax_attention_reduce.comp. Written to mirror diff_attention.comp (same blocking,
// same work per key for one map) so that the two compare fairly.
#extension GL_GOOGLE_include_directive : require

layout(binding = 0) readonly buffer Params { uint pos0; } params;
layout(binding = 1) readonly buffer QBuf { float q[]; };
layout(binding = 2) readonly buffer KBuf { float kc[]; };
layout(binding = 3) readonly buffer VBuf { float vc[]; };
layout(binding = 4) writeonly buffer OutBuf { float out_o[]; };
layout(binding = 5) writeonly buffer PartBuf { float part[]; };

#include "softmax_attention.glsl"

shared float qs[D];
shared float sc[KB];  // scores of the block
shared float ps[KB];  // probabilities of the block

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint t = gl_WorkGroupID.x, i = gl_WorkGroupID.y, s = gl_WorkGroupID.z;
  const uint H2 = p.H / 2u;
  const uint group = p.H / p.Hkv;
  const uint h = p.q_head0 + i;
  const uint gk = h / group;                           // key head of the query head
  const uint ga = i / group, gb = (i + H2) / group;    // the two value heads of V~_i
  const uint kvs = p.Hkv * D;

  for (uint c = tid; c < D; c += WG) qs[c] = q[t * p.ldq + h * D + c];
  for (uint r = 0; r < PER; ++r) acc[r] = 0.0;
  float m = NEG_BIG, l = 0.0;

  const uint kv_len = params.pos0 + t + 1u;
  const uint chunk = (kv_len + p.n_split - 1u) / p.n_split;
  const uint begin = min(kv_len, s * chunk);
  const uint end = min(kv_len, begin + chunk);
  barrier();

  for (uint kb = begin; kb < end; kb += KB) {
    const uint nk = min(KB, end - kb);
    if (tid < nk) {
      const uint key = kb + tid;
      float dot = 0.0;
      for (uint c = 0; c < D; ++c) dot += qs[c] * kc[key * kvs + gk * D + c];
      sc[tid] = dot * p.sm_scale;
    }
    barrier();
    float n = m;
    for (uint j = 0; j < nk; ++j) n = max(n, sc[j]);
    if (tid < nk) ps[tid] = exp(sc[tid] - n);
    barrier();
    const float f = exp(m - n);
    l *= f;
    for (uint r = 0; r < PER; ++r) acc[r] *= f;
    for (uint j = 0; j < nk; ++j) {
      const float pj = ps[j];
      l += pj;
      const uint row = (kb + j) * kvs;
      for (uint r = 0; r < PER; ++r) {
        const uint c = tid + r * WG;
        if (c < C) acc[r] += pj * (c < D ? vc[row + ga * D + c] : vc[row + gb * D + c - D]);
      }
    }
    m = n;
  }

  if (p.n_split == 1u) {
    finish_head(t, i, l);
    return;
  }
  const uint base = ((t * H2 + i) * p.n_split + s) * (2u + C);
  if (tid == 0u) {
    part[base] = m;
    part[base + 1u] = l;
  }
  for (uint r = 0; r < PER; ++r) {
    const uint c = tid + r * WG;
    if (c < C) part[base + 2u + c] = acc[r];
  }
}
