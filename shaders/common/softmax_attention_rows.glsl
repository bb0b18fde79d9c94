// Body of softmax_attention_rows.comp / softmax_attention_rows_texel.comp.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Standard softmax attention of the two-pass baseline (lib/ops/attention_two_pass.cpp) for CPU Vulkan
// implementations (caps.cpu_quirks): diff_attention_rows.comp with one map — one invocation per
// (query row t, head q_head0 + i, key split s), q, the online softmax and the 2d accumulator in
// registers, the rows k_g(h), v_g(i), v_g(i+H/2) of each visible key read once as vec4s (D % 4 == 0).
// Same lane order as diff_attention_rows.comp, same output and partials layout as
// softmax_attention.comp (its reduce merges these); inner loops unrolled for the same reasons.
// Dispatch: x = ceil(H/2 * n_split / workgroup size), y = T.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint D = 64;   // head_dim, a multiple of 4
layout(constant_id = 2) const uint KB = 32;  // unused (same constants as softmax_attention.comp)

layout(binding = 0) readonly buffer Params { uint pos0; } params;
#include "attention_rows_io.glsl"
layout(binding = 4) writeonly buffer OutBuf { float out_o[]; };
layout(binding = 5) writeonly buffer PartBuf { float part[]; };

layout(push_constant) uniform Push {
  uint T, H, Hkv, ldq, ldo, n_split, q_head0;
  float sm_scale;
} p;

const uint D4 = D / 4u;
const uint C = 2u * D;
const float NEG_BIG = -1.0e30;

void main() {
  const uint H2 = p.H / 2u;
  const uint j = gl_GlobalInvocationID.x;
  if (j >= H2 * p.n_split) return;
  const uint t = gl_WorkGroupID.y, i = j % H2, s = j / H2;
  const uint group = p.H / p.Hkv;
  const uint h = p.q_head0 + i;
  const uint gk = h / group;                         // key head of the query head
  const uint ga = i / group, gb = (i + H2) / group;  // the two value heads of V~_i
  const uint kvs = p.Hkv * D4;

  vec4 qv[D4], a[2u * D4];
  [[unroll]] for (uint c = 0; c < D4; ++c) {
    const uint b = t * p.ldq + h * D + 4u * c;
    qv[c] = load_q4(b) * p.sm_scale;
  }
  [[unroll]] for (uint c = 0; c < 2u * D4; ++c) a[c] = vec4(0.0);
  float m = NEG_BIG, l = 0.0;

  const uint kv_len = params.pos0 + t + 1u;
  const uint chunk = (kv_len + p.n_split - 1u) / p.n_split;
  const uint begin = min(kv_len, s * chunk);
  const uint end = min(kv_len, begin + chunk);
  for (uint key = begin; key < end; ++key) {
    const uint rk = key * kvs + gk * D4, ra = key * kvs + ga * D4, rb = key * kvs + gb * D4;
    vec4 dv = vec4(0.0);
    [[unroll]] for (uint c = 0; c < D4; ++c) dv += qv[c] * load_k4(rk + c);
    const float x = dv.x + dv.y + dv.z + dv.w;
    const float n = max(m, x);
    const float f = exp(m - n), pk = exp(x - n);
    l = l * f + pk;
    [[unroll]] for (uint c = 0; c < D4; ++c) a[c] = a[c] * f + pk * load_v4(ra + c);
    [[unroll]] for (uint c = 0; c < D4; ++c) a[D4 + c] = a[D4 + c] * f + pk * load_v4(rb + c);
    m = n;
  }

  if (p.n_split == 1u) {
    const float inv = 1.0 / l;
    const uint o = t * p.ldo + i * C;
    [[unroll]] for (uint c = 0; c < 2u * D4; ++c)
      [[unroll]] for (uint e = 0; e < 4u; ++e) out_o[o + 4u * c + e] = a[c][e] * inv;
    return;
  }
  const uint base = ((t * H2 + i) * p.n_split + s) * (2u + C);
  part[base] = m;
  part[base + 1u] = l;
  [[unroll]] for (uint c = 0; c < 2u * D4; ++c)
    [[unroll]] for (uint e = 0; e < 4u; ++e) part[base + 2u + 4u * c + e] = a[c][e];
}
