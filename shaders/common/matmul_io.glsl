// Bindings, push constants and weight decoders of the CPU-device matmul kernels (matmul_rows*.comp,
// matmul_subgroup_k.comp): Y[m, y_col0 + n] (+)= W[n, :] . X[m, :] + bias. The including shader chooses
// how W and X are bound: WEIGHTS_TEXEL / X_TEXEL read them as uniform texel buffers of uvec4 (on lavapipe a
// texel fetch is a vector gather, a storage-buffer load a per-lane scalar loop), else storage buffers.
// NORM: the kernel applies RMSNorm to X rows on the fly, Y = W . (g * x / sqrt(mean(x^2) + eps)) with g
// bound at binding 4 (same kind as X), so the norm needs no dispatch or buffer of its own.
#extension GL_GOOGLE_include_directive : require
#include "activation.glsl"
#include "weights.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint XROWS = 1;
layout(constant_id = 2) const uint WDT = 0;
layout(constant_id = 3) const uint NCOLS = 1;  // weight rows (output columns) per invocation or subgroup
layout(constant_id = 5) const uint NORM = 0;

#ifdef X_TEXEL
layout(binding = 0) uniform usamplerBuffer x_texels;
vec4 load_x4(uint i) { return uintBitsToFloat(texelFetch(x_texels, int(i))); }
#else
layout(binding = 0) readonly buffer XBuf4 { vec4 x_vec4[]; };
vec4 load_x4(uint i) { return x_vec4[i]; }
#endif
#ifdef X_TEXEL
layout(binding = 4) uniform usamplerBuffer g_texels;
vec4 load_g4(uint i) { return uintBitsToFloat(texelFetch(g_texels, int(i))); }
#else
layout(binding = 4) readonly buffer GBuf4 { vec4 g_vec4[]; };
vec4 load_g4(uint i) { return g_vec4[i]; }
#endif
float load_g(uint i) { return load_g4(i >> 2)[i & 3u]; }
#ifdef WEIGHTS_TEXEL
layout(binding = 1) uniform usamplerBuffer w_texels;
uvec4 load_w4(uint i) { return texelFetch(w_texels, int(i)); }
#else
layout(binding = 1) readonly buffer WBuf4 { uvec4 w_vec4[]; };
uvec4 load_w4(uint i) { return w_vec4[i]; }
#endif
layout(binding = 2) readonly buffer BiasBuf { float bias[]; };
layout(binding = 3) buffer YBuf { float y[]; };

#include "matmul_push.glsl"
// GLU: the weight rows are an interleaved gate/up projection and Y gets act(gate) * up, one column per
// gate/up pair (no accumulate).
const uint FLAG_BIAS = 1u, FLAG_ACCUMULATE = 2u, FLAG_GLU_SILU = 4u, FLAG_GLU_GELU = 8u;
bool glu() { return (p.flags & (FLAG_GLU_SILU | FLAG_GLU_GELU)) != 0u; }
#ifdef ROPE
#include "qkv_rope.glsl"
// store_qkv_pair with the bias of both rows added.
void store_qkv_pair_biased(uint m, uint row, float a, float b) {
  if ((p.flags & FLAG_BIAS) != 0u) {
    a += bias[row];
    b += bias[row + ROPE_GROUP];
  }
  store_qkv_pair(m, row, a, b);
}
#endif

float load_x(uint i) { return load_x4(i >> 2)[i & 3u]; }
uint load_word(uint i) { return load_w4(i >> 2)[i & 3u]; }
float quant_scale(uint block) {
  return unpackHalf2x16(load_word(quant_data_words(WDT, p.N * p.K) + (block >> 1)))[block & 1u];
}
// Signed bytes 0..3 of w as floats.
vec4 s8x4(uint w) { return vec4(ivec4(uvec4(w << 24, w << 16, w << 8, w)) >> 24); }
float load_w(uint i) {
  if (WDT == DT_F32) return uintBitsToFloat(load_word(i));
  if (WDT == DT_Q8_0) return quant_scale(i >> 5) * float(int(load_word(i >> 2) << (24u - 8u * (i & 3u))) >> 24);
  if (WDT == DT_Q4_0) return quant_scale(i >> 5) * (float((load_word(i >> 3) >> (4u * (i & 7u))) & 15u) - 8.0);
  uint word = load_word(i >> 1);
  uint h = (i & 1u) == 0u ? (word & 0xffffu) : (word >> 16);
  if (WDT == DT_F16) return unpackHalf2x16(h).x;
  return uintBitsToFloat(h << 16);
}

// Writes output (m, n): bias, then the fused residual add.
void store_y(uint m, uint n, float v) {
  if ((p.flags & FLAG_BIAS) != 0u) v += bias[p.y_col0 + n];
  const uint o = m * p.ldy + p.y_col0 + n;
  if ((p.flags & FLAG_ACCUMULATE) != 0u) v += y[o];
  y[o] = v;
}

// GLU: writes act(gate) * up for gate row n of the chunk (its up row is n + glu_group).
void store_glu(uint m, uint n, float g, float u) {
  const uint row = p.y_col0 + n;
  if ((p.flags & FLAG_BIAS) != 0u) {
    g += bias[row];
    u += bias[row + p.glu_group];
  }
  const float a = (p.flags & FLAG_GLU_GELU) != 0u ? gelu(g) : silu(g);
  y[m * p.ldy + glu_column(row, p.glu_group)] = a * u;
}

