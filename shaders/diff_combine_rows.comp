#version 450
// diff_combine.comp for CPU Vulkan implementations (caps.cpu_quirks, head_dim % 4 == 0): one invocation
// per (query row t, head pair i) instead of a workgroup with barriers; same result:
// Y_i = out_scale * D / sqrt(mean_2d(D^2) + eps), D = O+_i - lambda O-_i.
// Dispatch: x = ceil(H/2 / workgroup size), y = T.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint D = 64;  // head_dim, a multiple of 4

layout(binding = 0) readonly buffer O1Buf { vec4 o1[]; };
layout(binding = 1) readonly buffer O2Buf { vec4 o2[]; };
layout(binding = 2) writeonly buffer OutBuf { float out_y[]; };

layout(push_constant) uniform Push {
  uint ldi;  // row stride of o1 / o2 (a multiple of 4)
  uint ldo;  // row stride of the output
  float lambda, out_scale, eps;
  uint pairs;
} p;

const uint C4 = D / 2u, C = 2u * D;

void main() {
  const uint i = gl_GlobalInvocationID.x, t = gl_WorkGroupID.y;
  if (i >= p.pairs) return;
  const uint b = (t * p.ldi + i * C) / 4u;
  vec4 dv[C4];
  float ss = 0.0;
  [[unroll]] for (uint c = 0; c < C4; ++c) {
    dv[c] = o1[b + c] - p.lambda * o2[b + c];
    ss += dot(dv[c], dv[c]);
  }
  const float scale = p.out_scale * inversesqrt(ss / float(C) + p.eps);
  const uint o = t * p.ldo + i * C;
  [[unroll]] for (uint c = 0; c < C4; ++c)
    [[unroll]] for (uint e = 0; e < 4u; ++e) out_y[o + 4u * c + e] = dv[c][e] * scale;
}
