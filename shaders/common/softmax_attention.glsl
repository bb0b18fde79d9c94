// Shared by softmax_attention.comp and softmax_attention_reduce.comp (the two-pass baseline for
// differential attention, lib/ops/attention_two_pass.cpp): one standard softmax attention over H/2
// query heads q_head0 + i (i < H/2) whose values are the 2d-wide V~_i = [v_g(i) ; v_g(i+H/2)], the
// same blocking (KB keys per block, online softmax, split keys) as diff_attention.comp, one map only.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint D = 64;   // head_dim
layout(constant_id = 2) const uint KB = 32;  // keys per block (<= workgroup size)

const uint C = 2u * D;                                                 // value / output width
const uint PER = (C + gl_WorkGroupSize.x - 1u) / gl_WorkGroupSize.x;   // output columns per invocation
const float NEG_BIG = -1.0e30;

layout(push_constant) uniform Push {
  uint T, H, Hkv;
  uint ldq;      // row stride of the query buffer (elements)
  uint ldo;      // row stride of the output (elements)
  uint n_split;  // key splits (workgroups along z); 1 = normalise in place
  uint q_head0;  // first query head: 0 (map 1) or H/2 (map 2)
  float sm_scale;
} p;

float acc[PER];

// Writes O = acc / l for query row t, head i (C columns).
void finish_head(uint t, uint i, float l) {
  const uint tid = gl_LocalInvocationID.x;
  const float inv = 1.0 / l;
  for (uint r = 0; r < PER; ++r) {
    const uint c = tid + r * gl_WorkGroupSize.x;
    if (c < C) out_o[t * p.ldo + i * C + c] = acc[r] * inv;
  }
}
