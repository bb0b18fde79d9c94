// Y[m, y_col0 + n] (+)= W[n, :] . X[m, :] + bias for CPU devices, where an invocation is a SIMD lane of
// one thread: each invocation streams NCOLS whole weight rows (columns n, n + 8, ... of Y: groups of 8
// invocations cover 8 * NCOLS adjacent columns; the workgroup size is a multiple of 8) against
// XROWS rows of X, so one X texel serves NCOLS weights and one weight XROWS rows (no shared memory,
// barriers or reductions). Every loop bound is a specialization constant so the NCOLS x XROWS
// accumulators stay in registers; rows past M and columns past N repeat the last one and are not
// stored. Included by matmul_rows*.comp with the binding defines.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "matmul_io.glsl"

// 1: K % 8 == 0 and X rows of whole texels, read 8 elements at a time; 0: element by element.
layout(constant_id = 4) const uint VEC = 1;
const bool QUANT = WDT == DT_Q8_0 || WDT == DT_Q4_0;
const uint STEPS = QUANT ? 4u : 1u;  // groups of 8 per step: quantized, a block of 32 (one scale)
const bool W16 = !QUANT && WDT != DT_F32;  // f16 / bf16: a group of 8 weights is one texel
#ifdef X_SHUFFLE_K
const uint XK = QUANT ? 4u : 8u;  // K groups per X chunk (below)
// Quantized (decode: fewer than 8 X rows): a block's products are summed, then scaled once per X row
// instead of scaling its 32 weights (1.24B q8_0 tg 4.3 -> 5.5 t/s). Only here: the same partial sums in
// the other variants made the f16 prefill kernel 1.6x slower on lavapipe, though they were not used.
const bool SCALE_SUMS = QUANT;
#else
const bool SCALE_SUMS = false;
#endif

