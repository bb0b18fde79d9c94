#version 450
// Second step of split-key softmax attention (two-pass baseline): workgroup (t, i) merges the n_split
// partial (m, l, acc) sets of one head and writes O = acc / l.
#extension GL_GOOGLE_include_directive : require

layout(binding = 0) readonly buffer PartBuf { float part[]; };
layout(binding = 1) writeonly buffer OutBuf { float out_o[]; };

#include "softmax_attention.glsl"

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint t = gl_WorkGroupID.x, i = gl_WorkGroupID.y;
  const uint H2 = p.H / 2u;
  const uint stride = 2u + C;
  const uint base0 = (t * H2 + i) * p.n_split * stride;

  float M = NEG_BIG;
  for (uint s = 0; s < p.n_split; ++s) M = max(M, part[base0 + s * stride]);
  for (uint r = 0; r < PER; ++r) acc[r] = 0.0;
  float l = 0.0;
  for (uint s = 0; s < p.n_split; ++s) {
    const uint b = base0 + s * stride;
    const float w = part[b + 1u] > 0.0 ? exp(part[b] - M) : 0.0;  // empty splits have l == 0
    l += part[b + 1u] * w;
    for (uint r = 0; r < PER; ++r) {
      const uint c = tid + r * WG;
      if (c < C) acc[r] += part[b + 2u + c] * w;
    }
  }
  finish_head(t, i, l);
}
