#version 450
// Y[m, y_col0 + n] (+)= sum_k X[m, k] * W[n, k] + bias[y_col0 + n]    for m < M, n < N
// Tiled: each workgroup computes a BM x BN tile, staging BK-wide slices of X and W in shared memory;
// each invocation owns a TM x TN micro-tile. Any M, N, K (edges are bounds-checked).
// W is one row-chunk of a weight matrix (rows [y_col0, y_col0 + N)), stored as f32/f16/bf16.
#extension GL_GOOGLE_include_directive : require
#include "weights.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 32;
layout(constant_id = 2) const uint BN = 32;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
layout(constant_id = 6) const uint WDT = 0;
layout(constant_id = 7) const uint HAS_BIAS = 0;
layout(constant_id = 8) const uint ACCUMULATE = 0;  // 1: add into Y (fused residual)

layout(binding = 0) readonly buffer XBuf { float x[]; };
layout(binding = 1) readonly buffer WBuf { uint w[]; };
layout(binding = 2) readonly buffer BiasBuf { float bias[]; };
layout(binding = 3) buffer YBuf { float y[]; };

layout(push_constant) uniform Push {
  uint M, N, K;
  uint ldx, ldy;  // row strides of X and Y in elements
  uint y_col0;    // first output column (and bias index) this weight chunk produces
} p;

DEFINE_WEIGHT_LOADER_N(load_w, w, WDT, p.N * p.K)

shared float xs[BK * BM];
shared float ws[BK * BN];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint m0 = gl_WorkGroupID.y * BM;
  const uint n0 = gl_WorkGroupID.x * BN;
  const uint TX = BN / TN;
  const uint tn = tid % TX, tm = tid / TX;

  float acc[TM * TN];
  for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0;

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    for (uint idx = tid; idx < BM * BK; idx += WG) {
      uint mm = idx / BK, kk = idx % BK;
      uint m = m0 + mm, k = k0 + kk;
      xs[kk * BM + mm] = (m < p.M && k < p.K) ? x[m * p.ldx + k] : 0.0;
    }
    for (uint idx = tid; idx < BN * BK; idx += WG) {
      uint nn = idx / BK, kk = idx % BK;
      uint n = n0 + nn, k = k0 + kk;
      ws[kk * BN + nn] = (n < p.N && k < p.K) ? load_w(n * p.K + k) : 0.0;
    }
    barrier();
    for (uint kk = 0; kk < BK; ++kk) {
      float a[TM];
      float b[TN];
      for (uint i = 0; i < TM; ++i) a[i] = xs[kk * BM + tm * TM + i];
      for (uint j = 0; j < TN; ++j) b[j] = ws[kk * BN + tn * TN + j];
      for (uint i = 0; i < TM; ++i)
        for (uint j = 0; j < TN; ++j) acc[i * TN + j] += a[i] * b[j];
    }
    barrier();
  }

  for (uint i = 0; i < TM; ++i) {
    uint m = m0 + tm * TM + i;
    if (m >= p.M) continue;
    for (uint j = 0; j < TN; ++j) {
      uint n = n0 + tn * TN + j;
      if (n >= p.N) continue;
      float v = acc[i * TN + j];
      if (HAS_BIAS != 0u) v += bias[p.y_col0 + n];
      uint o = m * p.ldy + p.y_col0 + n;
      if (ACCUMULATE != 0u) v += y[o];
      y[o] = v;
    }
  }
}