// f16 weights decode with unpackHalf2x16, or where a kernel's block has at least as many weight rows
// (NCOLS) as X rows (decode) as w * 2^-112: the half's sign, exponent and mantissa moved into a float's
// places, 5 integer operations for 2 weights (unpackHalf2x16 made lavapipe's matvec ~1.4x slower than
// bf16). Those kernels scale X by F16_X_SCALE and results by F16_Y_SCALE (2^64 * 2^48 = 2^112), so
// products stay normal floats; half infinities and NaNs then decode finite. (With 32 X rows per 8
// weight rows, scaling X costs more than unpackHalf2x16 saves.)
const bool F16_SHIFTED = WDT == DT_F16 && XROWS <= NCOLS;
const float F16_X_SCALE = F16_SHIFTED ? 18446744073709551616.0 : 1.0;  // 2^64
const float F16_Y_SCALE = F16_SHIFTED ? 281474976710656.0 : 1.0;       // 2^48

// The 8 weights of one texel q of a 16-bit format (F16_SHIFTED: times 2^-112).
void decode8(uvec4 q, out vec4 wa, out vec4 wb) {
  if (F16_SHIFTED) {
    const uvec4 lo = uvec4(ivec4(q << 16) >> 3) & 0x8fffe000u, hi = uvec4(ivec4(q) >> 3) & 0x8fffe000u;
    wa = uintBitsToFloat(uvec4(lo.x, hi.x, lo.y, hi.y));
    wb = uintBitsToFloat(uvec4(lo.z, hi.z, lo.w, hi.w));
  } else if (WDT == DT_F16) {
    wa = vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y));
    wb = vec4(unpackHalf2x16(q.z), unpackHalf2x16(q.w));
  } else {
    wa = uintBitsToFloat(uvec4(q.x << 16, q.x & 0xffff0000u, q.y << 16, q.y & 0xffff0000u));
    wb = uintBitsToFloat(uvec4(q.z << 16, q.z & 0xffff0000u, q.w << 16, q.w & 0xffff0000u));
  }
}

// The 8 weights of group g (elements 8g..8g+7 of the chunk, row-major; needs K % 8 == 0) of an
// unquantized format (quantized blocks: load_quant_block and decode_quant_group).
void decode_group(uint g, out vec4 wa, out vec4 wb) {
  if (WDT == DT_F32) {
    wa = uintBitsToFloat(load_w4(2u * g));
    wb = uintBitsToFloat(load_w4(2u * g + 1u));
  } else {
    decode8(load_w4(g), wa, wb);
  }
}

// The texels of quantized block `block` (q8_0: qa and qb; q4_0: qa) and group s (0..3) of them decoded
// (without the scale): kernels that keep a block's texels across steps fetch each once (per-group
// fetches read a q8_0 texel twice and a q4_0 texel four times).
void load_quant_block(uint block, out uvec4 qa, out uvec4 qb) {
  if (WDT == DT_Q8_0) {
    qa = load_w4(2u * block);
    qb = load_w4(2u * block + 1u);
  } else {
    qa = load_w4(block);
    qb = uvec4(0u);
  }
}
void decode_quant_group(uvec4 qa, uvec4 qb, uint s, out vec4 wa, out vec4 wb) {
  if (WDT == DT_Q8_0) {
    const uvec4 q = s < 2u ? qa : qb;
    const uint i = 2u * (s & 1u);
    wa = s8x4(q[i]);
    wb = s8x4(q[i + 1u]);
  } else {
    const uint w = qa[s];
    wa = vec4(uvec4(w, w >> 4, w >> 8, w >> 12) & 15u) - 8.0;
    wb = vec4(uvec4(w >> 16, w >> 20, w >> 24, w >> 28) & 15u) - 8.0;
  }
}

// The 32 weights of quantized block `block` of the chunk (without its scale), each texel fetched once.
void decode_quant_block(uint block, out vec4 w[8]) {
  uvec4 qa, qb;
  load_quant_block(block, qa, qb);
  for (uint s = 0; s < 4u; ++s) decode_quant_group(qa, qb, s, w[2u * s], w[2u * s + 1u]);
}

// X group t (elements 8t..8t+7) of XROWS rows as loaded: NORM multiplies by g and adds x^2 to sumsq;
// F16_SHIFTED kernels get X times F16_X_SCALE.
void scale_x_group(uint t, inout vec4 xa[XROWS], inout vec4 xb[XROWS], inout float sumsq[XROWS]) {
  if (NORM != 0u) {
    const vec4 ga = load_g4(2u * t), gb = load_g4(2u * t + 1u);
    for (uint r = 0; r < XROWS; ++r) {
      sumsq[r] += dot(xa[r], xa[r]) + dot(xb[r], xb[r]);
      xa[r] *= ga;
      xb[r] *= gb;
    }
  }
  for (uint r = 0; r < XROWS; ++r) {
    xa[r] *= F16_X_SCALE;
    xb[r] *= F16_X_SCALE;
  }
}

// X group t of the XROWS rows starting at texels xtexel[r], loaded and scaled (scale_x_group).
void load_x_group(uint xtexel[XROWS], uint t, out vec4 xa[XROWS], out vec4 xb[XROWS], inout float sumsq[XROWS]) {
  for (uint r = 0; r < XROWS; ++r) {
    xa[r] = load_x4(xtexel[r] + 2u * t);
    xb[r] = load_x4(xtexel[r] + 2u * t + 1u);
  }
  scale_x_group(t, xa, xb, sumsq);
}
