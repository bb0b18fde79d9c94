#version 450
// Second step of split-key differential attention: workgroup (t, i) merges the n_split partial
// (m, l, acc) sets of both softmax maps, then finishes the pair like diff_attention.comp.
#extension GL_GOOGLE_include_directive : require

layout(binding = 0) readonly buffer PartBuf { float part[]; };
layout(binding = 1) writeonly buffer OutBuf { float out_y[]; };

#include "diff_attention.glsl"

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint t = gl_WorkGroupID.x, i = gl_WorkGroupID.y;
  const uint H2 = p.H / 2u;
  const uint stride = 4u + 2u * C;
  const uint base0 = (t * H2 + i) * p.n_split * stride;

  float M1 = NEG_BIG, M2 = NEG_BIG;
  for (uint s = 0; s < p.n_split; ++s) {
    M1 = max(M1, part[base0 + s * stride]);
    M2 = max(M2, part[base0 + s * stride + 2u]);
  }
  for (uint r = 0; r < PER; ++r) acc1[r] = acc2[r] = 0.0;
  float l1 = 0.0, l2 = 0.0;
  for (uint s = 0; s < p.n_split; ++s) {
    const uint b = base0 + s * stride;
    // Empty splits have l == 0 and contribute nothing.
    const float w1 = part[b + 1u] > 0.0 ? exp(part[b] - M1) : 0.0;
    const float w2 = part[b + 3u] > 0.0 ? exp(part[b + 2u] - M2) : 0.0;
    l1 += part[b + 1u] * w1;
    l2 += part[b + 3u] * w2;
    for (uint r = 0; r < PER; ++r) {
      const uint c = tid + r * WG;
      if (c < C) {
        acc1[r] += part[b + 4u + c] * w1;
        acc2[r] += part[b + 4u + C + c] * w2;
      }
    }
  }
  finish_pair(t, i, l1, l2);
}
