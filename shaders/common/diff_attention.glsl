// Shared by diff_attention.comp and diff_attention_reduce.comp: the push constants, the per-invocation
// accumulators for the two 2d-wide outputs of a head pair, and the final combine:
//   D = O+ - lambda O-,  Y = out_scale * D / sqrt(mean_2d(D^2) + eps)
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint D = 64;   // head_dim
layout(constant_id = 2) const uint KB = 32;  // keys per block (<= workgroup size)

const uint C = 2u * D;                                    // width of a pair's value / output
const uint PER = (C + gl_WorkGroupSize.x - 1u) / gl_WorkGroupSize.x;  // output columns per invocation
const float NEG_BIG = -1.0e30;                            // "-inf" that keeps exp() and max() finite

layout(push_constant) uniform Push {
  uint T, H, Hkv;
  uint ldq;      // row stride of the query buffer (elements)
  uint ldo;      // row stride of the output
  uint n_split;  // key splits (workgroups along z); 1 = finish in place
  float lambda, out_scale, eps, sm_scale;
} p;

float acc1[PER];
float acc2[PER];
shared float red[gl_WorkGroupSize.x];

float workgroup_sum(float v) {
  const uint tid = gl_LocalInvocationID.x;
  barrier();
  red[tid] = v;
  barrier();
  for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s /= 2u) {
    if (tid < s) red[tid] += red[tid + s];
    barrier();
  }
  return red[0];
}

// Writes Y for query row t, pair i, given the accumulators and softmax denominators l1, l2.
void finish_pair(uint t, uint i, float l1, float l2) {
  const uint tid = gl_LocalInvocationID.x;
  float dv[PER];
  float ss = 0.0;
  for (uint r = 0; r < PER; ++r) {
    uint c = tid + r * gl_WorkGroupSize.x;
    dv[r] = 0.0;
    if (c < C) dv[r] = acc1[r] / l1 - p.lambda * (acc2[r] / l2);
    ss += dv[r] * dv[r];
  }
  float scale = p.out_scale * inversesqrt(workgroup_sum(ss) / float(C) + p.eps);
  for (uint r = 0; r < PER; ++r) {
    uint c = tid + r * gl_WorkGroupSize.x;
    if (c < C) out_y[t * p.ldo + i * C + c] = dv[r] * scale;
  }
}
