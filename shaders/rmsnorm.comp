#version 450
// out[r, :] = weight * x / sqrt(mean(x^2) + eps)   one workgroup per row, statistics in f32.
// RESIDUAL: first x[r, :] += res[r, :] (written back to x), then normalise the sum.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HAS_WEIGHT = 1;
layout(constant_id = 2) const uint RESIDUAL = 0;

layout(binding = 0) buffer XBuf { float x[]; };
layout(binding = 1) readonly buffer ResBuf { float res[]; };
layout(binding = 2) readonly buffer WBuf { float weight[]; };
layout(binding = 3) writeonly buffer OutBuf { float o[]; };

layout(push_constant) uniform Push {
  uint n;        // row length
  uint ldx, ldo; // row strides
  float eps;
} p;

shared float red[gl_WorkGroupSize.x];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint xb = gl_WorkGroupID.x * p.ldx;
  const uint ob = gl_WorkGroupID.x * p.ldo;
  float ss = 0.0;
  for (uint c = tid; c < p.n; c += WG) {
    float v = x[xb + c];
    if (RESIDUAL != 0u) {
      v += res[xb + c];
      x[xb + c] = v;
    }
    ss += v * v;
  }
  red[tid] = ss;
  barrier();
  for (uint s = WG / 2u; s > 0u; s /= 2u) {
    if (tid < s) red[tid] += red[tid + s];
    barrier();
  }
  float scale = inversesqrt(red[0] / float(p.n) + p.eps);
  for (uint c = tid; c < p.n; c += WG) {
    float v = x[xb + c] * scale;
    o[ob + c] = HAS_WEIGHT != 0u ? v * weight[c] : v;
  }
}
