// Y[m, y_col0 + n] (+)= W[n, :] . X[m, :] + bias where one subgroup computes an NCOLS x XROWS block of Y
// and its lanes split K: lane l takes the groups of 8 elements l, l + subgroup size, ..., accumulates
// NCOLS * XROWS partial dot products and one subgroupAdd per output finishes them. The CPU-device kernel
// for decode (M < 4): every lane reads different weights and X texels (the rows kernel makes all lanes
// of a subgroup fetch the same X texel, which costs as much as distinct ones); for prefill the rows
// kernel is faster (no reductions: on lavapipe a subgroupAdd is a loop over the lanes).
// Needs K % 8 == 0, X rows of whole texels and subgroup arithmetic.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require
#include "matmul_io.glsl"

// Column blocks per workgroup (workgroup size / expected subgroup size); looped over by the actual
// subgroups, so a device that picks another subgroup size is still correct.
layout(constant_id = 4) const uint BLOCKS = 1;

void main() {
  const uint lane = gl_SubgroupInvocationID, m0 = gl_WorkGroupID.y * XROWS;
  const uint groups_per_row = p.K / 8u;
  // Rows past M / columns past N repeat the last one (all lanes stay active for subgroupAdd); not stored.
  uint xrow[XROWS];
  for (uint r = 0; r < XROWS; ++r) xrow[r] = min(m0 + r, p.M - 1u) * (p.ldx / 4u);
  for (uint blk = gl_SubgroupID; blk < BLOCKS; blk += gl_NumSubgroups) {
    const uint n0 = (gl_WorkGroupID.x * BLOCKS + blk) * NCOLS;
    if (n0 >= p.N) break;
    uint wgroup[NCOLS];
    for (uint j = 0; j < NCOLS; ++j) wgroup[j] = min(n0 + j, p.N - 1u) * groups_per_row;
    float acc[NCOLS][XROWS];
    for (uint j = 0; j < NCOLS; ++j)
      for (uint r = 0; r < XROWS; ++r) acc[j][r] = 0.0;
    float sumsq[XROWS];  // NORM: this lane's part of the sum of x^2 per row
    for (uint r = 0; r < XROWS; ++r) sumsq[r] = 0.0;
    const bool quant = WDT == DT_Q8_0 || WDT == DT_Q4_0;
    if (quant) {
      // A block of 32 elements per lane step: its X texels first, then per column one scale and the
      // block's weight texels, each fetched once.
      for (uint b = lane; b < groups_per_row / 4u; b += gl_SubgroupSize) {
        vec4 xs[XROWS][8];
        for (uint r = 0; r < XROWS; ++r)
          for (uint i = 0; i < 8u; ++i) xs[r][i] = load_x4(xrow[r] + 8u * b + i);
        if (NORM != 0u)
          for (uint i = 0; i < 8u; ++i) {
            const vec4 g = load_g4(8u * b + i);
            for (uint r = 0; r < XROWS; ++r) {
              sumsq[r] += dot(xs[r][i], xs[r][i]);
              xs[r][i] *= g;
            }
          }
        for (uint j = 0; j < NCOLS; ++j) {
          const uint block = wgroup[j] / 4u + b;
          const float scale = quant_scale(block);
          vec4 w[8];
          decode_quant_block(block, w);
          for (uint r = 0; r < XROWS; ++r) {
            float d = 0.0;
            for (uint i = 0; i < 8u; ++i) d += dot(w[i], xs[r][i]);
            acc[j][r] += scale * d;
          }
        }
      }
    } else {
      for (uint t = lane; t < groups_per_row; t += gl_SubgroupSize) {
        vec4 xa[XROWS], xb[XROWS];
        load_x_group(xrow, t, xa, xb, sumsq);
        for (uint j = 0; j < NCOLS; ++j) {
          vec4 wa, wb;
          decode_group(wgroup[j] + t, wa, wb);
          for (uint r = 0; r < XROWS; ++r) acc[j][r] += dot(wa, xa[r]) + dot(wb, xb[r]);
        }
      }
    }
    // One reduction per output, in a loop that is not unrolled: llvmpipe runs compute shaders as LLVM
    // coroutines, and NCOLS * XROWS unrolled reductions and stores made it spend seconds per pipeline
    // building the coroutine frame. Output i of the block is written by lane i % subgroup size.
    if (NORM != 0u)
      for (uint r = 0; r < XROWS; ++r) {
        const float inv_rms = inversesqrt(subgroupAdd(sumsq[r]) / float(p.K) + p.norm_eps);
        for (uint j = 0; j < NCOLS; ++j) acc[j][r] *= inv_rms;  // a common factor of the lanes' partial sums
      }
    float partial[NCOLS * XROWS];
    for (uint j = 0; j < NCOLS; ++j)
      for (uint r = 0; r < XROWS; ++r) partial[j * XROWS + r] = acc[j][r] * F16_Y_SCALE;
    [[dont_unroll]] for (uint i = 0; i < NCOLS * XROWS; ++i) {
      const uint n = n0 + i / XROWS, m = m0 + i % XROWS;
#ifdef ROPE
      // Rotation pairs are columns ROPE_GROUP apart in groups of 2 ROPE_GROUP, whole within the block
      // (the host checks NCOLS % 16 == 0).
      if (((n / ROPE_GROUP) & 1u) != 0u) continue;
      const float a = subgroupAdd(partial[i]), b = subgroupAdd(partial[i + ROPE_GROUP * XROWS]);
      if (lane == i % gl_SubgroupSize && n < p.N && m < p.M) store_qkv_pair_biased(m, p.y_col0 + n, a, b);
      continue;
#endif
      if (glu()) {
        // Gate/up rows in groups of glu_group, whole within the block (the host checks that NCOLS is a
        // multiple of 2 glu_group): an up row is stored with its gate, glu_group columns earlier.
        if (((n / p.glu_group) & 1u) != 0u) continue;
        const float g = subgroupAdd(partial[i]), u = subgroupAdd(partial[i + p.glu_group * XROWS]);
        if (lane == i % gl_SubgroupSize && n < p.N && m < p.M) store_glu(m, n, g, u);
        continue;
      }
      const float v = subgroupAdd(partial[i]);
      if (lane == i % gl_SubgroupSize && n < p.N && m < p.M) store_y(m, n, v);
    }
  }
}
