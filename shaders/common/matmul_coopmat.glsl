// Y[m, y_col0 + n] (+)= sum_k X[m, k] * W[n, k] + bias[y_col0 + n]    for m < M, n < N
// Prefill on GPUs with cooperative matrices (VK_NV_cooperative_matrix): f16 x f16 products summed in f32.
// Each workgroup computes a BM x BN tile with SG_M x SG_N subgroups, each a WM x WN block of CM_M x CM_N
// accumulator matrices; BK-wide slices of X and W are staged in shared memory as f16 (any weight format
// is decoded by load_w on the way), X rows already normalized when NORM is fused, so the f16 values stay
// in range: each row's 1 / rms is found first (a pass over the workgroup's X rows, which prefill reads
// BN times less than W). The accumulators go through shared memory to the common output stage
// (matmul_store.glsl: bias, GLU / RoPE pairs 8 apart, residual add).
//
// EMULATED (for devices without cooperative matrices, i.e. the CI's lavapipe): the same staging, tiles,
// f16 rounding and output stage, with each subgroup's accumulators kept in the shared output tile and
// summed by its invocations, so everything but the three cooperative-matrix operations is tested there.
//
// Needs BN % 16 == 0 (output pairs), BK % CM_K == 0, K-slices' f16 rows 16-byte aligned (BKP % 8 == 0),
// subgroup arithmetic (NORM) and shaderFloat16: the host (ops/matmul.cpp) checks them.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#ifndef EMULATED
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#endif
#include "activation.glsl"
#include "weights.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint SG_M = 2;  // subgroups along M
layout(constant_id = 2) const uint SG_N = 2;  // and along N
layout(constant_id = 3) const uint WM = 2;    // accumulator matrices per subgroup along M
layout(constant_id = 4) const uint WN = 2;    // and along N
layout(constant_id = 5) const uint BK = 32;
layout(constant_id = 6) const uint CM_M = 16;  // cooperative-matrix shape: A CM_M x CM_K, B CM_K x CM_N
layout(constant_id = 7) const uint CM_N = 16;
layout(constant_id = 8) const uint CM_K = 16;
layout(constant_id = 9) const uint SGS = 32;  // subgroup size (EMULATED: invocations per emulated subgroup)
layout(constant_id = 10) const uint WDT = 0;
layout(constant_id = 11) const uint HAS_BIAS = 0;
layout(constant_id = 12) const uint ACCUMULATE = 0;
layout(constant_id = 13) const uint NORM = 0;
layout(constant_id = 14) const uint GLU = 0;

#include "matmul_buffers.glsl"
#include "matmul_store.glsl"

const uint BM = SG_M * WM * CM_M, BN = SG_N * WN * CM_N;
const uint BKP = BK + 8u;  // f16 row stride of the staged slices: 16-byte aligned rows, fewer bank conflicts
const uint BNP = BN + 4u;  // f32 row stride of the output tile
shared float16_t xs[BM * BKP];  // X slice, row-major [BM][BK]: matrix A
shared float16_t ws[BN * BKP];  // W slice [BN][BK]: matrix B (K x N) column-major
shared float cs[BM * BNP];      // the finished tile (EMULATED: the accumulators)
shared float row_scale[BM];     // NORM: 1 / rms of each X row

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint m0 = gl_WorkGroupID.y * BM;
  const uint n0 = gl_WorkGroupID.x * BN;
#ifdef EMULATED
  const uint sg = tid / SGS, lane = tid % SGS;
#else
  const uint sg = gl_SubgroupID;
