// Body of softmax_attention_rows.comp / softmax_attention_rows_texel.comp.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Standard softmax attention of the two-pass baseline (lib/ops/attention_two_pass.cpp) for CPU Vulkan
// implementations (caps.cpu_quirks): diff_attention_rows.comp with one map — one invocation per
// (query row t, block of P heads q_head0 + i .., key split s), q, the online softmax and the 2d
// accumulator in registers, the rows k_g(h), v_g(i), v_g(i+H/2) of each visible key read once as
// vec4s (D % 4 == 0) and used for all P heads of the block (which share them: GQA; P as the fused
// kernel's on the same shape). Same lane order as diff_attention_rows.comp,
// same output and partials layout as softmax_attention.comp (its reduce merges these); inner loops
// unrolled for the same reasons.
// Dispatch: x = ceil(T * H/2 / P * n_split / workgroup size).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint D = 64;   // head_dim, a multiple of 4
layout(constant_id = 2) const uint KB = 32;  // unused (same constants as softmax_attention.comp)
layout(constant_id = 3) const uint P = 1;    // heads per invocation sharing their K and V rows

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

#include "attention_rows_item.glsl"

void main() {
  Item it;  // it.r1, it.r2: the two value heads of the block's V~
  if (!item(it)) return;
  const uint H2 = p.H / 2u, t = it.t, i = it.i, s = it.s;
  const uint h = p.q_head0 + i;
  const uint gk = h / (p.H / p.Hkv);  // key head of the block's query heads
  const uint kvs = p.Hkv * D4;

  vec4 qv[P * D4], a[P * 2u * D4];  // head u of the block: qv[u * D4 ..], a[u * 2 D4 ..]
  [[unroll]] for (uint u = 0; u < P; ++u)
    [[unroll]] for (uint c = 0; c < D4; ++c) qv[u * D4 + c] = load_q4(t * p.ldq + (h + u) * D + 4u * c) * p.sm_scale;
  [[unroll]] for (uint c = 0; c < P * 2u * D4; ++c) a[c] = vec4(0.0);
  float m[P], l[P];
  [[unroll]] for (uint u = 0; u < P; ++u) {
    m[u] = NEG_BIG;
    l[u] = 0.0;
  }

  for (uint key = it.begin; key < it.end; ++key) {
    const uint rk = key * kvs + gk * D4, ra = key * kvs + it.r1, rb = key * kvs + it.r2;
    vec4 k[D4];
    [[unroll]] for (uint c = 0; c < D4; ++c) k[c] = load_k4(rk + c);
    float f[P], pk[P];
    [[unroll]] for (uint u = 0; u < P; ++u) {
      vec4 dv = vec4(0.0);
      [[unroll]] for (uint c = 0; c < D4; ++c) dv += qv[u * D4 + c] * k[c];
      const float x = dv.x + dv.y + dv.z + dv.w;
      const float n = max(m[u], x);
      f[u] = exp(m[u] - n);
      pk[u] = exp(x - n);
      l[u] = l[u] * f[u] + pk[u];
      m[u] = n;
    }
    [[unroll]] for (uint c = 0; c < D4; ++c) {
      const vec4 v = load_v4(ra + c);
      [[unroll]] for (uint u = 0; u < P; ++u) a[u * 2u * D4 + c] = a[u * 2u * D4 + c] * f[u] + pk[u] * v;
    }
    [[unroll]] for (uint c = 0; c < D4; ++c) {
      const vec4 v = load_v4(rb + c);
      [[unroll]] for (uint u = 0; u < P; ++u) a[u * 2u * D4 + D4 + c] = a[u * 2u * D4 + D4 + c] * f[u] + pk[u] * v;
    }
  }

  [[unroll]] for (uint u = 0; u < P; ++u) {
    if (p.n_split == 1u) {
      const float inv = 1.0 / l[u];
      const uint o = t * p.ldo + (i + u) * C;
      [[unroll]] for (uint c = 0; c < 2u * D4; ++c)
        [[unroll]] for (uint e = 0; e < 4u; ++e) out_o[o + 4u * c + e] = a[u * 2u * D4 + c][e] * inv;
    } else {
      const uint base = ((t * H2 + i + u) * p.n_split + s) * (2u + C);
      part[base] = m[u];
      part[base + 1u] = l[u];
      [[unroll]] for (uint c = 0; c < 2u * D4; ++c)
        [[unroll]] for (uint e = 0; e < 4u; ++e) part[base + 2u + 4u * c + e] = a[u * 2u * D4 + c][e];
    }
  }
}
