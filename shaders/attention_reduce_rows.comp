#version 450
// Split-key reduce steps of the attention row kernels for CPU Vulkan implementations (caps.cpu_quirks;
// the GPU kernels diff_attention_reduce.comp / softmax_attention_reduce.comp use a workgroup per row and
// barriers, which cost more than the reduction on lavapipe): one invocation per (query row t, head
// pair or head i) holds the 2d-wide sums in registers. MODE:
//   0  fused two-phase partials [n_split][2d], already normalised: Y = out_scale RMSNorm_2d(sum_s)
//   1  fused one-pass partials (m1, l1, m2, l2, acc1[2d], acc2[2d]): merge both maps, then as 0
//   2  one softmax map's partials (m, l, acc[2d]) of the two-pass baseline: O = acc / l
// Empty splits (l == 0) contribute nothing. Dispatch: x = ceil(H/2 / workgroup size), y = T.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint D = 64;  // head_dim, a multiple of 4
layout(constant_id = 2) const uint MODE = 0;

layout(binding = 0) readonly buffer PartBuf { vec4 part[]; };
layout(binding = 0) readonly buffer PartFloats { float partf[]; };  // mode 2: its sets are not whole vec4s
layout(binding = 1) writeonly buffer OutBuf { float out_y[]; };

layout(push_constant) uniform Push {
  uint T, H, Hkv, ldq, ldo, n_split;
  float lambda, out_scale, eps;  // modes 0 and 1
} p;

const uint D4 = D / 4u, C4 = 2u * D4, C = 2u * D;
const float NEG_BIG = -1.0e30;

void main() {
  const uint H2 = p.H / 2u;
  const uint i = gl_GlobalInvocationID.x, t = gl_WorkGroupID.y;
  if (i >= H2) return;
  const uint item = (t * H2 + i) * p.n_split;  // partial set of split 0
  vec4 a[C4];
  [[unroll]] for (uint c = 0; c < C4; ++c) a[c] = vec4(0.0);
  float inv = 1.0;
  if (MODE == 0u) {
    for (uint s = 0; s < p.n_split; ++s)
      [[unroll]] for (uint c = 0; c < C4; ++c) a[c] += part[(item + s) * C4 + c];
  } else if (MODE == 1u) {
    const uint stride = 1u + 2u * C4;  // in vec4s: (m1, l1, m2, l2), acc1, acc2
    float M1 = NEG_BIG, M2 = NEG_BIG;
    for (uint s = 0; s < p.n_split; ++s) {
      const vec4 st = part[(item + s) * stride];
      M1 = max(M1, st.x);
      M2 = max(M2, st.z);
    }
    vec4 b[C4];
    [[unroll]] for (uint c = 0; c < C4; ++c) b[c] = vec4(0.0);
    float L1 = 0.0, L2 = 0.0;
    for (uint s = 0; s < p.n_split; ++s) {
      const uint base = (item + s) * stride;
      const vec4 st = part[base];
      const float w1 = st.y > 0.0 ? exp(st.x - M1) : 0.0, w2 = st.w > 0.0 ? exp(st.z - M2) : 0.0;
      L1 += st.y * w1;
      L2 += st.w * w2;
      [[unroll]] for (uint c = 0; c < C4; ++c) {
        a[c] += part[base + 1u + c] * w1;
        b[c] += part[base + 1u + C4 + c] * w2;
      }
    }
    const float i1 = 1.0 / L1, i2 = p.lambda / L2;
    [[unroll]] for (uint c = 0; c < C4; ++c) a[c] = a[c] * i1 - b[c] * i2;
  } else {
    const uint stride = 2u + C;
    float M = NEG_BIG;
    for (uint s = 0; s < p.n_split; ++s) M = max(M, partf[(item + s) * stride]);
    float L = 0.0;
    for (uint s = 0; s < p.n_split; ++s) {
      const uint base = (item + s) * stride;
      const float w = partf[base + 1u] > 0.0 ? exp(partf[base] - M) : 0.0;
      L += partf[base + 1u] * w;
      [[unroll]] for (uint c = 0; c < C4; ++c) {
        const uint f = base + 2u + 4u * c;
        a[c] += vec4(partf[f], partf[f + 1u], partf[f + 2u], partf[f + 3u]) * w;
      }
    }
    inv = 1.0 / L;
  }
  if (MODE != 2u) {
    float ss = 0.0;
    [[unroll]] for (uint c = 0; c < C4; ++c) ss += dot(a[c], a[c]);
    inv = p.out_scale * inversesqrt(ss / float(C) + p.eps);
  }
  const uint o = t * p.ldo + i * C;
  [[unroll]] for (uint c = 0; c < C4; ++c)
    [[unroll]] for (uint e = 0; e < 4u; ++e) out_y[o + 4u * c + e] = a[c][e] * inv;
}
