// Body of diff_attention_values_rows.comp / _texel.comp: pass 2 of the two-phase fused differential
// attention (see diff_attention_split_rows.glsl). Merges the statistics of all splits into each map's
// global max M and normaliser L, then accumulates sum_k (exp(s1 - M1) / L1 - lambda exp(s2 - M2) / L2)
// V~_k over this split's keys into one 2d accumulator (2d multiply-adds per key, no rescaling).
// n_split == 1: finishes the pair (2d RMSNorm, scale) into out; else writes the partial sum for
// diff_attention_reduce.comp (NORMALIZED).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "diff_attention_split_rows.glsl"
layout(binding = 4) writeonly buffer OutBuf { float out_y[]; };
layout(binding = 5) writeonly buffer PartBuf { float part[]; };
layout(binding = 6) readonly buffer Scores { vec2 scores[]; };
layout(binding = 7) readonly buffer Stats { vec4 stats[]; };
#ifndef VKB
#define VKB 4u
#endif

void main() {
  Item it;
  if (!item(it)) return;
  const uint kvs = p.Hkv * D4;
  float M1[P], M2[P], i1[P], i2[P];
  [[unroll]] for (uint u = 0; u < P; ++u) {
    float m1 = NEG_BIG, m2 = NEG_BIG;
    for (uint s = 0; s < p.n_split; ++s) {
      const vec4 st = stats[stats_index(it, u, s)];
      m1 = max(m1, st.x);
      m2 = max(m2, st.z);
    }
    float L1 = 0.0, L2 = 0.0;
    for (uint s = 0; s < p.n_split; ++s) {  // empty splits: l == 0, m = NEG_BIG
      const vec4 st = stats[stats_index(it, u, s)];
      L1 += st.y * exp(st.x - m1);
      L2 += st.w * exp(st.z - m2);
    }
    M1[u] = m1;
    M2[u] = m2;
    i1[u] = 1.0 / L1;
    i2[u] = p.lambda / L2;
  }

  vec4 a[P * 2u * D4];  // pair u: a[u * 2 D4 ..]
  [[unroll]] for (uint c = 0; c < P * 2u * D4; ++c) a[c] = vec4(0.0);
  // Keys in blocks of VKB: the accumulators (loop-carried: on lavapipe every update of one is a masked
  // store) are written once per block; keys past the split's end weigh 0 (their row index clamped).
  for (uint key0 = it.begin; key0 < it.end; key0 += VKB) {
    float w[VKB * P];
    uint r1[VKB], r2[VKB];
    [[unroll]] for (uint j = 0; j < VKB; ++j) {
      const uint key = min(key0 + j, it.end - 1u);
      const uint sc = score_index(it, key);
      [[unroll]] for (uint u = 0; u < P; ++u) {
        const vec2 x = scores[sc + u];
        const float wt = exp(x.x - M1[u]) * i1[u] - exp(x.y - M2[u]) * i2[u];
        w[j * P + u] = key0 + j < it.end ? wt : 0.0;
      }
      r1[j] = key * kvs + it.r1;
      r2[j] = key * kvs + it.r2;
    }
    [[unroll]] for (uint half_ = 0; half_ < 2u; ++half_)  // v_g1: columns [0, d) of V~, v_g2: [d, 2d)
      [[unroll]] for (uint c = 0; c < D4; ++c) {
        vec4 v[VKB];
        [[unroll]] for (uint j = 0; j < VKB; ++j) v[j] = load_v4((half_ == 0u ? r1[j] : r2[j]) + c);
        [[unroll]] for (uint u = 0; u < P; ++u) {
          vec4 b = a[u * 2u * D4 + half_ * D4 + c];
          [[unroll]] for (uint j = 0; j < VKB; ++j) b += w[j * P + u] * v[j];
          a[u * 2u * D4 + half_ * D4 + c] = b;
        }
      }
  }

  // (u unrolled too: a dynamic index would move the accumulators out of registers)
  [[unroll]] for (uint u = 0; u < P; ++u) {
    if (p.n_split == 1u) {
      float ss = 0.0;
      [[unroll]] for (uint c = 0; c < 2u * D4; ++c) ss += dot(a[u * 2u * D4 + c], a[u * 2u * D4 + c]);
      const float scale = p.out_scale * inversesqrt(ss / float(C) + p.eps);
      const uint o = it.t * p.ldo + (it.i + u) * C;
      [[unroll]] for (uint c = 0; c < 2u * D4; ++c)
        [[unroll]] for (uint e = 0; e < 4u; ++e) out_y[o + 4u * c + e] = a[u * 2u * D4 + c][e] * scale;
    } else {
      const uint base = stats_index(it, u, it.s) * C;
      [[unroll]] for (uint c = 0; c < 2u * D4; ++c)
        [[unroll]] for (uint e = 0; e < 4u; ++e) part[base + 4u * c + e] = a[u * 2u * D4 + c][e];
    }
  }
}
