// Body of diff_attention_scores_rows.comp / _texel.comp: pass 1 of the two-phase fused differential
// attention (see diff_attention_split_rows.glsl). Per key: both maps' scores (2d multiply-adds), stored;
// per split: each map's running max m and sum l of exp(s - m), with one exp per map and key
// (exp(-|s - m|) serves both the rescale of l and the new term).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "diff_attention_split_rows.glsl"
layout(binding = 4) writeonly buffer Scores { vec2 scores[]; };
layout(binding = 5) writeonly buffer Stats { vec4 stats[]; };

void main() {
  Item it;
  if (!item(it)) return;
  const uint H2 = p.H / 2u;
  const uint kvs = p.Hkv * D4;
  vec4 q1[P * D4], q2[P * D4];
  [[unroll]] for (uint u = 0; u < P; ++u)
    [[unroll]] for (uint c = 0; c < D4; ++c) {
      q1[u * D4 + c] = load_q4(it.t * p.ldq + (it.i + u) * D + 4u * c) * p.sm_scale;
      q2[u * D4 + c] = load_q4(it.t * p.ldq + (it.i + u + H2) * D + 4u * c) * p.sm_scale;
    }
  float m1[P], m2[P], l1[P], l2[P];
  [[unroll]] for (uint u = 0; u < P; ++u) {
    m1[u] = m2[u] = NEG_BIG;
    l1[u] = l2[u] = 0.0;
  }
  for (uint key = it.begin; key < it.end; ++key) {
    const uint r1 = key * kvs + it.r1, r2 = key * kvs + it.r2;
    vec4 k1[D4], k2[D4];
    [[unroll]] for (uint c = 0; c < D4; ++c) {
      k1[c] = load_k4(r1 + c);
      k2[c] = load_k4(r2 + c);
    }
    const uint sc = score_index(it, key);
    [[unroll]] for (uint u = 0; u < P; ++u) {
      vec4 d1 = vec4(0.0), d2 = vec4(0.0);
      [[unroll]] for (uint c = 0; c < D4; ++c) {
        d1 += q1[u * D4 + c] * k1[c];
        d2 += q2[u * D4 + c] * k2[c];
      }
      const float x1 = d1.x + d1.y + d1.z + d1.w, x2 = d2.x + d2.y + d2.z + d2.w;
      scores[sc + u] = vec2(x1, x2);
      const float e1 = exp(-abs(x1 - m1[u])), e2 = exp(-abs(x2 - m2[u]));
      l1[u] = x1 > m1[u] ? l1[u] * e1 + 1.0 : l1[u] + e1;
      l2[u] = x2 > m2[u] ? l2[u] * e2 + 1.0 : l2[u] + e2;
      m1[u] = max(m1[u], x1);
      m2[u] = max(m2[u], x2);
    }
  }
  [[unroll]] for (uint u = 0; u < P; ++u)  // an empty split: l == 0
    stats[stats_index(it, u, it.s)] = vec4(m1[u], l1[u], m2[u], l2[u]);
}
