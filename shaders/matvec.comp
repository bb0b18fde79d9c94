#version 450
// Y[m, y_col0 + n] (+)= W[n, :] . X[m, :] + bias  for small M (decode): workgroup (row block, m)
// computes ROWS outputs; invocations split K and reduce with subgroupAdd when the device has
// subgroup arithmetic (any subgroup size), else with a shared-memory tree.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : enable
#include "weights.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 2;
layout(constant_id = 2) const uint WDT = 0;
layout(constant_id = 3) const uint HAS_BIAS = 0;
layout(constant_id = 4) const uint ACCUMULATE = 0;
layout(constant_id = 5) const uint USE_SUBGROUP = 0;
// 1: each invocation computes whole rows alone with 128-bit loads (no shared memory, no barriers).
// Chosen for CPU implementations (lavapipe), where an invocation is a SIMD lane of one thread and
// streaming a row sequentially beats splitting K across lanes.
layout(constant_id = 6) const uint ROW_PER_INVOCATION = 0;

layout(binding = 0) readonly buffer XBuf { float x[]; };
layout(binding = 1) readonly buffer WBuf { uint w[]; };
layout(binding = 1) readonly buffer WBuf4 { uvec4 w4[]; };
layout(binding = 0) readonly buffer XBuf4 { vec4 x4[]; };
layout(binding = 2) readonly buffer BiasBuf { float bias[]; };
layout(binding = 3) buffer YBuf { float y[]; };

layout(push_constant) uniform Push {
  uint M, N, K;
  uint ldx, ldy;
  uint y_col0;
} p;

DEFINE_WEIGHT_LOADER(load_w, w, WDT)

shared float red[gl_WorkGroupSize.x * ROWS];

// ROW_PER_INVOCATION: invocation n computes Y[m, n] for XROWS consecutive rows m of X, reading weight
// row n once (128-bit loads when K allows) and reusing each weight vector XROWS times.
layout(constant_id = 7) const uint XROWS = 1;

void rows_main() {
  const uint n = gl_GlobalInvocationID.x, m0 = gl_WorkGroupID.y * XROWS;
  if (n >= p.N) return;
  const uint mcount = min(XROWS, p.M - m0);
  float acc[XROWS];
  for (uint r = 0; r < XROWS; ++r) acc[r] = 0.0;
  const bool x_vec = (p.ldx & 3u) == 0u;
  if (WDT != DT_F32 && (p.K & 7u) == 0u && x_vec) {
    const uint base = n * (p.K / 8u);
    for (uint i = 0; i < p.K / 8u; ++i) {
      uvec4 q = w4[base + i];
      vec4 wa, wb;
      if (WDT == DT_F16) {
        wa = vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y));
        wb = vec4(unpackHalf2x16(q.z), unpackHalf2x16(q.w));
      } else {
        wa = uintBitsToFloat(uvec4(q.x << 16, q.x & 0xffff0000u, q.y << 16, q.y & 0xffff0000u));
        wb = uintBitsToFloat(uvec4(q.z << 16, q.z & 0xffff0000u, q.w << 16, q.w & 0xffff0000u));
      }
      for (uint r = 0; r < mcount; ++r) {
        const uint xb4 = (m0 + r) * (p.ldx / 4u) + 2u * i;
        acc[r] += dot(wa, x4[xb4]) + dot(wb, x4[xb4 + 1u]);
      }
    }
  } else if (WDT == DT_F32 && (p.K & 3u) == 0u && x_vec) {
    const uint base = n * (p.K / 4u);
    for (uint i = 0; i < p.K / 4u; ++i) {
      vec4 wv = uintBitsToFloat(w4[base + i]);
      for (uint r = 0; r < mcount; ++r) acc[r] += dot(wv, x4[(m0 + r) * (p.ldx / 4u) + i]);
    }
  } else {
    for (uint k = 0; k < p.K; ++k) {
      float wv = load_w(n * p.K + k);
      for (uint r = 0; r < mcount; ++r) acc[r] += wv * x[(m0 + r) * p.ldx + k];
    }
  }
  for (uint r = 0; r < mcount; ++r) {
    float v = acc[r];
    if (HAS_BIAS != 0u) v += bias[p.y_col0 + n];
    const uint o = (m0 + r) * p.ldy + p.y_col0 + n;
    if (ACCUMULATE != 0u) v += y[o];
    y[o] = v;
  }
}

void main() {
  if (ROW_PER_INVOCATION != 0u) {
    rows_main();
    return;
  }
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint n0 = gl_WorkGroupID.x * ROWS;
  const uint m = gl_WorkGroupID.y;
  const uint xb = m * p.ldx;

  float sum[ROWS];
  for (uint r = 0; r < ROWS; ++r) sum[r] = 0.0;
  if ((p.K & 1u) == 0u) {
    // Pairs of elements: one 32-bit word of f16/bf16 weights per step.
    for (uint k = 2u * tid; k < p.K; k += 2u * WG) {
      vec2 xv = vec2(x[xb + k], x[xb + k + 1u]);
      for (uint r = 0; r < ROWS; ++r) {
        uint n = n0 + r;
        if (n < p.N) sum[r] += dot(load_w2(n * p.K + k), xv);
      }
    }
  } else {
    for (uint k = tid; k < p.K; k += WG) {
      float xv = x[xb + k];
      for (uint r = 0; r < ROWS; ++r) {
        uint n = n0 + r;
        if (n < p.N) sum[r] += load_w(n * p.K + k) * xv;
      }
    }
  }

  if (USE_SUBGROUP != 0u) {
    for (uint r = 0; r < ROWS; ++r) sum[r] = subgroupAdd(sum[r]);
    if (subgroupElect())
      for (uint r = 0; r < ROWS; ++r) red[gl_SubgroupID * ROWS + r] = sum[r];
    barrier();
    if (tid < ROWS) {
      float s = 0.0;
      for (uint g = 0; g < gl_NumSubgroups; ++g) s += red[g * ROWS + tid];
      red[tid] = s;
    }
    barrier();
  } else {
    for (uint r = 0; r < ROWS; ++r) red[r * WG + tid] = sum[r];
    barrier();
    for (uint stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (tid < stride)
        for (uint r = 0; r < ROWS; ++r) red[r * WG + tid] += red[r * WG + tid + stride];
      barrier();
    }
  }

  if (tid < ROWS) {
    uint n = n0 + tid;
    if (n < p.N) {
      float v = USE_SUBGROUP != 0u ? red[tid] : red[tid * WG];
      if (HAS_BIAS != 0u) v += bias[p.y_col0 + n];
      uint o = m * p.ldy + p.y_col0 + n;
      if (ACCUMULATE != 0u) v += y[o];
      y[o] = v;
    }
  }
}
