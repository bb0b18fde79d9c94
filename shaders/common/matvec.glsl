// Y[m, y_col0 + n] (+)= W[n, :] . X[m, :] + bias  for small M (decode): workgroup (row block, m)
// computes ROWS outputs; invocations split K and reduce with subgroupAdd when the device has
// subgroup arithmetic (any subgroup size), else with a shared-memory tree. GLU (flags, ROWS == 2): the
// rows are an interleaved gate/up projection (groups of glu_group, activation.glsl) and workgroup x
// computes output column x = act(gate row) * up row. NORM: RMSNorm of the X row applied on the fly,
// Y = W . (g * x / sqrt(mean(x^2) + eps)) with g at binding 4: the workgroup's invocations already read
// all of x, so the sum of squares is one more value to reduce. WIDE (matvec_wide*.comp): 16-byte loads
// of W and X instead of 4-byte ones, so that a GPU has 4x fewer load instructions per byte in flight and
// a quantized block's scale is read once per load, not per element.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : enable
#include "activation.glsl"
#include "weights.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 2;
layout(constant_id = 2) const uint WDT = 0;
layout(constant_id = 3) const uint HAS_BIAS = 0;
layout(constant_id = 4) const uint ACCUMULATE = 0;
layout(constant_id = 5) const uint USE_SUBGROUP = 0;
layout(constant_id = 6) const uint NORM = 0;
#include "matmul_buffers.glsl"

// Values reduced per invocation: the ROWS dot products, then (NORM) the sum of x^2.
const uint NV = ROWS + 1u;
shared float red[gl_WorkGroupSize.x * NV];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
#ifdef ROPE
  const bool glu = true;  // rotation pairs are rows ROPE_GROUP apart, as gate/up rows
  const uint glu_group = ROPE_GROUP;
#else
  const bool glu = (p.flags & 12u) != 0u;
  const uint glu_group = p.glu_group;
#endif
  // Row r of this workgroup is n0 + r * row_step: adjacent rows, or a gate row and its up row.
  const uint n0 = glu ? glu_gate_row(gl_WorkGroupID.x, glu_group) : gl_WorkGroupID.x * ROWS;
  const uint row_step = glu ? glu_group : 1u;
  const uint m = gl_WorkGroupID.y;
  const uint xb = m * p.ldx;

  float sum[NV];
  for (uint r = 0; r < NV; ++r) sum[r] = 0.0;
#ifdef WIDE
  // 16 bytes of each row per step (E elements) and E / 4 texels of X (ops::matmul's matvec_wide:
  // K % E == 0, X rows start at multiples of 4).
  const uint E = wide_elems(WDT), NX = E / 4u;
  const bool quant = WDT == DT_Q8_0 || WDT == DT_Q4_0;
  const uint scales = quant_data_words(WDT, p.N * p.K);  // word index of the chunk's first scale
  for (uint k = tid * E; k < p.K; k += WG * E) {
    vec4 xv[8];
    for (uint j = 0; j < NX; ++j) {
      xv[j] = x4[(xb + k) / 4u + j];
      if (NORM != 0u) {
        sum[ROWS] += dot(xv[j], xv[j]);
        xv[j] *= g4[k / 4u + j];
      }
    }
    for (uint r = 0; r < ROWS; ++r) {
      const uint n = n0 + r * row_step;
      if (n >= p.N) continue;
      const uint e = n * p.K + k;  // first element of the load in the chunk
      vec4 wv[8];
      decode_wide(WDT, w4[e / E], wv);
      float s = 0.0;
      for (uint j = 0; j < NX; ++j) s += dot(wv[j], xv[j]);
      if (quant) {
        const uint sw = scales + (e >> 6);  // two f16 scales (blocks of 32) per word
        s *= unpackHalf2x16(w4[sw >> 2][sw & 3u])[(e >> 5) & 1u];
      }
      sum[r] += s;
    }
  }
#else
  if ((p.K & 1u) == 0u) {
    // Pairs of elements: one 32-bit word of f16/bf16 weights per step.
    for (uint k = 2u * tid; k < p.K; k += 2u * WG) {
      vec2 xv = vec2(x[xb + k], x[xb + k + 1u]);
      if (NORM != 0u) {
        sum[ROWS] += dot(xv, xv);
        xv *= vec2(g[k], g[k + 1u]);
      }
      for (uint r = 0; r < ROWS; ++r) {
        uint n = n0 + r * row_step;
        if (n < p.N) sum[r] += dot(load_w2(n * p.K + k), xv);
      }
    }
  } else {
    for (uint k = tid; k < p.K; k += WG) {
      float xv = x[xb + k];
      if (NORM != 0u) {
        sum[ROWS] += xv * xv;
        xv *= g[k];
      }
      for (uint r = 0; r < ROWS; ++r) {
        uint n = n0 + r * row_step;
        if (n < p.N) sum[r] += load_w(n * p.K + k) * xv;
      }
    }
  }
#endif

  // Totals land in red[r] (subgroups) or red[r * WG] (tree) for r < NV.
  if (USE_SUBGROUP != 0u) {
    for (uint r = 0; r < NV; ++r) sum[r] = subgroupAdd(sum[r]);
    if (subgroupElect())
      for (uint r = 0; r < NV; ++r) red[gl_SubgroupID * NV + r] = sum[r];
    barrier();
    if (tid < NV) {
      float s = 0.0;
      for (uint sg = 0; sg < gl_NumSubgroups; ++sg) s += red[sg * NV + tid];
      red[tid] = s;
    }
    barrier();
  } else {
    for (uint r = 0; r < NV; ++r) red[r * WG + tid] = sum[r];
    barrier();
    for (uint stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (tid < stride)
        for (uint r = 0; r < NV; ++r) red[r * WG + tid] += red[r * WG + tid + stride];
      barrier();
    }
  }
  const uint rs = USE_SUBGROUP != 0u ? 1u : WG;  // stride of the totals in red
  // A common factor of every dot product of the row.
  const float inv_rms = NORM != 0u ? inversesqrt(red[ROWS * rs] / float(p.K) + p.norm_eps) : 1.0;

  if (glu) {
    if (tid == 0u && n0 + row_step < p.N) {
      float gate = red[0] * inv_rms, up = red[rs] * inv_rms;
      const uint row = p.y_col0 + n0;
      if (HAS_BIAS != 0u) {
        gate += bias[row];
        up += bias[row + row_step];
      }
#ifdef ROPE
      store_qkv_pair(m, row, gate, up);
#else
      y[m * p.ldy + glu_column(row, row_step)] = ((p.flags & 8u) != 0u ? gelu(gate) : silu(gate)) * up;
#endif
    }
    return;
  }
  if (tid < ROWS) {
    uint n = n0 + tid;
    if (n < p.N) {
      float v = red[tid * rs] * inv_rms;
      if (HAS_BIAS != 0u) v += bias[p.y_col0 + n];
      uint o = m * p.ldy + p.y_col0 + n;
      if (ACCUMULATE != 0u) v += y[o];
      y[o] = v;
    }
  }
}