#endif
  const uint sm = sg / SG_N, sn = sg % SG_N;  // this subgroup's block: rows sm * WM * CM_M, cols sn * WN * CM_N
  const uint SUB_M = WM * CM_M, SUB_N = WN * CM_N;

  if (NORM != 0u) {
    for (uint r = gl_SubgroupID; r < BM; r += gl_NumSubgroups) {
      const uint m = m0 + r;
      float s = 0.0;
      if (m < p.M)
        for (uint k = gl_SubgroupInvocationID; k < p.K; k += gl_SubgroupSize) {
          const float v = x[m * p.ldx + k];
          s += v * v;
        }
      s = subgroupAdd(s);
      if (subgroupElect()) row_scale[r] = inversesqrt(s / float(p.K) + p.norm_eps);
    }
    barrier();
  }

#ifdef EMULATED
  for (uint e = lane; e < SUB_M * SUB_N; e += SGS) cs[(sm * SUB_M + e / SUB_N) * BNP + sn * SUB_N + e % SUB_N] = 0.0;
#else
  fcoopmatNV<32, gl_ScopeSubgroup, CM_M, CM_N> acc[WM * WN];
  for (uint i = 0; i < WM * WN; ++i) acc[i] = fcoopmatNV<32, gl_ScopeSubgroup, CM_M, CM_N>(0.0);
#endif

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    for (uint idx = tid; idx < BM * BK; idx += WG) {
      const uint mm = idx / BK, kk = idx % BK;
      const uint m = m0 + mm, k = k0 + kk;
      float v = 0.0;
      if (m < p.M && k < p.K) {
        v = x[m * p.ldx + k];
        if (NORM != 0u) v *= g[k] * row_scale[mm];
      }
      xs[mm * BKP + kk] = float16_t(v);
    }
    for (uint idx = tid; idx < BN * BK; idx += WG) {
      const uint nn = idx / BK, kk = idx % BK;
      const uint n = n0 + nn, k = k0 + kk;
      ws[nn * BKP + kk] = float16_t((n < p.N && k < p.K) ? load_w(n * p.K + k) : 0.0);
    }
    barrier();
#ifdef EMULATED
    for (uint e = lane; e < SUB_M * SUB_N; e += SGS) {
      const uint mm = sm * SUB_M + e / SUB_N, nn = sn * SUB_N + e % SUB_N;
      float s = cs[mm * BNP + nn];
      for (uint kk = 0; kk < BK; ++kk) s += float(xs[mm * BKP + kk]) * float(ws[nn * BKP + kk]);
      cs[mm * BNP + nn] = s;
    }
#else
    for (uint kc = 0; kc < BK; kc += CM_K) {
      fcoopmatNV<16, gl_ScopeSubgroup, CM_M, CM_K> a[WM];
      for (uint i = 0; i < WM; ++i)
        coopMatLoadNV(a[i], xs, (sm * SUB_M + i * CM_M) * BKP + kc, BKP, false);
      for (uint j = 0; j < WN; ++j) {
        fcoopmatNV<16, gl_ScopeSubgroup, CM_K, CM_N> b;
        coopMatLoadNV(b, ws, (sn * SUB_N + j * CM_N) * BKP + kc, BKP, true);
        for (uint i = 0; i < WM; ++i) acc[i * WN + j] = coopMatMulAddNV(a[i], b, acc[i * WN + j]);
      }
    }
#endif
    barrier();
  }

#ifndef EMULATED
  for (uint i = 0; i < WM; ++i)
    for (uint j = 0; j < WN; ++j)
      coopMatStoreNV(acc[i * WN + j], cs, (sm * SUB_M + i * CM_M) * BNP + sn * SUB_N + j * CM_N, BNP, false);
#endif
  barrier();

  // Output pairs (n, n + 8): n in the first half of each group of 16 columns.
  for (uint idx = tid; idx < BM * BN / 2u; idx += WG) {
    const uint mm = idx / (BN / 2u), q = idx % (BN / 2u);
    const uint nn = (q / 8u) * 16u + q % 8u;
    const uint m = m0 + mm, n = n0 + nn;
    if (m < p.M && n < p.N) store_pair(m, n, cs[mm * BNP + nn], cs[mm * BNP + nn + 8u], n + 8u < p.N);
  }
}
