// Y[m, y_col0 + n] (+)= sum_k X[m, k] * W[n, k] + bias[y_col0 + n]    for m < M, n < N
// Tiled (GPUs, prefill): each workgroup computes a BM x BN tile, staging BK-wide slices of X and W in
// shared memory; each invocation owns a TM x TN micro-tile. Any M, N, K (edges are bounds-checked).
// W is one row-chunk of a weight matrix (rows [y_col0, y_col0 + N)), stored as f32/f16/bf16/q8_0/q4_0.
// Fused like the decode kernels, so prefill needs no passes of its own for them:
//   NORM: RMSNorm of the X rows, Y = W . (g * x / sqrt(mean(x^2) + eps)): X is scaled by g as it is
//     staged and the invocations that stage a row sum its squares on the way (the same K slices), so
//     the norm costs no extra reads; 1 / rms is a common factor applied to the finished dot products.
//   GLU (specialized): interleaved gate/up rows in groups of 8 (the host checks glu_group == 8), one output
//     column act(gate) * up per pair; ROPE (qkv_rope.glsl): rotation pairs 8 apart in groups of 16.
// Both need a row's partner 8 columns on in the same invocation: an invocation's TN columns are TN / 2
// adjacent first-half columns of a group of 16 and their partners (col_of), for every variant.
// Needs TN even, 16 % TN == 0, BN % 16 == 0 and (NORM) WG % BK == 0, (BM * BK) % WG == 0: the host's
// tile configurations (ops/matmul.cpp) satisfy them.
#extension GL_GOOGLE_include_directive : require
#include "activation.glsl"
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
layout(constant_id = 9) const uint NORM = 0;
layout(constant_id = 10) const uint GLU = 0;  // 1: GLU with SiLU, 2: with GELU

#include "matmul_buffers.glsl"
#include "matmul_store.glsl"

shared float xs[BK * BM];
shared float ws[BK * BN];

// Column (within the tile) of an invocation's micro-tile column j: pairs (j even, j + 1) are 8 apart.
const uint PAIRS = TN / 2u, GROUP_INVOCATIONS = 16u / TN;  // invocations per group of 16 columns
uint col_of(uint tn, uint j) { return (tn / GROUP_INVOCATIONS) * 16u + (tn % GROUP_INVOCATIONS) * PAIRS + j / 2u + (j & 1u) * 8u; }

// X elements each invocation stages per K slice: element s is tid + s * WG of the tile, the same
// (row, k % BK) in every slice when WG % BK == 0 (NORM sums squares per element s).
const uint XLOADS = (BM * BK + gl_WorkGroupSize.x - 1u) / gl_WorkGroupSize.x;

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint m0 = gl_WorkGroupID.y * BM;
  const uint n0 = gl_WorkGroupID.x * BN;
  const uint TX = BN / TN;
  const uint tn = tid % TX, tm = tid / TX;

  float acc[TM * TN];
  for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0;
  float sumsq[XLOADS];
  for (uint s = 0; s < XLOADS; ++s) sumsq[s] = 0.0;

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    for (uint s = 0; s < XLOADS; ++s) {
      const uint idx = tid + s * WG;
      if (idx >= BM * BK) break;
      uint mm = idx / BK, kk = idx % BK;
      uint m = m0 + mm, k = k0 + kk;
      float v = (m < p.M && k < p.K) ? x[m * p.ldx + k] : 0.0;
      if (NORM != 0u && k < p.K) {
        sumsq[s] += v * v;
        v *= g[k];
      }
      xs[kk * BM + mm] = v;
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
      for (uint j = 0; j < TN; ++j) b[j] = ws[kk * BN + col_of(tn, j)];
      for (uint i = 0; i < TM; ++i)
        for (uint j = 0; j < TN; ++j) acc[i * TN + j] += a[i] * b[j];
    }
    barrier();
  }
  if (NORM != 0u) {
    // Each row's partial sums of squares, one per k % BK, in the X tile's place; summed in a fixed order.
    for (uint s = 0; s < XLOADS; ++s) {
      const uint idx = tid + s * WG;
      if (idx < BM * BK) xs[(idx % BK) * BM + idx / BK] = sumsq[s];
    }
    barrier();
    for (uint i = 0; i < TM; ++i) {
      float total = 0.0;
      for (uint kk = 0; kk < BK; ++kk) total += xs[kk * BM + tm * TM + i];
      const float inv_rms = inversesqrt(total / float(p.K) + p.norm_eps);
      for (uint j = 0; j < TN; ++j) acc[i * TN + j] *= inv_rms;
    }
  }

  for (uint i = 0; i < TM; ++i) {
    const uint m = m0 + tm * TM + i;
    if (m >= p.M) continue;
    for (uint j = 0; j < TN; j += 2u) {  // columns j and j + 1 are 8 apart (col_of)
      const uint n = n0 + col_of(tn, j);
      if (n < p.N) store_pair(m, n, acc[i * TN + j], acc[i * TN + j + 1u], n + 8u < p.N);
    }
  }
}
