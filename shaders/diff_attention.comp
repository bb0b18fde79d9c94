#version 450
// Fused differential attention. Workgroup (t, i, s): query row t, head pair i (heads i and i + H/2),
// key split s. One pass over the keys keeps two online softmaxes (running max m, sum l) and two
// 2d-wide accumulators over V~_i(key) = [v_g(i)(key) ; v_g(i+H/2)(key)], g(h) = h / (H/Hkv).
// Causal with the cache offset: row t sees keys 0 .. pos0 + t. With n_split == 1 the workgroup
// finishes the pair (combine, 2d RMSNorm, scale); otherwise it writes (m, l, acc) partials that
// diff_attention_reduce.comp combines (decode: long contexts spread over many workgroups).
#extension GL_GOOGLE_include_directive : require

layout(binding = 0) readonly buffer Params { uint pos0; } params;
layout(binding = 1) readonly buffer QBuf { float q[]; };
layout(binding = 2) readonly buffer KBuf { float kc[]; };
layout(binding = 3) readonly buffer VBuf { float vc[]; };
layout(binding = 4) writeonly buffer OutBuf { float out_y[]; };
layout(binding = 5) writeonly buffer PartBuf { float part[]; };

#include "diff_attention.glsl"

shared float qs[C];       // q of head i, then q of head i + H/2
shared float sc[2u * KB]; // scores of the block (map 1, map 2)
shared float ps[2u * KB]; // probabilities of the block

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint t = gl_WorkGroupID.x, i = gl_WorkGroupID.y, s = gl_WorkGroupID.z;
  const uint H2 = p.H / 2u;
  const uint group = p.H / p.Hkv;
  const uint h1 = i, h2 = i + H2;
  const uint g1 = h1 / group, g2 = h2 / group;
  const uint kvs = p.Hkv * D;  // KV cache row stride

  for (uint c = tid; c < D; c += WG) {
    qs[c] = q[t * p.ldq + h1 * D + c];
    qs[D + c] = q[t * p.ldq + h2 * D + c];
  }
  for (uint r = 0; r < PER; ++r) acc1[r] = acc2[r] = 0.0;
  float m1 = NEG_BIG, m2 = NEG_BIG, l1 = 0.0, l2 = 0.0;

  const uint kv_len = params.pos0 + t + 1u;
  const uint chunk = (kv_len + p.n_split - 1u) / p.n_split;
  const uint begin = min(kv_len, s * chunk);
  const uint end = min(kv_len, begin + chunk);
  barrier();

  for (uint kb = begin; kb < end; kb += KB) {
    const uint nk = min(KB, end - kb);
    if (tid < nk) {
      const uint key = kb + tid;
      float d1 = 0.0, d2 = 0.0;
      for (uint c = 0; c < D; ++c) {
        d1 += qs[c] * kc[key * kvs + g1 * D + c];
        d2 += qs[D + c] * kc[key * kvs + g2 * D + c];
      }
      sc[tid] = d1 * p.sm_scale;
      sc[KB + tid] = d2 * p.sm_scale;
    }
    barrier();
    float n1 = m1, n2 = m2;
    for (uint j = 0; j < nk; ++j) {
      n1 = max(n1, sc[j]);
      n2 = max(n2, sc[KB + j]);
    }
    if (tid < nk) {
      ps[tid] = exp(sc[tid] - n1);
      ps[KB + tid] = exp(sc[KB + tid] - n2);
    }
    barrier();
    const float f1 = exp(m1 - n1), f2 = exp(m2 - n2);
    l1 *= f1;
    l2 *= f2;
    for (uint r = 0; r < PER; ++r) {
      acc1[r] *= f1;
      acc2[r] *= f2;
    }
    for (uint j = 0; j < nk; ++j) {
      const float p1 = ps[j], p2 = ps[KB + j];
      l1 += p1;
      l2 += p2;
      const uint row = (kb + j) * kvs;
      for (uint r = 0; r < PER; ++r) {
        const uint c = tid + r * WG;
        if (c < C) {
          const float v = c < D ? vc[row + g1 * D + c] : vc[row + g2 * D + c - D];
          acc1[r] += p1 * v;
          acc2[r] += p2 * v;
        }
      }
    }
    m1 = n1;
    m2 = n2;
  }

  if (p.n_split == 1u) {
    finish_pair(t, i, l1, l2);
    return;
  }
  const uint base = ((t * H2 + i) * p.n_split + s) * (4u + 2u * C);
  if (tid == 0u) {
    part[base] = m1;
    part[base + 1u] = l1;
    part[base + 2u] = m2;
    part[base + 3u] = l2;
  }
  for (uint r = 0; r < PER; ++r) {
    const uint c = tid + r * WG;
    if (c < C) {
      part[base + 4u + c] = acc1[r];
      part[base + 4u + C + c] = acc2[r];
    }
  }
}