void main() {
  const uint wg = gl_WorkGroupSize.x, m0 = gl_WorkGroupID.y * XROWS;
  const uint lid = gl_LocalInvocationID.x;
  const uint n_first = gl_WorkGroupID.x * wg * NCOLS + (lid / 8u) * (8u * NCOLS) + lid % 8u;
  // No early return for columns past N: on llvmpipe code after a divergent return runs masked, and
  // masked texel fetches made the whole kernel 2x slower.
  uint wrow[NCOLS];
  for (uint j = 0; j < NCOLS; ++j) wrow[j] = min(n_first + j * 8u, p.N - 1u);
  uint xrow[XROWS];
  for (uint r = 0; r < XROWS; ++r) xrow[r] = min(m0 + r, p.M - 1u);
  float acc[NCOLS][XROWS];
  for (uint j = 0; j < NCOLS; ++j)
    for (uint r = 0; r < XROWS; ++r) acc[j][r] = 0.0;
  float sumsq[XROWS];  // NORM: sum of x^2 per row
  for (uint r = 0; r < XROWS; ++r) sumsq[r] = 0.0;
#ifdef X_SHUFFLE
  float sumsq8[XROWS / 8u];  // NORM: lane l's [i] sums row 8i + l's squares
  for (uint i = 0; i < XROWS / 8u; ++i) sumsq8[i] = 0.0;
#endif

  if (VEC != 0u) {
    const uint groups = p.K / 8u;
    uint wgroup[NCOLS], xtexel[XROWS];
    for (uint j = 0; j < NCOLS; ++j) wgroup[j] = wrow[j] * groups;
    for (uint r = 0; r < XROWS; ++r) xtexel[r] = xrow[r] * (p.ldx / 4u);
#ifdef X_SHUFFLE_K
    // Fewer than 8 X rows (decode): the K groups go in chunks of XK, lane l fetching (and normalizing)
    // group XK c + l % XK of each row, which step i of the chunk takes from lane i (needs K % 64 == 0).
    // Quantized: chunks of one block (chunks of 2 blocks were 10-20% slower than no shuffle at all).
    // (Not the same two loops with a chunk of STEPS for the other variants: prefill 1.6x slower.)
    for (uint c = 0; c < groups / XK; ++c) {
      vec4 va[XROWS], vb[XROWS];
      load_x_group(xtexel, c * XK + gl_SubgroupInvocationID % XK, va, vb, sumsq);
      // 16-bit formats: the chunk's weight texels, all fetched first (as a step's below, for the whole
      // chunk: bench ops M=1 f16 8192x2048 2.23 -> 1.78-1.92 ms; in chunk halves it was no faster).
      uvec4 cq[XK][NCOLS];
      if (W16)
        for (uint i = 0; i < XK; ++i)
          for (uint j = 0; j < NCOLS; ++j) cq[i][j] = load_w4(wgroup[j] + c * XK + i);
      for (uint bb = 0; bb < XK / STEPS; ++bb) {
        const uint b = c * (XK / STEPS) + bb;
#else
    {
      for (uint b = 0; b < groups / STEPS; ++b) {
#endif
        // Not `scale[j] = QUANT ? quant_scale(..) : 1.0`: that form made the f16 kernel 2x slower on lavapipe.
        float scale[NCOLS];
        uvec4 qa[NCOLS], qb[NCOLS];  // quantized: the block's texels, fetched once for its 4 steps
        if (QUANT)
          for (uint j = 0; j < NCOLS; ++j) {
            scale[j] = quant_scale(wgroup[j] / 4u + b);
            load_quant_block(wgroup[j] / 4u + b, qa[j], qb[j]);
          }
#ifdef X_SHUFFLE_K
        float part[NCOLS][XROWS];  // SCALE_SUMS: the block's unscaled products so far
#endif
        for (uint s = 0; s < STEPS; ++s) {
          const uint t = b * STEPS + s;
          vec4 xa[XROWS], xb[XROWS];
#if defined(X_SHUFFLE_K)
          for (uint r = 0; r < XROWS; ++r) {
            xa[r] = subgroupShuffle(va[r], bb * STEPS + s);
            xb[r] = subgroupShuffle(vb[r], bb * STEPS + s);
          }
#elif defined(X_SHUFFLE)
          // Every lane needs the same X texels: lane l fetches row 8i + l's and the others take them
          // with a shuffle (on lavapipe a texel fetch costs as much for one address as for 8; a shuffle
          // by a constant lane is a vector extract). NORM scales the fetched texels, and lane l sums row
          // 8i + l's squares, before the shuffle: once per 8 rows, not once per row in every lane.
          vec4 ga = vec4(F16_X_SCALE), gb = vec4(F16_X_SCALE);
          if (NORM != 0u) {
            ga *= load_g4(2u * t);
            gb *= load_g4(2u * t + 1u);
          }
          for (uint r8 = 0; r8 < XROWS / 8u; ++r8) {
            const uint xt = min(m0 + r8 * 8u + gl_SubgroupInvocationID % 8u, p.M - 1u) * (p.ldx / 4u);
            vec4 va = load_x4(xt + 2u * t), vb = load_x4(xt + 2u * t + 1u);
            if (NORM != 0u) sumsq8[r8] += dot(va, va) + dot(vb, vb);
            va *= ga;
            vb *= gb;
            for (uint i = 0; i < 8u; ++i) {
              xa[r8 * 8u + i] = subgroupShuffle(va, i);
              xb[r8 * 8u + i] = subgroupShuffle(vb, i);
            }
          }
#else
          load_x_group(xtexel, t, xa, xb, sumsq);
#endif
          // 16-bit formats: the step's weight texels, all fetched before the arithmetic. On lavapipe the
          // loads of back-to-back fetches overlap, where each fetch's wait for memory otherwise stalls
          // the arithmetic after it (prefill 1.24B pp64 26 -> 34 t/s).
          uvec4 wq[NCOLS];
          if (W16)
            for (uint j = 0; j < NCOLS; ++j)
#ifdef X_SHUFFLE_K
              wq[j] = cq[bb][j];
#else
              wq[j] = load_w4(wgroup[j] + t);
#endif
          for (uint j = 0; j < NCOLS; ++j) {
            vec4 wa, wb;
            if (QUANT) {
              decode_quant_group(qa[j], qb[j], s, wa, wb);
              if (!SCALE_SUMS) {
                wa *= scale[j];
                wb *= scale[j];
              }
            } else if (W16) {
              decode8(wq[j], wa, wb);
            } else {
              decode_group(wgroup[j] + t, wa, wb);
            }
            for (uint r = 0; r < XROWS; ++r) {
              const float d = dot(wa, xa[r]) + dot(wb, xb[r]);
#ifdef X_SHUFFLE_K
              if (SCALE_SUMS) {
                part[j][r] = s == 0u ? d : part[j][r] + d;
                continue;
              }
#endif
              acc[j][r] += d;
            }
          }
        }
#ifdef X_SHUFFLE_K
        if (SCALE_SUMS)
          for (uint j = 0; j < NCOLS; ++j)
            for (uint r = 0; r < XROWS; ++r) acc[j][r] += scale[j] * part[j][r];
#endif
      }
    }
  } else {
    for (uint k = 0; k < p.K; ++k) {
      float xs[XROWS];
      for (uint r = 0; r < XROWS; ++r) xs[r] = load_x(xrow[r] * p.ldx + k);
      if (NORM != 0u) {
        const float g = load_g(k);
        for (uint r = 0; r < XROWS; ++r) {
          sumsq[r] += xs[r] * xs[r];
          xs[r] *= g;
        }
      }
      for (uint j = 0; j < NCOLS; ++j) {
        const float w = load_w(wrow[j] * p.K + k);
        for (uint r = 0; r < XROWS; ++r) acc[j][r] += w * xs[r];
      }
    }
  }

  // Stores in a loop that is not unrolled: llvmpipe runs compute shaders as LLVM coroutines, and
  // NCOLS * XROWS unrolled conditional stores cost seconds of coroutine-frame building per pipeline.
#if defined(X_SHUFFLE)
  if (NORM != 0u)
    for (uint r = 0; r < XROWS; ++r) sumsq[r] = subgroupShuffle(sumsq8[r / 8u], r % 8u);
#elif defined(X_SHUFFLE_K)
  // Lanes 0..XK-1 hold the sums of squares of their groups (the other lanes repeat them).
  if (NORM != 0u)
    for (uint r = 0; r < XROWS; ++r) {
      float total = 0.0;
      for (uint i = 0; i < XK; ++i) total += subgroupShuffle(sumsq[r], i);
      sumsq[r] = total;
    }
#endif
  if (NORM != 0u)
    for (uint r = 0; r < XROWS; ++r) {
      const float inv_rms = inversesqrt(sumsq[r] / float(p.K) + p.norm_eps);
      for (uint j = 0; j < NCOLS; ++j) acc[j][r] *= inv_rms;
    }
  float result[NCOLS * XROWS];
  const float y_scale = VEC != 0u ? F16_Y_SCALE : 1.0;  // the element-wise path decodes f16 exactly
  for (uint j = 0; j < NCOLS; ++j)
    for (uint r = 0; r < XROWS; ++r) result[j * XROWS + r] = acc[j][r] * y_scale;
  [[dont_unroll]] for (uint i = 0; i < NCOLS * XROWS; ++i) {
    const uint j = i / XROWS, n = n_first + j * 8u, m = m0 + i % XROWS;
#ifdef ROPE
    // Rotation pairs as gate/up rows: columns 8 apart, even j and j + 1 (NCOLS even).
    if ((j & 1u) == 0u && n < p.N && m < p.M) store_qkv_pair_biased(m, p.y_col0 + n, result[i], result[i + XROWS]);
    continue;
#endif
    if (glu()) {
      // Gate/up rows in groups of 8 (the host checks glu_group == 8 and NCOLS even): a lane's column
      // n is in group n / 8, whose parity is that of j, so even j are gates and j + 1 their up rows.
      if ((j & 1u) == 0u && n < p.N && m < p.M) store_glu(m, n, result[i], result[i + XROWS]);
    } else if (n < p.N && m < p.M) {
      store_y(m, n, result[i]);
    }
  }
}
