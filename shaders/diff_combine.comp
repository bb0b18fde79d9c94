#version 450
// Last step of the two-pass differential attention baseline: workgroup (t, i) reads the two maps'
// outputs O+_i, O-_i (2d wide each) and writes Y_i = out_scale * D / sqrt(mean_2d(D^2) + eps),
// D = O+ - lambda O- (the same combine as diff_attention.glsl's finish_pair).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint D = 64;  // head_dim

layout(binding = 0) readonly buffer O1Buf { float o1[]; };
layout(binding = 1) readonly buffer O2Buf { float o2[]; };
layout(binding = 2) writeonly buffer OutBuf { float out_y[]; };

layout(push_constant) uniform Push {
  uint ldi;  // row stride of o1 / o2
  uint ldo;  // row stride of the output
  float lambda, out_scale, eps;
} p;

const uint C = 2u * D;
const uint PER = (C + gl_WorkGroupSize.x - 1u) / gl_WorkGroupSize.x;
shared float red[gl_WorkGroupSize.x];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint t = gl_WorkGroupID.x, i = gl_WorkGroupID.y;
  float dv[PER];
  float ss = 0.0;
  for (uint r = 0; r < PER; ++r) {
    const uint c = tid + r * WG;
    dv[r] = 0.0;
    if (c < C) dv[r] = o1[t * p.ldi + i * C + c] - p.lambda * o2[t * p.ldi + i * C + c];
    ss += dv[r] * dv[r];
  }
  red[tid] = ss;
  barrier();
  for (uint s = WG / 2u; s > 0u; s /= 2u) {
    if (tid < s) red[tid] += red[tid + s];
    barrier();
  }
  const float scale = p.out_scale * inversesqrt(red[0] / float(C) + p.eps);
  for (uint r = 0; r < PER; ++r) {
    const uint c = tid + r * WG;
    if (c < C) out_y[t * p.ldo + i * C + c] = dv[r] * scale;
  }
}
